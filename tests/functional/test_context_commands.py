"""``ntcli context create|list|use|show|rename|delete`` and the completion
of context names, on the embedded endpoint and with unreachable servers
(the commands keep settings; talking to servers is test_contexts')."""

from __future__ import annotations

import csv
import io
import json
import os

from ntcli.config import Config
from ntcli.credential_store import CredentialStore
from tests.functional import base

WORK = 'https://work.example.com'
USAGE = 2


class ContextCommandsTest(base.FunctionalTest):

    def quick(self, *args, expect=0, env=None):
        """Run ntcli in this process; check its exit status."""
        result = self.runner.run_in_process(*args, env=env)
        self.assertEqual(expect, result.returncode,
                         f'{args}: {result.stdout}{result.stderr}')
        return result

    def contexts(self):
        return Config.load(self.home.config_dir).contexts()

    def config_file(self):
        return os.path.join(self.home.config_dir, 'config.json')


class TestList(ContextCommandsTest):

    def test_a_fresh_machine_has_local_only(self):
        listed = json.loads(self.quick('context', 'list', '-f',
                                       'json').stdout)
        self.assertEqual([{'Name': 'local', 'Endpoint': 'local',
                           'Workspace': None, 'CA Bundle': None,
                           'Current': True}], listed)
        self.assertFalse(os.path.exists(self.config_file()))

    def test_the_check_marks_the_context_in_force(self):
        self.quick('context', 'create', 'work', '--endpoint', WORK, '-w',
                   'team')
        table = self.quick('context', 'list').stdout
        self.assertIn('| local | local                    |           |    '
                      '       | ✓       |', table)
        table = self.quick('context', 'list', env={
            'NTCLI_CONTEXT': 'work'}).stdout
        self.assertIn('| work  | https://work.example.com | team      |    '
                      '       | ✓       |', table)
        rows = csv.DictReader(io.StringIO(self.quick(
            'context', 'list', '-f', 'csv',
            env={'NTCLI_CONTEXT': 'work'}).stdout))
        self.assertEqual([('local', 'false'), ('work', 'true')],
                         [(row['Name'], row['Current']) for row in rows])


class TestCreate(ContextCommandsTest):

    def test_created_with_its_fields(self):
        bundle = os.path.join(self.home.path, 'ca.pem')
        with open(bundle, 'w') as handle:
            handle.write('-----BEGIN CERTIFICATE-----\n')
        shown = json.loads(self.quick(
            'context', 'create', 'work', '--endpoint',
            'HTTPS://Work.Example.com:443/', '--ca-bundle', bundle, '-w',
            'team', '--use', '-f', 'json').stdout)
        self.assertEqual({'name': 'work', 'endpoint': WORK,
                          'ca_bundle': bundle, 'workspace': 'team',
                          'current': True}, shown)
        entry = self.contexts()['work']
        self.assertRegex(entry.pop('key'), '^' + WORK + '#[0-9a-f]{16}$')
        self.assertEqual({'endpoint': WORK, 'ca_bundle': bundle,
                          'workspace': 'team'}, entry)
        self.assertEqual('work',
                         Config.load(self.home.config_dir).current_context)
        text = self.quick('context', 'create', 'exp', '--endpoint',
                          'local').stdout
        self.assertEqual("Context 'exp' created for local.\n", text)
        # two contexts of one endpoint never share a sign-in
        self.quick('context', 'create', 'work2', '--endpoint', WORK)
        self.assertNotEqual(self.contexts()['work']['key'],
                            self.contexts()['work2']['key'])

    def test_bad_input_changes_nothing(self):
        cases = [
            (('context', 'create', 'work'), 'A new context needs an endpoint'),
            (('context', 'create', 'a b', '--endpoint', WORK),
             "Invalid context name 'a b'"),
            (('context', 'create', 'x\x1b[2J', '--endpoint', WORK),
             "Invalid context name 'x\\x1b[2J'"),
            (('context', 'create', 'x' * 64, '--endpoint', WORK),
             'Invalid context name'),
            (('context', 'create', 'local', '--endpoint', WORK),
             "A context named 'local' already exists"),
            (('context', 'create', 'work', '--endpoint', 'https://u:p@h'),
             'must not contain credentials'),
            (('context', 'create', 'work', '--endpoint', 'gopher://h'),
             "Unknown endpoint 'gopher://h'"),
            (('context', 'create', 'work', '--endpoint', WORK,
              '--ca-bundle', '/nonexistent.pem'),
             'CA bundle /nonexistent.pem not found'),
            (('context', 'create', 'work', '--endpoint', WORK, '-w', 'A!'),
             'Invalid workspace'),
        ]
        for args, message in cases:
            result = self.quick(*args, expect=USAGE)
            self.assertIn(message, result.stderr)
            self.assertNotIn('\x1b', result.stderr)
            self.assertEqual('', result.stdout)
            self.assertFalse(os.path.exists(self.config_file()), args)


class TestUseShowRename(ContextCommandsTest):

    def setUp(self):
        super().setUp()
        self.quick('context', 'create', 'work', '--endpoint', WORK)

    def test_use_and_show_say_why(self):
        self.assertEqual("Switched to context 'work' (https://work.example"
                         ".com).\n", self.quick('context', 'use',
                                                'work').stdout)
        shown = json.loads(self.quick('context', 'show', '-f',
                                      'json').stdout)
        self.assertEqual({'name': 'work', 'endpoint': WORK,
                          'ca_bundle': None, 'workspace': None,
                          'workspace_id': None,
                          'source': 'the current context (ntcli context '
                                    'use)',
                          'in_force': True, 'current': True}, shown)
        shown = json.loads(self.quick('context', 'show', 'local', '-f',
                                      'json').stdout)
        self.assertEqual(('local', False, False),
                         (shown['name'], shown['in_force'],
                          shown['current']))
        # chosen here by the environment: said when switching
        result = self.quick('context', 'use', 'local',
                            env={'NTCLI_CONTEXT': 'work'})
        self.assertEqual("Warning: here the context 'work' is in force "
                         'instead (from NTCLI_CONTEXT)\n', result.stderr)
        self.assertEqual('local',
                         Config.load(self.home.config_dir).current_context)

    def test_an_endpoint_given_by_the_way_makes_no_context(self):
        for args in (('context', 'use', 'work'),
                     ('context', 'rename', 'work', 'job'),
                     ('context', 'delete', 'job', '--force')):
            self.quick('--endpoint', 'https://other.example', *args)
            self.assertNotIn('other.example', self.contexts())
        self.assertEqual(['local'], sorted(self.contexts()))

    def test_unknown_names(self):
        for args in (('context', 'use', 'nope'),
                     ('context', 'show', 'nope'),
                     ('context', 'rename', 'nope', 'other'),
                     ('context', 'delete', 'nope', '--force'),
                     ('--context', 'nope', 'token', 'show')):
            result = self.quick(*args, expect=USAGE)
            self.assertIn("No context named 'nope'", result.stderr)

    def test_rename_keeps_the_sign_in(self):
        key = self.contexts()['work']['key']
        with CredentialStore(self.home.config_dir).transaction() as creds:
            creds.set_user_credential(key, 'ntu_kept')
        self.quick('context', 'use', 'work')
        self.assertEqual("Context 'work' renamed to 'job'.\n",
                         self.quick('context', 'rename', 'work',
                                    'job').stdout)
        self.assertEqual(key, self.contexts()['job']['key'])
        self.assertNotIn('work', self.contexts())
        self.assertEqual('job',
                         Config.load(self.home.config_dir).current_context)
        status = json.loads(self.quick('auth', 'status', '-f', 'json',
                                       '--timeout', '1').stdout)
        self.assertEqual(('job', 'stored'),
                         (status['context'], status['user_credential']))

    def test_rename_refusals(self):
        self.quick('context', 'create', 'other', '--endpoint', 'local')
        for args, message in (
                (('work', 'other'), "A context named 'other' already"),
                (('local', 'mine'), "The context 'local' (the embedded "
                                    'endpoint) cannot be renamed'),
                (('work', 'local'), "The context 'local'"),
                (('work', '../x'), 'Invalid context name')):
            result = self.quick('context', 'rename', *args, expect=USAGE)
            self.assertIn(message, result.stderr)
        self.assertEqual(['local', 'other', 'work'], sorted(self.contexts()))


class TestDelete(ContextCommandsTest):

    def test_delete_removes_its_credentials_and_nothing_else(self):
        self.quick('context', 'create', 'work', '--endpoint', WORK, '--use')
        self.quick('token', 'refresh', '--context', 'local')
        key = self.contexts()['work']['key']
        with CredentialStore(self.home.config_dir).transaction() as creds:
            creds.set_user_credential(key, 'ntu_gone')
        refused = self.quick('context', 'delete', 'work', expect=USAGE)
        self.assertIn('standard input is not a terminal', refused.stderr)
        self.assertIn('work', self.contexts())
        result = self.quick('context', 'delete', 'work', '--force')
        self.assertEqual("Context 'work' deleted, with the credentials "
                         'stored for it.\n', result.stdout)
        self.assertEqual(['local'], list(self.contexts()))
        self.assertIsNone(Config.load(self.home.config_dir).current_context)
        creds = CredentialStore(self.home.config_dir).read()
        self.assertEqual(['local'], creds.endpoint_keys())
        self.assertIsNone(creds.get_user_credential(key))
        # the embedded endpoint's context stays
        result = self.quick('context', 'delete', 'local', '--force',
                            expect=USAGE)
        self.assertIn("The context 'local' (the embedded endpoint) cannot "
                      'be deleted', result.stderr)
        self.quick('token', 'show')


class TestCompletion(ContextCommandsTest):

    def offered(self, *words):
        result = self.quick('complete', '--query', '--', *words)
        return [line.split('\t')[0] for line in
                result.stdout.splitlines()[1:]]

    def test_context_names_are_offered(self):
        self.quick('context', 'create', 'work', '--endpoint', WORK)
        self.quick('context', 'create', 'web', '--endpoint', 'local')
        self.assertEqual(['local', 'web', 'work'],
                         self.offered('--context', ''))
        self.assertEqual(['web', 'work'], self.offered('--context', 'w'))
        for command in ('use', 'show', 'delete', 'rename'):
            self.assertEqual(['local', 'web', 'work'],
                             self.offered('context', command, ''))
        self.assertIn('create', self.offered('context', ''))
