// Token introspection (RFC 7662) over HTTP: docs/security.md I-03 (authentication, the exact inactive answer, the
// active answer's fields and nothing internal), with the introspection side of I-05/I-07 (a token's audience
// is its resource) and API keys. Both access token formats are exercised: JWT (the default) and opaque
// (GATEHOUSE_ACCESS_TOKEN_FORMAT=opaque) on a second server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { decodeJwt, SignJWT } from 'jose';
import { createApiKey } from '../../src/accounts/api-keys.ts';
import {
  mintOpaqueAccessToken,
  mintOpaqueToken,
  mintTimeOrderedToken,
  TOKEN_PREFIX,
} from '../../src/oauth/opaque-token.ts';
import type { Client, User } from '../../src/storage/storage.ts';
import { basicAuth, exchangeCode, runAuthorizationFlow } from '../helpers/flow.ts';
import { buildTestServer, ISSUER, type TestServer } from '../helpers/server.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const INACTIVE = '{"active":false}';
const INTERNAL_FIELDS = ['recordId', 'grantId', 'userId', 'kind'];
const API_A = 'https://api.a.example';

type TestUser = User & { email: string; password: string };
interface Tokens {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  scope: string;
  expires_in: number;
}
interface Credentials {
  client: Client;
  secret: string;
}

function post(
  server: TestServer,
  url: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return server.app.inject({
    method: 'POST',
    url,
    payload: new URLSearchParams(form).toString(),
    headers: { ...FORM, ...headers },
  });
}

function introspect(server: TestServer, as: Credentials, token: string, extra: Record<string, string> = {}) {
  return post(
    server,
    '/introspect',
    { token, ...extra },
    { authorization: basicAuth(as.client.id, as.secret) },
  );
}

function assertInactive(response: LightMyRequestResponse, what: string) {
  assert.equal(response.statusCode, 200, `${what}: ${response.body}`);
  assert.equal(response.body, INACTIVE, `${what}: exactly {"active":false}`);
  assert.equal(response.headers['cache-control'], 'no-store', what);
  assert.match(String(response.headers['content-type']), /^application\/json\b/, what);
}

function assertActive(response: LightMyRequestResponse): Record<string, unknown> {
  assert.equal(response.statusCode, 200, response.body);
  assert.equal(response.headers['cache-control'], 'no-store');
  const body = response.json() as Record<string, unknown>;
  assert.equal(body.active, true, response.body);
  for (const field of INTERNAL_FIELDS) assert.ok(!(field in body), `internal field ${field} leaked`);
  return body;
}

async function confidential(server: TestServer, input: Parameters<TestServer['addClient']>[0] = {}) {
  const { client, secret } = await server.addClient(input);
  assert.ok(secret);
  return { client, secret };
}

/**
 * A resource server: a confidential client that introspects (and may use client_credentials), marked by the
 * operator as one (RFC 7662 §4), so that it may ask about other clients' tokens.
 */
function resourceServer(server: TestServer) {
  return confidential(server, {
    name: 'Resource Server',
    grantTypes: ['client_credentials'],
    redirectUris: [],
    scope: 'reports:read',
    resourceServer: true,
  });
}

async function userTokens(server: TestServer, app: Credentials, user: TestUser): Promise<Tokens> {
  const flow = await runAuthorizationFlow(server, app.client, user);
  const response = await exchangeCode(server, app.client, app.secret, flow);
  assert.equal(response.statusCode, 200, response.body);
  return response.json() as Tokens;
}

async function clientCredentialsToken(
  server: TestServer,
  app: Credentials,
  form: Record<string, string> = {},
) {
  const response = await post(
    server,
    '/token',
    { grant_type: 'client_credentials', ...form },
    { authorization: basicAuth(app.client.id, app.secret) },
  );
  assert.equal(response.statusCode, 200, response.body);
  return response.json() as Tokens;
}

function revoke(server: TestServer, app: Credentials, token: string) {
  return post(server, '/revoke', { token }, { authorization: basicAuth(app.client.id, app.secret) });
}

describe('introspection (I-03): JWT access tokens', () => {
  let server: TestServer;
  let rs: Credentials;
  let app: Credentials;
  let user: TestUser;

  before(async () => {
    server = await buildTestServer({
      GATEHOUSE_RESOURCES: JSON.stringify([{ uri: API_A, format: 'opaque', scopes: ['reports:read'] }]),
    });
    rs = await resourceServer(server);
    app = await confidential(server);
    user = await server.addUser();
  });
  after(() => server.close());

  describe('client authentication', () => {
    it('no client authentication → 401 invalid_client, and nothing about the token', async () => {
      const { access_token } = await userTokens(server, app, user);
      const response = await post(server, '/introspect', { token: access_token });
      assert.equal(response.statusCode, 401, response.body);
      assert.equal(response.json().error, 'invalid_client');
      assert.equal(response.json().active, undefined);
      assert.equal(response.headers['cache-control'], 'no-store');
    });

    it('a wrong secret, or a confidential client naming itself without a secret → 401 invalid_client', async () => {
      const { access_token } = await userTokens(server, app, user);
      const wrong = await post(
        server,
        '/introspect',
        { token: access_token },
        { authorization: basicAuth(rs.client.id, `${rs.secret}x`) },
      );
      assert.equal(wrong.statusCode, 401, wrong.body);
      assert.equal(wrong.json().error, 'invalid_client');
      const idOnly = await post(server, '/introspect', { token: access_token, client_id: rs.client.id });
      assert.equal(idOnly.statusCode, 401, idOnly.body);
      assert.equal(idOnly.json().error, 'invalid_client');
    });

    it('a public client (client_id only) → 401 invalid_client, even for its own token', async () => {
      const { client } = await server.addClient({
        tokenEndpointAuthMethod: 'none',
        applicationType: 'native',
        redirectUris: ['http://127.0.0.1/cb'],
      });
      const flow = await runAuthorizationFlow(server, client, user);
      const tokens = await exchangeCode(server, client, undefined, flow);
      assert.equal(tokens.statusCode, 200, tokens.body);
      const response = await post(server, '/introspect', {
        token: tokens.json().access_token,
        client_id: client.id,
      });
      assert.equal(response.statusCode, 401, response.body);
      assert.equal(response.json().error, 'invalid_client');
      assert.equal(response.json().active, undefined);
    });

    it('client_secret_post works as well as client_secret_basic', async () => {
      const postClient = await confidential(server, {
        tokenEndpointAuthMethod: 'client_secret_post',
        resourceServer: true,
      });
      const { access_token } = await userTokens(server, app, user);
      const response = await post(server, '/introspect', {
        token: access_token,
        client_id: postClient.client.id,
        client_secret: postClient.secret,
      });
      assertActive(response);
    });

    it('a request without a token → 400 invalid_request', async () => {
      const response = await post(
        server,
        '/introspect',
        {},
        { authorization: basicAuth(rs.client.id, rs.secret) },
      );
      assert.equal(response.statusCode, 400, response.body);
      assert.equal(response.json().error, 'invalid_request');
    });
  });

  describe('anything not active is exactly {"active":false}', () => {
    it('unknown tokens of every shape and garbage', async () => {
      const otherKey = await new SignJWT({ client_id: app.client.id, scope: 'openid' })
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
        .setIssuer(ISSUER)
        .setSubject(user.id)
        .setAudience(ISSUER)
        .setJti('x')
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(new TextEncoder().encode('a-secret-that-is-not-a-key-of-the-server'));
      const samples: [string, string][] = [
        ['unknown opaque access token', mintOpaqueAccessToken(Date.now())],
        ['unknown refresh token', mintOpaqueToken(TOKEN_PREFIX.refreshToken)],
        ['unknown API key', mintOpaqueToken(TOKEN_PREFIX.apiKey)],
        [
          'an authorization code-shaped value',
          mintTimeOrderedToken(TOKEN_PREFIX.authorizationCode, Date.now()),
        ],
        ['a client secret-shaped value', mintOpaqueToken(TOKEN_PREFIX.clientSecret)],
        ['garbage', 'not-a-token'],
        ['JWT-shaped garbage', 'aaaa.bbbb.cccc'],
        ['a JWT not signed by the server', otherKey],
        ['a very long value', 'a'.repeat(9000)],
      ];
      for (const [what, token] of samples) assertInactive(await introspect(server, rs, token), what);
    });

    it('an expired access token (the clock moved past its 600 s lifetime)', async () => {
      const { access_token } = await userTokens(server, app, user);
      assertActive(await introspect(server, rs, access_token));
      server.clock.advance(599_000);
      assertActive(await introspect(server, rs, access_token));
      server.clock.advance(1_000);
      assertInactive(await introspect(server, rs, access_token), 'expired access token');
    });

    it('a revoked access token and, after its family was revoked, the refresh token', async () => {
      const { access_token, refresh_token } = await userTokens(server, app, user);
      assert.ok(refresh_token);
      assertActive(await introspect(server, rs, access_token));
      assertActive(await introspect(server, app, refresh_token));
      assert.equal((await revoke(server, app, refresh_token)).statusCode, 200);
      assertInactive(await introspect(server, rs, access_token), 'access token of a revoked family');
      assertInactive(await introspect(server, app, refresh_token), 'revoked refresh token');
    });

    it('the ID token (a JWT of the wrong type, signed by the server) is not an access token', async () => {
      const { id_token } = await userTokens(server, app, user);
      assert.ok(id_token);
      assertInactive(await introspect(server, rs, id_token), 'ID token');
    });

    it("another client's refresh token is inactive for the asking client", async () => {
      const { refresh_token } = await userTokens(server, app, user);
      assert.ok(refresh_token);
      assertInactive(await introspect(server, rs, refresh_token), "another client's refresh token");
      // The holder still sees it active: the other client's question changed nothing.
      assertActive(await introspect(server, app, refresh_token));
    });

    it('a rotated (used) refresh token is inactive', async () => {
      const { refresh_token } = await userTokens(server, app, user);
      assert.ok(refresh_token);
      const refreshed = await post(
        server,
        '/token',
        { grant_type: 'refresh_token', refresh_token },
        { authorization: basicAuth(app.client.id, app.secret) },
      );
      assert.equal(refreshed.statusCode, 200, refreshed.body);
      assertInactive(await introspect(server, app, refresh_token), 'rotated refresh token');
      assertActive(await introspect(server, app, refreshed.json().refresh_token));
    });
  });

  describe('active tokens', () => {
    it('a JWT access token → active with exactly the RFC 7662 fields, none internal, no-store', async () => {
      const { access_token, scope } = await userTokens(server, app, user);
      const claims = decodeJwt(access_token);
      const response = await introspect(server, rs, access_token);
      const body = assertActive(response);
      assert.deepEqual(body, {
        active: true,
        scope,
        client_id: app.client.id,
        sub: user.id,
        aud: ISSUER,
        iss: ISSUER,
        exp: claims.exp,
        iat: claims.iat,
        token_type: 'Bearer',
      });
      assert.equal(body.exp, (body.iat as number) + 600);
      assert.equal(response.headers.pragma, 'no-cache');
    });

    it('token_type_hint does not change the answer (it is only a hint)', async () => {
      const { access_token } = await userTokens(server, app, user);
      const hinted = assertActive(
        await introspect(server, rs, access_token, { token_type_hint: 'refresh_token' }),
      );
      assert.equal(hinted.token_type, 'Bearer');
    });

    it('a client_credentials token: sub is the client id', async () => {
      const { access_token } = await clientCredentialsToken(server, rs);
      const body = assertActive(await introspect(server, rs, access_token));
      assert.equal(body.sub, rs.client.id);
      assert.equal(body.client_id, rs.client.id);
      assert.equal(body.scope, 'reports:read');
      assert.equal(body.token_type, 'Bearer');
      assert.equal(body.aud, ISSUER);
    });

    it('a refresh token introspected by its own client → active, token_type refresh_token', async () => {
      const { refresh_token, scope } = await userTokens(server, app, user);
      assert.ok(refresh_token);
      const body = assertActive(await introspect(server, app, refresh_token));
      assert.equal(body.token_type, 'refresh_token');
      assert.equal(body.client_id, app.client.id);
      assert.equal(body.sub, user.id);
      assert.equal(body.scope, scope);
      assert.equal(body.iss, ISSUER);
      assert.equal(typeof body.exp, 'number');
      assert.equal(typeof body.iat, 'number');
      assert.ok((body.exp as number) > (body.iat as number));
    });

    it('an API key → active, Bearer, for its user, with its scope; revoked or expired → inactive', async () => {
      const storage = server.deps.storage;
      const { key, record } = await createApiKey(
        storage,
        { userId: user.id, name: 'CI', scope: 'reports:read openid' },
        server.clock.now(),
        ['openid', 'reports:read'],
      );
      const body = assertActive(await introspect(server, rs, key));
      assert.equal(body.token_type, 'Bearer');
      assert.equal(body.sub, user.id);
      assert.equal(body.scope, 'reports:read openid');
      assert.equal(body.iss, ISSUER);
      assert.equal(body.aud, ISSUER);
      assert.equal(typeof body.client_id, 'string');
      assert.equal('exp' in body, false, 'a key without an end has no exp');

      assert.equal(await storage.apiKeys.revoke(record.id, server.clock.now()), true);
      assertInactive(await introspect(server, rs, key), 'revoked API key');

      const expiring = await createApiKey(
        storage,
        { userId: user.id, name: 'Short', scope: 'reports:read', expiresInDays: 1 },
        server.clock.now(),
        ['openid', 'reports:read'],
      );
      const active = assertActive(await introspect(server, rs, expiring.key));
      assert.equal(active.exp, Math.floor((server.clock.now() + 86_400_000) / 1000));
      server.clock.advance(86_400_000);
      assertInactive(await introspect(server, rs, expiring.key), 'expired API key');
    });

    it('I-07: a token for resource https://api.a (opaque) → introspection aud is that resource', async () => {
      const resourceApp = await confidential(server, {
        grantTypes: ['client_credentials'],
        redirectUris: [],
        scope: 'reports:read',
        allowedResources: [API_A],
      });
      const { access_token } = await clientCredentialsToken(server, resourceApp, { resource: API_A });
      assert.ok(access_token.startsWith(TOKEN_PREFIX.accessToken), 'the resource is configured opaque');
      const body = assertActive(await introspect(server, rs, access_token));
      assert.equal(body.aud, API_A);
      assert.equal(body.client_id, resourceApp.client.id);

      // A client not allowed that resource is refused (invalid_target), and gets no token.
      const refused = await post(
        server,
        '/token',
        { grant_type: 'client_credentials', resource: API_A },
        { authorization: basicAuth(rs.client.id, rs.secret) },
      );
      assert.equal(refused.statusCode, 400, refused.body);
      assert.equal(refused.json().error, 'invalid_target');
    });
  });
});

describe("introspection rights (RFC 7662 §4): the token's own client, or a client marked as a resource server", () => {
  for (const format of ['jwt', 'opaque'] as const) {
    it(`${format} access tokens: another client's token → exactly {"active":false}; its own → active; a resource server → active`, async () => {
      const server = await buildTestServer({ GATEHOUSE_ACCESS_TOKEN_FORMAT: format });
      try {
        const owner = await confidential(server, { name: 'Owner' });
        // A confidential client the operator did not mark (as an anonymous registration would be).
        const stranger = await confidential(server, { name: 'Stranger' });
        const rs = await resourceServer(server);
        const user = await server.addUser();
        const { access_token } = await userTokens(server, owner, user);
        const machine = await clientCredentialsToken(server, rs);

        assertInactive(
          await introspect(server, stranger, access_token),
          "a stranger asking about another's token",
        );
        assertInactive(
          await introspect(server, stranger, machine.access_token),
          "a stranger asking about an RS's token",
        );
        const own = assertActive(await introspect(server, owner, access_token));
        assert.equal(own.client_id, owner.client.id);
        assert.equal(own.sub, user.id);
        const asked = assertActive(await introspect(server, rs, access_token));
        assert.equal(asked.client_id, owner.client.id);
        // The stranger's questions changed nothing.
        assertActive(await introspect(server, owner, access_token));
      } finally {
        await server.close();
      }
    });
  }

  it('an API key belongs to no client: only a resource server learns about it', async () => {
    const server = await buildTestServer();
    try {
      const stranger = await confidential(server, { name: 'Stranger' });
      const rs = await resourceServer(server);
      const user = await server.addUser();
      const { key } = await createApiKey(
        server.deps.storage,
        { userId: user.id, name: 'CI', scope: 'openid' },
        server.clock.now(),
        ['openid'],
      );
      assertInactive(await introspect(server, stranger, key), 'API key asked by an unmarked client');
      assertActive(await introspect(server, rs, key));
    } finally {
      await server.close();
    }
  });

  it('marking takes effect at the next request, and unmarking too (the client cache follows the update)', async () => {
    const server = await buildTestServer();
    try {
      const owner = await confidential(server, { name: 'Owner' });
      const api = await confidential(server, { name: 'API' });
      const user = await server.addUser();
      const { access_token } = await userTokens(server, owner, user);
      assertInactive(await introspect(server, api, access_token), 'before marking');
      const storage = server.deps.storage;
      await storage.clients.update({ ...(await storage.clients.find(api.client.id))!, resourceServer: true });
      assertActive(await introspect(server, api, access_token));
      await storage.clients.update({
        ...(await storage.clients.find(api.client.id))!,
        resourceServer: false,
      });
      assertInactive(await introspect(server, api, access_token), 'after unmarking');
    } finally {
      await server.close();
    }
  });
});

describe('introspection (I-03): opaque access tokens (GATEHOUSE_ACCESS_TOKEN_FORMAT=opaque)', () => {
  let server: TestServer;
  let rs: Credentials;
  let app: Credentials;
  let user: TestUser;

  before(async () => {
    server = await buildTestServer({ GATEHOUSE_ACCESS_TOKEN_FORMAT: 'opaque' });
    rs = await resourceServer(server);
    app = await confidential(server);
    user = await server.addUser();
  });
  after(() => server.close());

  it('an opaque access token → active with the RFC 7662 fields, none internal', async () => {
    const { access_token, scope, expires_in } = await userTokens(server, app, user);
    assert.ok(access_token.startsWith(TOKEN_PREFIX.accessToken), access_token);
    const body = assertActive(await introspect(server, rs, access_token));
    const iat = Math.floor(server.clock.now() / 1000);
    assert.deepEqual(body, {
      active: true,
      scope,
      client_id: app.client.id,
      sub: user.id,
      aud: ISSUER,
      iss: ISSUER,
      exp: iat + expires_in,
      iat,
      token_type: 'Bearer',
    });
  });

  it('an opaque client_credentials token: sub is the client id', async () => {
    const { access_token } = await clientCredentialsToken(server, rs);
    assert.ok(access_token.startsWith(TOKEN_PREFIX.accessToken));
    const body = assertActive(await introspect(server, rs, access_token));
    assert.equal(body.sub, rs.client.id);
    assert.equal(body.client_id, rs.client.id);
  });

  it("a disabled user's access token → inactive at once (and active again once the user is enabled)", async () => {
    const person = await server.addUser();
    const { access_token } = await userTokens(server, app, person);
    assertActive(await introspect(server, rs, access_token));
    const stored = await server.deps.storage.users.findById(person.id);
    assert.ok(stored);
    await server.deps.storage.users.update({ ...stored, disabledAt: server.clock.now() });
    assertInactive(await introspect(server, rs, access_token), 'user disabled');
    await server.deps.storage.users.update({ ...stored, disabledAt: null });
    assertActive(await introspect(server, rs, access_token));
  });

  it('expired, revoked, unknown and mangled opaque tokens → exactly {"active":false}', async () => {
    const first = await userTokens(server, app, user);
    const second = await userTokens(server, app, user);
    assertActive(await introspect(server, rs, first.access_token));
    assertActive(await introspect(server, rs, second.access_token));

    assert.equal((await revoke(server, app, second.access_token)).statusCode, 200);
    assertInactive(await introspect(server, rs, second.access_token), 'revoked opaque token');

    const mangled = `${first.access_token.slice(0, -1)}${first.access_token.endsWith('A') ? 'B' : 'A'}`;
    assertInactive(await introspect(server, rs, mangled), 'checksum broken');
    assertInactive(await introspect(server, rs, mintOpaqueAccessToken(Date.now())), 'unknown');

    server.clock.advance(600_000);
    assertInactive(await introspect(server, rs, first.access_token), 'expired opaque token');
  });
});
