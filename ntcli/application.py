"""The ntcli cliff application: global options, plugin discovery, errors.

Commands come only from the ``ntcli.commands`` entry point namespace, the
core's own included. Entry points are read without importing them; only the
command that runs is imported. Every failure is turned into one or two lines
on stderr and an exit status here, and nowhere else.

The ``ntcli`` command starts in :func:`ntcli.main.main`, which imports this
module (and cliff) only when it has more to do than print the version.
:mod:`ntcli.interactive` (``cmd``, ``glob``, ``shlex``: 2.4 ms of every
command, measured with ``-X importtime``) is imported only for ``ntcli``
alone, the interactive mode.
"""

from __future__ import annotations

import argparse
import logging
import os
import traceback
from typing import TYPE_CHECKING, Any, TextIO

import stevedore
from cliff import commandmanager
from cliff import help as cliff_help

import ntcli
from ntcli import command, context, errors, fileio, interrupt, validate
from ntcli.commands.complete import CompleteCommand
from ntcli_core import cli_parser, redact
from ntcli_core.terminal import escape, quoted

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

COMMAND_NAMESPACE = 'ntcli.commands'
# Distributions whose commands are built in: a third-party plugin cannot
# silently replace one of these.
BUILTIN_MODULES = ('ntcli.', 'ntcli_token_plugin.')
# Commands cliff itself adds to every app; no plugin may take their names.
RESERVED_COMMANDS = ('help', 'complete')

LOG = logging.getLogger(__name__)

# What cliff's own global options do in ntcli (see configure_logging).
GLOBAL_HELPS = {
    'verbose': 'Say more on stderr: -v adds the debug lines (HTTP '
               'exchanges, redacted), -vv also those of the libraries.',
    'quiet': 'Only warnings and errors on stderr, and no report of what '
             'was done on stdout (what was asked for, such as a list, a '
             'token or -f json, is still printed).',
    'log_file': 'Append every log line, debug ones included and redacted, '
                'to this file (created 0600).',
    'debug': 'Show tracebacks and every debug line (HTTP exchanges, '
             'libraries), with every secret redacted.',
}


def _entry_points(namespace: str) -> list[EntryPoint]:
    """The entry points of a namespace, from stevedore's cache, unloaded."""
    # a NamedExtensionManager imports only the extensions it is named:
    # with none, it imports nothing and still lists them all
    return stevedore.NamedExtensionManager(
        namespace, names=()).list_entry_points()


def _is_builtin(
        entry_point: EntryPoint | commandmanager.EntryPointWrapper) -> bool:
    return entry_point.value.startswith(BUILTIN_MODULES)


def _timeout_option(text: str) -> float:
    """--timeout: checked as NTCLI_TIMEOUT and the config setting are."""
    try:
        return validate.check_timeout(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _safe(text: str) -> str:
    """Redacted, with control characters escaped, for stderr."""
    return escape(redact.redact(text))


def _log_file_handler(path: str, fmt: str) -> logging.Handler:
    """A handler appending to ``path``: created 0600, never through a
    symlink; a bad path is a usage error."""
    try:
        fd = fileio.open_file(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    except errors.UnsafePath as exc:
        raise errors.UsageError(exc.message, exc.hint) from None
    except OSError as exc:
        raise errors.UsageError(
            f'Cannot open the log file {quoted(path)}: '
            f'{exc.strerror or exc}',
            'Give --log-file the path of a file in a directory you can '
            'write to.') from None
    handler = logging.StreamHandler(os.fdopen(fd, 'a', encoding='utf-8'))
    handler.setFormatter(logging.Formatter(fmt))
    return handler


class PluginEntryPoint:
    """A command's entry point, imported only when the command is used.

    cliff's CommandManager loads commands through ``load()``; an import
    failure here names the command and the plugin instead of a bare
    ImportError.
    """

    def __init__(self, name: str, entry_point: EntryPoint) -> None:
        self.name = name
        self.entry_point = entry_point

    @property
    def value(self) -> str:
        """``module:Class``, as in the distribution's metadata."""
        return self.entry_point.value

    def load(self) -> Any:
        """Import and return the command's class; whatever the import
        raises (``sys.exit()`` included) is this command's failure alone."""
        try:
            return self.entry_point.load()
        except (KeyboardInterrupt, errors.Interrupted):
            raise
        except BaseException as exc:
            raise errors.PluginError(
                f"The command '{self.name}' could not be loaded from "
                f"'{self.value}': {type(exc).__name__}: {exc}",
                'Reinstall or remove the plugin that provides it (see '
                "'ntcli plugin list --long').") from exc


class CommandManager(commandmanager.CommandManager):
    """Finds commands through entry points and imports only the one used.

    Overrides ``load_commands`` (cliff's imports every command of the
    namespace at start-up), so that a plugin that cannot be imported is
    reported when it is needed, and a plugin command that collides with a
    built-in one is ignored with a warning instead of replacing it. cliff's
    ``find_command`` looks commands up and calls ``load()`` on the one found.
    """

    def __init__(self, namespace: str = COMMAND_NAMESPACE) -> None:
        self.conflicts: dict[str, str] = {}
        super().__init__(namespace, convert_underscores=True)

    def load_commands(self, namespace: str) -> None:
        self.group_list.append(namespace)
        for ep in _entry_points(namespace):
            name = ep.name.replace('_', ' ')
            current = self.commands.get(name)
            if current is not None and current.value == ep.value:
                continue  # the same plugin seen twice on sys.path
            if name in RESERVED_COMMANDS or (
                    current is not None and _is_builtin(current)
                    and not _is_builtin(ep)):
                self.conflicts[name] = ep.value
                continue
            if current is not None and not _is_builtin(current):
                self.conflicts[name] = current.value
            # cliff only calls load() and reads value
            self.commands[name] = PluginEntryPoint(  # type: ignore[assignment]
                name, ep)


class HelpAction(cliff_help.HelpAction):
    """``ntcli --help``: the options, then the commands grouped by topic."""

    def __call__(self, parser: argparse.ArgumentParser,
                 namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        app = self.default
        out = app.stdout
        parser.print_help(out)
        groups: dict[str, list[tuple[str, str]]] = {}
        manager = app.command_manager
        # a one-word command joins the group of commands sharing its word
        topics = {name.split(' ')[0] for name, _ep in manager if ' ' in name}
        for name, entry_point in sorted(manager):
            try:
                cmd = entry_point.load()(app, None)
                if getattr(cmd, 'deprecated', False):
                    continue
                summary = cmd.get_description().split('\n')[0].rstrip('.')
            except Exception as exc:
                app.stderr.write(f'Warning: {redact.redact(str(exc))}\n')
                continue
            first = name.split(' ')[0]
            topic = first if first in topics else 'other'
            groups.setdefault(topic, []).append((name, summary))
        out.write('\nCommands:\n')
        for topic in sorted(groups, key=lambda t: (t == 'other', t)):
            out.write(f'  {topic}:\n')
            for name, summary in groups[topic]:
                out.write(f'    {name:<22} {summary}\n')
        app.report_conflicts()
        raise cliff_help.HelpExit()


class HelpCommand(command.CommandMixin, cliff_help.HelpCommand,
                  cli_parser.ParsedCommand):
    """Print detailed help for another command."""

    checks_settings = False     # help works whatever the settings

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        if not parsed_args.cmd:
            HelpAction([], dest=argparse.SUPPRESS, default=self.app)(
                self.app.parser, self.app.options, None, None)
        try:
            return super().take_action(parsed_args)
        except ValueError:      # cliff's "Unknown command" without a match
            raise errors.UsageError(
                f"Unknown command {quoted(' '.join(parsed_args.cmd))}",
                "See 'ntcli --help' for the commands.") from None


def _interactive_shell(*args: Any) -> Any:
    """ntcli's interactive mode (``ntcli`` alone), imported when used."""
    from ntcli.interactive import InteractiveShell
    return InteractiveShell(*args)


class NtcliApp(command.App):
    """The ntcli application.

    cliff's App, with these of its methods overridden, each for the reason
    given where it is: ``build_option_parser``, ``print_help_if_requested``,
    ``configure_logging``, ``initialize_app``, ``prepare_to_run_command``,
    ``clean_up``, ``interact``, ``run`` and ``run_subcommand``.
    """

    NAME = 'ntcli'
    LOG = logging.getLogger('ntcli')
    command_manager: CommandManager

    def __init__(self, stdin: TextIO | None = None,
                 stdout: TextIO | None = None,
                 stderr: TextIO | None = None,
                 stdout_closed: bool = False) -> None:
        super().__init__(
            description='Issue, show, list, revoke and rotate workspace '
                        'tokens.',
            version=ntcli.__version__,
            command_manager=CommandManager(),
            stdin=stdin, stdout=stdout, stderr=stderr,
            deferred_help=True,
            # called as InteractiveApp is: (app, manager, stdin, stdout)
            interactive_app_factory=_interactive_shell)  # type: ignore[arg-type]
        self.command_manager.add_command('help', HelpCommand)
        self.command_manager.add_command('complete', CompleteCommand)
        self.context: context.Context | None = None
        self.stdout_closed = stdout_closed
        # an error found while cliff sets up (a bad --log-file), reported
        # by the command, where errors are reported
        self.startup_error: errors.NtcliError | None = None

    def build_option_parser(self, description: str | None,
                            version: str | None,
                            argparse_kwargs: dict[str, Any] | None = None,
                            ) -> argparse.ArgumentParser:
        # cliff's hook for an application's global options: cliff's own,
        # in the parser both applications share
        parser = cli_parser.global_parser(
            self, description, version, helps=GLOBAL_HELPS,
            **(argparse_kwargs or {}))
        parser.add_argument(
            '--context', metavar='NAME', default=None,
            help='The context to use: an endpoint, its CA bundle, a '
                 'workspace and their sign-in (env NTCLI_CONTEXT; default: '
                 "a .ntcli-context file, the current context, 'local').")
        parser.add_argument(
            '--endpoint', metavar='URL', default=None,
            help="Token authority: 'local' (embedded) or an http(s):// URL; "
                 'uses the context of that endpoint (env NTCLI_ENDPOINT; '
                 "default: the context's).")
        parser.add_argument(
            '-w', '--workspace', metavar='NAME|ID', default=None,
            help='Workspace to act on (env NTCLI_WORKSPACE; default: the '
                 "selected one, 'default' on the embedded endpoint).")
        parser.add_argument(
            '--config-dir', metavar='DIR', default=None,
            help='Directory for configuration and encrypted credentials '
                 '(env NTCLI_CONFIG_DIR; default: the platform config '
                 'directory, e.g. ~/.config/ntcli).')
        parser.add_argument(
            '--timeout', metavar='SECONDS', type=_timeout_option, default=None,
            help='Network timeout for endpoint calls (env NTCLI_TIMEOUT; '
                 'default 30).')
        parser.add_argument(
            '--ca-bundle', metavar='PATH', default=None,
            help='CA bundle for https endpoints with a private CA '
                 "(default: the context's, or env REQUESTS_CA_BUNDLE).")
        return parser

    def print_help_if_requested(self) -> None:
        # cliff's HelpAction lists the commands in one flat list; ntcli's
        # groups them by topic
        if self.deferred_help and self.options.deferred_help:
            HelpAction([], argparse.SUPPRESS, default=self)(
                self.parser, self.options, None, None)

    def configure_logging(self) -> None:
        # cliff's levels on stderr: -q warnings and errors, by default also
        # notes (INFO), -v also ntcli's debug lines; -vv also the libraries'
        # (urllib3, cliff); --debug as -vv, with tracebacks. --log-file gets
        # every line -vv would show. Every line is redacted; stevedore's
        # lines (which extension was found) are plumbing, never shown:
        # ntcli reports a plugin that fails in its own words.
        log_file = self.options.log_file
        if log_file:
            # cliff's FileHandler would follow a symlink, create the file
            # with the umask's mode (0644) and fail on a directory with a
            # bare OSError; the log is opened here instead, 0600
            self.options.log_file = None
        super().configure_logging()
        if log_file:
            try:
                logging.getLogger('').addHandler(_log_file_handler(
                    log_file, self.LOG_FILE_MESSAGE_FORMAT))
            except errors.UsageError as exc:
                # reported by the command's run, where errors are reported
                self.startup_error = exc
        root = logging.getLogger('')
        for handler in root.handlers:
            handler.addFilter(redact.RedactingFilter())
            if self.options.debug and handler.level > logging.DEBUG \
                    and not isinstance(handler, logging.FileHandler):
                handler.setLevel(logging.DEBUG)
        logging.getLogger('stevedore').setLevel(logging.ERROR)
        libraries = self.options.debug or (self.options.verbose_level or 0) > 2
        # urllib3 warns at each retry: the outcome is ntcli's to report
        logging.getLogger('urllib3').setLevel(
            logging.NOTSET if libraries else logging.ERROR)
        logging.getLogger('cliff').setLevel(
            logging.NOTSET if libraries else logging.WARNING)

    def initialize_app(self, argv: list[str]) -> None:
        # cliff's hook for the state every command shares
        self.context = context.Context(self, self.options)

    def prepare_to_run_command(self, cmd: Any) -> None:
        LOG.debug('ntcli %s: %s', ntcli.__version__, cmd.cmd_name)
        # the warning for a plugin command shadowed by a built-in one comes
        # only with the command concerned
        if cmd.cmd_name in self.command_manager.conflicts:
            self.report_conflicts(cmd.cmd_name)

    def clean_up(self, cmd: Any, result: int,
                 err: BaseException | None) -> None:
        # cliff's hook after each command: release what the context holds
        LOG.debug('%s: exit status %s', cmd.cmd_name, result)
        if self.context is not None:
            self.context.close()

    def interact(self) -> None:
        # noted for run(), below; at the prompt Ctrl-C is the shell's
        # KeyboardInterrupt (a new prompt), not the end of ntcli
        interrupt.acting()
        with interrupt.as_keyboard_interrupt():
            super().interact()
        self.interacted = True

    def run(self, argv: list[str]) -> int:
        self.interacted = False
        code = super().run(argv)
        # cliff reports 1 after a normal end of the interactive shell
        return 0 if self.interacted else code

    def run_subcommand(self, argv: list[str]) -> int:
        # cliff prints an unknown command's message on stdout and lets a
        # plugin that fails to import escape; ntcli answers on stderr,
        # offers the commands of a group, and reports the broken plugin
        try:
            self.command_manager.find_command(argv)
        except ValueError:
            self.stderr.write(
                f"ntcli: '{' '.join(argv)}' is not an ntcli command. "
                "See 'ntcli --help'.\n")
            # 'ntcli token' names a group: offer its commands
            group = sorted(name for name, _ep in self.command_manager
                           if name.startswith(argv[0] + ' '))
            matches = group or self.get_fuzzy_matches(argv[0])
            if matches:
                self.stderr.write('Did you mean one of these?\n')
                for match in matches[:8]:
                    self.stderr.write(f'  {match}\n')
            return 2
        except Exception as exc:
            return self.report_error(exc)
        return super().run_subcommand(argv)

    def report_conflicts(self, name: str | None = None) -> None:
        """Warn about plugin commands ignored because of a name clash."""
        for cmd_name, value in sorted(self.command_manager.conflicts.items()):
            if name is None or name == cmd_name:
                self.stderr.write(
                    f"Warning: the plugin command '{cmd_name}' from "
                    f"'{value}' is ignored: the name is taken by "
                    "another command.\n")

    def report_error(self, exc: BaseException) -> int:
        """Print ``exc`` for the user and return the exit status."""
        debug = bool(getattr(self, 'options', None) and self.options.debug)
        lines = []
        if debug:
            lines.append(redact.redact(''.join(
                traceback.format_exception(exc))))
        if isinstance(exc, errors.NtcliError):
            lines.append(f'{_safe(exc.message)}\n')
            if exc.hint:
                lines.append(f'Hint: {_safe(exc.hint)}\n')
            code = exc.exit_code
        elif isinstance(exc, BrokenPipeError):
            code = 141
        else:
            detail = _safe(str(exc)) or type(exc).__name__
            lines.append(f'Unexpected error: {type(exc).__name__}: '
                         f'{detail}\n')
            if not debug:
                lines.append('Hint: Re-run with --debug to see the '
                             'traceback, and report it if it persists.\n')
            code = 1
        try:
            self.stderr.write(''.join(lines))
            self.stderr.flush()
        except (OSError, ValueError):
            pass        # stderr is gone too: the exit status still tells
        return code
