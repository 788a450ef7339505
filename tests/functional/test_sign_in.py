"""Signing in through an identity provider, end to end: the installed
``ntcli`` and ``ntcli-server`` against a real OpenID Provider
(oidc-provider, tests/oidc), the person acting on the provider's own pages
(device flow) or in a real headless Chromium (browser flow)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import threading
import time

import requests
import testtools

from ntcli import credential_store
from ntcli.credentials import Credentials
from ntcli.testing import ntcli_command
from ntcli_server.testing import ServerFixture
from tests.functional import base
from tests.oidc import fixtures as oidc_fixtures

_MISSING_NODE = None
try:
    _MISSING_NODE = oidc_fixtures.node_missing()
except RuntimeError as exc:      # under CI: a failure, not a skip
    _MISSING_NODE_ERROR = exc
else:
    _MISSING_NODE_ERROR = None


class LoginProcess:
    """``ntcli auth login`` running in the background; its stderr lines
    are read as they come."""

    def __init__(self, env: dict, *args: str) -> None:
        self.process = subprocess.Popen(
            ntcli_command() + list(args), env=env, text=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = re.search(pattern, line)
                if found:
                    return found
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f'no line matching {pattern!r}: {self.lines}')

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        stdout = self.process.stdout.read()
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code, stdout, ''.join(self.lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.process.stderr.close()


class SignInTest(base.FunctionalTest):
    """A provider, a server trusting it (user ``alice`` linked to the
    provider's account ``alice``), and an isolated home."""

    serve_args: tuple[str, ...] = ()
    device_ttl = 600

    def setUp(self):
        super().setUp()
        if _MISSING_NODE_ERROR is not None:
            raise _MISSING_NODE_ERROR
        if _MISSING_NODE:
            self.skipTest(_MISSING_NODE)
        self.provider = self.useFixture(
            oidc_fixtures.OpenIDProvider(device_ttl=self.device_ttl))
        self.server = self.useFixture(ServerFixture(serve_args=[
            '--oidc-issuer', self.provider.issuer,
            '--oidc-client-id', oidc_fixtures.CLIENT_ID,
            *self.serve_args]))
        self.server.admin('user', 'link', 'tester', '--issuer',
                          self.provider.issuer, '--subject', 'alice')
        self.env = {k: v for k, v in self.home.env.items()
                    if k not in ('DISPLAY', 'WAYLAND_DISPLAY', 'BROWSER',
                                 'SSH_CONNECTION', 'SSH_TTY')}
        self.env['NTCLI_ENDPOINT'] = self.server.url

    def login(self, *args: str, env: dict | None = None) -> LoginProcess:
        login = LoginProcess(env or self.env, 'auth', 'login', *args)
        self.addCleanup(login.kill)
        return login

    def run_ntcli(self, *args, expect=0):
        return self.ntcli(*args, expect=expect,
                          env={'NTCLI_ENDPOINT': self.server.url})

    def device_sign_in(self, person: str = 'alice', *args: str,
                       consent: bool = True):
        login = self.login(*args)
        found = login.wait_for(r'\(or open (\S+)\)')
        page = oidc_fixtures.Person(self.provider, person).approve_device(
            found.group(1), consent=consent)
        return login, page

    def credentials(self) -> Credentials:
        return credential_store.CredentialStore(self.home.config_dir).read()

    def credentials_file(self) -> bytes:
        with open(os.path.join(self.home.config_dir, 'credentials.enc'),
                  'rb') as f:
            return f.read()

    def events(self, action: str) -> list[dict]:
        out = self.server.admin('audit', 'list', '--action', action,
                                '-f', 'json')
        return json.loads(out)


class TestDeviceFlow(SignInTest):

    def test_sign_in_use_and_log_out(self):
        login, page = self.device_sign_in()
        self.assertIn('Sign-in Success', page.text)
        code, stdout, stderr = login.finish()
        self.assertEqual(0, code, stderr)
        self.assertIn(f'Signed in to {self.server.url} as tester '
                      f'(alice@example.org at {self.provider.issuer}).',
                      stdout)
        self.assertIn("Workspace 'main' selected.", stdout)
        self.assertRegex(stdout, r'Session valid until \S+Z; renewed while')
        self.assertIn('enter the code', stderr)
        # the session works as the user's credential does
        self.run_ntcli('token', 'refresh')
        status = self.json('auth', 'status',
                           env={'NTCLI_ENDPOINT': self.server.url})
        self.assertEqual('user tester', status['who'])
        self.assertEqual(f'alice@example.org at {self.provider.issuer}',
                         status['identity_provider'])
        self.assertRegex(status['session_expires'], r'Z$')
        # stored only encrypted; nothing secret in the history or config
        creds = self.credentials()
        session = creds.get_user_credential(
            self.server.url.rstrip('/'))
        record = creds.get_sign_in(self.server.url.rstrip('/'))
        self.assertTrue(session.startswith('nts_'))
        self.assertIsNotNone(record.refresh_token)
        self.assertNotIn(b'nts_', self.credentials_file())
        for path in self.files_under_home():
            if path.endswith('credentials.enc') or '/tmp/' in path:
                continue
            with open(path, 'rb') as f:
                content = f.read()
            self.assertNotIn(session.encode(), content, path)
            self.assertNotIn(record.refresh_token.encode(), content, path)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(
            self.home.config_dir, 'credentials.enc')).st_mode), 0o600)
        # the audit trail names the person
        [signed] = self.events('user.sign_in')
        self.assertEqual('success', signed['outcome'])
        self.assertIn(f'{self.provider.issuer} alice alice@example.org',
                      signed['detail'])

        result = self.run_ntcli('auth', 'logout')
        self.assertIn('session ended', result.stdout)
        self.assertEqual('', result.stderr)
        # ended at the server, revoked at the provider
        answer = requests.get(self.server.url + '/v1/workspaces', timeout=10,
                              headers={'Authorization': f'Bearer {session}'})
        self.assertEqual(401, answer.status_code)
        refused = requests.post(self.provider.issuer + '/token', data={
            'client_id': 'ntcli', 'grant_type': 'refresh_token',
            'refresh_token': record.refresh_token}, timeout=10)
        self.assertEqual('invalid_grant', refused.json()['error'])
        self.assertIsNone(self.credentials().get_sign_in(
            self.server.url.rstrip('/')))

    def test_debug_trace_redacts(self):
        login, _ = self.device_sign_in('alice', '--debug')
        code, stdout, stderr = login.finish()
        self.assertEqual(0, code, stderr)
        session = self.credentials().get_user_credential(
            self.server.url.rstrip('/'))
        self.assertNotIn(session, stderr + stdout)
        self.assertNotIn('eyJ', stderr + stdout)

    def test_denied_consent_stores_nothing(self):
        login, _ = self.device_sign_in(consent=False)
        code, stdout, stderr = login.finish()
        self.assertEqual(1, code, stderr)
        self.assertIn('The sign-in was denied at the identity provider',
                      stderr)
        self.assertFalse(os.path.exists(os.path.join(
            self.home.config_dir, 'credentials.enc')))

    def test_a_person_not_linked_is_refused(self):
        login, _ = self.device_sign_in('mallory')
        code, stdout, stderr = login.finish()
        self.assertEqual(1, code, stderr)
        self.assertIn('refused the sign-in', stderr)
        self.assertIn('ntcli-server user link', stderr)
        [refused] = self.events('user.sign_in')
        self.assertEqual('refused', refused['outcome'])
        self.assertIn('IDENTITY_NOT_LINKED', refused['detail'])
        self.assertIn('mallory@example.org', refused['detail'])

    def test_interrupted(self):
        login = self.login()
        login.wait_for(r'enter the code')
        login.process.send_signal(2)                    # Ctrl-C
        code, stdout, stderr = login.finish()
        self.assertEqual(130, code, stderr)
        self.assertNotIn('Traceback', stderr)
        self.assertFalse(os.path.exists(os.path.join(
            self.home.config_dir, 'credentials.enc')))

    def test_the_provider_down(self):
        self.provider.stop()
        result = self.ntcli('auth', 'login', '--device', expect=1,
                            env={'NTCLI_ENDPOINT': self.server.url})
        self.assertIn(f'The identity provider {self.provider.issuer} '
                      'cannot be reached', result.stderr)
        self.assertNotIn('Traceback', result.stderr)

    def test_a_pasted_credential_still_works(self):
        result = self.ntcli('auth', 'login', input=self.server.credential,
                            env={'NTCLI_ENDPOINT': self.server.url})
        self.assertIn('with a user credential', result.stdout)
        self.assertIsNone(self.credentials().get_sign_in(
            self.server.url.rstrip('/')))


class TestExpiry(SignInTest):

    device_ttl = 12

    def test_the_code_expires(self):
        login = self.login('--device')
        login.wait_for(r'enter the code')
        code, stdout, stderr = login.finish(timeout=60)
        self.assertEqual(1, code, stderr)
        self.assertIn('The sign-in code expired before it was approved',
                      stderr)
        self.assertFalse(os.path.exists(os.path.join(
            self.home.config_dir, 'credentials.enc')))


class TestRenewal(SignInTest):

    def test_a_session_about_to_end_is_renewed(self):
        login, _ = self.device_sign_in()
        self.assertEqual(0, login.finish()[0])
        key = self.server.url.rstrip('/')
        before = self.credentials()
        old_session = before.get_user_credential(key)
        record = before.get_sign_in(key)
        # as if the session had only a minute left
        store = credential_store.CredentialStore(self.home.config_dir)
        with store.transaction() as c:
            c.set_sign_in(key, old_session,
                          record.replace(expires_at=int(time.time()) + 60))
        self.run_ntcli('workspace', 'list')
        after = self.credentials()
        renewed = after.get_sign_in(key)
        self.assertNotEqual(record.session_id, renewed.session_id)
        self.assertGreater(renewed.expires_at, int(time.time()) + 3600)
        self.assertNotEqual(old_session, after.get_user_credential(key))
        # the old session was ended, the new one works
        answer = requests.get(self.server.url + '/v1/workspaces', timeout=10,
                              headers={'Authorization':
                                       f'Bearer {old_session}'})
        self.assertEqual(401, answer.status_code)
        self.assertEqual(2, len([e for e in self.events('user.sign_in')
                                 if e['outcome'] == 'success']))

    def test_no_renewal_once_the_provider_stops_vouching(self):
        login, _ = self.device_sign_in()
        self.assertEqual(0, login.finish()[0])
        key = self.server.url.rstrip('/')
        record = self.credentials().get_sign_in(key)
        session = self.credentials().get_user_credential(key)
        requests.post(self.provider.issuer + '/token/revocation', data={
            'client_id': 'ntcli', 'token': record.refresh_token},
            timeout=10).raise_for_status()
        store = credential_store.CredentialStore(self.home.config_dir)
        with store.transaction() as c:
            c.set_sign_in(key, session,
                          record.replace(expires_at=int(time.time()) + 60))
        result = self.run_ntcli('workspace', 'list')
        self.assertIn('no longer renews your sign-in: run ntcli auth login',
                      result.stderr)
        self.assertIsNone(self.credentials().get_sign_in(key).refresh_token)


class TestRequireProvider(SignInTest):

    serve_args = ('--oidc-require',)

    def test_credentials_refused_sign_in_works(self):
        result = self.ntcli('auth', 'login', input=self.server.credential,
                            expect=1,
                            env={'NTCLI_ENDPOINT': self.server.url})
        self.assertIn('This server requires signing in through its '
                      'identity provider', result.stderr)
        login, _ = self.device_sign_in()
        self.assertEqual(0, login.finish()[0])
        self.run_ntcli('token', 'refresh')
        # the admin commands on the server's machine need no sign-in
        self.server.admin('workspace', 'create', 'more', '--owner', 'tester')


@testtools.skipIf(oidc_fixtures.chromium_missing() is not None,
                  oidc_fixtures.chromium_missing() or '')
class TestBrowserFlow(SignInTest):
    """The authorization code flow with PKCE, in headless Chromium: ntcli
    'opens a browser' through $BROWSER, a script that writes the URL to a
    file; Selenium opens it."""

    def setUp(self):
        super().setUp()
        self.browser = self.useFixture(oidc_fixtures.Chromium())
        self.url_file = os.path.join(self.home.path, 'opened-url')
        script = os.path.join(self.home.path, 'browser.sh')
        with open(script, 'w') as f:
            f.write(f'#!/bin/sh\nprintf %s "$1" > {self.url_file}\n')
        os.chmod(script, 0o700)
        self.env = {**self.env, 'BROWSER': script}

    def opened_url(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if os.path.exists(self.url_file):
                with open(self.url_file) as f:
                    url = f.read()
                if url:
                    return url
            time.sleep(0.05)
        raise AssertionError('ntcli opened no browser')

    def sign_in_in_browser(self, *, consent: bool = True) -> str:
        """Do what the person does; return the URL the provider sent the
        browser back to."""
        from selenium.webdriver.common.by import By
        driver = self.browser.driver
        driver.get(self.opened_url())
        self.browser.wait_for(lambda d: d.find_elements(By.NAME, 'login'))
        driver.find_element(By.NAME, 'login').send_keys('alice')
        driver.find_element(By.NAME, 'password').send_keys('any')
        driver.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
        self.browser.wait_for(lambda d: 'consent' in d.page_source
                              or '/callback' in d.current_url)
        if '/callback' not in driver.current_url:
            if consent:
                driver.find_element(By.CSS_SELECTOR,
                                    'button[type=submit]').click()
            else:
                driver.find_element(By.PARTIAL_LINK_TEXT, 'Cancel').click()
        self.browser.wait_for(lambda d: '/callback' in d.current_url)
        return driver.current_url

    def test_sign_in_in_the_browser(self):
        login = self.login()            # BROWSER set: the browser flow
        callback = self.sign_in_in_browser()
        code, stdout, stderr = login.finish()
        self.assertEqual(0, code, stderr)
        self.assertIn('Your browser has been opened', stderr)
        self.assertIn(f'Signed in to {self.server.url} as tester', stdout)
        self.assertIn('Signed in. You can close this window',
                      self.browser.driver.page_source)
        url = self.opened_url()
        self.assertIn('code_challenge_method=S256', url)
        self.assertRegex(url, r'redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A'
                              r'\d+%2Fcallback')
        self.run_ntcli('token', 'refresh')
        # the listener is closed: the same answer again reaches nobody
        self.assertRaises(requests.ConnectionError, requests.get, callback,
                          timeout=5)
        # and the code cannot be used twice at the provider
        from urllib.parse import parse_qs, urlsplit
        used = parse_qs(urlsplit(callback).query)['code'][0]
        again = requests.post(self.provider.issuer + '/token', data={
            'client_id': 'ntcli', 'grant_type': 'authorization_code',
            'code': used, 'redirect_uri': callback.split('?')[0],
            'code_verifier': 'x' * 43}, timeout=10)
        self.assertEqual('invalid_grant', again.json()['error'])

    def test_denied_consent(self):
        login = self.login('--web')
        self.sign_in_in_browser(consent=False)
        code, stdout, stderr = login.finish()
        self.assertEqual(1, code, stderr)
        self.assertIn('access was denied at the identity provider', stderr)
        self.assertFalse(os.path.exists(os.path.join(
            self.home.config_dir, 'credentials.enc')))

    def test_a_wrong_state_is_refused(self):
        login = self.login('--web')
        url = self.opened_url()
        redirect = re.search(r'redirect_uri=([^&]+)', url).group(1)
        from urllib.parse import unquote
        answer = requests.get(unquote(redirect), params={
            'code': 'forged', 'state': 'not-the-one'}, timeout=10)
        self.assertEqual(400, answer.status_code)
        code, stdout, stderr = login.finish()
        self.assertEqual(1, code, stderr)
        self.assertIn('does not carry the state this sign-in sent', stderr)
        self.assertFalse(os.path.exists(os.path.join(
            self.home.config_dir, 'credentials.enc')))

    def test_nobody_comes_back(self):
        login = self.login('--web', '--wait', '10')
        self.opened_url()
        code, stdout, stderr = login.finish()
        self.assertEqual(1, code, stderr)
        self.assertIn('No sign-in came back within 10 seconds', stderr)
