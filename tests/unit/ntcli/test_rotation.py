"""ntcli.rotation: the pieces below the refresh transaction."""

import uuid

import testtools

from ntcli import issues, rotation


class TestRandomUUID(testtools.TestCase):

    def test_same_form_as_uuid4(self):
        keys = {issues.new_key() for _ in range(200)}
        self.assertEqual(200, len(keys))
        for key in keys:
            parsed = uuid.UUID(key)
            self.assertEqual(4, parsed.version)
            self.assertEqual(uuid.RFC_4122, parsed.variant)
            self.assertEqual(str(parsed), key)


def _token(claims: dict) -> str:
    """An unsigned token with these claims (only its claims are read)."""
    import base64
    import json

    def b64(data: dict) -> str:
        raw = json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip('=')
    return f"wst_{b64({'alg': 'EdDSA'})}.{b64(claims)}.c2ln"


class TestScopesToKeep(testtools.TestCase):

    def stored(self, token, scope=None):
        from ntcli.credentials import StoredToken
        return StoredToken(token=token, jti='jti_x', workspace_id='ws',
                           created_at=1, expires_at=None, scope=scope)

    def test_the_first_token_gets_every_scope(self):
        from ntcli_core import scopes
        self.assertEqual(scopes.FULL, rotation._scopes_to_keep(None))

    def test_the_stored_scopes_are_kept(self):
        old = self.stored(_token({'scope': 'workspace'}), ('servers:read',))
        self.assertEqual(('servers:read',), rotation._scopes_to_keep(old))

    def test_else_the_token_claim_says(self):
        from ntcli_core import scopes
        # stored by an ntcli from before scopes: the claim tells
        self.assertEqual(('secrets:read',), rotation._scopes_to_keep(
            self.stored(_token({'scope': 'secrets:read'}))))
        # a token from before scopes holds them all
        self.assertEqual(scopes.FULL, rotation._scopes_to_keep(
            self.stored(_token({'scope': 'workspace'}))))
        # nothing says: every scope, as for a first token
        for token in (_token({}), 'wst_garbage'):
            self.assertEqual(scopes.FULL, rotation._scopes_to_keep(
                self.stored(token)))
