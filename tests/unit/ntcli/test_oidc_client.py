"""Tests of ntcli.oidc_client's protocol rules that a real provider does
not show: the device flow's polling interval and slow_down, its ending,
and the loopback listener of ntcli.loopback (the whole flows run against a
real OpenID Provider in tests.functional.test_sign_in)."""

from __future__ import annotations

import sys
import threading
import urllib.request
from unittest import mock

import testtools

from ntcli import errors, loopback, oidc_client
from ntcli.endpoints import SignInProvider
from tests.oidc.localissuer import LocalIssuer


class FakeTime:
    """sleep() advances clock(); each sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


class TestDeviceFlow(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.idp = self.useFixture(LocalIssuer())
        self.time = FakeTime()
        self.said: list[str] = []
        self.answers: list[tuple[int, dict]] = []
        self.forms: list[dict] = []
        self.device = {'device_code': 'dc-1', 'user_code': 'ABCD-EFGH',
                       'verification_uri': self.idp.url + '/device',
                       'expires_in': 60}
        self.idp.posts['device_authorization_endpoint'] = \
            lambda form: (200, self.device)

        def token(form):
            self.forms.append(form)
            return self.answers.pop(0)
        self.idp.posts['token_endpoint'] = token
        self.client = oidc_client.ProviderClient(
            SignInProvider(issuer=self.idp.url, client_id='ntcli',
                           scopes=('openid',)),
            timeout=5, say=self.said.append, sleep=self.time.sleep,
            clock=self.time.clock)

    def test_polls_at_the_interval_and_slows_down(self):
        self.device['interval'] = 2
        self.answers = [(400, {'error': 'authorization_pending'}),
                        (400, {'error': 'slow_down'}),
                        (400, {'error': 'authorization_pending'}),
                        (200, {'id_token': 'x.y.z', 'refresh_token': 'r'})]
        tokens = self.client.device_flow()
        self.assertEqual(('x.y.z', 'r'), (tokens.id_token,
                                          tokens.refresh_token))
        self.assertEqual([2, 2, 7, 7], self.time.sleeps)
        self.assertEqual({'client_id': 'ntcli', 'device_code': 'dc-1',
                          'grant_type': 'urn:ietf:params:oauth:grant-type:'
                                        'device_code'}, self.forms[0])
        self.assertIn('ABCD-EFGH', self.said[0])
        self.assertIn(self.idp.url + '/device', self.said[0])

    def test_five_seconds_when_the_provider_names_no_interval(self):
        self.answers = [(200, {'id_token': 'x.y.z'})]
        self.client.device_flow()
        self.assertEqual([5], self.time.sleeps)

    def test_ends_at_the_codes_expiry(self):
        self.answers = [(400, {'error': 'authorization_pending'})] * 20
        error = self.assertRaises(errors.AuthenticationRequired,
                                  self.client.device_flow)
        self.assertIn('expired before it was approved', error.message)
        self.assertLessEqual(sum(self.time.sleeps), 60)

    def test_denied_and_expired(self):
        for answer, words in (('access_denied', 'denied'),
                              ('expired_token', 'expired')):
            self.answers = [(400, {'error': answer})]
            error = self.assertRaises(errors.AuthenticationRequired,
                                      self.client.device_flow)
            self.assertIn(words, error.message)

    def test_an_unknown_error_is_shown_escaped(self):
        self.answers = [(400, {'error': 'invalid_client',
                               'error_description': 'bad\x1b[31m client'})]
        error = self.assertRaises(errors.EndpointError,
                                  self.client.device_flow)
        self.assertNotIn('\x1b', error.message)

    def test_a_provider_without_the_device_flow(self):
        del self.idp.posts['device_authorization_endpoint']
        error = self.assertRaises(errors.UsageError, self.client.device_flow)
        self.assertIn('--web', error.hint)


class TestWithoutPyJWT(testtools.TestCase):
    """The CLI's plain install has no PyJWT: signing in through a provider
    says what to install, before it asks the provider anything."""

    def test_the_error_names_the_extra(self):
        idp = self.useFixture(LocalIssuer())
        with mock.patch.dict(sys.modules, {'jwt': None}):
            error = self.assertRaises(
                errors.ConfigError, oidc_client.ProviderClient,
                SignInProvider(issuer=idp.url, client_id='ntcli',
                               scopes=('openid',)),
                timeout=5, say=print)
        self.assertEqual('Signing in through an identity provider needs '
                         'PyJWT, which is not installed', error.message)
        self.assertEqual("Install it: pip install 'ntcli[oidc]'",
                         error.hint)
        self.assertEqual({}, dict(idp.hits))


class TestLoopbackListener(testtools.TestCase):

    def answer(self, listener, query):
        url = listener.redirect_uri + query
        result = {}

        def get():
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    result['status'] = response.status
            except urllib.error.HTTPError as exc:
                result['status'] = exc.code
        thread = threading.Thread(target=get)
        thread.start()
        return thread, result

    def test_one_request_then_closed(self):
        with loopback.LoopbackListener('s-1') as listener:
            self.assertRegex(listener.redirect_uri,
                             r'^http://127\.0\.0\.1:\d+/callback$')
            thread, result = self.answer(listener, '?code=c-1&state=s-1')
            self.assertEqual('c-1', listener.wait(10))
            thread.join(5)
            self.assertEqual(200, result['status'])
        self.assertRaises(OSError, urllib.request.urlopen,
                          listener.redirect_uri + '?code=c&state=s-1',
                          timeout=2)

    def test_wrong_state_error_and_missing_code(self):
        for query, words in (('?code=c&state=other', 'state'),
                             ('?error=access_denied&state=s-1', 'denied'),
                             ('?state=s-1', 'no authorization code'),
                             ('?code=a&code=b&state=s-1', 'no authorization')):
            with loopback.LoopbackListener('s-1') as listener:
                thread, result = self.answer(listener, query)
                error = self.assertRaises(errors.AuthenticationRequired,
                                          listener.wait, 10)
                thread.join(5)
                self.assertIn(words, error.message)
                self.assertEqual(400, result['status'])

    def test_times_out(self):
        with loopback.LoopbackListener('s-1') as listener:
            error = self.assertRaises(errors.AuthenticationRequired,
                                      listener.wait, 1)
        self.assertIn('within 1 seconds', error.message)
