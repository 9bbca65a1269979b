// The certified OpenID provider the browser tests sign in through: panva's oidc-provider
// with its default configuration, plus only what a test deployment must give it:
//   - the portal's client registration (client id, secret and redirect URI),
//   - `findAccount`, serving the test accounts' claims from a JSON file that the tests
//     write ({"<login>": {"email": ..., "email_verified": ..., "name": ...}}), read at each
//     call so a test can add accounts while the provider runs,
//   - which claims the `email` and `profile` scopes release (the default releases `sub`
//     only; every deployment that shares e-mail addresses lists them),
//   - PKCE required of every client, as the deployment this reproduces had it (the default
//     requires it of public clients only, and checks it whenever a client sends it).
// `conformIdTokenClaims` (e-mail in UserInfo, not in the ID token), the login and consent
// pages (devInteractions), the cookies, keys and lifetimes are the defaults.
//
// Environment: CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, ACCOUNTS_FILE, HOST (127.0.0.1).
// It listens on a free port and prints one line, {"issuer": "http://localhost:<port>"},
// once it accepts connections.
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return value;
};

const client = {
  client_id: env('CLIENT_ID'),
  client_secret: env('CLIENT_SECRET'),
  redirect_uris: [env('REDIRECT_URI')],
};
const accountsFile = env('ACCOUNTS_FILE');

function accounts() {
  try {
    return JSON.parse(readFileSync(accountsFile, 'utf8'));
  } catch (error) {
    if (error.code === 'ENOENT') return {};
    throw error;
  }
}

async function findAccount(ctx, id) {
  const claims = accounts()[id];
  if (!claims) return undefined;
  return {
    accountId: id,
    async claims() {
      return { ...claims, sub: id };
    },
  };
}

const server = http.createServer();
server.listen(0, process.env.HOST || '127.0.0.1', () => {
  const issuer = `http://localhost:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [client],
    findAccount,
    claims: {
      acr: null,
      sid: null,
      auth_time: null,
      iss: null,
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    pkce: { required: () => true },
  });
  server.on('request', provider.callback());
  console.log(JSON.stringify({ issuer }));
});
