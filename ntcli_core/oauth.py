"""OAuth names the server and the CLI share (RFC 8693, RFC 8628)."""

from __future__ import annotations

#: The token-exchange endpoint of ntcli-server.
EXCHANGE_PATH = '/v1/oauth/token'
#: Where a client learns how to sign in (``GET``).
PROVIDERS_PATH = '/v1/auth/providers'
#: Where a signed-in client ends its session (``DELETE``).
SESSION_PATH = '/v1/auth/session'

GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
GRANT_DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code'

#: Token types of RFC 8693 section 3.
TOKEN_TYPE_ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token'
TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt'
TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token'
#: The token type of a ntcli user session (a URI of our own, as RFC 8693
#: section 3 allows).
TOKEN_TYPE_SESSION = 'urn:ntcli:params:oauth:token-type:session'
