"""The trust-policy routes of the token API, for workspace owners."""

from __future__ import annotations

from ntcli_authority.access import Principal
from tests.unit.ntcli_server.test_wsgi import ISO, APITestCase

OWNER = Principal.local()  # the local owner may do everything

GITHUB = 'https://token.actions.githubusercontent.com'


class TestTrustPolicies(APITestCase):

    def path(self, *rest, ws_id=None):
        return '/'.join((f'/v1/workspaces/{ws_id or self.ws.id}'
                         '/trust-policies', *rest))

    def create(self, credential=None, **changes):
        body = {'name': 'deploy', 'issuer': GITHUB,
                'conditions': {'repository': 'acme/app',
                               'ref': 'refs/heads/*'},
                'scope': ['servers:write']}
        body.update(changes)
        return self.call('POST', self.path(), credential or self.alice,
                         json=body)

    def test_an_owner_creates_lists_shows_and_deletes(self):
        result = self.create(max_lifetime=600, description='main deploys')
        self.assertEqual(201, result.status_code, result.text)
        policy = result.json
        self.assertRegex(policy.pop('id'), r'^tp_[0-9a-f]{16}$')
        self.assertRegex(policy.pop('created_at'), ISO)
        self.assertEqual({
            'workspace_id': self.ws.id, 'name': 'deploy', 'issuer': GITHUB,
            'conditions': {'ref': 'refs/heads/*', 'repository': 'acme/app'},
            'scope': ['servers:read', 'servers:write'], 'max_lifetime': 600,
            'created_by': self.authority.get_user(OWNER, 'alice').id,
            'description': 'main deploys'}, policy)
        listed = self.call('GET', self.path(), self.alice).json
        self.assertEqual((1, 'deploy'), (listed['count'],
                                         listed['trust_policies'][0]['name']))
        shown = self.call('GET', self.path('deploy'), self.alice)
        self.assertEqual(200, shown.status_code)
        deleted = self.call('DELETE', self.path(shown.json['id']),
                            self.alice)
        self.assertEqual({'workspace_id': self.ws.id,
                          'id': shown.json['id'], 'name': 'deploy',
                          'status': 'deleted'}, deleted.json)
        self.assertError(self.call('GET', self.path('deploy'), self.alice),
                         404, 'TRUST_POLICY_NOT_FOUND')
        events = self.call('GET', f'/v1/workspaces/{self.ws.id}/events',
                           self.alice,
                           params={'action': ['trust_policy.create',
                                              'trust_policy.delete']}).json
        self.assertEqual(['trust_policy.create', 'trust_policy.delete'],
                         [e['action'] for e in events['events']])

    def test_refusals(self):
        self.assertError(self.create(self.bob), 403, 'FORBIDDEN')
        self.assertError(self.call('GET', self.path(), self.bob), 403,
                         'FORBIDDEN')
        self.assertError(self.create(None, conditions={'ref': '*'}), 400,
                         'INVALID_REQUEST')
        self.assertError(self.create(None, scope=['tokens:write']), 400,
                         'INVALID_REQUEST')
        self.assertError(self.create(None, conditions=['ref=x']), 422,
                         'VALIDATION_ERROR')
        self.assertError(self.create(None, max_lifetime=True), 422,
                         'VALIDATION_ERROR')
        self.assertError(self.create(None, extra=1), 422, 'VALIDATION_ERROR')
        self.assertError(self.call('POST', self.path(), self.alice,
                                   json={'name': 'x'}), 422,
                         'VALIDATION_ERROR')
        self.assertEqual(201, self.create().status_code)
        self.assertError(self.create(), 409, 'TRUST_POLICY_EXISTS')
        self.assertError(self.call('DELETE', self.path('deploy'), self.bob),
                         403, 'FORBIDDEN')
        self.assertError(self.call('GET', self.path('deploy')), 401,
                         'AUTHENTICATION_REQUIRED')

    def test_a_token_needs_tokens_write_and_grants_only_what_it_holds(self):
        reader = self.issue(scope=['servers:write'])['access_token']
        self.assertError(self.create(reader), 403, 'INSUFFICIENT_SCOPE')
        writer = self.issue(scope=['tokens:write', 'servers:read'])
        error = self.assertError(self.create(writer['access_token']), 403,
                                 'INSUFFICIENT_SCOPE')
        self.assertEqual({'missing': ['servers:write']}, error['details'])
        result = self.create(writer['access_token'], scope=['servers:read'])
        self.assertEqual(201, result.status_code, result.text)
        self.assertEqual(writer['jti'], result.json['created_by'])
