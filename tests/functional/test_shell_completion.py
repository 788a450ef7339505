"""Each shell's completion run for real: bash (with and without Debian's
bash-completion) and zsh typed at on a pseudo-terminal, fish through its
own ``complete -C``. The shells come from the distribution's packages
(.ci/run installs them when missing); a test whose shell is missing is
skipped with the reason.
"""

import os
import re
import shutil
import subprocess
import sys

from ntcli import config, shell_scripts, testing
from tests.functional import base, terminal

BASH_COMPLETION = '/usr/share/bash-completion/bash_completion'
ENDPOINT = 'https://tokens.example.com'
# What a completion must never show in the user's terminal
NOISE = re.compile(r'command not found|Traceback|Warning|[Ee]rror|'
                   r'Hint:|\(y/N\)')


def needs(program):
    """Skip unless ``program`` is installed."""
    def decorate(test):
        def run(self):
            if shutil.which(program) is None:
                self.skipTest(f'{program} is not installed (.ci/run installs '
                              "it from the distribution's packages)")
            return test(self)
        run.__name__ = test.__name__
        run.__doc__ = test.__doc__
        return run
    return decorate


class ShellTest(base.FunctionalTest):
    """A home with workspaces, tokens and a remote endpoint seen before."""

    def setUp(self):
        super().setUp()
        authority = self.useFixture(testing.EmbeddedEndpoint(
            self.home.data_dir))
        authority.workspace()
        for name in ('team-a', 'team-b'):
            authority.create_workspace(name)
        self.jtis = sorted(authority.issue_token().jti for _ in range(2))
        with config.Config.update(self.home.config_dir) as cfg:
            cfg.add_context('tokens', endpoint=ENDPOINT, key=ENDPOINT)
            cfg.remember_workspace('tokens', 'id-1', 'ops')
        os.mkdir(os.path.join(self.home.path, 'confdir-x'))
        bin_dir = os.path.dirname(testing.ntcli_command()[0])
        self.env = dict(self.home.env, TERM='dumb', HISTFILE='/dev/null',
                        INPUTRC='/dev/null',
                        PATH=f"{bin_dir}:{os.environ.get('PATH', '')}")

    def script(self, shell):
        path = os.path.join(self.home.path, f'ntcli.{shell}')
        with open(path, 'w') as handle:
            handle.write(self.ntcli('complete', '--shell', shell).stdout)
        return path


class InteractiveShellTest(ShellTest):
    """bash or zsh on a pty, with ntcli's script sourced."""

    def start(self, argv, *setup):
        self.term = self.useFixture(terminal.Terminal(
            argv, self.env, cwd=self.home.path))
        mark = self.term.send(' ; '.join(setup) + ' ; echo READY-$((6*7))\r')
        self.term.expect('READY-42', mark)
        self.start_mark = len(self.term.output)

    def tab(self, line, pattern, tabs=2):
        """Type ``line`` and Tab; ``pattern`` must show."""
        mark = self.term.send('\x15' + line + '\t' * tabs)
        found = self.term.expect(pattern, mark)
        self.term.settle(quiet=0.3)
        return found

    def check_every_case(self):
        self.tab('ntcli tok', r'ntcli token ', tabs=1)
        self.tab('ntcli token re', r'refresh[\s\S]*revoke')
        self.tab('ntcli token list -f ', r'csv\s+json\s+table\s+value\s+yaml')
        self.tab('ntcli token show --format=',
                 r'json\s+shell\s+table\s+text\s+value\s+yaml')
        self.tab('ntcli token list -c C', r'Created\s+Current')
        self.tab('ntcli workspace select ', r'default\s+team-a\s+team-b')
        self.tab('ntcli -w team-', r'team-a\s+team-b')
        # readline: a Tab that inserted their common part, then two more
        self.tab('ntcli token revoke ', rf'(?=[\s\S]*{self.jtis[0]})'
                 rf'(?=[\s\S]*{self.jtis[1]})', tabs=3)
        self.tab(f'ntcli token revoke {self.jtis[0]} ',
                 rf'revoke {self.jtis[0]} {self.jtis[1]} ', tabs=1)
        self.tab('ntcli --endpoint https://tok', f'{ENDPOINT} ', tabs=1)
        self.tab('ntcli --config-dir confd', r'confdir-x/', tabs=1)
        self.term.send('\x15')
        shown = self.term.output[self.start_mark:]
        self.assertIsNone(NOISE.search(shown), shown)


class TestBash(InteractiveShellTest):

    @needs('bash')
    def test_without_bash_completion(self):
        self.start(['bash', '--norc', '--noprofile', '-i'], "PS1='$ '",
                   f'source {self.script("bash")}',
                   '! type _get_comp_words_by_ref >/dev/null 2>&1')
        self.check_every_case()

    @needs('bash')
    def test_with_bash_completion(self):
        if not os.path.exists(BASH_COMPLETION):
            self.skipTest('bash-completion is not installed (.ci/run '
                          "installs it from the distribution's packages)")
        self.start(['bash', '--norc', '--noprofile', '-i'], "PS1='$ '",
                   f'source {BASH_COMPLETION}',
                   f'source {self.script("bash")}')
        self.check_every_case()


class TestZsh(InteractiveShellTest):

    @needs('zsh')
    def test_completion(self):
        self.start(['zsh', '-f', '-i'], "PS1='$ '",
                   'autoload -Uz compinit', 'compinit -u -D',
                   f'source {self.script("zsh")}')
        self.check_every_case()


class TestFish(ShellTest):
    """fish's own completion engine, asked with ``complete -C``."""

    def offered(self, line):
        proc = subprocess.run(
            ['fish', '--no-config', '-c',
             f'source {self.script("fish")}; complete -C{line!r}'],
            env=self.env, cwd=self.home.path, capture_output=True,
            text=True, timeout=terminal.WAIT, stdin=subprocess.DEVNULL)
        self.assertEqual(('', 0), (proc.stderr, proc.returncode))
        return [line.split('\t')[0] for line in proc.stdout.splitlines()]

    @needs('fish')
    def test_completion(self):
        self.assertEqual(['token'], self.offered('ntcli tok'))
        self.assertEqual(['refresh', 'revoke'],
                         self.offered('ntcli token re'))
        self.assertEqual(['csv', 'json', 'table', 'value', 'yaml'],
                         self.offered('ntcli token list -f '))
        self.assertEqual(['Created', 'Current'],
                         self.offered('ntcli token list -c C'))
        self.assertEqual(['default', 'team-a', 'team-b'],
                         self.offered('ntcli workspace select '))
        self.assertEqual(['team-a', 'team-b'], self.offered('ntcli -w team'))
        self.assertEqual(self.jtis,
                         sorted(self.offered('ntcli token revoke ')))
        self.assertEqual([ENDPOINT], self.offered('ntcli --endpoint https'))
        self.assertEqual(['confdir-x/'],
                         self.offered('ntcli --config-dir confd'))


class TestHowTheScriptsRunNtcli(ShellTest):
    """The scripts start the interpreter of the ntcli that printed them
    when that ntcli is the one on $PATH, else whatever ntcli is there."""

    QUERY = {'bash': ['bash', '--norc', '--noprofile', '-c'],
             'zsh': ['zsh', '-f', '-c'],
             'fish': ['fish', '--no-config', '-c']}

    def query(self, shell, path, cwd=None, env=None):
        """What the script's query function prints for ``token re``."""
        function = '__ntcli_query' if shell == 'fish' else '_ntcli_query'
        proc = subprocess.run(
            [*self.QUERY[shell],
             f'source {path} 2>/dev/null; {function} complete --query -- '
             'token re'], env=env or self.env, cwd=cwd or self.home.path,
            capture_output=True, text=True, timeout=terminal.WAIT,
            stdin=subprocess.DEVNULL)
        return proc.stdout

    def written(self, shell, installation):
        path = os.path.join(self.home.path, f'made.{shell}')
        with open(path, 'w') as handle:
            handle.write(shell_scripts.script(shell, installation))
        return path

    def fake_ntcli(self):
        """A directory holding an ``ntcli`` that answers FAKE."""
        folder = os.path.join(self.home.path, 'fake-bin')
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, 'ntcli')
        with open(path, 'w') as handle:
            handle.write('#!/bin/sh\necho FAKE\n')
        os.chmod(path, 0o755)
        return path

    def each_shell(self):
        shells = [s for s in shell_scripts.SHELLS if shutil.which(s)]
        if not shells:
            self.skipTest('no shell installed')
        return shells

    def test_the_printed_script_names_this_interpreter(self):
        for shell in self.each_shell():
            path = self.script(shell)
            with open(path) as handle:
                self.assertIn('sys.path[0]=sys.argv.pop(1)', handle.read())
            self.assertTrue(self.query(shell, path).startswith(
                'words\nrefresh\t'), shell)

    def test_an_ntcli_package_in_the_working_directory_is_not_imported(self):
        cwd = os.path.join(self.home.path, 'checkout')
        os.makedirs(os.path.join(cwd, 'ntcli'))
        with open(os.path.join(cwd, 'ntcli', '__init__.py'), 'w') as handle:
            handle.write('print("words\\nHIJACKED")\nraise SystemExit\n')
        for shell in self.each_shell():
            answer = self.query(shell, self.script(shell), cwd=cwd)
            self.assertNotIn('HIJACKED', answer, shell)
            self.assertIn('\nrevoke\t', answer, shell)

    def test_the_ntcli_on_path_when_the_interpreter_is_gone(self):
        real = testing.ntcli_command()[0]
        gone = shell_scripts.Installation(
            real, os.path.join(self.home.path, 'gone', 'python3'),
            os.path.dirname(real), '')
        for shell in self.each_shell():
            self.assertTrue(self.query(shell, self.written(
                shell, gone)).startswith('words\nrefresh\t'), shell)

    def test_the_ntcli_on_path_when_it_is_another(self):
        fake = self.fake_ntcli()
        env = dict(self.env, PATH=f"{os.path.dirname(fake)}:"
                                  f"{self.env['PATH']}")
        real = testing.ntcli_command()[0]
        for shell in self.each_shell():
            path = self.written(shell, shell_scripts.Installation(
                real, sys.executable, os.path.dirname(real), ''))
            self.assertEqual('FAKE\n', self.query(shell, path, env=env),
                             shell)
            # the interpreter itself when its ntcli is the one on $PATH
            path = self.written(shell, shell_scripts.Installation(
                fake, sys.executable, os.path.dirname(real), ''))
            self.assertTrue(self.query(shell, path, env=env).startswith(
                'words\nrefresh\t'), shell)
