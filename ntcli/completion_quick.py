"""``ntcli complete --query`` answered without starting the application.

The shells' scripts run ``ntcli complete --query [--line] [--breaks CHARS]
-- WORDS`` on every Tab. :func:`ntcli.main.main` hands that here before
cliff or any command is imported: the completion table
(:mod:`ntcli.completion_table`) gives the commands, options, choices and
columns, and the cache (:mod:`ntcli.completion_cache`) the values last
looked up, refreshed in the background when they may be out of date.
When the table is missing or out of date, or the line asks for values
never looked up, :func:`answer` returns None and the application starts
and answers (:mod:`ntcli.completion`), keeping what it found for the next
Tab.
"""

from __future__ import annotations

from ntcli import completion_cache, completion_engine, completion_table

# typing is left out at run time: see ntcli.main
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _NotKept(Exception):
    """Values never looked up with these options: the application must
    start."""


def _query(argv: list[str]) -> tuple[bool, str | None, list[str]] | None:
    """``--line``, ``--breaks`` and the words of ``complete --query`` as
    the scripts give them; None for anything else."""
    if argv[:2] != ['complete', '--query']:
        return None
    line, breaks, rest = False, None, argv[2:]
    while rest and rest[0] != '--':
        if rest[0] == '--line':
            line, rest = True, rest[1:]
        elif rest[0] == '--breaks' and len(rest) > 1:
            breaks, rest = rest[1], rest[2:]
        else:
            return None
    return line, breaks, rest[1:]


def answer(argv: list[str]) -> str | None:
    """What ``ntcli ARGV`` prints for a completion query, or None when it
    is not one or the application must start to answer it."""
    query = _query(argv)
    if query is None:
        return None
    line, breaks, words = query
    table = completion_table.load()
    if table is None:
        return None

    def values(source: str, options: dict[str, Any]
               ) -> list[completion_engine.Candidate]:
        found, fresh = completion_cache.cached_values(source, options)
        if found is None:
            raise _NotKept()
        if not fresh:
            completion_cache.refresh_in_background(options, argv[1:])
        return [completion_engine.Candidate(*pair) for pair in found]
    try:
        if line:
            words = completion_engine.line_words(words[0] if words else '')
        result = completion_engine.complete(table, words, values)
    except Exception:       # _NotKept, or a table the engine cannot walk
        return None
    return completion_engine.answer_text(result, breaks)
