// A real OpenID Provider for ntcli's sign-in tests: oidc-provider (OpenID
// Certified) on 127.0.0.1, with its development login and consent pages.
//
//   node provider.mjs PORT
//
// Client "ntcli" is what `ntcli-server serve --oidc-client-id ntcli` names:
// a public native client (no secret, PKCE) allowed the authorization code,
// device and refresh grants, with the loopback redirect RFC 8252 describes.
// Any login and password sign in; the account id is the login, its e-mail
// LOGIN@example.org. The provider prints "listening" once it accepts
// connections (tests/oidc/fixtures.py waits for that line).
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node provider.mjs PORT');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'ntcli',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: [
      'authorization_code',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:device_code',
    ],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
  }],
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${id}@example.org`,
          email_verified: true,
          preferred_username: id,
          name: id,
        };
      },
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'name'],
  },
  // ID tokens carry the claims of the scopes asked for, not only sub
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
  },
  pkce: { required: () => true },
  // a refresh token whenever offline_access is asked for (the default
  // also wants prompt=consent in the code flow)
  async issueRefreshToken(ctx, client, code) {
    return client.grantTypeAllowed('refresh_token')
      && code.scopes.has('offline_access');
  },
  ttl: {
    // short enough for the tests to see a code expire
    DeviceCode: Number(process.env.OIDC_DEVICE_CODE_TTL || 600),
    IdToken: 3600,
  },
  // no cookies that need https
  cookies: { keys: ['ntcli-test-provider-cookie-key'] },
});
provider.proxy = false;

// Errors the provider answers with are the tests' business; keep stderr
// for what goes wrong here.
provider.on('server_error', (ctx, err) => console.error('server_error', err));

provider.listen(port, '127.0.0.1', () => {
  console.log('listening');
});
