"""The exchange of a CI job's OIDC token for a workspace token (authority),
against an issuer that signs like GitHub Actions on 127.0.0.1."""

from __future__ import annotations

import json
import time

import testtools

from ntcli_authority import errors, models, oidc, signing
from ntcli_authority.access import Principal
from ntcli_core import oauth
from tests.oidc.github_actions import GitHubActions
from tests.oidc.localissuer import LocalIssuer, SigningKey
from tests.unit.ntcli_authority import base

OWNER = Principal.local()  # the local owner may do everything

AUDIENCE = 'https://tokens.example'
LOCAL = Principal.local()


class ExchangeTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.actions = self.useFixture(GitHubActions(AUDIENCE))
        fixture = self.useFixture(base.AuthorityFixture())
        fixture.clock.now = int(time.time())
        self.authority = fixture.authority
        self.workspace = self.authority.create_workspace(OWNER, 'alpha')
        self.issuers = oidc.IssuerCache()

    def trust(self, name='deploy', workspace=None, **changes):
        arguments = dict(
            issuer=self.actions.url,
            conditions={'repository_owner_id': '4242',
                        'repository': 'acme/app',
                        'ref': 'refs/heads/main'},
            scope=['servers:write'], max_lifetime=900)
        arguments.update(changes)
        return self.authority.create_trust_policy(
            LOCAL, (workspace or self.workspace).id, name, **arguments)

    def exchange(self, token, **options):
        options.setdefault('audience', AUDIENCE)
        return self.authority.exchange(token, issuers=self.issuers,
                                       **options)

    def exchange_events(self):
        return [(e.outcome, json.loads(e.detail)) for e in
                self.authority.list_events(
                    OWNER, actions=[models.AUDIT_TOKEN_EXCHANGE]).events]


class TestExchange(ExchangeTestCase):

    def test_an_ordinary_workspace_token_with_the_policys_scopes(self):
        policy = self.trust()
        result = self.exchange(self.actions.token())
        issued = result.issued
        self.assertEqual(policy, result.policy)
        self.assertEqual(self.workspace.id, issued.workspace_id)
        self.assertEqual(('servers:read', 'servers:write'), issued.scope)
        self.assertEqual(900, issued.expires_at - issued.created_at)
        valid = self.authority.validate(issued.token)
        self.assertEqual((issued.jti, ('servers:read', 'servers:write')),
                         (valid.jti, valid.scope))
        # stored with its digest, as every token issued is
        self.assertEqual(signing.token_digest(
            self.authority.keys.digest_key(issued.kid), issued.token),
            self.authority.store.get_token(issued.jti).digest)
        info = self.authority.get_token(OWNER, self.workspace.id, issued.jti)
        self.assertEqual('trust policy deploy: '
                         'repo:acme/app:ref:refs/heads/main',
                         info.description)
        [(outcome, detail)] = self.exchange_events()
        self.assertEqual('success', outcome)
        self.assertEqual({
            'issuer': self.actions.url,
            'subject': 'repo:acme/app:ref:refs/heads/main',
            'policy': policy.id, 'policy_name': 'deploy',
            'claims': {'ref': 'refs/heads/main', 'repository': 'acme/app',
                       'repository_owner_id': '4242', 'workflow': 'deploy',
                       'workflow_ref': 'acme/app/.github/workflows/'
                                       'deploy.yml@refs/heads/main',
                       'job_workflow_ref': 'acme/app/.github/workflows/'
                                           'deploy.yml@refs/heads/main',
                       'run_id': '8675309'}}, detail)
        event = self.authority.list_events(
            OWNER, actions=[models.AUDIT_TOKEN_EXCHANGE]).events[0]
        self.assertEqual((self.workspace.id, issued.jti),
                         (event.workspace_id, event.target_jti))

    def test_fewer_scopes_may_be_asked_for_not_more(self):
        self.trust()
        result = self.exchange(self.actions.token(), scope='servers:read')
        self.assertEqual(('servers:read',), result.issued.scope)
        error = self.assertRaises(errors.NoMatchingPolicy, self.exchange,
                                  self.actions.token(),
                                  scope=['secrets:read'])
        self.assertIn("trust policy 'deploy': it does not grant "
                      'secrets:read', error.message)

    def test_patterns_and_the_first_matching_policy_by_name(self):
        self.trust('b-feature', conditions={
            'repository_id': '123456789', 'ref': 'refs/heads/*'},
            scope=['servers:read'])
        self.trust('a-main')
        main = self.exchange(self.actions.token())
        self.assertEqual('a-main', main.policy.name)
        feature = self.exchange(self.actions.token(
            ref='refs/heads/feature/x',
            sub='repo:acme/app:ref:refs/heads/feature/x'))
        self.assertEqual('b-feature', feature.policy.name)
        self.assertEqual(('servers:read',), feature.issued.scope)

    def test_the_workspace_may_be_named_and_must_be_when_ambiguous(self):
        beta = self.authority.create_workspace(OWNER, 'beta')
        self.trust()
        self.trust(workspace=beta)
        error = self.assertRaises(errors.InvalidRequest, self.exchange,
                                  self.actions.token())
        self.assertIn('name the workspace', error.message)
        result = self.exchange(self.actions.token(), workspace='beta')
        self.assertEqual(beta.id, result.issued.workspace_id)
        result = self.exchange(self.actions.token(),
                               workspace=self.workspace.id)
        self.assertEqual(self.workspace.id, result.issued.workspace_id)
        error = self.assertRaises(errors.SubjectTokenRejected, self.exchange,
                                  self.actions.token(), workspace='gamma')
        self.assertEqual({'reason': 'untrusted_issuer'}, error.details)


class TestRefusals(ExchangeTestCase):
    """Every refusal leaves no token behind and never echoes the token."""

    def setUp(self):
        super().setUp()
        self.policy = self.trust()

    def assertNoToken(self, error, token):
        self.assertNotIn(token, error.message)
        self.assertNotIn(token.split('.')[2], str(error.to_dict()))
        self.assertEqual([], self.authority.list_tokens(
            OWNER, self.workspace.id).tokens)

    def test_another_issuer(self):
        stranger = self.useFixture(LocalIssuer())
        token = stranger.token(AUDIENCE, subject='repo:acme/app:ref:'
                               'refs/heads/main', repository='acme/app',
                               ref='refs/heads/main',
                               repository_owner_id='4242')
        error = self.assertRaises(errors.SubjectTokenRejected, self.exchange,
                                  token)
        self.assertEqual({'reason': 'untrusted_issuer'}, error.details)
        self.assertNoToken(error, token)
        # its keys were never fetched: a token does not choose where the
        # server connects
        self.assertEqual({}, dict(stranger.hits))

    def test_another_issuer_claiming_to_be_the_trusted_one(self):
        # the trusted issuer's iss, signed by another key with its kid
        forged = SigningKey(self.actions.issuer.keys[0].kid)
        token = self.actions.token(key=forged)
        error = self.assertRaises(oidc.TokenRejected, self.exchange, token)
        self.assertEqual('signature', error.reason)
        self.assertNoToken(error, token)

    def test_another_audience(self):
        token = self.actions.token('https://github.com/acme')
        error = self.assertRaises(oidc.TokenRejected, self.exchange, token)
        self.assertEqual('audience', error.reason)
        self.assertNoToken(error, token)

    def test_expired(self):
        token = self.actions.token(issued_at=time.time() - 1000,
                                   lifetime=300)
        error = self.assertRaises(oidc.TokenRejected, self.exchange, token)
        self.assertEqual('expired', error.reason)
        self.assertNoToken(error, token)

    def test_a_claim_that_does_not_match_says_which(self):
        token = self.actions.token(
            ref='refs/heads/feature',
            sub='repo:acme/app:ref:refs/heads/feature')
        error = self.assertRaises(errors.NoMatchingPolicy, self.exchange,
                                  token)
        self.assertEqual(403, error.http_status)
        self.assertEqual("No trust policy accepts this token: trust policy "
                         "'deploy': the claim 'ref' ('refs/heads/feature') "
                         'does not match', error.message)
        self.assertNoToken(error, token)
        [(outcome, detail)] = self.exchange_events()
        self.assertEqual('refused', outcome)
        self.assertEqual(error.message, detail['reason'])
        self.assertEqual('repo:acme/app:ref:refs/heads/feature',
                         detail['subject'])
        self.assertEqual('refs/heads/feature', detail['claims']['ref'])

    def test_a_re_created_repository_of_another_owner(self):
        token = self.actions.token(repository_owner_id='999')
        error = self.assertRaises(errors.NoMatchingPolicy, self.exchange,
                                  token)
        self.assertIn("the claim 'repository_owner_id' ('999')",
                      error.message)

    def test_a_missing_claim(self):
        token = self.actions.token(ref=None)
        error = self.assertRaises(errors.NoMatchingPolicy, self.exchange,
                                  token)
        self.assertIn("the token has no claim 'ref'", error.message)

    def test_a_replayed_token(self):
        token = self.actions.token()
        first = self.exchange(token)
        error = self.assertRaises(errors.SubjectTokenRejected, self.exchange,
                                  token)
        self.assertEqual({'reason': 'replayed'}, error.details)
        self.assertNotIn(token, error.message)
        self.assertEqual([first.issued.jti], [
            t.jti for t in self.authority.list_tokens(
                OWNER, self.workspace.id).tokens])
        self.assertEqual(['success', 'refused'],
                         [outcome for outcome, _ in self.exchange_events()])
        # another encoding of the same token (its jti) is the same token
        again = self.actions.token(jti=oidc_claims(token)['jti'],
                                   headers={'x-encoding': 'another'})
        self.assertNotEqual(token, again)
        self.assertRaises(errors.SubjectTokenRejected, self.exchange, again)

    def test_a_policy_just_removed(self):
        token = self.actions.token()
        self.authority.delete_trust_policy(LOCAL, self.workspace.id,
                                           'deploy')
        error = self.assertRaises(errors.SubjectTokenRejected, self.exchange,
                                  token)
        self.assertEqual({'reason': 'untrusted_issuer'}, error.details)
        self.assertNoToken(error, token)

    def test_a_policy_removed_while_the_token_is_checked(self):
        token = self.actions.token()
        verify = oidc.Issuer.verify

        def verify_then_remove(issuer, *args, **kwargs):
            verified = verify(issuer, *args, **kwargs)
            self.authority.delete_trust_policy(LOCAL, self.workspace.id,
                                               'deploy')
            return verified
        self.patch(oidc.Issuer, 'verify', verify_then_remove)
        error = self.assertRaises(errors.NoMatchingPolicy, self.exchange,
                                  token)
        self.assertIn('was removed', error.message)
        self.assertNoToken(error, token)

    def test_a_policy_whose_creator_token_was_revoked(self):
        issued = self.authority.issue(OWNER,
                                      self.workspace.id, expires_in=3600,
                                      scope=['tokens:write', 'servers:read'])
        creator = Principal('workspace', workspace_id=self.workspace.id,
                            jti=issued.jti, scope=issued.scope)
        self.authority.delete_trust_policy(LOCAL, self.workspace.id,
                                           'deploy')
        self.trust('by-token', scope=['servers:read'])  # keeps issuer known
        self.authority.delete_trust_policy(LOCAL, self.workspace.id,
                                           'by-token')
        self.authority.create_trust_policy(
            creator, self.workspace.id, 'by-token', issuer=self.actions.url,
            conditions={'repository': 'acme/app'}, scope=['servers:read'])
        self.exchange(self.actions.token())
        self.authority.revoke(OWNER, self.workspace.id, issued.jti)
        error = self.assertRaises(errors.NoMatchingPolicy, self.exchange,
                                  self.actions.token())
        self.assertIn("trust policy 'by-token': the token that created it "
                      'is no longer valid', error.message)


def oidc_claims(token):
    import jwt
    return jwt.decode(token, options={'verify_signature': False})


class TestRoute(ExchangeTestCase):
    """POST /v1/oauth/token for a CI job: RFC 8693's answer and RFC 6749's
    errors."""

    def post(self, token, audience=AUDIENCE, failures=None, **extra):
        import urllib.parse

        from falcon import testing

        from ntcli_server import wsgi
        client = testing.TestClient(wsgi.create_app(
            lambda: self.authority, ci_audience=audience,
            auth_failures=failures))
        form = {'grant_type': oauth.GRANT_TOKEN_EXCHANGE,
                'subject_token': token,
                'subject_token_type': oauth.TOKEN_TYPE_JWT,
                'requested_token_type': oauth.TOKEN_TYPE_ACCESS_TOKEN,
                **extra}
        return client.simulate_post(
            oauth.EXCHANGE_PATH, body=urllib.parse.urlencode(form), headers={
                'Content-Type': 'application/x-www-form-urlencoded'})

    def test_the_answer(self):
        self.trust()
        result = self.post(self.actions.token(), audience=AUDIENCE,
                           scope='servers:read')
        self.assertEqual(200, result.status_code, result.text)
        body = result.json
        self.assertTrue(body.pop('access_token').startswith('wst_'))
        self.assertEqual({'issued_token_type', 'token_type', 'expires_in',
                          'expires_at', 'scope', 'jti', 'workspace_id',
                          'created_at', 'trust_policy'}, set(body))
        self.assertEqual(('Bearer', 900, 'servers:read', 'deploy',
                          self.workspace.id),
                         (body['token_type'], body['expires_in'],
                          body['scope'], body['trust_policy'],
                          body['workspace_id']))
        self.assertEqual('no-store', result.headers['cache-control'])

    def test_the_refusals(self):
        self.trust()
        token = self.actions.token()
        self.assertEqual(200, self.post(token).status_code)
        cases = [
            (self.post(token), 400, 'invalid_grant', 'already exchanged'),
            (self.post(self.actions.token(ref='refs/heads/x')), 403,
             'access_denied', "the claim 'ref' ('refs/heads/x')"),
            (self.post(self.actions.token('https://elsewhere')), 400,
             'invalid_grant', 'another audience'),
            (self.post(self.actions.token(), scope='nope:read'), 400,
             'invalid_scope', 'Invalid scope'),
            (self.post(self.actions.token(), audience=None), 400,
             'invalid_target', '--ci-audience'),
            (self.post(self.actions.token(), resource='x'), 400,
             'invalid_target', 'Name the workspace with audience')]
        for result, status, error, words in cases:
            self.assertEqual(status, result.status_code, result.text)
            self.assertEqual(error, result.json['error'])
            self.assertIn(words, result.json['error_description'])
            self.assertNotIn('eyJ', result.text)

    def test_refused_tokens_count_as_failed_authentications(self):
        from ntcli_server import ratelimit
        self.trust()
        failures = ratelimit.FailureTable(2, 60)
        for _ in range(2):
            result = self.post(self.actions.token(ref='refs/heads/x'),
                               failures=failures)
            self.assertEqual(403, result.status_code)
        result = self.post(self.actions.token(), failures=failures)
        self.assertEqual(429, result.status_code)
