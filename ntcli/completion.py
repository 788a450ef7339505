"""Completion of ntcli command lines, for every shell and the interactive mode.

One engine answers every shell: the script that ``ntcli complete --shell
SHELL`` prints (:mod:`ntcli.shell_scripts`) runs ``ntcli complete --query``
on each Tab and offers what it prints, and the interactive mode asks the
engine in-process. The engine knows the commands of every installed plugin
from the command manager, their options from their parsers, and these
values: the choices of an option (``-f``), the columns of the command
(``-c``, ``--sort-column``), workspace names (``-w``,
``workspace select|delete``), the JTIs of the workspace (``token revoke``,
from the endpoint with a short timeout), the endpoints of the contexts
(``--endpoint``) and the context names (``--context``, ``context
use|show|rename|delete``).

Completion never prints an error and never asks for input: a value that
cannot be found is simply not offered. It retries no pending revocation and
creates no database; the most it writes is a workspace name it looked up.
"""

from __future__ import annotations

import argparse
import io
import os
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from ntcli.command import App
from ntcli.display import column_choices
from ntcli_core.cli_parser import ArgumentParser, UsageProblem

if TYPE_CHECKING:
    from ntcli.context import Context

# Seconds that a value lookup may spend on the endpoint; the whole answer is
# cut off after DEADLINE seconds (a keyring or a server that does not
# answer), with nothing offered.
ENDPOINT_TIMEOUT = 1.5
DEADLINE = 3

# What the shell offers besides the candidates
WORDS, FILES, DIRECTORIES = 'words', 'files', 'dirs'


class Candidate(NamedTuple):
    """A word to offer, with a description for the shells that show one."""

    value: str
    description: str = ''


class Completion(NamedTuple):
    """The answer to one Tab: the words, or a kind of path to complete."""

    kind: str
    word: str
    candidates: list[Candidate]


def _summary(text: str | None) -> str:
    """The first sentence of a help text, on one line."""
    if not text or text == argparse.SUPPRESS:
        return ''
    line = ' '.join(text.split())
    end = line.find('. ')
    return (line[:end] if end >= 0 else line).rstrip('.')


class _Quiet:
    """An app stand-in for the context of a lookup: no spinner, no
    warnings on the terminal, no input."""

    def __init__(self) -> None:
        self.stdin = io.StringIO()
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()


# -- values ------------------------------------------------------------------

def _lookup_context(app: App, options: argparse.Namespace) -> Context:
    """A context for value lookups: the options of the line being
    completed, a short timeout, and no retry of pending revocations (a
    Tab must not act on tokens)."""
    from ntcli import context
    options = argparse.Namespace(**vars(options))
    options.timeout = ENDPOINT_TIMEOUT
    options.debug = False
    lookup = context.Context(_Quiet(), options)
    lookup.retry_revocations = False
    return lookup


def _embedded_database_missing(lookup: Context) -> bool:
    # the embedded endpoint creates its database on first use: a lookup
    # must not, so an endpoint never used has no values
    from ntcli.endpoints.local import LocalEndpoint
    endpoint = lookup.endpoint
    return (isinstance(endpoint, LocalEndpoint)
            and not os.path.exists(endpoint.database_path))


def workspace_names(lookup: Context) -> list[Candidate]:
    """The workspaces known for the endpoint (and, on the embedded
    endpoint, those of its database)."""
    endpoint = lookup.endpoint
    names = set(lookup.config.known_workspaces(lookup.context_name))
    if endpoint.embedded and not _embedded_database_missing(lookup):
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
    if _embedded_database_missing(lookup):
        return []
    from ntcli_core import timefmt
    endpoint = lookup.endpoint
    workspace = lookup.workspace
    records = endpoint.list_tokens(lookup.bearer(workspace.id),
                                   workspace.id)
    return [Candidate(r.jti, f'expires {timefmt.iso(r.expires_at) or "never"}')
            for r in records]


# (command, argument dest) -> where its values come from; None: global option
VALUES: dict[tuple[str | None, str], Callable[[Context], list[Candidate]]] = {
    (None, 'workspace'): workspace_names,
    (None, 'endpoint'): used_endpoints,
    (None, 'context'): context_names,
    ('context use', 'name'): context_names,
    ('context show', 'name'): context_names,
    ('context rename', 'old'): context_names,
    ('context delete', 'name'): context_names,
    ('workspace select', 'name'): workspace_names,
    ('workspace delete', 'name'): workspace_names,
    ('token revoke', 'jti'): token_jtis,
}
# Options whose values are the command's column names (-c, --sort-column)
COLUMN_DESTS = ('columns', 'sort_columns')
# Options whose value is a path: the shell completes it.
PATH_DESTS = {'config_dir': DIRECTORIES, 'ca_bundle': FILES,
              'log_file': FILES}


# -- the command line --------------------------------------------------------

def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {option: action for action in parser._actions
            for option in action.option_strings}


def _option_candidates(parser: argparse.ArgumentParser,
                       word: str) -> list[Candidate]:
    found = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        for option in action.option_strings:
            if option.startswith(word):
                found.append(Candidate(option, _summary(action.help)))
    return sorted(found)


class _Line(NamedTuple):
    """A command line split at the cursor: what ntcli would make of it."""

    global_args: list[str]
    path: list[str]          # the command words typed so far
    args: list[str]          # the words after the command's name
    pending: argparse.Action | None   # a global option waiting for a value


def _split(app: App, before: list[str]) -> _Line:
    global_options = _options(app.parser)
    global_args: list[str] = []
    words = list(before)
    while words and words[0].startswith('-'):
        word = words.pop(0)
        action = global_options.get(word)
        if action is not None and _takes_value(action) and '=' not in word:
            if not words:
                return _Line(global_args, [], [], action)
            global_args.extend((word, words.pop(0)))
        else:
            global_args.append(word)
    path: list[str] = []
    while words and not words[0].startswith('-'):
        path.append(words.pop(0))
    return _Line(global_args, path, words, None)


def _parse_known(parser: argparse.ArgumentParser, args: list[str],
                 base: argparse.Namespace | None = None) -> argparse.Namespace:
    """What ``parser`` makes of ``args`` over ``base``, errors ignored (a
    parser that is not ntcli's cannot parse quietly: ``base`` alone)."""
    def start() -> argparse.Namespace:
        return argparse.Namespace(**vars(base or argparse.Namespace()))
    if not isinstance(parser, ArgumentParser):
        return start()
    # without its last word: an option still waiting for its value
    for attempt in (args, args[:-1], []):
        try:
            return parser.parse_known_quietly(attempt, start())
        except (UsageProblem, SystemExit):      # SystemExit: -h
            continue
    return start()


def _values(app: App, command_name: str | None, action: argparse.Action,
            global_args: list[str], word: str,
            columns: Callable[[], list[Candidate]] | None = None
            ) -> Completion:
    """The values of ``action``, an option or positional argument;
    ``columns`` gives the command's column names."""
    kind = PATH_DESTS.get(action.dest)
    if kind is not None:
        return Completion(kind, word, [])
    if action.choices:
        found = [Candidate(str(c)) for c in action.choices]
    elif action.dest in COLUMN_DESTS and columns is not None:
        found = columns()
    else:
        source = VALUES.get((command_name, action.dest)) or VALUES.get(
            (None, action.dest) if action.option_strings else ('', ''))
        if source is None:
            return Completion(WORDS, word, [])
        # the line's global options over those ntcli was started with (the
        # interactive mode's)
        options = _parse_known(app.parser, global_args,
                               getattr(app, 'options', None))
        try:
            found = source(_lookup_context(app, options))
        except (Exception, _Deadline):
            found = []
    return Completion(WORDS, word,
                      [c for c in found if c.value.startswith(word)])


def _command_summary(app: App, name: str) -> str:
    """The first line of a command's description; '' for a group or a
    command that cannot be loaded."""
    entry_point = app.command_manager.commands.get(name)
    if entry_point is None:
        return ''
    try:
        return _summary(entry_point.load()(app, None).get_description())
    except Exception:
        return ''


class _Deadline(BaseException):
    """The lookup took longer than DEADLINE seconds."""


def complete(app: App, words: list[str]) -> Completion:
    """What to offer for ``words`` (after ``ntcli``; the last one is the
    word at the cursor, possibly empty)."""
    *before, word = words or ['']
    line = _split(app, before)
    manager = app.command_manager
    if line.pending is not None:
        return _values(app, None, line.pending, line.global_args, word)
    if not line.path and not line.args and word.startswith('-'):
        option, eq, value = word.partition('=')
        action = _options(app.parser).get(option)
        if eq and action is not None:
            found = _values(app, None, action, line.global_args, value)
            return found._replace(word=word, candidates=[
                Candidate(f'{option}={c.value}') for c in found.candidates])
        return Completion(WORDS, word, _option_candidates(app.parser, word))
    names = [name.split() for name, _ep in manager]
    command_name = None
    for size in range(len(line.path), 0, -1):
        if line.path[:size] in names:
            command_name = ' '.join(line.path[:size])
            break
    candidates: list[Candidate] = []
    if not line.args and not word.startswith('-'):
        # the next word of a longer command name
        depth = len(line.path)
        following = sorted({n[depth] for n in names
                            if n[:depth] == line.path and len(n) > depth
                            and n[depth].startswith(word)})
        candidates = [Candidate(w, _command_summary(
            app, ' '.join([*line.path, w]))) for w in following]
    if command_name is None:
        return Completion(WORDS, word, candidates)
    size = len(command_name.split())
    cmd_args = line.path[size:] + line.args
    try:
        cmd = manager.commands[command_name].load()(app, None)
        parser = cmd.get_parser(f'ntcli {command_name}')
    except Exception:
        return Completion(WORDS, word, candidates)
    found = _command_values(app, command_name, cmd, parser,
                            line.global_args, cmd_args, word)
    return found._replace(candidates=candidates + found.candidates)


def _command_values(app: App, command_name: str, cmd: Any,
                    parser: argparse.ArgumentParser, global_args: list[str],
                    args: list[str], word: str) -> Completion:
    options = _options(parser)

    def columns() -> list[Candidate]:
        # some options add columns (token list --show-expired: Status)
        fields = cmd.declared_fields(_parse_known(parser, args))
        return [Candidate(c) for c in column_choices(fields or {})]
    global_options = _options(app.parser)
    if word.startswith('-'):
        option, eq, value = word.partition('=')
        action = options.get(option)
        if eq and action is not None:
            found = _values(app, command_name, action, global_args, value,
                            columns)
            return found._replace(word=word, candidates=[
                Candidate(f'{option}={c.value}') for c in found.candidates])
        return Completion(WORDS, word, _option_candidates(parser, word))
    # walk the arguments: an option's value, or the next positional
    positionals = [a for a in parser._actions if not a.option_strings]
    global_dests = {a.dest for a in global_options.values()} - {
        a.dest for a in options.values()}
    index = 0
    waiting: argparse.Action | None = None
    global_args = list(global_args)
    for arg in args:
        if waiting is not None:
            if waiting.dest in global_dests:
                global_args.extend((waiting.option_strings[0], arg))
            waiting = None
        elif arg.startswith('-'):
            # cliff reads the global options anywhere on the line
            action = options.get(arg.partition('=')[0]) or \
                global_options.get(arg.partition('=')[0])
            if action is None:
                continue
            if _takes_value(action) and '=' not in arg:
                waiting = action
            elif action.dest in global_dests:
                global_args.append(arg)
        else:
            index += 1
    if waiting is not None:
        name = None if waiting.dest in global_dests else command_name
        return _values(app, name, waiting, global_args, word, columns)
    if not positionals:
        return Completion(WORDS, word, [])
    position = positionals[min(index, len(positionals) - 1)]
    if index >= len(positionals) and position.nargs not in ('*', '+'):
        return Completion(WORDS, word, [])
    found = _values(app, command_name, position, global_args, word)
    typed = set(args)  # several JTIs: each is offered once
    return found._replace(candidates=[c for c in found.candidates
                                      if c.value not in typed])


def complete_line(app: App, line: str) -> Completion:
    """``complete`` for a line as typed, up to the cursor (shell quoting);
    the program's name first."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=False)
    lexer.whitespace_split = True
    words: list[str] = []
    try:
        for token in lexer:
            words.append(token)
    except ValueError:         # an open quote: the word being typed
        words.append(lexer.token)
    if not line or line[-1].isspace() and not lexer.token:
        words.append('')
    return complete(app, words[1:])


def for_bash(result: Completion, breaks: str) -> Completion:
    """Candidates as bash inserts them: the part after the last word break
    (':' and '=' by default) of the word being completed."""
    cut = max((result.word.rfind(c) for c in breaks), default=-1) + 1
    if not cut:
        return result
    return result._replace(candidates=[
        c._replace(value=c.value[cut:]) for c in result.candidates
        if len(c.value) >= cut])


def complete_in_time(app: App, words: list[str], *,
                     line: bool = False) -> Completion:
    """:func:`complete` (or :func:`complete_line` for ``words[0]``), with
    nothing offered on any failure or after DEADLINE seconds."""
    import signal

    def expired(signum: int, frame: Any) -> None:
        raise _Deadline()
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(DEADLINE)
    try:
        return (complete_line(app, words[0] if words else '') if line
                else complete(app, words))
    except (Exception, _Deadline):   # nothing to offer, nothing to say
        return Completion(WORDS, words[-1] if words else '', [])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def answer(app: App, words: list[str], *, line: bool = False,
           breaks: str | None = None) -> str:
    """The text ``ntcli complete --query`` prints: the kind, then one
    candidate per line with its description after a tab."""
    result = complete_in_time(app, words, line=line)
    if breaks is not None:
        result = for_bash(result, breaks)
    from ntcli_core.terminal import escape
    lines = [result.kind]
    for candidate in dict.fromkeys(result.candidates):
        value = candidate.value
        if escape(value) != value:
            # a control character from a server: it would reach the
            # terminal, and escaped it would be another word
            continue
        description = escape(candidate.description)
        lines.append(f'{value}\t{description}' if description else value)
    return '\n'.join(lines) + '\n'

