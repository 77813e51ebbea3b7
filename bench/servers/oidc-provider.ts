// Benchmark peer: node-oidc-provider 9 with its in-memory adapter (its fastest), one confidential client that may
// use client_credentials, the authorization code flow and refresh tokens, introspection enabled, ES256 ID tokens
// (Gatehouse's signing algorithm). Access tokens are its default opaque ones. Prints one JSON line when ready.
//
// Sign-in and consent (GET /interaction/:uid) are finished programmatically: a new account per browser session
// and a Grant with everything asked for, so the benchmark driver can drive the flow with redirects alone. After
// the first flow the session and the Grant exist, and later /auth requests redirect straight back with a code.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
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
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
      redirect_uris: ['https://rp.example/cb'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      introspection_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
      scope: 'openid api:read',
    },
  ],
  scopes: ['openid', 'api:read'],
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: false },
  },
  // Every account exists and has no claims beyond sub (Gatehouse's bench users have none for these scopes either).
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  // As Gatehouse: a client with the refresh_token grant gets a refresh token (no offline_access + prompt=consent
  // dance), every refresh rotates it (the default rotates for public clients only), and tokens outlive the
  // browser session (the default ties them to it unless offline_access was granted, which costs a session
  // lookup on every use of the token).
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  expiresWithSession: async () => false,
  jwks: {
    keys: [
      { ...(await exportJWK(privateKey)), alg: 'ES256', use: 'sig' },
      { ...(await exportJWK(rsa.privateKey)), alg: 'RS256', use: 'sig' },
    ],
  },
});

/**
 * The login and consent "pages": whatever the provider prompts for is granted at once. Login picks a fresh
 * account id (one per browser session, like one user per benchmark chain); consent records a Grant with the
 * requested scopes, which the provider then finds through the session on every later authorization request.
 */
async function finishInteraction(request: http.IncomingMessage, response: http.ServerResponse) {
  const details = await provider.interactionDetails(request, response);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    const accountId = `user-${randomBytes(8).toString('hex')}`;
    return provider.interactionFinished(request, response, { login: { accountId } });
  }
  if (prompt.name === 'consent' && session) {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id as string });
    if (!grant) throw new Error('grant not found');
    const missing = prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(resource, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(request, response, { consent: { grantId } });
  }
  throw new Error(`unexpected prompt ${prompt.name}`);
}

// The provider's own Koa app answers everything except the interaction route.
const callback = provider.callback();
const server = http.createServer((request, response) => {
  if (request.method === 'GET' && request.url?.startsWith('/interaction/')) {
    finishInteraction(request, response).catch((error: Error) => {
      response.statusCode = 500;
      response.end(error.message);
    });
    return;
  }
  callback(request, response);
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port, clientId: 'bench', clientSecret })}\n`);
});
