// The resource-server package (@gatehouse/resource) as an API would use it, against a real Gatehouse on
// loopback: (a) a separate Fastify app checking JWT access tokens offline against the JWKS, (b) a plain
// node:http server checking opaque tokens and API keys through remote introspection (RFC 7662). A small
// counting proxy sits between the library and Gatehouse where the test needs to know how often the library
// called out. Then unit tests of the pieces: BearerError challenges (RFC 6750 §3), extractToken,
// requireScopes, protectedResourceMetadataUrl (RFC 9728 §3.1) and the checks applied to introspection answers.
//
// Everything listens on and talks to 127.0.0.1 only.
import assert from 'node:assert/strict';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  BearerError,
  createVerifier,
  extractToken,
  type IntrospectionResponse,
  protectedResourceMetadataUrl,
  requireScopes,
  tokenOf,
  type VerifiedToken,
  type Verifier,
  type VerifierOptions,
} from '@gatehouse/resource';
import { fastifyAuthenticate } from '@gatehouse/resource/fastify';
import { requireToken } from '@gatehouse/resource/node';
import Fastify, { type FastifyInstance } from 'fastify';
import { decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createApiKey } from '../../src/accounts/api-keys.ts';
import { rotateSigningKeys } from '../../src/oauth/keys.ts';
import { mintOpaqueAccessToken, mintOpaqueToken, TOKEN_PREFIX } from '../../src/oauth/opaque-token.ts';
import type { Client, User } from '../../src/storage/storage.ts';
import { type LoopbackServer, startLoopbackServer } from '../e2e/loopback.ts';
import { basicAuth, exchangeCode, runAuthorizationFlow } from '../helpers/flow.ts';
import { TEST_SECRET, type TestServer } from '../helpers/server.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const API_A = 'https://api.a.example';

type TestUser = User & { password: string };
interface App {
  client: Client;
  secret: string;
}
interface Tokens {
  access_token: string;
  refresh_token: string;
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

/** A reverse proxy on loopback that counts the requests it forwards, by path. */
interface CountingProxy {
  origin: string;
  count(path: string): number;
  close(): Promise<void>;
}

async function startCountingProxy(target: string): Promise<CountingProxy> {
  const counts = new Map<string, number>();
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const upstream = httpRequest(
      new URL(request.url ?? '/', target),
      { method: request.method, headers: { ...request.headers, host: new URL(target).host } },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on('error', () => response.writeHead(502).end());
    request.pipe(upstream);
  });
  const origin = await listen(server);
  return {
    origin,
    count: (path) => counts.get(path) ?? 0,
    close: () => closeServer(server),
  };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (typeof address !== 'object' || !address) reject(new Error('no address'));
      else resolve(`http://127.0.0.1:${address.port}`);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

function post(
  server: TestServer,
  url: string,
  form: Record<string, string>,
  headers: Record<string, string>,
) {
  return server.app.inject({
    method: 'POST',
    url,
    payload: new URLSearchParams(form).toString(),
    headers: { ...FORM, ...headers },
  });
}

async function newApp(server: TestServer, input: Parameters<TestServer['addClient']>[0] = {}): Promise<App> {
  const { client, secret } = await server.addClient(input);
  assert.ok(secret);
  return { client, secret };
}

async function userTokens(server: TestServer, app: App, user: TestUser, scope?: string): Promise<Tokens> {
  const flow = await runAuthorizationFlow(server, app.client, user, scope ? { scope } : {});
  const response = await exchangeCode(server, app.client, app.secret, flow);
  assert.equal(response.statusCode, 200, response.body);
  return response.json() as Tokens;
}

async function refreshTokens(server: TestServer, app: App, refreshToken: string): Promise<Tokens> {
  const response = await post(
    server,
    '/token',
    { grant_type: 'refresh_token', refresh_token: refreshToken },
    { authorization: basicAuth(app.client.id, app.secret) },
  );
  assert.equal(response.statusCode, 200, response.body);
  return response.json() as Tokens;
}

async function revokeAt(server: TestServer, app: App, token: string) {
  const response = await post(
    server,
    '/revoke',
    { token },
    { authorization: basicAuth(app.client.id, app.secret) },
  );
  assert.equal(response.statusCode, 200, response.body);
}

async function call(url: string, headers: Record<string, string> = {}) {
  // The signal only keeps a broken server from hanging the test; nothing asserts on time.
  const response = await fetch(url, { headers, redirect: 'error', signal: AbortSignal.timeout(15_000) });
  const text = await response.text();
  return {
    status: response.status,
    challenge: response.headers.get('www-authenticate'),
    retryAfter: response.headers.get('retry-after'),
    cacheControl: response.headers.get('cache-control'),
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    text,
  };
}

type Called = Awaited<ReturnType<typeof call>>;

function assertInvalidToken(response: Called, description?: string) {
  assert.equal(response.status, 401, response.text);
  assert.match(String(response.challenge), /^Bearer (.*, )?error="invalid_token"/);
  assert.equal(response.body.error, 'invalid_token');
  if (description !== undefined) {
    assert.equal(response.body.error_description, description);
    assert.ok(
      String(response.challenge).includes(`error_description="${description}"`),
      response.challenge ?? '',
    );
  }
  assert.equal(response.cacheControl, 'no-store');
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The same token with its last character changed: the CRC32 tail no longer matches. */
function breakChecksum(token: string): string {
  return `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
}

// ---------------------------------------------------------------------------------------------------------
// (a) JWT access tokens, a Fastify resource server, offline verification against the JWKS

describe('(a) a Fastify API checking JWT access tokens against the JWKS', () => {
  let as: LoopbackServer;
  let api: FastifyInstance;
  let apiOrigin: string;
  let jwksProxy: CountingProxy;
  let app: App;
  let machine: App;
  let user: TestUser;

  before(async () => {
    as = await startLoopbackServer({
      GATEHOUSE_RESOURCES: JSON.stringify([{ uri: API_A, format: 'jwt', scopes: ['reports:read'] }]),
    });
    jwksProxy = await startCountingProxy(as.issuer);
    const verifier = createVerifier({ issuer: as.issuer, audience: as.issuer, jwks: `${as.issuer}/jwks` });
    const apiA = createVerifier({ issuer: as.issuer, audience: API_A, jwks: `${as.issuer}/jwks` });
    // Its own verifier (own JWKS cache), whose fetches the proxy counts, for the key rotation test.
    const rotating = createVerifier({
      issuer: as.issuer,
      audience: as.issuer,
      jwks: `${jwksProxy.origin}/jwks`,
    });
    api = Fastify({ logger: false });
    const describeToken = (token: VerifiedToken | undefined) => ({
      subject: token?.subject,
      clientId: token?.clientId,
      scopes: token?.scopes,
      audience: token?.audience,
      format: token?.format,
    });
    api.get('/me', { preHandler: fastifyAuthenticate(verifier, 'openid') }, async (request) =>
      describeToken(tokenOf(request)),
    );
    api.get('/admin', { preHandler: fastifyAuthenticate(verifier, 'openid', 'admin') }, async (request) =>
      describeToken(tokenOf(request)),
    );
    api.get('/reports', { preHandler: fastifyAuthenticate(apiA, 'reports:read') }, async (request) =>
      describeToken(tokenOf(request)),
    );
    api.get('/rotating', { preHandler: fastifyAuthenticate(rotating, 'openid') }, async (request) =>
      describeToken(tokenOf(request)),
    );
    await api.listen({ port: 0, host: '127.0.0.1' });
    const address = api.server.address();
    assert.ok(typeof address === 'object' && address);
    apiOrigin = `http://127.0.0.1:${address.port}`;

    user = await as.server.addUser();
    app = await newApp(as.server);
    machine = await newApp(as.server, {
      grantTypes: ['client_credentials'],
      redirectUris: [],
      scope: 'reports:read',
      allowedResources: [API_A],
    });
  });

  after(async () => {
    await api?.close();
    await jwksProxy?.close();
    await as?.close();
  });

  it('a valid JWT → 200, and tokenOf(request) says who it speaks for', async () => {
    const { access_token } = await userTokens(as.server, app, user);
    const response = await call(`${apiOrigin}/me`, bearer(access_token));
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.subject, user.id);
    assert.equal(response.body.clientId, app.client.id);
    assert.deepEqual([...(response.body.scopes as string[])].sort(), ['email', 'openid', 'profile']);
    assert.deepEqual(response.body.audience, [as.issuer]);
    assert.equal(response.body.format, 'jwt');
  });

  it('no Authorization header → 401 with a bare "Bearer" challenge (no error code)', async () => {
    const response = await call(`${apiOrigin}/me`);
    assert.equal(response.status, 401, response.text);
    assert.equal(response.challenge, 'Bearer');
    assert.equal(response.body.error, undefined);
    assert.equal(response.cacheControl, 'no-store');
  });

  it('by default the OAuth scheme and ?access_token= are refused with a bare challenge', async () => {
    const { access_token } = await userTokens(as.server, app, user);
    const oauthScheme = await call(`${apiOrigin}/me`, { authorization: `OAuth ${access_token}` });
    assert.equal(oauthScheme.status, 401, oauthScheme.text);
    assert.equal(oauthScheme.challenge, 'Bearer');
    const query = await call(`${apiOrigin}/me?access_token=${encodeURIComponent(access_token)}`);
    assert.equal(query.status, 401, query.text);
    assert.equal(query.challenge, 'Bearer');
    // The same token in the header is fine: the refusal is about where it was sent.
    assert.equal((await call(`${apiOrigin}/me`, bearer(access_token))).status, 200);
  });

  it('a malformed header ("Bearer a b") → 400 invalid_request', async () => {
    const response = await call(`${apiOrigin}/me`, { authorization: 'Bearer a b' });
    assert.equal(response.status, 400, response.text);
    assert.match(String(response.challenge), /^Bearer error="invalid_request"/);
    assert.equal(response.body.error, 'invalid_request');
  });

  it('a token for another audience → 401 invalid_token (and it is good at its own resource)', async () => {
    const issued = await post(
      as.server,
      '/token',
      { grant_type: 'client_credentials', resource: API_A },
      { authorization: basicAuth(machine.client.id, machine.secret) },
    );
    assert.equal(issued.statusCode, 200, issued.body);
    const forApiA = issued.json().access_token as string;
    const atItsResource = await call(`${apiOrigin}/reports`, bearer(forApiA));
    assert.equal(atItsResource.status, 200, atItsResource.text);
    assert.equal(atItsResource.body.subject, machine.client.id);
    assertInvalidToken(await call(`${apiOrigin}/me`, bearer(forApiA)));

    const { access_token } = await userTokens(as.server, app, user);
    assertInvalidToken(await call(`${apiOrigin}/reports`, bearer(access_token)));
  });

  it('an expired token → 401 invalid_token, "The access token expired"', async () => {
    const { refresh_token } = await userTokens(as.server, app, user);
    // Mint a token 700 s in the past: it expired 100 s ago, beyond the 5 s tolerance.
    as.server.clock.advance(-700_000);
    let expired: Tokens;
    try {
      expired = await refreshTokens(as.server, app, refresh_token);
    } finally {
      as.server.clock.advance(700_000);
    }
    assertInvalidToken(
      await call(`${apiOrigin}/me`, bearer(expired.access_token)),
      'The access token expired',
    );
  });

  it('a missing scope → 403 insufficient_scope naming the scope in the challenge', async () => {
    const { access_token } = await userTokens(as.server, app, user);
    const response = await call(`${apiOrigin}/admin`, bearer(access_token));
    assert.equal(response.status, 403, response.text);
    const challenge = String(response.challenge);
    assert.match(challenge, /^Bearer error="insufficient_scope"/);
    assert.ok(challenge.includes('scope="openid admin"'), challenge);
    assert.equal(response.body.error, 'insufficient_scope');
  });

  it('a token signed by another key → 401 invalid_token, whether it names the real kid or its own', async () => {
    const { access_token } = await userTokens(as.server, app, user);
    const realKid = decodeProtectedHeader(access_token).kid;
    assert.ok(realKid);
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const ownKid = (await exportJWK(publicKey)).x?.slice(0, 16) ?? 'foreign';
    const now = Math.floor(Date.now() / 1000);
    for (const kid of [realKid, ownKid]) {
      const forged = await new SignJWT({ client_id: app.client.id, scope: 'openid profile email' })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
        .setIssuer(as.issuer)
        .setAudience(as.issuer)
        .setSubject(user.id)
        .setJti(`forged-${kid}`)
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(privateKey);
      assertInvalidToken(await call(`${apiOrigin}/me`, bearer(forged)));
    }
    // And an unsigned token (alg none) with the real kid.
    const [, payload] = access_token.split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: realKid })).toString(
      'base64url',
    );
    assertInvalidToken(await call(`${apiOrigin}/me`, bearer(`${header}.${payload}.`)));
    assertInvalidToken(await call(`${apiOrigin}/me`, bearer(`${header}.${payload}.AAAA`)));
  });

  it('after `keys rotate`, a token with the new (unknown) kid makes the library refetch the JWKS and accept it', async (t) => {
    // jose refetches on an unknown kid at most every 30 s (cooldown, measured with Date.now): move Date past it.
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const first = await userTokens(as.server, app, user);
    const oldKid = decodeProtectedHeader(first.access_token).kid;
    const before = await call(`${apiOrigin}/rotating`, bearer(first.access_token));
    assert.equal(before.status, 200, before.text);
    const fetchesBefore = jwksProxy.count('/jwks');
    assert.ok(fetchesBefore >= 1);

    const { config, storage, keys } = as.server.deps;
    await rotateSigningKeys(
      storage,
      TEST_SECRET,
      [config.accessTokenAlg, config.idTokenAlg],
      as.server.clock.now(),
      20 * 60_000,
    );
    await keys.reload();
    const second = await refreshTokens(as.server, app, first.refresh_token);
    const newKid = decodeProtectedHeader(second.access_token).kid;
    assert.notEqual(newKid, oldKid, 'the new token is signed by the new key');

    t.mock.timers.tick(31_000);
    const after = await call(`${apiOrigin}/rotating`, bearer(second.access_token));
    assert.equal(after.status, 200, after.text);
    assert.equal(after.body.subject, user.id);
    assert.equal(jwksProxy.count('/jwks'), fetchesBefore + 1, 'exactly one refetch');

    // The old key stays published until it retires: tokens it signed are still accepted, without a fetch.
    const old = await call(`${apiOrigin}/rotating`, bearer(first.access_token));
    assert.equal(old.status, 200, old.text);
    assert.equal(jwksProxy.count('/jwks'), fetchesBefore + 1);
  });
});

// ---------------------------------------------------------------------------------------------------------
// (b) opaque tokens and API keys, a node:http resource server, remote introspection

describe('(b) a node:http API checking opaque tokens through remote introspection', () => {
  let as: LoopbackServer;
  let proxy: CountingProxy;
  let api: Server;
  let apiOrigin: string;
  let rs: App;
  let app: App;
  let user: TestUser;
  /** Added to Date.now() by the caching verifier: moves its idea of time without touching anything else. */
  let skew = 0;

  const introspections = () => proxy.count('/introspect');

  before(async () => {
    as = await startLoopbackServer({ GATEHOUSE_ACCESS_TOKEN_FORMAT: 'opaque' });
    proxy = await startCountingProxy(as.issuer);
    rs = await newApp(as.server, {
      name: 'Meetings API',
      grantTypes: ['client_credentials'],
      redirectUris: [],
      scope: 'reports:read',
      // RFC 7662 §4: an API introspects its callers' tokens.
      resourceServer: true,
    });
    app = await newApp(as.server);
    user = await as.server.addUser();

    const base: VerifierOptions = {
      issuer: as.issuer,
      audience: as.issuer,
      introspection: {
        endpoint: `${proxy.origin}/introspect`,
        clientId: rs.client.id,
        clientSecret: rs.secret,
        cacheSeconds: 0,
      },
    };
    const routes: Record<string, ReturnType<typeof requireToken>> = {
      '/me': requireToken(createVerifier(base), 'openid'),
      '/oauth-scheme': requireToken(createVerifier({ ...base, allowOAuthScheme: true }), 'openid'),
      '/query-token': requireToken(createVerifier({ ...base, allowQueryToken: true }), 'openid'),
      '/cached': requireToken(
        createVerifier({
          ...base,
          introspection: {
            endpoint: `${proxy.origin}/introspect`,
            clientId: rs.client.id,
            clientSecret: rs.secret,
            cacheSeconds: 30,
          },
          now: () => Date.now() + skew,
        }),
        'openid',
      ),
      '/wrong-credentials': requireToken(
        createVerifier({
          ...base,
          introspection: {
            endpoint: `${proxy.origin}/introspect`,
            clientId: rs.client.id,
            clientSecret: `${rs.secret}x`,
            cacheSeconds: 0,
          },
        }),
      ),
    };
    api = createServer((request: IncomingMessage, response: ServerResponse) => {
      const middleware = routes[(request.url ?? '/').split('?')[0] ?? '/'];
      if (!middleware) {
        response.writeHead(404).end();
        return;
      }
      const next = (error?: unknown) => {
        if (error) {
          response.writeHead(500).end();
          return;
        }
        const token = tokenOf(request);
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            subject: token?.subject,
            clientId: token?.clientId,
            scopes: token?.scopes,
            format: token?.format,
            expiresAt: token?.expiresAt ?? null,
          }),
        );
      };
      try {
        middleware(request, response, next);
      } catch (error) {
        // What Express does with a middleware that throws: 500. (Plain node:http would crash the process.)
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ middleware_threw: String(error) }));
      }
    });
    apiOrigin = await listen(api);
  });

  after(async () => {
    if (api) await closeServer(api);
    await proxy?.close();
    await as?.close();
  });

  it('a valid opaque token → 200 after one introspection', async () => {
    const { access_token } = await userTokens(as.server, app, user);
    assert.ok(access_token.startsWith(TOKEN_PREFIX.accessToken));
    const before = introspections();
    const response = await call(`${apiOrigin}/me`, bearer(access_token));
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.subject, user.id);
    assert.equal(response.body.clientId, app.client.id);
    assert.equal(response.body.format, 'opaque');
    assert.ok((response.body.scopes as string[]).includes('openid'));
    assert.equal(introspections(), before + 1);
  });

  it('no Authorization header → 401 bare challenge; a malformed one → 400 invalid_request (Node adapter)', async () => {
    const before = introspections();
    const missing = await call(`${apiOrigin}/me`);
    assert.equal(missing.status, 401, missing.text);
    assert.equal(missing.challenge, 'Bearer');
    const malformed = await call(`${apiOrigin}/me`, { authorization: 'Bearer a b' });
    assert.equal(malformed.status, 400, malformed.text);
    assert.match(String(malformed.challenge), /^Bearer error="invalid_request"/);
    const basic = await call(`${apiOrigin}/me`, { authorization: 'Basic dXNlcjpwYXNz' });
    assert.equal(basic.status, 401, basic.text);
    assert.equal(basic.challenge, 'Bearer');
    assert.equal(introspections(), before);
  });

  it('a gha_ or ghk_ token with a broken checksum → 401 without any call to the introspection endpoint', async () => {
    const { access_token } = await userTokens(as.server, app, user);
    const before = introspections();
    for (const token of [breakChecksum(access_token), breakChecksum(mintOpaqueToken(TOKEN_PREFIX.apiKey))]) {
      assertInvalidToken(await call(`${apiOrigin}/me`, bearer(token)), 'The access token is malformed');
    }
    assert.equal(introspections(), before, 'no request reached the introspection endpoint');
    // The counter does count: the intact token goes through.
    assert.equal((await call(`${apiOrigin}/me`, bearer(access_token))).status, 200);
    assert.equal(introspections(), before + 1);
  });

  it('an unknown (well-formed) token → 401 invalid_token after introspection', async () => {
    assertInvalidToken(await call(`${apiOrigin}/me`, bearer(mintOpaqueAccessToken(Date.now()))));
  });

  it('a revoked token → 401 once the cache TTL passed (cacheSeconds: 0 → at once)', async () => {
    const { access_token } = await userTokens(as.server, app, user);
    assert.equal((await call(`${apiOrigin}/me`, bearer(access_token))).status, 200);
    await revokeAt(as.server, app, access_token);
    assertInvalidToken(await call(`${apiOrigin}/me`, bearer(access_token)), 'The access token is not active');
  });

  it('with cacheSeconds: 30, a revoked token is still accepted from the cache, and refused after 30 s', async () => {
    const { access_token } = await userTokens(as.server, app, user);
    const before = introspections();
    assert.equal((await call(`${apiOrigin}/cached`, bearer(access_token))).status, 200);
    assert.equal((await call(`${apiOrigin}/cached`, bearer(access_token))).status, 200);
    assert.equal(introspections(), before + 1, 'the second check came from the cache');
    await revokeAt(as.server, app, access_token);
    skew += 29_000;
    assert.equal(
      (await call(`${apiOrigin}/cached`, bearer(access_token))).status,
      200,
      'documented staleness',
    );
    skew += 2_000;
    assertInvalidToken(await call(`${apiOrigin}/cached`, bearer(access_token)));
    assert.equal(introspections(), before + 2);
  });

  it('an API key (ghk_) is accepted', async () => {
    const { key } = await createApiKey(
      as.server.deps.storage,
      { userId: user.id, name: 'Reporting script', scope: 'openid reports:read' },
      as.server.clock.now(),
      ['openid', 'reports:read'],
    );
    const response = await call(`${apiOrigin}/me`, bearer(key));
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.subject, user.id);
    assert.equal(response.body.format, 'opaque');
    assert.equal(response.body.expiresAt, null);
    assert.deepEqual([...(response.body.scopes as string[])].sort(), ['openid', 'reports:read']);
  });

  it('a refresh token is not an access token → 401', async () => {
    const { refresh_token } = await userTokens(as.server, app, user);
    assertInvalidToken(await call(`${apiOrigin}/me`, bearer(refresh_token)));
  });

  it('the introspection endpoint refusing the resource server → 503 with Retry-After (fail closed), never 200 or 401', async () => {
    // The token is not known to be bad: a 401 invalid_token would make the client throw it away.
    const { access_token } = await userTokens(as.server, app, user);
    const response = await call(`${apiOrigin}/wrong-credentials`, bearer(access_token));
    assert.equal(response.status, 503, response.text);
    assert.equal(response.body.error, 'temporarily_unavailable');
    assert.equal(response.body.error_description, 'The access token could not be checked right now');
    assert.equal(response.retryAfter, '5');
    assert.equal(response.challenge, null);
    assert.equal(response.cacheControl, 'no-store');
  });

  it('allowOAuthScheme: Authorization: OAuth … is accepted', async () => {
    const { access_token } = await userTokens(as.server, app, user);
    const accepted = await call(`${apiOrigin}/oauth-scheme`, { authorization: `OAuth ${access_token}` });
    assert.equal(accepted.status, 200, accepted.text);
    assert.equal(accepted.body.subject, user.id);
  });

  it('allowQueryToken: ?access_token= is accepted', async () => {
    const { access_token } = await userTokens(as.server, app, user);
    const accepted = await call(`${apiOrigin}/query-token?access_token=${encodeURIComponent(access_token)}`);
    assert.equal(accepted.status, 200, accepted.text);
    assert.equal(accepted.body.subject, user.id);
  });

  it('by default the OAuth scheme and ?access_token= are refused (401 bare challenge); header and query → 400', async () => {
    const { access_token } = await userTokens(as.server, app, user);
    const oauthScheme = await call(`${apiOrigin}/me`, { authorization: `OAuth ${access_token}` });
    assert.equal(oauthScheme.status, 401, oauthScheme.text);
    assert.equal(oauthScheme.challenge, 'Bearer');
    const query = await call(`${apiOrigin}/me?access_token=${encodeURIComponent(access_token)}`);
    assert.equal(query.status, 401, query.text);
    assert.equal(query.challenge, 'Bearer');
    // Header and query at once → 400 invalid_request (RFC 6750 §2: one method per request).
    const both = await call(
      `${apiOrigin}/query-token?access_token=${encodeURIComponent(access_token)}`,
      bearer(access_token),
    );
    assert.equal(both.status, 400, both.text);
    assert.equal(both.body.error, 'invalid_request');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Unit tests

describe('BearerError (RFC 6750 §3)', () => {
  it('status follows the error code; no code = 401 with a bare challenge', () => {
    assert.equal(new BearerError('invalid_request').status, 400);
    assert.equal(new BearerError('invalid_token').status, 401);
    assert.equal(new BearerError('insufficient_scope').status, 403);
    const bare = new BearerError(undefined);
    assert.equal(bare.status, 401);
    assert.equal(bare.challenge(), 'Bearer');
    assert.equal(bare.challenge({ realm: 'api' }), 'Bearer realm="api"');
    assert.deepEqual(bare.body(), {});
  });

  it('lists realm, error, error_description, scope and resource_metadata in that order', () => {
    const error = new BearerError('insufficient_scope', 'The token lacks the scope admin', 'openid admin');
    assert.equal(
      error.challenge({
        realm: 'Acme',
        resourceMetadata: 'https://api.example/.well-known/oauth-protected-resource',
      }),
      'Bearer realm="Acme", error="insufficient_scope", error_description="The token lacks the scope admin", ' +
        'scope="openid admin", resource_metadata="https://api.example/.well-known/oauth-protected-resource"',
    );
    assert.deepEqual(error.body(), {
      error: 'insufficient_scope',
      error_description: 'The token lacks the scope admin',
    });
  });

  it('escapes double quotes and backslashes inside quoted strings', () => {
    const error = new BearerError('invalid_token', 'say "no" \\ twice');
    assert.equal(
      error.challenge({ realm: 'a "quoted" \\realm' }),
      'Bearer realm="a \\"quoted\\" \\\\realm", error="invalid_token", error_description="say \\"no\\" \\\\ twice"',
    );
  });

  it('no control character (CR, LF, NUL, TAB, DEL) reaches the header', () => {
    const error = new BearerError('invalid_token', 'line1\r\nSet-Cookie: x=1\u0000\t\u007fend');
    const challenge = error.challenge({ realm: 'r\ne\u0001alm' });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point of the test
    assert.doesNotMatch(challenge, /[\u0000-\u001f\u007f]/);
  });

  it('control characters are dropped from quoted strings (as errors.ts documents)', () => {
    const error = new BearerError('invalid_token', 'line1\r\nline2\u0000\u007f!');
    assert.equal(
      error.challenge({ realm: 're\nalm' }),
      'Bearer realm="realm", error="invalid_token", error_description="line1line2!"',
    );
  });
});

describe('extractToken (RFC 6750 §2)', () => {
  const off = {};
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      assert.ok(error instanceof BearerError, String(error));
      return error.code ?? 'bare';
    }
    return 'no error';
  };

  it('reads the Authorization: Bearer header, scheme case-insensitively', () => {
    assert.equal(extractToken({ headers: { authorization: 'Bearer abc.DEF-_~+/=' } }, off), 'abc.DEF-_~+/=');
    assert.equal(extractToken({ headers: { authorization: 'bearer xyz' } }, off), 'xyz');
    assert.equal(extractToken({ headers: { authorization: 'BEARER xyz==' } }, off), 'xyz==');
    assert.equal(extractToken({ headers: { authorization: ['Bearer one'] } }, off), 'one');
  });

  it('no credentials, or another scheme → a bare challenge (no error code)', () => {
    assert.equal(
      code(() => extractToken({ headers: {} }, off)),
      'bare',
    );
    assert.equal(
      code(() => extractToken({ headers: { authorization: 'Basic dXNlcjpwYXNz' } }, off)),
      'bare',
    );
    assert.equal(
      code(() => extractToken({ headers: { authorization: 'OAuth abc' } }, off)),
      'bare',
    );
    assert.equal(
      code(() => extractToken({ headers: {}, url: '/x?access_token=abc' }, off)),
      'bare',
    );
  });

  it('a malformed Bearer header, two headers, or header and query → invalid_request', () => {
    for (const authorization of [
      'Bearer a b',
      'Bearer',
      'Bearer ',
      'Bearer a=b',
      'Bearer "abc"',
      'Bearer\tabc',
    ]) {
      assert.equal(
        code(() => extractToken({ headers: { authorization } }, off)),
        'invalid_request',
        authorization,
      );
    }
    assert.equal(
      code(() => extractToken({ headers: { authorization: ['Bearer a', 'Bearer b'] } }, off)),
      'invalid_request',
    );
    const query = { allowQueryToken: true };
    assert.equal(
      code(() => extractToken({ headers: { authorization: 'Bearer a' }, url: '/x?access_token=a' }, query)),
      'invalid_request',
    );
    assert.equal(
      code(() => extractToken({ headers: {}, url: '/x?access_token=a&access_token=b' }, query)),
      'invalid_request',
    );
  });

  it('the legacy OAuth scheme and the query parameter only when enabled', () => {
    assert.equal(
      extractToken({ headers: { authorization: 'OAuth abc' } }, { allowOAuthScheme: true }),
      'abc',
    );
    assert.equal(
      extractToken({ headers: {}, url: '/x?a=1&access_token=abc' }, { allowQueryToken: true }),
      'abc',
    );
  });
});

describe('requireScopes', () => {
  const token: VerifiedToken = {
    subject: 'u',
    clientId: 'c',
    scopes: ['openid', 'meeting:read'],
    audience: ['https://api.example'],
    expiresAt: undefined,
    format: 'opaque',
    claims: {},
  };

  it('passes when every scope is present (or none is asked for)', () => {
    requireScopes(token);
    requireScopes(token, 'openid');
    requireScopes(token, 'meeting:read', 'openid');
  });

  it('otherwise throws 403 insufficient_scope with the scopes required', () => {
    assert.throws(
      () => requireScopes(token, 'openid', 'meeting:write'),
      (error: unknown) => {
        assert.ok(error instanceof BearerError);
        assert.equal(error.code, 'insufficient_scope');
        assert.equal(error.status, 403);
        assert.equal(error.scope, 'openid meeting:write');
        assert.match(error.description ?? '', /meeting:write/);
        assert.match(error.challenge(), /scope="openid meeting:write"/);
        return true;
      },
    );
    // A scope is matched whole, never by prefix.
    assert.throws(() => requireScopes(token, 'meeting'), BearerError);
  });
});

describe('protectedResourceMetadataUrl (RFC 9728 §3.1)', () => {
  it('a resource without a path: the well-known path on its origin', () => {
    const expected = 'https://api.example.com/.well-known/oauth-protected-resource';
    assert.equal(protectedResourceMetadataUrl('https://api.example.com'), expected);
    assert.equal(protectedResourceMetadataUrl('https://api.example.com/'), expected);
  });

  it('a resource with a path: the well-known part goes between the host and the path', () => {
    assert.equal(
      protectedResourceMetadataUrl('https://resource.example.com/resource1'),
      'https://resource.example.com/.well-known/oauth-protected-resource/resource1',
    );
    assert.equal(
      protectedResourceMetadataUrl('https://api.example.com:8443/v1/meetings'),
      'https://api.example.com:8443/.well-known/oauth-protected-resource/v1/meetings',
    );
  });

  it('a resource with a query: the query is kept after the path', () => {
    assert.equal(
      protectedResourceMetadataUrl('https://api.example.com/v1?tenant=acme'),
      'https://api.example.com/.well-known/oauth-protected-resource/v1?tenant=acme',
    );
  });
});

describe('createVerifier: what an introspection answer must say', () => {
  const ISSUER = 'https://as.example';
  const AUDIENCE = 'https://api.example';
  const opaque = mintOpaqueAccessToken(Date.now());
  const future = Math.floor(Date.now() / 1000) + 600;
  const active: IntrospectionResponse = {
    active: true,
    sub: 'user-1',
    client_id: 'client-1',
    scope: 'openid meeting:read',
    aud: AUDIENCE,
    iss: ISSUER,
    exp: future,
    token_type: 'Bearer',
  };
  const verifierFor = (answer: IntrospectionResponse | Error): Verifier =>
    createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      introspection: async () => {
        if (answer instanceof Error) throw answer;
        return answer;
      },
    });
  const refusal = async (verifier: Verifier, token = opaque) => {
    try {
      await verifier.verifyToken(token);
    } catch (error) {
      assert.ok(error instanceof BearerError);
      return error;
    }
    assert.fail('the token was accepted');
  };

  it('an active answer for this audience → the token, with its scopes split', async () => {
    const token = await verifierFor(active).verifyToken(opaque);
    assert.equal(token.subject, 'user-1');
    assert.equal(token.clientId, 'client-1');
    assert.deepEqual(token.scopes, ['openid', 'meeting:read']);
    assert.deepEqual(token.audience, [AUDIENCE]);
    assert.equal(token.expiresAt, future);
    assert.equal(token.format, 'opaque');
    // An audience list that contains ours is fine too.
    assert.equal(
      (await verifierFor({ ...active, aud: ['https://other', AUDIENCE] }).verifyToken(opaque)).subject,
      'user-1',
    );
  });

  it('inactive, another issuer, another audience, a refresh token, or expired → 401 invalid_token', async () => {
    const cases: [string, IntrospectionResponse, string?][] = [
      ['inactive', { active: false }, 'The access token is not active'],
      ['another issuer', { ...active, iss: 'https://evil.example' }],
      ['another audience', { ...active, aud: 'https://other.example' }],
      ['no audience', { ...active, aud: undefined }],
      ['a refresh token', { ...active, token_type: 'refresh_token' }],
      ['expired', { ...active, exp: Math.floor(Date.now() / 1000) - 1 }, 'The access token expired'],
    ];
    for (const [what, answer, description] of cases) {
      const error = await refusal(verifierFor(answer));
      assert.equal(error.code, 'invalid_token', what);
      if (description) assert.equal(error.description, description, what);
    }
  });

  it('the introspection failing → 503 temporarily_unavailable (fail closed), never the token, never 401', async () => {
    const error = await refusal(verifierFor(new Error('ECONNREFUSED')));
    assert.equal(error.code, 'temporarily_unavailable');
    assert.equal(error.status, 503);
    assert.equal(error.description, 'The access token could not be checked right now');
    assert.deepEqual(error.headers(), { 'retry-after': '5' });
  });

  it('without a JWKS or introspection, nothing is accepted', async () => {
    const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE });
    assert.equal((await refusal(verifier)).code, 'invalid_token');
    assert.equal((await refusal(verifier, 'aaaa.bbbb.cccc')).code, 'invalid_token');
    assert.equal((await refusal(verifier, 'not a token')).code, 'invalid_token');
  });
});

describe('createVerifier: the JWKS cannot be fetched → 503, never 401', () => {
  it('a JWKS answering 500, or nothing listening → temporarily_unavailable with Retry-After', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT({ client_id: 'c1' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
      .setIssuer('https://as.example')
      .setAudience('https://api.example')
      .setSubject('u1')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(privateKey);
    const failing = createServer((_request, response) => response.writeHead(500).end('down'));
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    const port = (failing.address() as { port: number }).port;
    try {
      const down = createVerifier({
        issuer: 'https://as.example',
        audience: 'https://api.example',
        jwks: `http://127.0.0.1:${port}/jwks`,
      });
      const error = await down.verifyToken(token).then(
        () => assert.fail('accepted'),
        (e: unknown) => e as BearerError,
      );
      assert.equal(error.code, 'temporarily_unavailable', error.description);
      assert.equal(error.status, 503);
      assert.deepEqual(error.headers(), { 'retry-after': '5' });
    } finally {
      await new Promise((resolve) => failing.close(resolve));
    }
    // The port is closed now: a connection refused is an outage too.
    const refused = createVerifier({
      issuer: 'https://as.example',
      audience: 'https://api.example',
      jwks: `http://127.0.0.1:${port}/jwks`,
    });
    const error = await refused.verifyToken(token).then(
      () => assert.fail('accepted'),
      (e: unknown) => e as BearerError,
    );
    assert.equal(error.code, 'temporarily_unavailable', error.description);
  });
});

describe('createVerifier: the verified-JWT cache', () => {
  const ISSUER = 'https://as.example';
  const AUDIENCE = 'https://api.example';

  async function setup(options: { jwtCacheSeconds?: number } = {}) {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    let clock = Date.UTC(2026, 10, 22, 12);
    let keyLookups = 0;
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      now: () => clock,
      // Counting key lookups counts signature checks: jose asks for the key once per verification.
      jwks: async () => {
        keyLookups++;
        return publicKey;
      },
      ...options,
    });
    const sign = (lifetimeSeconds: number) =>
      new SignJWT({ client_id: 'c1', scope: 'read write' })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject('u1')
        .setIssuedAt(Math.floor(clock / 1000))
        .setExpirationTime(Math.floor(clock / 1000) + lifetimeSeconds)
        .sign(privateKey);
    return {
      verifier,
      sign,
      lookups: () => keyLookups,
      advance: (ms: number) => {
        clock += ms;
      },
    };
  }

  it('a token seen again within 30 s is not verified again, and each caller gets its own copy', async () => {
    const t = await setup();
    const token = await t.sign(600);
    const first = await t.verifier.verifyToken(token);
    first.scopes.push('admin');
    const second = await t.verifier.verifyToken(token);
    assert.equal(t.lookups(), 1);
    assert.deepEqual(second.scopes, ['read', 'write']);
    t.advance(31_000);
    await t.verifier.verifyToken(token);
    assert.equal(t.lookups(), 2, 'verified again once the cache entry aged out');
  });

  it('never serves a token past its exp (plus the tolerance), even inside the cache window', async () => {
    const t = await setup();
    const token = await t.sign(10);
    await t.verifier.verifyToken(token);
    t.advance(16_000);
    await assert.rejects(t.verifier.verifyToken(token), /expired/);
  });

  it('jwtCacheSeconds: 0 verifies every time; a bad token is never cached', async () => {
    const t = await setup({ jwtCacheSeconds: 0 });
    const token = await t.sign(600);
    await t.verifier.verifyToken(token);
    await t.verifier.verifyToken(token);
    assert.equal(t.lookups(), 2);
    const cached = await setup();
    const forged = `${(await cached.sign(600)).slice(0, -4)}AAAA`;
    await assert.rejects(cached.verifier.verifyToken(forged));
    await assert.rejects(cached.verifier.verifyToken(forged));
    assert.equal(cached.lookups(), 2);
  });
});
