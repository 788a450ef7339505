"""Named contexts with the installed ntcli: the upgrade of a config
directory of the release before them, and real servers that must never see
one context's credential in another context's requests."""

from __future__ import annotations

import base64
import json
import os
import shutil

from ntcli.config import Config
from ntcli.credential_store import CredentialStore
from ntcli.endpoints import EndpointOptions
from ntcli.endpoints.http import HTTPEndpoint
from ntcli_server.testing import FaultProxy, ServerFixture
from tests.functional import base

DATA = os.path.join(os.path.dirname(__file__), 'data')
RELEASE_0_1_0 = os.path.join(DATA, 'config-0.1.0')
# what the 0.1.0 directory holds (see its README)
OLD_URL = 'http://127.0.0.1:54343'
OLD_WORKSPACE = 'a2dbc7e7-8fca-44c1-962b-e52af5ee4470'
OLD_REMOTE_JTI = 'jti_7a93a72300c0e1b27fc65014899506ef'
UPGRADED = ('The logins and workspace selections kept per endpoint are now '
            'contexts named after their hosts: ')


def _config(path: str) -> dict:
    with open(os.path.join(path, 'config.json')) as handle:
        return json.load(handle)


def _plaintext(config_dir: str) -> bytes:
    """The decrypted credentials document of a config directory."""
    return CredentialStore(config_dir).read().to_bytes()


class TestUpgradeFromRelease(base.FunctionalTest):
    """The config directory ntcli 0.1.0 wrote becomes contexts."""

    def setUp(self):
        super().setUp()
        config_dir = self.home.config_dir
        shutil.copytree(RELEASE_0_1_0, config_dir,
                        ignore=shutil.ignore_patterns('README'))
        os.chmod(config_dir, 0o700)
        for name in os.listdir(config_dir):
            os.chmod(os.path.join(config_dir, name), 0o600)
        with open(os.path.join(config_dir, 'credentials.enc'), 'rb') as f:
            self.ciphertext = f.read()
        self.before = _plaintext(config_dir)

    def test_logins_and_selections_move_into_contexts(self):
        first = self.ntcli('auth', 'status', '-f', 'value', '-c',
                           'endpoint')
        self.assertEqual(UPGRADED + '127.0.0.1, local.\n', first.stderr)
        self.assertEqual('local\n', first.stdout)
        written = _config(self.home.config_dir)
        self.assertEqual({'version': 2, 'contexts': {'127.0.0.1': {
            'endpoint': OLD_URL, 'key': OLD_URL,
            'workspace': OLD_WORKSPACE,
            'workspaces': {'main': OLD_WORKSPACE}}}}, written)
        # the credentials are where they were, not even re-encrypted
        with open(os.path.join(self.home.config_dir,
                               'credentials.enc'), 'rb') as handle:
            self.assertEqual(self.ciphertext, handle.read())
        # said once: the next command is quiet
        again = self.ntcli('auth', 'status', '-f', 'value', '-c',
                           'endpoint')
        self.assertEqual(('local\n', ''), (again.stdout, again.stderr))
        self.assertEqual(written, _config(self.home.config_dir))

    def test_the_old_login_is_the_context_sign_in(self):
        status = self.json('--context', '127.0.0.1', 'auth', 'status',
                           '--timeout', '2')
        self.assertEqual((OLD_URL, 'stored', 'main', OLD_WORKSPACE,
                          OLD_REMOTE_JTI),
                         (status['endpoint'], status['user_credential'],
                          status['workspace'], status['workspace_id'],
                          status['token_jti']))
        # NTCLI_ENDPOINT, the way to reach it before contexts, still does
        status = self.json('auth', 'status', '--timeout', '2',
                           env={'NTCLI_ENDPOINT': OLD_URL + '/'})
        self.assertEqual(('stored', OLD_REMOTE_JTI),
                         (status['user_credential'], status['token_jti']))
        self.assertEqual(self.before, _plaintext(self.home.config_dir))

    def test_a_directory_that_cannot_be_written_is_used_as_it_is(self):
        os.chmod(self.home.config_dir, 0o500)
        self.addCleanup(os.chmod, self.home.config_dir, 0o700)
        if os.access(self.home.config_dir, os.W_OK):
            self.skipTest('root writes anywhere')
        result = self.ntcli('--context', '127.0.0.1', 'auth', 'status',
                            '-f', 'value', '-c', 'user_credential')
        self.assertEqual('stored\n', result.stdout)
        self.assertEqual(1, _config(self.home.config_dir)['version'])


class TestDirectoryFile(base.FunctionalTest):

    def setUp(self):
        super().setUp()
        self.project = os.path.join(self.home.path, 'project')
        os.mkdir(self.project)
        self.pin = os.path.join(self.project, '.ntcli-context')

    def status(self, expect=0):
        return self.ntcli('auth', 'status', '-f', 'json', expect=expect,
                          cwd=self.project)

    def test_a_context_you_do_not_have_is_an_error(self):
        with open(self.pin, 'w') as handle:
            handle.write('staging\n')
        result = self.status(expect=2)
        self.assertIn("No context named 'staging' (from .ntcli-context in "
                      f'{os.path.realpath(self.project)})', result.stderr)
        self.assertEqual('', result.stdout)

    def test_a_file_others_can_write_is_ignored_with_a_warning(self):
        with open(self.pin, 'w') as handle:
            handle.write('staging\n')
        os.chmod(self.pin, 0o666)
        result = self.status()
        self.assertEqual(
            f'Warning: {os.path.realpath(self.pin)} is ignored: other users '
            'can write to it; it can only name one of your contexts, in a '
            'file of yours that only you can write.\n', result.stderr)
        status = json.loads(result.stdout)
        self.assertEqual(('local', 'the default context'),
                         (status['context'], status['context_source']))

    def test_escapes_in_the_file_never_reach_the_terminal(self):
        with open(self.pin, 'w') as handle:
            handle.write('\x1b]0;pwned\x07\n')
        os.chmod(self.pin, 0o600)
        result = self.status()
        self.assertIn('must hold one context name', result.stderr)
        self.assertNotIn('\x1b', result.stderr + result.stdout)


class ServersTest(base.FunctionalTest):
    """A real ntcli-server behind two recording proxies: two endpoints
    (work and personal), each with its own user."""

    def setUp(self):
        super().setUp()
        self.server = self.useFixture(ServerFixture())
        self.work_credential = self.server.credential
        self.personal_credential = self.server.admin(
            'user', 'create', 'other').strip()
        self.server.admin('workspace', 'create', 'mine', '--owner', 'other')
        self.work = self.useFixture(FaultProxy(self.server.url))
        self.personal = self.useFixture(FaultProxy(self.server.url))

    def login(self, url, credential):
        self.ntcli('auth', 'login', input=credential,
                   env={'NTCLI_ENDPOINT': url})
        contexts = Config.load(self.home.config_dir).contexts()
        return next(name for name, entry in contexts.items()
                    if entry['endpoint'] == url)

    def bearers(self, proxy):
        return [seen.headers.get('Authorization', '').removeprefix('Bearer ')
                for seen in proxy.seen]


def _token_workspace(token: str) -> str:
    """The workspace (sub) a workspace token is for, read without checking
    its signature: only to tell whose token a proxy saw."""
    payload = token.removeprefix('wst_').split('.')[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + '=' * (
        -len(payload) % 4)))
    return claims['sub']


class TestUpgradeWithServer(ServersTest):

    def test_an_old_login_keeps_working_after_the_upgrade(self):
        # what 0.1.0 kept: the login and selection under the endpoint URL,
        # the endpoint chosen in config.json
        url = self.work.url
        with CredentialStore(self.home.config_dir).transaction() as creds:
            creds.set_user_credential(url, self.work_credential)
        with open(os.path.join(self.home.config_dir, 'config.json'),
                  'w') as handle:
            json.dump({'version': 1, 'endpoint': url, 'endpoints': {url: {
                'active_workspace': self.server.workspace_id,
                'workspaces': {'main': self.server.workspace_id}}}},
                handle, indent=2, sort_keys=True)
        os.chmod(os.path.join(self.home.config_dir, 'config.json'), 0o600)
        result = self.ntcli('token', 'refresh', '-f', 'json')
        self.assertEqual(UPGRADED + '127.0.0.1, local.\n', result.stderr)
        self.assertEqual('127.0.0.1',
                         _config(self.home.config_dir)['current_context'])
        show = self.json('token', 'show')
        self.assertEqual((self.server.workspace_id, 'active'),
                         (show['workspace_id'], show['status']))
        # the first request (the issue) came with the old login
        self.assertEqual(('POST', self.work_credential),
                         (self.work.seen[0].method,
                          self.bearers(self.work)[0]))
        history = self.home.config_dir + '/history.jsonl'
        with open(history) as handle:
            last = json.loads(handle.read().splitlines()[-1])
        self.assertEqual(('refresh', '127.0.0.1', url),
                         (last['action'], last['context'], last['endpoint']))


class TestCredentialsStayWithTheirContext(ServersTest):

    def test_switching_never_sends_a_credential_elsewhere(self):
        work = self.login(self.work.url, self.work_credential)
        personal = self.login(self.personal.url, self.personal_credential)
        self.assertNotEqual(work, personal)
        self.ntcli('workspace', 'select', 'mine',
                   env={'NTCLI_CONTEXT': personal})
        project = os.path.join(self.home.path, 'src', 'project')
        os.makedirs(os.path.join(project, 'sub'))
        with open(os.path.join(project, '.ntcli-context'), 'w') as handle:
            handle.write(personal + '\n')
        # every way of choosing, and commands that read, issue and revoke
        runs = [
            ({'NTCLI_CONTEXT': work}, None, ('token', 'refresh')),
            ({'NTCLI_CONTEXT': personal}, None, ('token', 'refresh')),
            ({}, os.path.join(project, 'sub'), ('token', 'refresh')),
            ({'NTCLI_CONTEXT': work}, project, ('token', 'refresh')),
            ({'NTCLI_ENDPOINT': self.work.url}, project,
             ('token', 'list')),
            ({'NTCLI_ENDPOINT': self.personal.url}, None,
             ('workspace', 'list')),
            ({'NTCLI_ENDPOINT': self.personal.url}, None,
             ('--context', work, 'token', 'show')),
            ({'NTCLI_CONTEXT': work}, None, ('auth', 'logout', '--revoke')),
        ]
        for env, cwd, args in runs:
            self.ntcli(*args, env=env, cwd=cwd)
        status = self.json('auth', 'status', cwd=os.path.join(project, 'sub'))
        self.assertEqual(
            (personal, f'from .ntcli-context in {os.path.realpath(project)}',
             self.personal.url, 'mine'),
            (status['context'], status['context_source'], status['endpoint'],
             status['workspace']))
        # a named context with another endpoint is refused, nothing sent
        seen = len(self.personal.seen)
        refused = self.ntcli('--context', personal, '--endpoint',
                             self.work.url, 'token', 'show', expect=2,
                             cwd=project)
        self.assertIn(f"The context '{personal}' is for", refused.stderr)
        self.assertEqual(seen, len(self.personal.seen))
        work_bearers = self.bearers(self.work)
        personal_bearers = self.bearers(self.personal)
        self.assertIn(self.work_credential, work_bearers)
        self.assertIn(self.personal_credential, personal_bearers)
        self.assertNotIn(self.personal_credential, work_bearers)
        self.assertNotIn(self.work_credential, personal_bearers)
        mine = {b for b in personal_bearers if b.startswith('wst_')}
        theirs = {b for b in work_bearers if b.startswith('wst_')}
        self.assertFalse(mine & theirs)
        for token in theirs:
            self.assertEqual(self.server.workspace_id,
                             _token_workspace(token))
        for token in mine:
            self.assertNotEqual(self.server.workspace_id,
                                _token_workspace(token))
        # every refresh went where its context said
        with open(self.home.config_dir + '/history.jsonl') as handle:
            refreshes = [json.loads(line) for line in handle
                         if '"refresh"' in line]
        self.assertEqual([work, personal, personal, work],
                         [e['context'] for e in refreshes])
        self.assertEqual([self.work.url, self.personal.url,
                          self.personal.url, self.work.url],
                         [e['endpoint'] for e in refreshes])
        shown = self.json('token', 'history')
        self.assertEqual([work, personal, personal, work],
                         [r['Context'] for r in shown
                          if r['Action'] == 'refresh'])


class TestEveryCommandFollowsTheContext(ServersTest):
    """Contexts made with ``context create``, used as cron lines would."""

    def setUp(self):
        super().setUp()
        self.ntcli('context', 'create', 'work', '--endpoint', self.work.url)
        self.ntcli('context', 'create', 'personal', '--endpoint',
                   self.personal.url, '-w', 'mine')
        self.ntcli('--context', 'work', 'auth', 'login',
                   input=self.work_credential)
        self.ntcli('--context', 'personal', 'auth', 'login',
                   input=self.personal_credential)

    def test_cron_lines_name_their_context(self):
        for name in ('work', 'personal'):
            self.ntcli('--context', name, 'token', 'refresh',
                       '--if-expires-within', '30d')
            self.ntcli('--context', name, 'token', 'show', '--check=7d')
        # already fresh: kept, not rotated
        kept = self.json('--context', 'work', 'token', 'refresh',
                         '--if-expires-within', '30d')
        printed = self.ntcli(
            '--context', 'personal', 'token', 'exec', '--', 'sh', '-c',
            'printf %s "$NTCLI_TOKEN"').stdout
        self.assertNotEqual(self.server.workspace_id,
                            _token_workspace(printed))
        printed = self.ntcli('token', 'exec', '--', 'sh', '-c',
                             'printf %s "$NTCLI_TOKEN"',
                             env={'NTCLI_CONTEXT': 'work'}).stdout
        self.assertEqual(self.server.workspace_id, _token_workspace(printed))
        self.assertEqual(kept['jti'], self.json(
            '--context', 'work', 'token', 'show')['jti'])
        for name in ('work', 'personal'):
            self.ntcli('--context', name, 'token', 'show', '--check=400d',
                       expect=10)
        self.assertNotIn(self.work_credential, self.bearers(self.personal))
        self.assertNotIn(self.personal_credential, self.bearers(self.work))

    def test_auth_status_all(self):
        self.ntcli('--context', 'work', 'token', 'refresh')
        result = self.ntcli('auth', 'status', '--all', '-f', 'json')
        listed = {row['context']: row for row in json.loads(result.stdout)}
        self.assertEqual(['local', 'personal', 'work'], sorted(listed))
        work, personal = listed['work'], listed['personal']
        self.assertEqual(
            (self.work.url, 'stored', 'main', 'active', 'not in force here'),
            (work['endpoint'], work['user_credential'], work['workspace'],
             work['token_status'], work['context_source']))
        self.assertIn('tester', work['who'])
        self.assertIn('other', personal['who'])
        self.assertEqual(('mine', None, 'no token (run ntcli token refresh)'),
                         (personal['workspace'], personal['token_jti'],
                          personal['token_status']))
        self.assertEqual('the default context',
                         listed['local']['context_source'])

    def test_delete_with_revoke(self):
        self.ntcli('--context', 'work', 'token', 'refresh')
        jti = self.json('--context', 'work', 'token', 'show')['jti']
        key = Config.load(self.home.config_dir).contexts()['work']['key']
        result = self.ntcli('context', 'delete', 'work', '--revoke',
                            '--force')
        self.assertEqual("Context 'work' deleted, with the credentials "
                         'stored for it.\n', result.stdout)
        creds = CredentialStore(self.home.config_dir).read()
        self.assertIsNone(creds.get_user_credential(key))
        self.assertEqual({}, creds.tokens(key))
        revoked = [seen for seen in self.work.seen
                   if seen.method == 'DELETE' and jti in seen.path]
        self.assertEqual(1, len(revoked))
        api = HTTPEndpoint(self.server.url, EndpointOptions(timeout=10))
        self.addCleanup(api.close)
        records = api.list_tokens(self.work_credential,
                                  self.server.workspace_id,
                                  include_revoked=True)
        self.assertEqual('revoked', {r.jti: r.status for r in records}[jti])
