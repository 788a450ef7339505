"""What Tab offers for an ntcli command line, worked out from a table.

The table (:mod:`ntcli.completion_table`) describes the commands of every
installed plugin, their options and positional arguments, the global
options and the columns of each command, as plain lists and dictionaries.
This module walks a line over it: the next word of a command name, an
option name, an option's choices, a command's columns, a path left to the
shell, or values (workspaces, JTIs, contexts, endpoints) asked of the
``values`` function the caller gives. One engine serves every shell and
the interactive mode alike.

It runs on every Tab before anything else is imported (:mod:`ntcli.main`),
so it imports only modules the interpreter has already loaded.
"""

from __future__ import annotations

# typing is left out at run time: see ntcli.main
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Values = Callable[[str, dict[str, Any]], list['Candidate']]

# What the shell offers besides the candidates
WORDS, FILES, DIRECTORIES = 'words', 'files', 'dirs'


# Candidate and Completion are tuples with named fields written out, not
# collections.namedtuple: importing collections and making the classes
# costs 2-3 ms of a 25 ms Tab, measured.

class Candidate(tuple):
    """A word to offer, with a description for the shells that show one."""

    __slots__ = ()

    def __new__(cls, value: str, description: str = '') -> Candidate:
        return tuple.__new__(cls, (value, description))

    @property
    def value(self) -> str:
        return self[0]

    @property
    def description(self) -> str:
        return self[1]

    def _replace(self, *, value: str | None = None) -> Candidate:
        return Candidate(self[0] if value is None else value, self[1])


class Completion(tuple):
    """The answer to one Tab: the words, or a kind of path to complete."""

    __slots__ = ()

    def __new__(cls, kind: str, word: str,
                candidates: list[Candidate]) -> Completion:
        return tuple.__new__(cls, (kind, word, candidates))

    @property
    def kind(self) -> str:
        return self[0]

    @property
    def word(self) -> str:
        return self[1]

    @property
    def candidates(self) -> list[Candidate]:
        return self[2]

    def _replace(self, *, word: str | None = None,
                 candidates: list[Candidate] | None = None) -> Completion:
        return Completion(self[0], self[1] if word is None else word,
                          self[2] if candidates is None else candidates)


# (command, argument dest) -> the source of its values, the name of a
# function of ntcli.completion; command None: a global option
SOURCES = {
    (None, 'workspace'): 'workspaces',
    (None, 'endpoint'): 'endpoints',
    (None, 'context'): 'contexts',
    ('context use', 'name'): 'contexts',
    ('context show', 'name'): 'contexts',
    ('context rename', 'old'): 'contexts',
    ('context delete', 'name'): 'contexts',
    ('workspace select', 'name'): 'workspaces',
    ('workspace delete', 'name'): 'workspaces',
    ('token revoke', 'jti'): 'jtis',
}
# Options whose values are the command's column names (-c, --sort-column)
COLUMN_DESTS = ('columns', 'sort_columns')
# Options whose value is a path: the shell completes it.
PATH_DESTS = {'config_dir': DIRECTORIES, 'ca_bundle': FILES,
              'log_file': FILES}
# The global options that say where values come from
LOOKUP_DESTS = ('config_dir', 'context', 'endpoint', 'workspace', 'ca_bundle')


def summary(text: str | None) -> str:
    """The first sentence of a help text, on one line."""
    if not text or text == '==SUPPRESS==':
        return ''
    line = ' '.join(text.split())
    end = line.find('. ')
    return (line[:end] if end >= 0 else line).rstrip('.')


def _by_name(options: list[dict]) -> dict[str, dict]:
    return {name: option for option in options for name in option['names']}


def _option_candidates(options: list[dict], word: str) -> list[Candidate]:
    return sorted(Candidate(name, option['help'])
                  for option in options if not option['hidden']
                  for name in option['names'] if name.startswith(word))


def _lookup(options: dict[str, dict], global_args: list[str],
            base: dict[str, Any]) -> dict[str, Any]:
    """The global options of the line that say where values come from,
    over ``base`` (those ntcli was started with, in the interactive
    mode)."""
    found = {dest: base.get(dest) for dest in LOOKUP_DESTS}
    words = list(global_args)
    while words:
        name, eq, value = words.pop(0).partition('=')
        option = options.get(name)
        if option is None or not option['value']:
            continue
        if not eq:
            if not words:
                break
            value = words.pop(0)
        if option['dest'] in found:
            found[option['dest']] = value
    return found


class _Walk:
    """One Tab: the table, the values' source and the options ntcli was
    started with."""

    def __init__(self, table: dict, values: Values,
                 base: dict[str, Any]) -> None:
        self.table = table
        self.values = values
        self.base = base
        self.global_options = _by_name(table['global'])

    def offer(self, command_name: str | None, option: dict,
              global_args: list[str], word: str,
              columns: Callable[[], list[Candidate]] | None = None
              ) -> Completion:
        """The values of ``option``, an option or positional argument."""
        kind = PATH_DESTS.get(option['dest'])
        if kind is not None:
            return Completion(kind, word, [])
        if option['choices']:
            found = [Candidate(str(c)) for c in option['choices']]
        elif option['dest'] in COLUMN_DESTS and columns is not None:
            found = columns()
        else:
            source = SOURCES.get((command_name, option['dest'])) or (
                SOURCES.get((None, option['dest'])) if option['names']
                else None)
            if source is None:
                return Completion(WORDS, word, [])
            found = self.values(source, _lookup(
                self.global_options, global_args, self.base))
        return Completion(WORDS, word,
                          [c for c in found if c.value.startswith(word)])

    def complete(self, words: list[str]) -> Completion:
        *before, word = words or ['']
        global_args, path, args, pending = self.split(before)
        if pending is not None:
            return self.offer(None, pending, global_args, word)
        if not path and not args and word.startswith('-'):
            name, eq, value = word.partition('=')
            option = self.global_options.get(name)
            if eq and option is not None:
                found = self.offer(None, option, global_args, value)
                return found._replace(word=word, candidates=[
                    Candidate(f'{name}={c.value}') for c in found.candidates])
            return Completion(WORDS, word, _option_candidates(
                self.table['global'], word))
        commands = self.table['commands']
        names = [name.split() for name in commands]
        command_name = None
        for size in range(len(path), 0, -1):
            if path[:size] in names:
                command_name = ' '.join(path[:size])
                break
        candidates: list[Candidate] = []
        if not args and not word.startswith('-'):
            # the next word of a longer command name
            depth = len(path)
            following = sorted({n[depth] for n in names
                                if n[:depth] == path and len(n) > depth
                                and n[depth].startswith(word)})
            candidates = [Candidate(w, commands.get(
                ' '.join([*path, w]), {}).get('summary', ''))
                for w in following]
        if command_name is None or commands[command_name]['options'] is None:
            # no such command, or one that could not be loaded
            return Completion(WORDS, word, candidates)
        size = len(command_name.split())
        found = self.command_values(command_name, global_args,
                                    path[size:] + args, word)
        return found._replace(candidates=candidates + found.candidates)

    def split(self, before: list[str]
              ) -> tuple[list[str], list[str], list[str], dict | None]:
        """The global options, the command's words, the words after them,
        and a global option still waiting for its value."""
        global_args: list[str] = []
        words = list(before)
        while words and words[0].startswith('-'):
            word = words.pop(0)
            option = self.global_options.get(word)
            if option is not None and option['value'] and '=' not in word:
                if not words:
                    return global_args, [], [], option
                global_args.extend((word, words.pop(0)))
            else:
                global_args.append(word)
        path: list[str] = []
        while words and not words[0].startswith('-'):
            path.append(words.pop(0))
        return global_args, path, words, None

    def command_values(self, command_name: str, global_args: list[str],
                       args: list[str], word: str) -> Completion:
        command = self.table['commands'][command_name]
        options = _by_name(command['options'])

        def columns() -> list[Candidate]:
            # some options add columns (token list --show-expired: Status)
            names = list(command['columns'] or ())
            for flag, more in command['flag_columns'].items():
                if flag in args:
                    names += [name for name in more if name not in names]
            return [Candidate(name) for name in names]
        if word.startswith('-'):
            name, eq, value = word.partition('=')
            option = options.get(name)
            if eq and option is not None:
                found = self.offer(command_name, option, global_args, value,
                                   columns)
                return found._replace(word=word, candidates=[
                    Candidate(f'{name}={c.value}') for c in found.candidates])
            return Completion(WORDS, word, _option_candidates(
                command['options'], word))
        # walk the arguments: an option's value, or the next positional
        positionals = command['positionals']
        global_dests = ({o['dest'] for o in self.global_options.values()}
                        - {o['dest'] for o in options.values()})
        index = 0
        waiting: dict | None = None
        global_args = list(global_args)
        for arg in args:
            if waiting is not None:
                if waiting['dest'] in global_dests:
                    global_args.extend((waiting['names'][0], arg))
                waiting = None
            elif arg.startswith('-'):
                # cliff reads the global options anywhere on the line
                name = arg.partition('=')[0]
                option = options.get(name) or self.global_options.get(name)
                if option is None:
                    continue
                if option['value'] and '=' not in arg:
                    waiting = option
                elif option['dest'] in global_dests:
                    global_args.append(arg)
            else:
                index += 1
        if waiting is not None:
            owner = None if waiting['dest'] in global_dests else command_name
            return self.offer(owner, waiting, global_args, word, columns)
        if not positionals:
            return Completion(WORDS, word, [])
        position = positionals[min(index, len(positionals) - 1)]
        if index >= len(positionals) and position['nargs'] not in ('*', '+'):
            return Completion(WORDS, word, [])
        found = self.offer(command_name, position, global_args, word)
        typed = set(args)  # several JTIs: each is offered once
        return found._replace(candidates=[c for c in found.candidates
                                          if c.value not in typed])


def complete(table: dict, words: list[str], values: Values,
             base: dict[str, Any] | None = None) -> Completion:
    """What to offer for ``words`` (after ``ntcli``; the last one is the
    word at the cursor, possibly empty). ``values(source, options)`` gives
    the values of a source of :data:`SOURCES` for the line's global
    options of :data:`LOOKUP_DESTS`; ``base`` holds those ntcli was
    started with."""
    return _Walk(table, values, base or {}).complete(words)


def line_words(line: str) -> list[str]:
    """The words after the program's name of a line as typed up to the
    cursor (shell quoting); the last one is the word being typed."""
    words, typing = _shell_words(line)
    if typing is not None:      # an open quote: the word being typed
        words.append(typing)
    if not line or line[-1].isspace() and not typing:
        words.append('')
    return words[1:]


_BLANKS = ' \t\r\n'
_QUOTES = '\'"'


def _shell_words(line: str) -> tuple[list[str], str | None]:
    """The words of ``line`` as ``shlex.shlex(line, posix=True)`` with
    ``whitespace_split`` reads them ('#' starting a comment included),
    and the word left open by a quote or a final backslash (None if
    none).

    Written out, shlex's ``read_token`` in that mode, because shlex
    imports re: measured, 5-10 ms of a 25 ms Tab in bash.
    tests/unit/ntcli/test_completion_engine.py compares the two on
    generated lines.
    """
    words: list[str] = []
    at, state = 0, ' '
    while True:
        token, quoted, escaped_in = '', False, ' '
        while True:
            char = line[at:at + 1]
            at += 1
            if state == '':             # the end was reached
                break
            if state in ' a':
                if not char:
                    state = ''
                    break
                if char in _BLANKS or char == '#':
                    if char == '#':     # a comment, to the end of the line
                        end = line.find('\n', at)
                        at = len(line) if end < 0 else end + 1
                        if state == ' ':
                            continue
                    state = ' '
                    if token or quoted:
                        break
                elif char == '\\':
                    escaped_in, state = 'a', char
                elif char in _QUOTES:
                    state = char
                else:
                    token, state = token + char, 'a'
            elif state in _QUOTES:
                quoted = True
                if not char:
                    return words, token
                if char == state:
                    state = 'a'
                elif char == '\\' and state == '"':
                    escaped_in, state = state, char
                else:
                    token += char
            else:                       # after a backslash
                if not char:
                    return words, token
                if escaped_in in _QUOTES and char not in (state, escaped_in):
                    token += state
                token += char
                state = escaped_in
        if not quoted and not token:
            return words, None
        words.append(token)


def for_bash(result: Completion, breaks: str) -> Completion:
    """Candidates as bash inserts them: the part after the last word break
    (':' and '=' by default) of the word being completed."""
    cut = max((result.word.rfind(c) for c in breaks), default=-1) + 1
    if not cut:
        return result
    return result._replace(candidates=[
        c._replace(value=c.value[cut:]) for c in result.candidates
        if len(c.value) >= cut])


def answer_text(result: Completion, breaks: str | None = None) -> str:
    """The text ``ntcli complete --query`` prints: the kind, then one
    candidate per line with its description after a tab."""
    from ntcli_core.terminal import escape
    if breaks is not None:
        result = for_bash(result, breaks)
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
