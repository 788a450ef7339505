"""ntcli.ci: where a CI job's ID token comes from."""

from __future__ import annotations

import os

import fixtures
import testtools

from ntcli import ci, errors
from tests.oidc.github_actions import GitHubActions

JWT = 'aaa.bbb.ccc'


class TestSources(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def obtain(self, environ, **options):
        return ci.obtain(environ, audience='https://tokens.example',
                         timeout=5, **options)

    def test_first_found_first(self):
        path = os.path.join(self.dir, 'token')
        with open(path, 'w') as f:
            f.write('fff.fff.fff\n')
        environ = {'MINE': 'eee.eee.eee', 'NTCLI_ID_TOKEN': 'nnn.nnn.nnn',
                   'GITHUB_ACTIONS': 'true'}
        self.assertEqual(('fff.fff.fff', f"the token file '{path}'"), tuple(
            self.obtain(environ, token_file=path, token_variable='MINE')
            .as_dict().values()))
        self.assertEqual('eee.eee.eee', self.obtain(
            environ, token_variable='MINE').token)
        self.assertEqual(('nnn.nnn.nnn', 'the variable NTCLI_ID_TOKEN'),
                         tuple(self.obtain(environ).as_dict().values()))

    def test_the_token_is_never_in_the_repr(self):
        self.assertNotIn(JWT, repr(ci.SubjectToken(JWT, 'x')))

    def test_what_is_not_a_jwt_is_refused_unshown(self):
        for value in ('', '  ', 'a.b', 'a.b.c.d', 'a b.c.d', 'é.b.c',
                      'a.b.c\x1b', 'x' * 20000 + '..'):
            error = self.assertRaises(errors.UsageError, self.obtain,
                                      {'NTCLI_ID_TOKEN': value})
            if value.strip():
                self.assertNotIn(value.strip(), error.message)

    def test_a_file_that_is_not_a_small_regular_file(self):
        self.assertRaises(errors.UsageError, self.obtain, {},
                          token_file=self.dir)
        big = os.path.join(self.dir, 'big')
        with open(big, 'w') as f:
            f.write('a.b.' + 'c' * 20000)
        error = self.assertRaises(errors.UsageError, self.obtain, {},
                                  token_file=big)
        self.assertIn('does not hold a JWT', error.message)
        binary = os.path.join(self.dir, 'binary')
        with open(binary, 'wb') as f:
            f.write(b'\xff\xfe.a.b')
        self.assertRaises(errors.UsageError, self.obtain, {},
                          token_file=binary)
        fifo = os.path.join(self.dir, 'fifo')
        os.mkfifo(fifo)
        error = self.assertRaises(errors.UsageError, self.obtain, {},
                                  token_file=fifo)
        self.assertIn('not a regular file', error.message)


class TestGitHubActions(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.actions = self.useFixture(GitHubActions())

    def test_requested_for_the_audience(self):
        token = ci.obtain(self.actions.job_environment(),
                          audience='https://tokens.example/x?y', timeout=5)
        self.assertEqual('GitHub Actions', token.source)
        self.assertEqual(['https://tokens.example/x?y'],
                         self.actions.audiences)
        self.assertEqual(3, len(token.token.split('.')))

    def test_a_refused_request_says_so_without_secrets(self):
        environ = dict(self.actions.job_environment(),
                       ACTIONS_ID_TOKEN_REQUEST_TOKEN='wrong-request-token')
        error = self.assertRaises(errors.AuthenticationRequired, ci.obtain,
                                  environ, audience='a', timeout=5)
        self.assertIn('HTTP 401', error.message)
        self.assertNotIn('wrong-request-token', error.message + error.hint)

    def test_a_runner_that_cannot_be_reached(self):
        environ = dict(self.actions.job_environment(),
                       ACTIONS_ID_TOKEN_REQUEST_URL='http://127.0.0.1:9/x')
        self.assertRaises(errors.EndpointUnreachable, ci.obtain, environ,
                          audience='a', timeout=5)
