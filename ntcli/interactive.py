"""The interactive mode: ``ntcli`` alone, a ``(ntcli)`` prompt.

Each line runs as ``ntcli LINE`` would. Tab completes as the shells do
(:mod:`ntcli.completion`), and the lines typed are kept, without any that
holds a token or a credential, in ``<config dir>/shell_history`` (0600).

It is the standard library's ``cmd`` and ``readline``, not cliff's
InteractiveApp: that one is built on cmd2, whose import costs about 650 ms
here, and whose 3.x and later releases it does not follow (its prompt
shows as ``(Cmd)`` and Tab fails with an AttributeError); cmd2 also adds
commands that run programs and Python scripts (``shell``, ``edit``,
``run_pyscript``), which a token tool's prompt does not need.
"""

from __future__ import annotations

import cmd
import glob
import logging
import os
import shlex
from typing import Any, TextIO

from ntcli import completion, fileio
from ntcli_core import redact

HISTORY_FILE = 'shell_history'
HISTORY_LENGTH = 1000
SHELL_COMMANDS = ('exit', 'quit')


class _ReportedUsageError(logging.Filter):
    """Drops the empty line cliff logs after a usage error at the prompt.

    In its interactive mode cliff turns the parser's exit into cmd2's
    Cmd2ArgparseError and logs it (it has no message); ntcli has already
    said what was wrong, with a hint.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return type(record.msg).__name__ != 'Cmd2ArgparseError'


def _readline() -> Any:
    try:
        import readline
    except ImportError:  # Python built without it: no line editing
        return None
    return readline


class InteractiveShell(cmd.Cmd):
    """ntcli's prompt; built by cliff's App as its interactive_app_factory.
    """

    def __init__(self, parent_app: Any, command_manager: Any,
                 stdin: TextIO | None, stdout: TextIO | None) -> None:
        self.app = parent_app
        stdin = stdin or parent_app.stdin
        interactive = stdin.isatty()
        super().__init__(stdin=stdin, stdout=stdout or parent_app.stdout)
        self.use_rawinput = interactive
        self.prompt = '(ntcli) ' if interactive else ''
        self.readline = _readline() if interactive else None
        self.matches: list[str] = []
        parent_app.LOG.addFilter(_ReportedUsageError())

    # -- the loop -------------------------------------------------------
    def cmdloop(self, intro: Any = None) -> None:
        self.load_history()
        try:
            while True:
                try:
                    super().cmdloop(intro)
                    return
                except KeyboardInterrupt:   # Ctrl-C at the prompt: a new one
                    self.stdout.write('^C\n')
        finally:
            self.save_history()

    def preloop(self) -> None:
        if self.readline is not None:
            # whole words: '--format=json' and 'http://host:8080' are one
            self.delims = self.readline.get_completer_delims()
            self.readline.set_completer_delims(' \t\n')

    def postloop(self) -> None:
        if self.readline is not None:
            self.readline.set_completer_delims(self.delims)

    def emptyline(self) -> bool:
        return False   # cmd's default runs the previous command again

    def precmd(self, line: str) -> str:
        self.remember(line)
        return line

    def default(self, line: str) -> None:
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            self.app.stderr.write(f'ntcli: {exc}\n')
            return
        if not argv:
            return
        try:
            self.app.run_subcommand(argv)
        except SystemExit:        # a usage error, already reported
            pass
        except KeyboardInterrupt:
            self.app.stderr.write('Interrupted.\n')

    def do_help(self, arg: str) -> bool:
        """List the commands, or show the help of one."""
        self.default(f'help {arg}')
        if not arg.strip():
            self.stdout.write('\nAt this prompt: exit or quit (or Ctrl-D) '
                              'to leave.\n')
        return False

    def do_exit(self, arg: str) -> bool:
        """Leave the interactive mode."""
        return True

    do_quit = do_exit

    def do_EOF(self, arg: str) -> bool:  # noqa: N802 (cmd's name for Ctrl-D)
        if self.use_rawinput:
            self.stdout.write('\n')   # the prompt's line ends
        return True

    # -- completion -------------------------------------------------------
    # readline's completer: one match per call, None after the last
    def complete(  # type: ignore[override]
            self, text: str, state: int) -> str | None:
        if state == 0:
            try:
                self.matches = self.candidates(text)
            except Exception:
                self.matches = []
            # Python's readline appends nothing to a completed word
            if len(self.matches) == 1 and not self.matches[0].endswith('/'):
                self.matches[0] += ' '

        return self.matches[state] if state < len(self.matches) else None

    def candidates(self, text: str) -> list[str]:
        """What Tab offers for the line up to the cursor."""
        assert self.readline is not None
        line = self.readline.get_line_buffer()[:self.readline.get_endidx()]
        result = completion.complete_in_time(self.app, [f'ntcli {line}'],
                                             line=True)
        if result.kind != completion.WORDS:
            found = sorted(glob.glob(glob.escape(text) + '*'))
            return [p + '/' if os.path.isdir(p) else p for p in found
                    if result.kind == completion.FILES or os.path.isdir(p)]
        values = [c.value for c in result.candidates]
        if not line[:len(line) - len(text)].strip():
            values += [w for w in SHELL_COMMANDS if w.startswith(text)]
        return values

    # -- history ----------------------------------------------------------
    @property
    def history_path(self) -> str:
        return os.path.join(self.app.context.config_dir, HISTORY_FILE)

    def remember(self, line: str) -> None:
        """Add ``line`` to the history unless it holds a secret."""
        if self.readline is None or not line.strip():
            return
        if redact.redact(line) == line:
            self.readline.add_history(line)

    def load_history(self) -> None:
        if self.readline is None:
            return
        self.readline.set_auto_history(False)
        self.readline.clear_history()
        try:
            fd = os.open(self.history_path,
                         os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
        except OSError:
            return       # none yet, or not ours to read: start afresh
        with os.fdopen(fd, encoding='utf-8', errors='replace') as handle:
            lines = handle.read().splitlines()
        for line in lines[-HISTORY_LENGTH:]:
            self.remember(line)

    def save_history(self) -> None:
        if self.readline is None:
            return
        count = self.readline.get_current_history_length()
        lines = [self.readline.get_history_item(i)
                 for i in range(max(1, count - HISTORY_LENGTH + 1),
                                count + 1)]
        data = ''.join(f'{line}\n' for line in lines if line)
        try:
            fileio.ensure_private_dir(self.app.context.config_dir)
            fileio.atomic_write(self.history_path, data.encode(), 0o600)
        except OSError as exc:
            self.app.stderr.write(
                f'Warning: the history could not be saved: '
                f'{exc.strerror or exc}\n')
