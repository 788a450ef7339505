"""Tests of ntcli_authority.access: the authorization rules themselves."""

from __future__ import annotations

import testtools

from ntcli_authority import access, errors
from ntcli_authority.access import Action, Principal
from ntcli_authority.models import Workspace
from ntcli_core import scopes
from ntcli_server import ingress

MINE = Workspace('ws-mine', 'mine', 1, owner='u-1')
THEIRS = Workspace('ws-theirs', 'theirs', 1, owner='u-2')
LOCAL = Workspace('ws-local', 'local', 1, owner=None)
USER = Principal('user', user_id='u-1')
TOKEN = Principal('workspace', workspace_id='ws-mine', jti='jti_me',
                  scope=scopes.FULL)
READER = Principal('workspace', workspace_id='ws-mine', jti='jti_reader',
                   scope=scopes.DEFAULT)


class TestCheck(testtools.TestCase):

    def test_local_may_do_everything(self):
        for action in Action:
            for ws in (MINE, THEIRS, LOCAL, None):
                access.check(Principal.local(), action, ws)

    def test_user(self):
        admin_only = {action for action, rule in access.RULES.items()
                      if rule.user is None}
        self.assertEqual({Action.READ_ALL_EVENTS, Action.MANAGE_USERS,
                          Action.MANAGE_KEYS, Action.PURGE,
                          Action.LIST_ALL_TRUST, Action.WATCH_EXPIRY},
                         admin_only)
        for action in Action:
            if action == Action.END_SESSION:
                access.check(USER, action)      # its own, see the authority
                continue
            if action in admin_only:
                self.assertRaises(errors.Forbidden, access.check, USER,
                                  action, MINE)
                continue
            access.check(USER, action, MINE, jti='jti_x')
            if action in (Action.CREATE_WORKSPACE, Action.LIST_WORKSPACES):
                access.check(USER, action)
                continue
            for ws in (THEIRS, LOCAL):
                self.assertRaises(errors.Forbidden, access.check, USER,
                                  action, ws)

    def test_every_operation_has_a_rule(self):
        self.assertEqual(set(Action), set(access.RULES))
        for rule in access.RULES.values():
            self.assertTrue(rule.local)     # whoever holds the database
            self.assertIn(rule.user, (access.ANYONE, access.OWNER, None))
            self.assertIn(rule.token, (access.ANYONE, access.OWN_WORKSPACE,
                                       access.ITSELF, None))
            if None in (rule.user, rule.token):
                self.assertTrue(rule.what)  # a refusal says what

    def test_user_without_id_owns_nothing(self):
        self.assertRaises(errors.Forbidden, access.check,
                          Principal('user'), Action.LIST_TOKENS, LOCAL)

    def test_workspace_token(self):
        access.check(TOKEN, Action.ISSUE_TOKEN, MINE)
        access.check(TOKEN, Action.LIST_TOKENS, MINE)
        access.check(TOKEN, Action.GET_WORKSPACE, MINE)
        access.check(TOKEN, Action.REVOKE_TOKEN, MINE, jti='jti_me')
        access.check(TOKEN, Action.LIST_WORKSPACES)   # its own, see authority
        denied = [
            (Action.REVOKE_TOKEN, MINE, 'jti_other'),
            (Action.REVOKE_TOKEN, MINE, None),
            (Action.ISSUE_TOKEN, THEIRS, None),
            (Action.LIST_TOKENS, THEIRS, None),
            (Action.REVOKE_TOKEN, THEIRS, 'jti_me'),
            (Action.DELETE_WORKSPACE, MINE, None),
            (Action.READ_EVENTS, MINE, None),
            (Action.CREATE_WORKSPACE, None, None),
            (Action.MANAGE_USERS, None, None),
        ]
        for action, ws, jti in denied:
            error = self.assertRaises(errors.Forbidden, access.check, TOKEN,
                                      action, ws, jti=jti)
            self.assertEqual(403, error.http_status)

    def test_a_token_without_tokens_write_issues_nothing(self):
        error = self.assertRaises(errors.InsufficientScope, access.check,
                                  READER, Action.ISSUE_TOKEN, MINE)
        self.assertEqual((403, 'INSUFFICIENT_SCOPE',
                          {'required': ['tokens:write']}),
                         (error.http_status, error.code, error.details))
        # but it lists the tokens of its workspace and revokes itself
        access.check(READER, Action.LIST_TOKENS, MINE)
        access.check(READER, Action.REVOKE_TOKEN, MINE, jti='jti_reader')

    def test_a_token_grants_only_scopes_it_holds(self):
        issuer = Principal('workspace', workspace_id='ws-mine', jti='jti_i',
                           scope=scopes.parse(['tokens:write',
                                               'servers:read']))
        access.check(issuer, Action.ISSUE_TOKEN, MINE)
        for wanted in (['servers:read'], ['tokens:read', 'tokens:write'],
                       ['servers:read', 'tokens:write']):
            access.check_grant(issuer, scopes.parse(wanted))
        for wanted, lacking in ((['servers:write'], ['servers:write']),
                                (['secrets:read', 'servers:read'],
                                 ['secrets:read'])):
            error = self.assertRaises(errors.InsufficientScope,
                                      access.check_grant, issuer,
                                      scopes.parse(wanted))
            self.assertEqual({'missing': lacking}, error.details)

    def test_users_and_local_grant_any_scope(self):
        for principal in (USER, Principal.local()):
            access.check_grant(principal, scopes.FULL)

    def test_a_workspace_token_issues_only_tokens_that_expire(self):
        access.check_expiry(TOKEN, True)
        error = self.assertRaises(errors.Forbidden, access.check_expiry,
                                  TOKEN, False)
        self.assertEqual(403, error.http_status)
        self.assertIn('never expires', error.message)
        self.assertIn('needs a user credential', error.message)

    def test_users_and_local_may_issue_non_expiring_tokens(self):
        for principal in (USER, Principal.local()):
            access.check_expiry(principal, True)
            access.check_expiry(principal, False)

    def test_workspace_action_needs_workspace(self):
        self.assertRaises(errors.InvalidRequest, access.check, USER,
                          Action.ISSUE_TOKEN, None)

    def test_unknown_action_or_kind(self):
        self.assertRaises(ValueError, access.check, USER, 'token:steal', MINE)
        self.assertRaises(errors.Forbidden, access.check,
                          Principal('robot'), Action.LIST_TOKENS, MINE)


class TestCheckRequest(testtools.TestCase):
    """What a token may do behind an ingress."""

    WS = 'ABCDEF00-0000-4000-8000-000000000000'.lower()

    def check(self, held, url, method='GET'):
        access.check_request(held, self.WS, ingress.target(url, method))

    def test_reads_and_writes_by_method(self):
        held = scopes.parse(['servers:read', 'secrets:write'])
        for method in ingress.READ_METHODS:
            self.check(held, f'/v1/workspaces/{self.WS}/servers', method)
        for method in ('POST', 'PUT', 'PATCH', 'DELETE', 'get', 'PROPFIND'):
            error = self.assertRaises(
                errors.InsufficientScope, self.check, held,
                f'/v1/workspaces/{self.WS}/servers/x', method)
            self.assertEqual({'required': ['servers:write']}, error.details)
        self.check(held, f'/v1/workspaces/{self.WS}/secrets/k', 'PUT')
        self.check(held, f'/v1/workspaces/{self.WS}/secrets', 'GET')

    def test_the_workspace_itself_is_the_workspace_resource(self):
        for url in (f'/v1/workspaces/{self.WS}', f'/workspaces/{self.WS}/',
                    '/v1/registry/servers', '/'):
            self.check(scopes.DEFAULT, url)
            self.assertRaises(errors.InsufficientScope, self.check,
                              scopes.DEFAULT, url, 'DELETE')

    def test_another_workspace_is_forbidden_whatever_the_scopes(self):
        other = '00000000-0000-4000-8000-000000000001'
        for url in (f'/v1/workspaces/{other}/servers',
                    f'/v1/workspaces/{other}',
                    f'https://api.example/workspaces/{other}/x?y=1',
                    f'/v1/WORKSPACES/{other}/servers',
                    '/v1/workspaces/my-workspace-name/servers'):
            error = self.assertRaises(errors.Forbidden, self.check,
                                      scopes.FULL, url)
            self.assertEqual('FORBIDDEN', error.code)
        # its own id in capitals is its own
        self.check(scopes.FULL, f'/v1/workspaces/{self.WS.upper()}/servers')

    def test_an_unknown_resource_is_granted_by_no_scope(self):
        error = self.assertRaises(errors.InsufficientScope, self.check,
                                  scopes.FULL,
                                  f'/v1/workspaces/{self.WS}/billing')
        self.assertEqual('INSUFFICIENT_SCOPE', error.code)
