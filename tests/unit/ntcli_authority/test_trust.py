"""Trust policies: their checks, their matching and who may manage them."""

from __future__ import annotations

import json

import testtools

from ntcli_authority import errors, models, trust
from ntcli_authority.access import (
    PRINCIPAL_USER,
    PRINCIPAL_WORKSPACE,
    Principal,
)
from tests.unit.ntcli_authority import base

OWNER = Principal.local()  # the local owner may do everything

GITHUB = 'https://token.actions.githubusercontent.com'
LOCAL = Principal.local()


class TestPatterns(testtools.TestCase):

    def test_exact_and_star(self):
        self.assertTrue(trust.matches('refs/heads/main', 'refs/heads/main'))
        self.assertFalse(trust.matches('refs/heads/main', 'refs/heads/mainx'))
        self.assertTrue(trust.matches('refs/heads/*', 'refs/heads/a/b'))
        self.assertTrue(trust.matches('refs/heads/*', 'refs/heads/'))
        self.assertFalse(trust.matches('refs/heads/*', 'refs/tags/v1'))
        self.assertTrue(trust.matches('repo:acme/*:environment:prod',
                                      'repo:acme/app:environment:prod'))
        self.assertFalse(trust.matches('repo:acme/*:environment:prod',
                                       'repo:acme/app:environment:prod2'))
        # nothing but * is special
        self.assertFalse(trust.matches('v1.?', 'v1.2'))
        self.assertTrue(trust.matches('v1.[0-9]', 'v1.[0-9]'))
        self.assertFalse(trust.matches('v1.[0-9]', 'v1.5'))
        self.assertTrue(trust.matches('a*', 'a\nb'))

    def test_first_mismatch_names_the_claim_not_the_pattern(self):
        conditions = trust.check_conditions({
            'repository': 'acme/app', 'ref': 'refs/heads/main',
            'repository_owner_id': '4242'})
        claims = {'repository': 'acme/app', 'ref': 'refs/heads/feature',
                  'repository_owner_id': 4242}
        why = trust.first_mismatch(conditions, claims)
        self.assertEqual("the claim 'ref' ('refs/heads/feature') does not "
                         'match', why)
        self.assertNotIn('refs/heads/main', why)
        claims['ref'] = 'refs/heads/main'
        self.assertIsNone(trust.first_mismatch(conditions, claims))
        del claims['repository']
        self.assertEqual("the token has no claim 'repository'",
                         trust.first_mismatch(conditions, claims))
        claims['repository'] = ['acme/app']
        self.assertEqual("the claim 'repository' is not a string",
                         trust.first_mismatch(conditions, claims))
        claims['repository'] = True
        self.assertEqual("the claim 'repository' is not a string",
                         trust.first_mismatch(conditions, claims))

    def test_shown_values_are_cut_and_printable(self):
        self.assertEqual("'a?b'", trust.shown('a\x1bb'))
        self.assertEqual(repr('x' * 80 + '…'), trust.shown('x' * 500))

    def test_subject_digest_ignores_the_encoding(self):
        claims = {'iss': 'https://i', 'jti': 'j-1', 'sub': 's'}
        self.assertEqual(trust.subject_digest('https://i', claims),
                         trust.subject_digest('https://i', dict(claims,
                                                                 extra=1)))
        self.assertNotEqual(trust.subject_digest('https://i', claims),
                            trust.subject_digest('https://j', claims))
        no_jti = {'iss': 'https://i', 'sub': 's', 'iat': 1}
        self.assertNotEqual(trust.subject_digest('https://i', no_jti),
                            trust.subject_digest('https://i',
                                                 dict(no_jti, iat=2)))

    def test_unverified_issuer(self):
        token = base.forge({'alg': 'RS256'}, {'iss': GITHUB})[4:]
        self.assertEqual(GITHUB, trust.unverified_issuer(token))
        for bad in ('', 'a.b', 'a.b.c.d', None, 'x' * 20000 + '..',
                    base.forge({}, {'sub': 'x'})[4:],
                    base.forge({}, {'iss': 5})[4:], 'a.!!!.c'):
            error = self.assertRaises(errors.SubjectTokenRejected,
                                      trust.unverified_issuer, bad)
            self.assertEqual({'reason': 'malformed'}, error.details)


class TestPolicies(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.fixture = self.useFixture(base.AuthorityFixture())
        self.authority = self.fixture.authority
        self.alice = self.authority.create_user(OWNER, 'alice').user
        self.workspace = self.authority.create_workspace(
            OWNER, 'alpha', owner=self.alice.id)
        self.as_alice = Principal(PRINCIPAL_USER, user_id=self.alice.id,
                                  user_name='alice')

    def create(self, principal=None, name='deploy', **changes):
        arguments = dict(issuer=GITHUB,
                         conditions={'repository': 'acme/app',
                                     'ref': 'refs/heads/*'})
        arguments.update(changes)
        return self.authority.create_trust_policy(
            principal or self.as_alice, self.workspace.id, name,
            **arguments)

    def workspace_token(self, *scopes):
        issued = self.authority.issue(OWNER,
                                      self.workspace.id, expires_in=3600,
                                      scope=list(scopes))
        return issued, Principal(PRINCIPAL_WORKSPACE,
                                 workspace_id=self.workspace.id,
                                 jti=issued.jti, scope=issued.scope)

    def test_defaults_one_hour_and_the_default_scopes(self):
        policy = self.create(description='main deploys')
        self.assertEqual(3600, policy.max_lifetime)
        self.assertEqual(('workspace:read', 'servers:read'), policy.granted)
        self.assertEqual(self.alice.id, policy.created_by)
        self.assertEqual((('ref', 'refs/heads/*'),
                          ('repository', 'acme/app')), policy.conditions)
        self.assertEqual([policy], self.authority.list_trust_policies(
            self.as_alice, self.workspace.id))
        event = self.authority.list_events(
            OWNER, actions=[models.AUDIT_TRUST_CREATE]).events[0]
        self.assertEqual(self.workspace.id, event.workspace_id)
        self.assertEqual({'policy': policy.id, 'name': 'deploy',
                          'issuer': GITHUB,
                          'conditions': {'ref': 'refs/heads/*',
                                         'repository': 'acme/app'},
                          'scope': ['workspace:read', 'servers:read'],
                          'max_lifetime': 3600}, json.loads(event.detail))

    def test_delete_by_name_or_id_is_audited(self):
        first = self.create()
        self.create(name='second')
        self.assertEqual(first, self.authority.delete_trust_policy(
            self.as_alice, self.workspace.id, 'deploy'))
        self.authority.delete_trust_policy(self.as_alice, self.workspace.id,
                                           self.authority.list_trust_policies(
                                               LOCAL)[0].id)
        self.assertEqual([], self.authority.list_trust_policies(LOCAL))
        self.assertRaises(errors.TrustPolicyNotFound,
                          self.authority.delete_trust_policy,
                          self.as_alice, self.workspace.id, 'deploy')
        events = self.authority.list_events(
            OWNER, actions=[models.AUDIT_TRUST_DELETE]).events
        self.assertEqual(['deploy', 'second'],
                         [json.loads(e.detail)['name'] for e in events])

    def test_refused_before_anything_is_stored(self):
        cases = [
            (dict(conditions={}), 'at least one condition'),
            (dict(conditions={'ref': 'refs/heads/*', 'sub': '*'}),
             'must be exact'),
            (dict(conditions={'aud': 'x'}), "'aud' is checked"),
            (dict(conditions={'bad name': 'x'}), 'names a claim'),
            (dict(conditions={'sub': ''}), 'printable text'),
            (dict(conditions={'sub': 'a\nb'}), 'printable text'),
            (dict(conditions={'sub': 'x' * 257}), 'printable text'),
            (dict(conditions=['sub=x']), 'conditions must map'),
            (dict(conditions={f'c{i}': 'x' for i in range(17)}),
             'at most 16'),
            (dict(issuer='http://issuer.example'), 'must use https'),
            (dict(issuer='https://issuer.example/?a=1'), 'without a query'),
            (dict(issuer='https://issuer.example/#x'), 'fragment'),
            (dict(issuer='https://u:p@issuer.example'), 'user name'),
            (dict(issuer='ftp://issuer.example'), 'https URL'),
            (dict(issuer='https://ïssuer.example'), 'ASCII'),
            (dict(issuer='https://issuer.example/' + 'x' * 600),
             'longer than'),
            (dict(issuer=''), 'is not a URL'),
            (dict(scope=['tokens:write']), 'cannot grant tokens:write'),
            (dict(scope=['nope:read']), 'Invalid scope'),
            (dict(max_lifetime=59), 'max_lifetime'),
            (dict(max_lifetime=86401), 'max_lifetime'),
            (dict(max_lifetime=True), 'max_lifetime'),
            (dict(description='a\x1b[31m'), 'description'),
        ]
        for changes, message in cases:
            error = self.assertRaises(errors.AuthorityError, self.create,
                                      **changes)
            self.assertIn(message, error.message, changes)
        self.assertRaises(errors.InvalidRequest, self.create, name='No')
        self.assertEqual([], self.authority.list_trust_policies(LOCAL))
        self.assertEqual([], self.authority.list_events(
            OWNER, actions=[models.AUDIT_TRUST_CREATE]).events)

    def test_loopback_issuers_may_use_http(self):
        for issuer in ('http://127.0.0.1:8080', 'http://localhost/x',
                       'http://[::1]:9000'):
            self.create(name=f'p{len(issuer)}x', issuer=issuer)

    def test_names_are_unique_in_a_workspace(self):
        self.create()
        self.assertRaises(errors.TrustPolicyExists, self.create)

    def test_another_owner_may_not(self):
        bob = self.authority.create_user(OWNER, 'bob').user
        as_bob = Principal(PRINCIPAL_USER, user_id=bob.id, user_name='bob')
        self.assertRaises(errors.Forbidden, self.create, as_bob)
        self.create()
        self.assertRaises(errors.Forbidden, self.authority.list_trust_policies,
                          as_bob, self.workspace.id)
        self.assertRaises(errors.Forbidden, self.authority.delete_trust_policy,
                          as_bob, self.workspace.id, 'deploy')

    def test_a_workspace_token_needs_tokens_write(self):
        _, reader = self.workspace_token('servers:write')
        error = self.assertRaises(errors.InsufficientScope, self.create,
                                  reader)
        self.assertIn('tokens:write', error.message)
        self.assertRaises(errors.InsufficientScope,
                          self.authority.list_trust_policies, reader,
                          self.workspace.id)

    def test_a_policy_asking_more_than_its_creator_holds_is_refused(self):
        issued, writer = self.workspace_token('tokens:write',
                                              'servers:read')
        error = self.assertRaises(errors.InsufficientScope, self.create,
                                  writer, scope=['secrets:read'])
        self.assertEqual({'missing': ['secrets:read']}, error.details)
        self.assertEqual([], self.authority.list_trust_policies(LOCAL))
        policy = self.create(writer, scope=['servers:read'])
        self.assertEqual(issued.jti, policy.created_by)

    def test_another_workspace_token_may_not(self):
        other = self.authority.create_workspace(OWNER,
                                                'beta', owner=self.alice.id)
        issued = self.authority.issue(OWNER, other.id, expires_in=3600,
                                      scope=['tokens:write'])
        stranger = Principal(PRINCIPAL_WORKSPACE, workspace_id=other.id,
                             jti=issued.jti, scope=issued.scope)
        self.assertRaises(errors.Forbidden, self.create, stranger)
