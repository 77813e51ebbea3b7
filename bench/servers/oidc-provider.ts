// Benchmark peer: node-oidc-provider 9 with its in-memory adapter (its fastest), one confidential machine client,
// client_credentials and introspection enabled, the same ES256 signing algorithm. Prints one JSON line when ready.
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT ?? 0) || 3900 + Math.floor(Math.random() * 90);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const rsa = await generateKeyPair('RS256', { extractable: true });
const clientSecret = randomBytes(32).toString('base64url');
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench',
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      introspection_endpoint_auth_method: 'client_secret_basic',
      scope: 'api:read',
    },
  ],
  scopes: ['api:read'],
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: false },
  },
  jwks: {
    keys: [
      { ...(await exportJWK(privateKey)), alg: 'ES256', use: 'sig' },
      { ...(await exportJWK(rsa.privateKey)), alg: 'RS256', use: 'sig' },
    ],
  },
});
provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port, clientId: 'bench', clientSecret })}\n`);
});
