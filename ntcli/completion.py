"""Completion of ntcli command lines, for every shell and the interactive mode.

One engine answers every shell and the interactive mode
(:mod:`ntcli.completion_engine`), walking the line over the completion
table (:mod:`ntcli.completion_table`): the commands of every installed
plugin, their options, choices and columns. This module gives it the
values it asks for: workspace names (``-w``, ``workspace select|delete``),
the JTIs of the workspace (``token revoke``, from the endpoint with a short
timeout), the endpoints of the contexts (``--endpoint``) and the context
names (``--context``, ``context use|show|rename|delete``).

The shells' scripts (:mod:`ntcli.shell_scripts`) run ``ntcli complete
--query`` on each Tab. It answers from the table and the values kept in
the cache (:mod:`ntcli.completion_cache`) without starting the application
(:mod:`ntcli.completion_quick`); only when the table is missing or out of
date, or a value was never looked up, does the application start, answer
here, and keep what it found.

Completion never prints an error and never asks for input: a value that
cannot be found is simply not offered. It retries no pending revocation and
creates no database; the most it writes is a workspace name it looked up
and the completion cache.
"""

from __future__ import annotations

import argparse
import io
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ntcli import (
    completion_cache,
    completion_engine,
    completion_table,
    context,
)
from ntcli.completion_engine import (  # noqa: F401
    DIRECTORIES,
    FILES,
    WORDS,
    Candidate,
    Completion,
)
from ntcli_core import timefmt

if TYPE_CHECKING:
    from ntcli.command import App
    from ntcli.context import Context

# Seconds that a value lookup may spend on the endpoint; the whole answer is
# cut off after DEADLINE seconds (a keyring or a server that does not
# answer), with nothing offered.
ENDPOINT_TIMEOUT = 1.5
DEADLINE = 3


class _Quiet:
    """An app stand-in for the context of a lookup: no spinner, no
    warnings on the terminal, no input."""

    def __init__(self) -> None:
        self.stdin = io.StringIO()
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()


# -- values ------------------------------------------------------------------

def _lookup_context(options: argparse.Namespace) -> Context:
    """A context for value lookups: the options of the line being
    completed, a short timeout, and no retry of pending revocations (a
    Tab must not act on tokens)."""
    options = argparse.Namespace(**vars(options))
    options.timeout = ENDPOINT_TIMEOUT
    options.debug = False
    return context.Context(_Quiet(), options, look=True)


def workspace_names(lookup: Context) -> list[Candidate]:
    """The workspaces known for the endpoint (and, on the embedded
    endpoint, those of its database)."""
    endpoint = lookup.endpoint
    names = set(lookup.config.known_workspaces(lookup.context_name))
    if endpoint.embedded and not lookup.embedded_database_missing():
        names.update(w.name for w in endpoint.list_workspaces(None))
    return [Candidate(name) for name in sorted(names)]


def used_endpoints(lookup: Context) -> list[Candidate]:
    """The endpoints of the contexts ('local' among them)."""
    seen = {entry['endpoint'] for entry in lookup.config.contexts().values()}
    return [Candidate(url) for url in sorted(seen)]


def context_names(lookup: Context) -> list[Candidate]:
    """The contexts, each with its endpoint."""
    return [Candidate(name, entry['endpoint'])
            for name, entry in sorted(lookup.config.contexts().items())]


def token_jtis(lookup: Context) -> list[Candidate]:
    """The live tokens of the workspace, from the endpoint."""
    if lookup.embedded_database_missing():
        return []
    endpoint = lookup.endpoint
    workspace = lookup.workspace
    records = endpoint.list_tokens(lookup.bearer(workspace.id),
                                   workspace.id)
    return [Candidate(r.jti, f'expires {timefmt.iso(r.expires_at) or "never"}')
            for r in records]




# source (completion_engine.SOURCES) -> where its values come from
VALUES: dict[str, Callable[[Context], list[Candidate]]] = {
    'workspaces': workspace_names,
    'endpoints': used_endpoints,
    'contexts': context_names,
    'jtis': token_jtis,
}


class _Deadline(BaseException):
    """The lookup took longer than DEADLINE seconds."""


def _values(app: App, keep: bool
            ) -> Callable[[str, dict[str, Any]], list[Candidate]]:
    """The engine's ``values``: looked up now, with the line's global
    options over those ntcli was started with; kept in the cache when
    ``keep``."""
    def values(source: str, line_options: dict[str, Any]) -> list[Candidate]:
        options = argparse.Namespace(**vars(
            getattr(app, 'options', None)
            or app.parser.parse_known_args([])[0]))
        for dest, value in line_options.items():
            setattr(options, dest, value)
        lookup = _lookup_context(options)
        try:
            found = VALUES[source](lookup)
        except (Exception, _Deadline):
            # kept too: the next Tab answers at once, and looks again in
            # the background
            found = []
        finally:
            # before the files are stamped: closing the embedded
            # endpoint's database changes them
            lookup.close()
        if keep:
            completion_cache.store_values(source, line_options,
                                          [tuple(c) for c in found])
        return found
    return values


def _base(app: App) -> dict[str, Any]:
    """The global options ntcli was started with (the interactive mode)."""
    options = getattr(app, 'options', None)
    return {dest: getattr(options, dest, None)
            for dest in completion_engine.LOOKUP_DESTS}


def _table(app: App, keep: bool) -> dict:
    """The completion table of ``app``: made once per application, or,
    when ``keep``, the one kept in the cache for this plugin set."""
    table = getattr(app, 'completion_table', None)
    if table is None:
        table = (completion_table.current(app) if keep
                 else completion_table.build(app)[0])
        app.completion_table = table  # type: ignore[attr-defined]
    return table


def complete(app: App, words: list[str], *, keep: bool = False
             ) -> Completion:
    """What to offer for ``words`` (after ``ntcli``; the last one is the
    word at the cursor, possibly empty); the values looked up are kept in
    the cache when ``keep``."""
    return completion_engine.complete(_table(app, keep), words,
                                      _values(app, keep),
                                      _base(app))


def complete_line(app: App, line: str) -> Completion:
    """``complete`` for a line as typed, up to the cursor (shell quoting);
    the program's name first."""
    return complete(app, completion_engine.line_words(line))


def complete_in_time(app: App, words: list[str], *, line: bool = False,
                     keep: bool = False) -> Completion:
    """:func:`complete` (or :func:`complete_line` for ``words[0]``), with
    nothing offered on any failure or after DEADLINE seconds."""

    def expired(signum: int, frame: Any) -> None:
        raise _Deadline()
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(DEADLINE)
    try:
        if line:
            words = completion_engine.line_words(words[0] if words else '')
        return complete(app, words, keep=keep)
    except (Exception, _Deadline):   # nothing to offer, nothing to say
        return Completion(WORDS, words[-1] if words else '', [])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def answer(app: App, words: list[str], *, line: bool = False,
           breaks: str | None = None) -> str:
    """The text ``ntcli complete --query`` prints, when the application had
    to start to answer: the kind, then one candidate per line with its
    description after a tab. The table and the values found are kept."""
    result = complete_in_time(app, words, line=line, keep=True)
    return completion_engine.answer_text(result, breaks)
