"""What the start-up path imports (benchmarks/RESULTS.md says why).

No timings here: each module named below cost the measured milliseconds
that benchmarks/cli_startup.py reports, and these tests keep them off the
paths that do not need them.
"""

import json
import os
import subprocess
import sys

import testtools

from ntcli import shell_scripts, testing

PROBE = '''
import io, json, sys
from ntcli.main import main
code = main(sys.argv[1:], stdout=io.StringIO(), stderr=io.StringIO())
print(json.dumps([code, sorted(sys.modules)]))
'''

# Costly modules the embedded token commands do without (ms measured on the
# benchmark machine): PyJWT ~40, cryptography's serialization ~5-10,
# uuid with platform ~2.5, platformdirs ~2.5; keyring 60-120 (and its
# backend discovery ~90) when the key is elsewhere. ntcli_authority.access
# (~1.2) is on the path: the authority authorizes every operation, the
# local owner's too. wcwidth (~30-50), which prettytable imports to measure
# a cell: ntcli's table formatter draws plain tables without it.
NOT_ON_TOKEN_PATHS = ('jwt', 'cryptography.hazmat.primitives.serialization',
                      'uuid', 'platform', 'platformdirs', 'requests',
                      'keyring', 'secretstorage', 'wcwidth')

# The records of the token paths are ntcli_core.records, not dataclasses
# (which compile their methods at import: ~12 ms for the server models,
# ~5 ms for the endpoint records).
RECORDS_PROBE = '''
import json, sys
import ntcli.endpoints, ntcli_authority.models
print(json.dumps('dataclasses' in sys.modules))
'''


class TestStartupImports(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.home = self.useFixture(testing.IsolatedHome())

    def modules_after(self, *args):
        proc = subprocess.run([sys.executable, '-c', PROBE, *args],
                              env=self.home.env, capture_output=True,
                              text=True, check=True)
        code, modules = json.loads(proc.stdout.strip().splitlines()[-1])
        self.assertEqual(0, code, proc.stderr)
        return set(modules)

    def test_version_imports_no_cliff(self):
        modules = self.modules_after('--version')
        self.assertNotIn('cliff.app', modules)
        self.assertNotIn('ntcli.application', modules)
        self.assertNotIn('stevedore', modules)
        # nor argparse and what it brings (shutil, textwrap, gettext):
        # ~5 ms of a 26 ms --version
        self.assertNotIn('argparse', modules)
        self.assertNotIn('ntcli.interrupt', modules)

    def test_token_commands_on_the_embedded_endpoint(self):
        self.modules_after('token', 'refresh')   # the first one makes keys
        for command in (('token', 'refresh'), ('token', 'show'),
                        ('token', 'list'), ('token', 'show', '-f', 'table')):
            modules = self.modules_after(*command)
            self.assertEqual(set(), modules.intersection(NOT_ON_TOKEN_PATHS),
                             command)
        self.assertNotIn('ntcli_token_plugin.expiry',
                         self.modules_after('token', 'show'))

    def test_tab_starts_no_application(self):
        # the first Tab of a plugin set makes the completion table; the
        # next ones answer from it (ntcli.completion_quick)
        tab = ('complete', '--query', '--', 'token', 'list', '--sort-')
        self.assertIn('cliff.app', self.modules_after(*tab))
        modules = self.modules_after(*tab)
        self.assertEqual(set(), modules.intersection((
            'cliff', 'cliff.app', 'stevedore', 'argparse',
            'importlib.metadata', 'ntcli.application', 'ntcli.completion',
            'ntcli_token_plugin',
            'cryptography', 'sqlite3', 'typing', *NOT_ON_TOKEN_PATHS)))

    def tab_modules(self, *words):
        """The modules a Tab imports, started as the completion scripts
        start it (ntcli.shell_scripts.CODE), from ``python -X importtime``
        (the probe above would add its own json and io)."""
        script = testing.ntcli_command()[0]
        proc = subprocess.run(
            [sys.executable, '-X', 'importtime', '-c', shell_scripts.CODE,
             os.path.dirname(script), script, 'complete', '--query', '--',
             *words], env=self.home.env, capture_output=True, text=True,
            check=True)
        self.assertTrue(proc.stdout.startswith('words\n'), proc.stdout)
        names = [line.rpartition('|')[2].strip()
                 for line in proc.stderr.splitlines()
                 if line.startswith('import time:')]
        # after site: in this development venv, site's .pth files start
        # the editable install's finder, which imports re and pathlib (a
        # venv made with ``pip install .`` has none)
        return set(names[names.index('site') + 1:])

    def test_tab_imports_no_re_json_enum(self):
        # each of re, json, enum, signal's wrappers, hashlib (OpenSSL),
        # shlex costs 3-10 ms of a 25 ms Tab (benchmarks/RESULTS.md)
        costly = {'re', 'json', 'enum', 'signal', 'hashlib', '_hashlib',
                  'shlex', 'contextlib', 'functools', 'typing',
                  'cliff.app', 'ntcli.application'}
        for words in (('token', 're'), ('token', 'list', '--sort-'),
                      ('context', 'use', '')):
            self.tab_modules(*words)     # the table; the values looked up
            modules = self.tab_modules(*words)
            self.assertIn('ntcli.completion_quick', modules)
            self.assertEqual(set(), modules & costly, words)

    def test_records_without_dataclasses(self):
        proc = subprocess.run([sys.executable, '-c', RECORDS_PROBE],
                              env=self.home.env, capture_output=True,
                              text=True, check=True)
        self.assertFalse(json.loads(proc.stdout), proc.stderr)
