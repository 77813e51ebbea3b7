// The client_credentials grant over HTTP (app.inject): RFC 6749 §4.4, RFC 9068 §2.2 (sub is the client),
// RFC 8707 resource indicators (docs/security.md I-07: the JWT audience is the resource), D-12 (no client
// authentication) and the grant-type check shared by every grant.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import {
  isWellFormedOpaqueToken,
  TOKEN_PREFIX,
  timeOrderedTokenKey,
} from '../../../src/oauth/opaque-token.ts';
import type { Client } from '../../../src/storage/storage.ts';
import { basicAuth } from '../../helpers/flow.ts';
import { buildTestServer, ISSUER, type TestServer } from '../../helpers/server.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const OPAQUE_API = 'https://api.example/v1';
const JWT_API = 'https://api.example/v2';
const OTHER_API = 'https://api.example/other';
const RESOURCES = JSON.stringify([
  { uri: OPAQUE_API, format: 'opaque' },
  { uri: JWT_API, format: 'jwt' },
  { uri: OTHER_API, format: 'jwt' },
]);
const MACHINE_SCOPE = 'api:read api:write';

let server: TestServer;
let jwks: ReturnType<typeof createLocalJWKSet>;

before(async () => {
  server = await buildTestServer({ GATEHOUSE_RESOURCES: RESOURCES });
  const response = await server.app.inject({ method: 'GET', url: '/jwks' });
  jwks = createLocalJWKSet(response.json() as JSONWebKeySet);
});

after(async () => {
  await server.close();
});

interface Machine {
  client: Client;
  secret: string;
}

async function machine(input: Parameters<TestServer['addClient']>[0] = {}): Promise<Machine> {
  const { client, secret } = await server.addClient({
    name: 'Batch job',
    redirectUris: [],
    grantTypes: ['client_credentials'],
    scope: `${MACHINE_SCOPE} openid profile email offline_access`,
    allowedResources: [OPAQUE_API, JWT_API],
    ...input,
  });
  assert.ok(secret);
  return { client, secret };
}

function token(form: Record<string, string | string[]>, headers: Record<string, string> = {}) {
  const body = new URLSearchParams();
  for (const [key, value] of Object.entries(form)) {
    for (const item of Array.isArray(value) ? value : [value]) body.append(key, item);
  }
  return server.app.inject({
    method: 'POST',
    url: '/token',
    payload: body.toString(),
    headers: { ...FORM, ...headers },
  });
}

function clientCredentials(m: Machine, extra: Record<string, string | string[]> = {}) {
  return token(
    { grant_type: 'client_credentials', ...extra },
    { authorization: basicAuth(m.client.id, m.secret) },
  );
}

interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
}

function assertTokens(response: LightMyRequestResponse): TokenBody {
  assert.equal(response.statusCode, 200, response.body);
  assert.equal(response.headers['cache-control'], 'no-store');
  const body = response.json() as TokenBody;
  assert.equal(typeof body.access_token, 'string');
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.refresh_token, undefined, 'client_credentials issues no refresh token');
  assert.equal(body.id_token, undefined, 'client_credentials issues no ID token');
  return body;
}

function assertError(response: LightMyRequestResponse, status: number, error: string) {
  assert.equal(response.statusCode, status, response.body);
  const body = response.json();
  assert.equal(body.error, error, response.body);
  assert.equal(body.access_token, undefined);
  assert.equal(response.headers['cache-control'], 'no-store');
}

async function verify(accessToken: string, audience = ISSUER) {
  return jwtVerify(accessToken, jwks, {
    issuer: ISSUER,
    audience,
    typ: 'at+jwt',
    currentDate: new Date(server.clock.now()),
  });
}

describe('client_credentials: the token', () => {
  it('a confidential machine client gets an access token, no refresh token, no ID token', async () => {
    const m = await machine();
    const body = assertTokens(await clientCredentials(m));
    assert.equal(body.expires_in, 600);
    assert.equal(decodeProtectedHeader(body.access_token).typ, 'at+jwt');
    const { payload } = await verify(body.access_token);
    assert.equal(payload.sub, m.client.id, 'RFC 9068 §2.2: sub is the client');
    assert.equal(payload.client_id, m.client.id);
    assert.equal(payload.aud, ISSUER);
    assert.equal(payload.auth_time, undefined);
    assert.equal(typeof payload.jti, 'string');
    // The token has a live record without a user.
    const record = await server.deps.storage.accessTokens.findActive(payload.jti!, server.clock.now());
    assert.ok(record);
    assert.equal(record.userId, null);
    assert.equal(record.clientId, m.client.id);
  });

  it('the default scope is the client’s scopes minus the ones about a person', async () => {
    const m = await machine();
    const body = assertTokens(await clientCredentials(m));
    assert.equal(body.scope, MACHINE_SCOPE);
    assert.equal((await verify(body.access_token)).payload.scope, MACHINE_SCOPE);
  });

  it('the scope can be narrowed', async () => {
    const m = await machine();
    const body = assertTokens(await clientCredentials(m, { scope: 'api:read' }));
    assert.equal(body.scope, 'api:read');
    assert.equal((await verify(body.access_token)).payload.scope, 'api:read');
  });

  it('a wider scope, or a scope about a person → 400 invalid_scope', async () => {
    const m = await machine();
    for (const scope of ['api:read api:admin', 'api:admin', 'openid', 'offline_access', 'api:read profile']) {
      assertError(await clientCredentials(m, { scope }), 400, 'invalid_scope');
    }
  });

  it('a client with only user scopes cannot ask for them', async () => {
    const m = await machine({ scope: 'openid profile' });
    assertError(await clientCredentials(m, { scope: 'openid' }), 400, 'invalid_scope');
    assertError(await clientCredentials(m, { scope: 'openid profile' }), 400, 'invalid_scope');
  });

  it('each request mints a new, distinct token', async () => {
    const m = await machine();
    const a = assertTokens(await clientCredentials(m));
    const b = assertTokens(await clientCredentials(m));
    assert.notEqual(a.access_token, b.access_token);
  });

  it('all of a client’s tokens share one grant: no row per token, and revoking one token leaves the others', async () => {
    const m = await machine();
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++)
      tokens.push(assertTokens(await clientCredentials(m, { resource: OPAQUE_API })).access_token);
    const records = await Promise.all(
      tokens.map((t) =>
        server.deps.storage.accessTokens.findActive(timeOrderedTokenKey(t), server.clock.now()),
      ),
    );
    const grantIds = new Set(records.map((record) => record?.grantId));
    assert.equal(grantIds.size, 1);
    const grant = await server.deps.storage.grants.find([...grantIds][0]!);
    assert.equal(grant?.clientId, m.client.id);
    assert.equal(grant?.userId, null);
    const revoked = await server.app.inject({
      method: 'POST',
      url: '/revoke',
      headers: { ...FORM, authorization: basicAuth(m.client.id, m.secret) },
      payload: `token=${encodeURIComponent(tokens[0]!)}`,
    });
    assert.equal(revoked.statusCode, 200, revoked.body);
    assert.equal(
      await server.deps.storage.accessTokens.findActive(timeOrderedTokenKey(tokens[0]!), server.clock.now()),
      undefined,
    );
    for (const t of tokens.slice(1))
      assert.ok(
        await server.deps.storage.accessTokens.findActive(timeOrderedTokenKey(t), server.clock.now()),
      );
  });

  it('client_secret_post works for a client registered for it', async () => {
    const m = await machine({ tokenEndpointAuthMethod: 'client_secret_post' });
    const body = assertTokens(
      await token({ grant_type: 'client_credentials', client_id: m.client.id, client_secret: m.secret }),
    );
    assert.equal((await verify(body.access_token)).payload.sub, m.client.id);
  });
});

describe('client_credentials: who may use it (D-12)', () => {
  it('a client not registered for client_credentials → 400 unauthorized_client', async () => {
    const { client, secret } = await server.addClient(); // authorization_code + refresh_token
    assert.ok(secret);
    assertError(
      await token({ grant_type: 'client_credentials' }, { authorization: basicAuth(client.id, secret) }),
      400,
      'unauthorized_client',
    );
  });

  it('D-12: client_id only → 401 invalid_client', async () => {
    const m = await machine();
    assertError(
      await token({ grant_type: 'client_credentials', client_id: m.client.id }),
      401,
      'invalid_client',
    );
  });

  it('D-12: no client authentication at all → 401 invalid_client', async () => {
    assertError(await token({ grant_type: 'client_credentials' }), 401, 'invalid_client');
  });

  it('a wrong secret → 401 invalid_client with a Basic challenge', async () => {
    const m = await machine();
    const response = await clientCredentials({ ...m, secret: `${m.secret}x` });
    assertError(response, 401, 'invalid_client');
    assert.match(String(response.headers['www-authenticate']), /^Basic /);
  });
});

describe('client_credentials: resource indicators (RFC 8707, I-07)', () => {
  it('a resource configured as opaque → an opaque gha_ token recorded for that audience', async () => {
    const m = await machine();
    const body = assertTokens(await clientCredentials(m, { resource: OPAQUE_API }));
    assert.ok(body.access_token.startsWith(TOKEN_PREFIX.accessToken), body.access_token);
    assert.ok(isWellFormedOpaqueToken(body.access_token, TOKEN_PREFIX.accessToken));
    const record = await server.deps.storage.accessTokens.findActive(
      timeOrderedTokenKey(body.access_token),
      server.clock.now(),
    );
    assert.ok(record, 'the opaque token has a live record');
    assert.equal(record.audience, OPAQUE_API);
    assert.equal(record.clientId, m.client.id);
    assert.equal(record.scope, MACHINE_SCOPE);
  });

  it('I-07: a resource configured as jwt → a JWT whose audience is the resource', async () => {
    const m = await machine();
    const body = assertTokens(await clientCredentials(m, { resource: JWT_API }));
    const { payload } = await verify(body.access_token, JWT_API);
    assert.equal(payload.aud, JWT_API);
    assert.equal(payload.sub, m.client.id);
    await assert.rejects(verify(body.access_token, ISSUER), 'the token is not for the issuer');
  });

  it('the issuer itself as resource → the default audience', async () => {
    const m = await machine();
    const body = assertTokens(await clientCredentials(m, { resource: ISSUER }));
    assert.equal((await verify(body.access_token)).payload.aud, ISSUER);
  });

  it('the same resource twice counts as one', async () => {
    const m = await machine();
    const body = assertTokens(await clientCredentials(m, { resource: [JWT_API, JWT_API] }));
    assert.equal((await verify(body.access_token, JWT_API)).payload.aud, JWT_API);
  });

  it('a configured resource the client is not allowed → 400 invalid_target', async () => {
    const m = await machine();
    assertError(await clientCredentials(m, { resource: OTHER_API }), 400, 'invalid_target');
    const limited = await machine({ allowedResources: [JWT_API] });
    assertError(await clientCredentials(limited, { resource: OPAQUE_API }), 400, 'invalid_target');
  });

  it('a resource the client lists but the server does not know → 400 invalid_target', async () => {
    const m = await machine({ allowedResources: ['https://unknown.example/api'] });
    assertError(
      await clientCredentials(m, { resource: 'https://unknown.example/api' }),
      400,
      'invalid_target',
    );
  });

  it('a relative or fragment-carrying resource → 400 invalid_target, never 500', async () => {
    const m = await machine();
    for (const resource of ['/v1', `${JWT_API}#frag`, 'not a uri', `${JWT_API}/`]) {
      assertError(await clientCredentials(m, { resource }), 400, 'invalid_target');
    }
  });

  it('two different resources → 400 invalid_target', async () => {
    const m = await machine();
    assertError(await clientCredentials(m, { resource: [OPAQUE_API, JWT_API] }), 400, 'invalid_target');
  });
});
