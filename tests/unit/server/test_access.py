"""Tests of ntcli_server.access: the authorization rules themselves."""

from __future__ import annotations

import testtools

from ntcli_server import access, errors
from ntcli_server.access import Action, Principal
from ntcli_server.models import Workspace

MINE = Workspace('ws-mine', 'mine', 1, owner='u-1')
THEIRS = Workspace('ws-theirs', 'theirs', 1, owner='u-2')
LOCAL = Workspace('ws-local', 'local', 1, owner=None)
USER = Principal('user', user_id='u-1')
TOKEN = Principal('workspace', workspace_id='ws-mine', jti='jti_me')


class TestCheck(testtools.TestCase):

    def test_local_may_do_everything(self):
        for action in Action:
            for ws in (MINE, THEIRS, LOCAL, None):
                access.check(Principal.local(), action, ws)

    def test_user(self):
        for action in Action:
            access.check(USER, action, MINE, jti='jti_x')
            if action in (Action.CREATE_WORKSPACE, Action.LIST_WORKSPACES):
                access.check(USER, action)
                continue
            for ws in (THEIRS, LOCAL):
                self.assertRaises(errors.Forbidden, access.check, USER,
                                  action, ws)

    def test_user_without_id_owns_nothing(self):
        self.assertRaises(errors.Forbidden, access.check,
                          Principal('user'), Action.LIST_TOKENS, LOCAL)

    def test_workspace_token(self):
        access.check(TOKEN, Action.ISSUE_TOKEN, MINE)
        access.check(TOKEN, Action.LIST_TOKENS, MINE)
        access.check(TOKEN, Action.REVOKE_TOKEN, MINE, jti='jti_me')
        denied = [
            (Action.REVOKE_TOKEN, MINE, 'jti_other'),
            (Action.REVOKE_TOKEN, MINE, None),
            (Action.ISSUE_TOKEN, THEIRS, None),
            (Action.LIST_TOKENS, THEIRS, None),
            (Action.REVOKE_TOKEN, THEIRS, 'jti_me'),
            (Action.DELETE_WORKSPACE, MINE, None),
            (Action.CREATE_WORKSPACE, None, None),
            (Action.LIST_WORKSPACES, None, None),
        ]
        for action, ws, jti in denied:
            error = self.assertRaises(errors.Forbidden, access.check, TOKEN,
                                      action, ws, jti=jti)
            self.assertEqual(403, error.http_status)

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
