"""Tests for ntcli.contexts: names, the directory file, the one rule of
precedence, and the upgrade of per-endpoint settings to contexts."""

from __future__ import annotations

import json
import os

import fixtures
import testtools

from ntcli import contexts, errors
from ntcli.config import Config
from ntcli.contexts import Choices, DirectoryPin
from ntcli.testing import IsolatedHome

WORK = 'https://work.example.com'
PERSONAL = 'https://home.example.net:8443'

CONTEXTS = {
    'local': {'endpoint': 'local', 'key': 'local'},
    'work': {'endpoint': WORK, 'key': WORK, 'ca_bundle': '/etc/work-ca.pem'},
    'personal': {'endpoint': PERSONAL,
                 'key': PERSONAL + '#0123456789abcdef'},
}


class TestNames(testtools.TestCase):

    def test_valid_and_invalid_names(self):
        for name in ('local', 'work', 'ntcli.example.com', '127.0.0.1',
                     'a', 'Staging_2', 'x' * 63):
            self.assertTrue(contexts.is_valid_name(name), name)
        for name in ('', '-x', '.hidden', '..', 'a/b', 'a b', 'tab\there',
                     'nul\0', 'esc\x1b[31m', 'x' * 64, 'naïve', 'a:b',
                     'new\nline', None, 5):
            self.assertFalse(contexts.is_valid_name(name), repr(name))

    def test_check_name_escapes_what_it_quotes(self):
        exc = self.assertRaises(errors.UsageError, contexts.check_name,
                                'bad\x1b[2Jname')
        self.assertNotIn('\x1b', exc.message)
        self.assertEqual(2, exc.exit_code)

    def test_named_after_the_host(self):
        name = contexts.name_for_endpoint
        self.assertEqual('local', name('local', []))
        self.assertEqual('work.example.com', name(WORK, []))
        self.assertEqual('127.0.0.1', name('http://127.0.0.1:8080', []))
        # a host already taken: its port, then a number
        self.assertEqual('127.0.0.1-9090',
                         name('http://127.0.0.1:9090', ['127.0.0.1']))
        self.assertEqual('work.example.com-2',
                         name(WORK + '/v2', ['work.example.com']))
        self.assertEqual('work.example.com-3',
                         name(WORK + '/v3', ['work.example.com',
                                             'work.example.com-2']))
        # a server called 'local' is not the embedded endpoint
        self.assertEqual('local-8000', name('http://local:8000', ['local']))
        self.assertEqual('1', name('http://[::1]:80', []))
        for url in (WORK, 'http://[::1]:80', 'http://local:8000'):
            self.assertTrue(contexts.is_valid_name(name(url, ['local'])))

    def test_keys_name_their_endpoint(self):
        key = contexts.new_key('https://Work.example.com:443/')
        self.assertRegex(key, r'^https://work\.example\.com#[0-9a-f]{16}$')
        self.assertEqual(WORK, contexts.key_endpoint(key))
        self.assertNotEqual(key, contexts.new_key(WORK))
        self.assertEqual(WORK, contexts.key_endpoint(WORK))
        self.assertEqual('local', contexts.key_endpoint('local'))


class TestDirectoryPin(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.home = self.useFixture(fixtures.TempDir()).path
        self.project = os.path.join(self.home, 'src', 'project')
        self.deep = os.path.join(self.project, 'a', 'b')
        os.makedirs(self.deep)

    def pin(self, directory, text='staging\n', mode=0o644):
        path = os.path.join(directory, contexts.DIRECTORY_FILE)
        with open(path, 'w') as handle:
            handle.write(text)
        os.chmod(path, mode)
        return path

    def find(self, cwd=None):
        return contexts.find_directory_pin(cwd or self.deep, self.home)

    def test_the_nearest_file_above(self):
        self.assertIsNone(self.find())
        path = self.pin(self.project)
        self.assertEqual(DirectoryPin(path, 'staging'), self.find())
        nearer = self.pin(os.path.join(self.project, 'a'), '# pinned\nprod')
        self.assertEqual(DirectoryPin(nearer, 'prod'), self.find())

    def test_the_walk_stops_at_home(self):
        outside = os.path.dirname(self.home)
        if os.access(outside, os.W_OK) and not os.path.exists(
                os.path.join(outside, contexts.DIRECTORY_FILE)):
            path = self.pin(outside)
            self.addCleanup(os.unlink, path)
            self.assertIsNone(self.find())
            # but a directory outside HOME walks up to the root
            self.assertEqual('staging', contexts.find_directory_pin(
                self.deep, '/nonexistent-home').name)
        self.pin(self.home)
        self.assertEqual('staging', self.find().name)

    def test_ignored_files_say_why(self):
        cases = [
            ('x' * 300, 0o644, 'larger than 256 bytes'),
            ('staging\nprod\n', 0o644, 'one context name'),
            ('https://evil.example\n', 0o644, 'one context name'),
            ('sta\x1bging\n', 0o644, 'one context name'),
            ('caf\xe9\n', 0o644, 'plain ASCII'),
            ('', 0o644, 'one context name'),
            ('staging\n', 0o666, 'other users can write'),
            ('staging\n', 0o664, 'other users can write'),
        ]
        for text, mode, why in cases:
            found = self.find() if self.pin(self.project, text, mode) \
                else None
            self.assertIsNone(found.name, text)
            self.assertIn(why, found.problem)

    def test_a_symlink_is_ignored(self):
        target = self.pin(self.home)
        os.symlink(target, os.path.join(self.project,
                                        contexts.DIRECTORY_FILE))
        found = self.find()
        self.assertIsNone(found.name)
        self.assertEqual('it is a symbolic link', found.problem)

    def test_a_directory_or_fifo_is_ignored(self):
        os.mkdir(os.path.join(self.project, contexts.DIRECTORY_FILE))
        self.assertEqual('it is not a regular file', self.find().problem)

    @testtools.skipUnless(hasattr(os, 'getuid') and os.getuid() == 0,
                          'changing a file owner needs root')
    def test_a_file_of_another_user_is_ignored(self):
        path = self.pin(self.project)
        os.chown(path, 4242, 4242)
        self.assertEqual('it is not owned by you', self.find().problem)


class TestResolution(testtools.TestCase):

    def resolve(self, choices=None, env=None, pin=None, current=None,
                table=None):
        self.warnings = []
        return contexts.resolve(
            table or CONTEXTS, current, choices or Choices(), env or {},
            lambda: pin, self.warnings.append)

    def test_precedence_and_why(self):
        pin = DirectoryPin('/home/a/src/project/.ntcli-context', 'personal')
        cases = [
            ({}, None, None, 'local', 'the default context'),
            ({}, None, 'work', 'work', 'the current context'),
            ({}, pin, 'work', 'personal',
             'from .ntcli-context in /home/a/src/project'),
            ({'NTCLI_CONTEXT': 'local'}, pin, 'work', 'local',
             'from NTCLI_CONTEXT'),
        ]
        for env, found, current, name, why in cases:
            chosen = self.resolve(env=env, pin=found, current=current)
            self.assertEqual(name, chosen.name)
            self.assertIn(why, chosen.reason)
        chosen = self.resolve(Choices(context='work'),
                              {'NTCLI_CONTEXT': 'local'}, pin)
        self.assertEqual(('work', 'from --context', 'flag'),
                         (chosen.name, chosen.reason, chosen.source))
        self.assertEqual(WORK, chosen.endpoint)
        self.assertEqual('/etc/work-ca.pem', chosen.ca_bundle)

    def test_an_ignored_directory_file_warns(self):
        pin = DirectoryPin('/p/.ntcli-context', None, 'it is a symbolic link')
        chosen = self.resolve(pin=pin, current='work')
        self.assertEqual('work', chosen.name)
        self.assertEqual(1, len(self.warnings))
        self.assertIn('/p/.ntcli-context is ignored: it is a symbolic link',
                      self.warnings[0])

    def test_an_unknown_context_is_an_error_not_a_fallback(self):
        pin = DirectoryPin('/p/.ntcli-context', 'staging')
        exc = self.assertRaises(errors.UsageError, self.resolve, pin=pin,
                                current='work')
        self.assertIn("No context named 'staging' (from .ntcli-context",
                      exc.message)
        exc = self.assertRaises(errors.UsageError, self.resolve,
                                env={'NTCLI_CONTEXT': 'bad name'})
        self.assertIn('Invalid NTCLI_CONTEXT', exc.message)

    def test_an_endpoint_picks_the_context_of_that_endpoint(self):
        chosen = self.resolve(env={'NTCLI_ENDPOINT': 'https://WORK.example.com/'},
                              current='personal')
        self.assertEqual(('work', WORK, 'endpoint'),
                         (chosen.name, chosen.key, chosen.source))
        self.assertIn('NTCLI_ENDPOINT', chosen.reason)
        # --endpoint outranks NTCLI_CONTEXT and the directory file
        pin = DirectoryPin('/p/.ntcli-context', 'local')
        chosen = self.resolve(Choices(endpoint=PERSONAL),
                              {'NTCLI_CONTEXT': 'work'}, pin)
        self.assertEqual('personal', chosen.name)
        self.assertEqual(PERSONAL + '#0123456789abcdef', chosen.key)
        chosen = self.resolve(env={'NTCLI_ENDPOINT': 'local'},
                              current='work')
        self.assertEqual('local', chosen.name)

    def test_a_new_endpoint_gets_a_context_named_after_its_host(self):
        chosen = self.resolve(env={'NTCLI_ENDPOINT': 'http://new.example:81'},
                              current='work')
        self.assertEqual(('new.example', 'http://new.example:81',
                          'http://new.example:81', False),
                         (chosen.name, chosen.key, chosen.endpoint,
                          chosen.saved))

    def test_a_named_context_never_takes_another_endpoint(self):
        exc = self.assertRaises(
            errors.UsageError, self.resolve,
            Choices(context='work', endpoint='https://evil.example'))
        self.assertIn("The context 'work' is for " + WORK, exc.message)
        self.assertIn('never sent to another endpoint', exc.hint)
        exc = self.assertRaises(
            errors.UsageError, self.resolve,
            env={'NTCLI_CONTEXT': 'work',
                 'NTCLI_ENDPOINT': 'https://evil.example'})
        # a flag outranks the environment: the context's endpoint stays
        chosen = self.resolve(Choices(context='work'),
                              {'NTCLI_ENDPOINT': 'https://evil.example'})
        self.assertEqual((WORK, WORK), (chosen.endpoint, chosen.key))
        self.assertIn('NTCLI_ENDPOINT is ignored', chosen.notes[0])

    def test_two_contexts_of_one_endpoint_must_be_named(self):
        table = dict(CONTEXTS, second={'endpoint': WORK,
                                       'key': WORK + '#fedcba9876543210'})
        exc = self.assertRaises(errors.UsageError, self.resolve,
                                env={'NTCLI_ENDPOINT': WORK}, table=table)
        self.assertIn('second, work', exc.message)
        # unless the current one is among them
        chosen = self.resolve(env={'NTCLI_ENDPOINT': WORK}, table=table,
                              current='second')
        self.assertEqual(WORK + '#fedcba9876543210', chosen.key)

    def test_a_key_of_another_endpoint_is_refused(self):
        table = dict(CONTEXTS, moved={'endpoint': 'https://evil.example',
                                      'key': WORK})
        exc = self.assertRaises(errors.ConfigError, self.resolve,
                                Choices(context='moved'), table=table)
        self.assertIn('keeps a sign-in of ' + WORK, exc.message)

    def test_ca_bundle_flag_overrides(self):
        chosen = self.resolve(Choices(context='work', ca_bundle='/mine.pem'))
        self.assertEqual('/mine.pem', chosen.ca_bundle)
        self.assertEqual(('--ca-bundle overrides the CA bundle of the '
                          'context',), chosen.notes)


class V1Directory(testtools.TestCase):
    """A config.json of version 1 (settings per endpoint URL), as the
    release before contexts wrote it."""

    V1 = {
        'version': 1,
        'endpoint': 'https://work.example.com',
        'ca_bundle': '/etc/ca.pem',
        'timeout': 12,
        'endpoints': {
            'local': {'active_workspace': 'id-l',
                      'workspaces': {'default': 'id-l'}},
            'https://work.example.com': {
                'active_workspace': 'id-w',
                'workspaces': {'team': 'id-w', 'ops': 'id-o'}},
            'http://127.0.0.1:8080': {'workspaces': {'dev': 'id-d'}},
            'http://127.0.0.1:9090': {},
        },
    }

    def setUp(self):
        super().setUp()
        self.home = self.useFixture(IsolatedHome())
        self.path = os.path.join(self.home.config_dir, 'config.json')
        os.makedirs(self.home.config_dir)
        with open(self.path, 'w') as handle:
            json.dump(self.V1, handle, indent=2, sort_keys=True)


class TestUpgrade(V1Directory):
    """It becomes contexts."""

    def test_read_as_contexts_in_memory(self):
        config = Config.load(self.home.config_dir)
        self.assertEqual(['local', '127.0.0.1', '127.0.0.1-9090',
                          'work.example.com'], config.upgraded)
        self.assertEqual('work.example.com', config.current_context)
        found = config.contexts()
        self.assertEqual({'endpoint': WORK, 'key': WORK,
                          'ca_bundle': '/etc/ca.pem', 'workspace': 'id-w',
                          'workspaces': {'team': 'id-w', 'ops': 'id-o'}},
                         found['work.example.com'])
        # the CA bundle went with the https endpoints only
        self.assertEqual({'endpoint': 'http://127.0.0.1:8080',
                          'key': 'http://127.0.0.1:8080',
                          'workspaces': {'dev': 'id-d'}},
                         found['127.0.0.1'])
        self.assertEqual('id-l', config.active_workspace('local'))
        self.assertEqual(12, config.get('timeout'))
        self.assertIsNone(config.get('ca_bundle'))
        with open(self.path) as handle:       # nothing written yet
            self.assertEqual(self.V1, json.load(handle))

    def test_written_back_in_one_rename(self):
        with Config.update(self.home.config_dir):
            pass
        with open(self.path) as handle:
            written = json.load(handle)
        self.assertEqual(2, written['version'])
        self.assertNotIn('endpoints', written)
        self.assertEqual(4, len(written['contexts']))
        again = Config.load(self.home.config_dir)
        self.assertIsNone(again.upgraded)
        self.assertEqual(Config.load(self.home.config_dir).contexts(),
                         again.contexts())
        self.assertEqual(['config.json', 'config.lock'],
                         sorted(os.listdir(self.home.config_dir)))

    def test_a_bad_endpoint_setting_is_a_config_error(self):
        with open(self.path, 'w') as handle:
            json.dump({'version': 1, 'endpoint': 'http://'}, handle)
        exc = self.assertRaises(errors.ConfigError, Config.load,
                                self.home.config_dir)
        self.assertIn('cannot be upgraded', exc.message)


class _App:
    def __init__(self):
        import io
        self.stderr = io.StringIO()


class TestUpgradeInARun(V1Directory):
    """What a command's run makes of a version 1 directory."""

    def run_context(self):
        import argparse

        from ntcli import context
        options = argparse.Namespace(
            endpoint=None, workspace=None, config_dir=None, timeout=None,
            ca_bundle=None, debug=False, context=None)
        app = _App()
        return app, context.Context(app, options)

    def test_said_once_and_written(self):
        app, run = self.run_context()
        self.assertEqual('work.example.com', run.named.name)
        self.assertEqual('The logins and workspace selections kept per '
                         'endpoint are now contexts named after their hosts:'
                         ' 127.0.0.1, 127.0.0.1-9090, local, '
                         'work.example.com.\n', app.stderr.getvalue())
        with open(self.path) as handle:
            self.assertEqual(2, json.load(handle)['version'])
        app, run = self.run_context()
        self.assertEqual('work.example.com', run.named.name)
        self.assertEqual('', app.stderr.getvalue())

    def test_a_directory_that_cannot_be_written_is_used_as_it_is(self):
        def refuse(*args, **kwargs):
            raise errors.ConfigError('Cannot write the configuration file '
                                     'config.json: Read-only file system')

        self.useFixture(fixtures.MonkeyPatch(
            'ntcli.config.Config.update', refuse))
        app, run = self.run_context()
        self.assertEqual(('work.example.com', WORK),
                         (run.named.name, run.endpoint_url))
        self.assertIn('Warning: Cannot write the configuration file '
                      'config.json: Read-only file system; the settings are '
                      'used as they are', app.stderr.getvalue())
        with open(self.path) as handle:
            self.assertEqual(self.V1, json.load(handle))
