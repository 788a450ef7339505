"""reno 4 and a release note changed while merging.

A merge commit that edits a note while it merges a branch without that note
shows the note as *added* (against that branch) and *modified* (against the
other parent); reno's scanner stops on that pair ("Unrecognized changes").
It is a modification of the note, which reno handles: this extension keeps
only the modification for such a merge before reno aggregates the changes.
"""

from __future__ import annotations

import typing

from dulwich import diff_tree
from reno import scanner

_PAIR = {diff_tree.CHANGE_ADD, diff_tree.CHANGE_MODIFY}
_aggregate = scanner._ChangeAggregator.aggregate_changes


def _as_modification(changes: typing.Iterable[typing.Any]) -> list:
    """``changes`` with every (add, modify) pair of one path reduced to its
    modification."""
    kept = []
    for change in changes:
        if isinstance(change, list) and {c.type for c in change} == _PAIR:
            change = [c for c in change if c.type == diff_tree.CHANGE_MODIFY]
        kept.append(change)
    return kept


def _aggregate_changes(self: typing.Any, walk_entry: typing.Any,
                       changes: typing.Any) -> typing.Any:
    return _aggregate(self, walk_entry, _as_modification(changes))


def setup(app: typing.Any) -> dict:
    scanner._ChangeAggregator.aggregate_changes = _aggregate_changes
    return {'parallel_read_safe': True}
