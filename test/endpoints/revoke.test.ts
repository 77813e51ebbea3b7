// Token revocation (RFC 7009) over HTTP: docs/security.md I-01 (who may revoke what, and what dies with it), I-02
// and the /revoke and /introspect parts of R4 (a failed revocation is never reported as success; with the
// database unreachable both answer 503, never 200 or active:true), and R9 (a revocation on one node is seen
// by the next introspection on another node sharing the database, with no staleness).
//
// The main server runs on a SQLite file so that a second "node" can share it. The outage runs on a private
// PostgreSQL cluster this file starts and stops (or, with DATABASE_URL_TEST, on a fresh database it bars).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import {
  mintOpaqueAccessToken,
  mintOpaqueToken,
  mintTimeOrderedToken,
  TOKEN_PREFIX,
} from '../../src/oauth/opaque-token.ts';
import type { Client, User } from '../../src/storage/storage.ts';
import { basicAuth, exchangeCode, runAuthorizationFlow } from '../helpers/flow.ts';
import { freshDatabase, postgresOrSkipReason, startPostgres } from '../helpers/postgres.ts';
import { buildTestServer, ISSUER, type TestServer } from '../helpers/server.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

type TestUser = User & { email: string; password: string };
interface Tokens {
  access_token: string;
  refresh_token: string;
  scope: string;
}
/** A client and how it authenticates: confidential clients by secret (Basic), public ones by client_id. */
interface App {
  client: Client;
  secret: string | undefined;
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

/** A request authenticated as `app`: Basic for a confidential client, client_id in the body for a public one. */
function as(server: TestServer, app: App, url: string, form: Record<string, string>) {
  return app.secret === undefined
    ? post(server, url, { ...form, client_id: app.client.id })
    : post(server, url, form, { authorization: basicAuth(app.client.id, app.secret) });
}

const revoke = (server: TestServer, app: App, token: string, hint?: string) =>
  as(server, app, '/revoke', hint ? { token, token_type_hint: hint } : { token });

const refresh = (server: TestServer, app: App, refreshToken: string) =>
  as(server, app, '/token', { grant_type: 'refresh_token', refresh_token: refreshToken });

const userinfo = (server: TestServer, accessToken: string) =>
  server.app.inject({ method: 'GET', url: '/userinfo', headers: { authorization: `Bearer ${accessToken}` } });

async function introspectActive(server: TestServer, rs: App, token: string): Promise<boolean> {
  const response = await as(server, rs, '/introspect', { token });
  assert.equal(response.statusCode, 200, response.body);
  const body = response.json() as { active: boolean };
  if (!body.active) assert.equal(response.body, '{"active":false}');
  return body.active;
}

function assertRevokeOk(response: LightMyRequestResponse) {
  assert.equal(response.statusCode, 200, response.body);
  // RFC 7009 §2.2: the client ignores the body; `{}` as JSON, since some libraries throw on an empty 200.
  assert.equal(response.body, '{}');
  assert.match(String(response.headers['content-type']), /^application\/json/);
  assert.equal(response.headers['cache-control'], 'no-store');
}

function assertUserinfoRefused(response: LightMyRequestResponse) {
  assert.equal(response.statusCode, 401, response.body);
  assert.match(String(response.headers['www-authenticate']), /^Bearer .*error="invalid_token"/);
  assert.equal(response.json().sub, undefined);
}

function assertInvalidGrant(response: LightMyRequestResponse) {
  assert.equal(response.statusCode, 400, response.body);
  assert.equal(response.json().error, 'invalid_grant');
  assert.equal(response.json().access_token, undefined);
}

async function tokensFor(server: TestServer, app: App, user: TestUser): Promise<Tokens> {
  const flow = await runAuthorizationFlow(server, app.client, user);
  const response = await exchangeCode(server, app.client, app.secret, flow);
  assert.equal(response.statusCode, 200, response.body);
  const tokens = response.json() as Tokens;
  assert.ok(tokens.refresh_token, 'a refresh token was issued');
  return tokens;
}

async function refreshed(server: TestServer, app: App, refreshToken: string): Promise<Tokens> {
  const response = await refresh(server, app, refreshToken);
  assert.equal(response.statusCode, 200, response.body);
  return response.json() as Tokens;
}

async function confidentialApp(server: TestServer, input: Parameters<TestServer['addClient']>[0] = {}) {
  const { client, secret } = await server.addClient(input);
  assert.ok(secret);
  return { client, secret };
}

async function publicApp(server: TestServer): Promise<App> {
  const { client, secret } = await server.addClient({
    tokenEndpointAuthMethod: 'none',
    applicationType: 'native',
    redirectUris: ['http://127.0.0.1/cb'],
  });
  assert.equal(secret, undefined);
  return { client, secret: undefined };
}

function resourceServer(server: TestServer) {
  return confidentialApp(server, {
    name: 'Resource Server',
    grantTypes: ['client_credentials'],
    redirectUris: [],
    scope: 'reports:read',
    // RFC 7662 §4: it introspects other clients' tokens.
    resourceServer: true,
  });
}

async function revokedEvents(server: TestServer, clientId: string) {
  const events = await server.deps.storage.securityEvents.list(1000);
  return events.filter((event) => event.type === 'token_revoked' && event.clientId === clientId);
}

let dir: string;
let databaseUrl: string;
let server: TestServer;
let rs: App;
let user: TestUser;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-revoke-test-'));
  databaseUrl = `sqlite:${path.join(dir, 'gatehouse.db')}`;
  server = await buildTestServer({}, { databaseUrl });
  rs = await resourceServer(server);
  user = await server.addUser();
});

after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('revocation (I-01)', () => {
  it('C1 revokes its refresh token → 200; the whole family (RT and every AT) is dead', async () => {
    const c1 = await confidentialApp(server);
    const first = await tokensFor(server, c1, user);
    const second = await refreshed(server, c1, first.refresh_token);
    for (const token of [first.access_token, second.access_token, second.refresh_token]) {
      assert.equal(await introspectActive(server, token === second.refresh_token ? c1 : rs, token), true);
    }
    assert.equal((await userinfo(server, first.access_token)).statusCode, 200);
    assert.equal((await userinfo(server, second.access_token)).statusCode, 200);

    assertRevokeOk(await revoke(server, c1, second.refresh_token, 'refresh_token'));

    assert.equal(await introspectActive(server, c1, second.refresh_token), false);
    assert.equal(await introspectActive(server, rs, first.access_token), false);
    assert.equal(await introspectActive(server, rs, second.access_token), false);
    assertUserinfoRefused(await userinfo(server, first.access_token));
    assertUserinfoRefused(await userinfo(server, second.access_token));
    assertInvalidGrant(await refresh(server, c1, second.refresh_token));
    const events = await revokedEvents(server, c1.client.id);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.userId, user.id);
    assert.deepEqual(events[0]?.detail, { kind: 'refresh_token' });
  });

  it('the token type hint is only a hint: a refresh token sent as "access_token" is still revoked', async () => {
    const c1 = await confidentialApp(server);
    const tokens = await tokensFor(server, c1, user);
    assertRevokeOk(await revoke(server, c1, tokens.refresh_token, 'access_token'));
    assertInvalidGrant(await refresh(server, c1, tokens.refresh_token));
    assertUserinfoRefused(await userinfo(server, tokens.access_token));
  });

  it('revoking an access token kills only that access token: the refresh token still refreshes', async () => {
    const c1 = await confidentialApp(server);
    const first = await tokensFor(server, c1, user);
    const second = await refreshed(server, c1, first.refresh_token);

    assertRevokeOk(await revoke(server, c1, first.access_token, 'access_token'));

    assert.equal(await introspectActive(server, rs, first.access_token), false);
    assertUserinfoRefused(await userinfo(server, first.access_token));
    // The rest of the family lives on.
    assert.equal(await introspectActive(server, rs, second.access_token), true);
    assert.equal((await userinfo(server, second.access_token)).statusCode, 200);
    const third = await refreshed(server, c1, second.refresh_token);
    assert.equal((await userinfo(server, third.access_token)).statusCode, 200);
    assert.deepEqual(
      (await revokedEvents(server, c1.client.id)).map((event) => event.detail),
      [{ kind: 'access_token' }],
    );
  });

  it('unknown, malformed and foreign-looking tokens → 200, and nothing changes', async () => {
    const c1 = await confidentialApp(server);
    const tokens = await tokensFor(server, c1, user);
    const samples = [
      mintOpaqueAccessToken(Date.now()),
      mintTimeOrderedToken(TOKEN_PREFIX.refreshToken, Date.now()),
      mintOpaqueToken(TOKEN_PREFIX.apiKey),
      `${tokens.refresh_token.slice(0, -1)}${tokens.refresh_token.endsWith('A') ? 'B' : 'A'}`,
      'aaaa.bbbb.cccc',
      'garbage',
    ];
    for (const token of samples) assertRevokeOk(await revoke(server, c1, token));
    assertRevokeOk(
      await revoke(server, c1, mintTimeOrderedToken(TOKEN_PREFIX.refreshToken, Date.now()), 'no_such_hint'),
    );
    assert.equal((await userinfo(server, tokens.access_token)).statusCode, 200);
    assert.equal(await introspectActive(server, c1, tokens.refresh_token), true);
    assert.deepEqual(await revokedEvents(server, c1.client.id), []);
  });

  it("C2 revoking C1's tokens → 200 (per RFC 7009), but C1's tokens stay active", async () => {
    const c1 = await confidentialApp(server);
    const c2 = await confidentialApp(server);
    const tokens = await tokensFor(server, c1, user);

    assertRevokeOk(await revoke(server, c2, tokens.refresh_token));
    assertRevokeOk(await revoke(server, c2, tokens.refresh_token, 'refresh_token'));
    assertRevokeOk(await revoke(server, c2, tokens.access_token));
    assertRevokeOk(await revoke(server, c2, tokens.access_token, 'access_token'));

    assert.equal(await introspectActive(server, rs, tokens.access_token), true);
    assert.equal(await introspectActive(server, c1, tokens.refresh_token), true);
    assert.equal((await userinfo(server, tokens.access_token)).statusCode, 200);
    await refreshed(server, c1, tokens.refresh_token);
    assert.deepEqual(await revokedEvents(server, c2.client.id), []);
  });

  it("a public client revokes its own tokens with client_id only, and cannot revoke another public client's", async () => {
    const p1 = await publicApp(server);
    const p2 = await publicApp(server);
    const mine = await tokensFor(server, p1, user);
    const theirs = await tokensFor(server, p2, user);

    assertRevokeOk(await revoke(server, p1, theirs.refresh_token));
    assertRevokeOk(await revoke(server, p1, theirs.access_token));
    assert.equal((await userinfo(server, theirs.access_token)).statusCode, 200);
    await refreshed(server, p2, theirs.refresh_token);

    assertRevokeOk(await revoke(server, p1, mine.refresh_token));
    assertInvalidGrant(await refresh(server, p1, mine.refresh_token));
    assertUserinfoRefused(await userinfo(server, mine.access_token));
  });

  it('an unauthenticated request for a confidential client → 401 invalid_client, nothing revoked', async () => {
    const c1 = await confidentialApp(server);
    const tokens = await tokensFor(server, c1, user);

    const anonymous = await post(server, '/revoke', { token: tokens.refresh_token });
    assert.equal(anonymous.statusCode, 401, anonymous.body);
    assert.equal(anonymous.json().error, 'invalid_client');

    const idOnly = await post(server, '/revoke', { token: tokens.refresh_token, client_id: c1.client.id });
    assert.equal(idOnly.statusCode, 401, idOnly.body);
    assert.equal(idOnly.json().error, 'invalid_client');

    const wrongSecret = await post(
      server,
      '/revoke',
      { token: tokens.access_token },
      { authorization: basicAuth(c1.client.id, `${c1.secret}x`) },
    );
    assert.equal(wrongSecret.statusCode, 401, wrongSecret.body);
    assert.equal(wrongSecret.json().error, 'invalid_client');
    assert.match(String(wrongSecret.headers['www-authenticate']), /^Basic /);

    assert.equal(await introspectActive(server, c1, tokens.refresh_token), true);
    assert.equal((await userinfo(server, tokens.access_token)).statusCode, 200);
  });

  it('a request without a token → 400 invalid_request', async () => {
    const c1 = await confidentialApp(server);
    const response = await as(server, c1, '/revoke', {});
    assert.equal(response.statusCode, 400, response.body);
    assert.equal(response.json().error, 'invalid_request');
  });

  it('discovery advertises the revocation and introspection endpoints', async () => {
    for (const url of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const response = await server.app.inject(url);
      assert.equal(response.statusCode, 200, response.body);
      const metadata = response.json();
      assert.equal(metadata.revocation_endpoint, `${ISSUER}/revoke`);
      assert.equal(metadata.introspection_endpoint, `${ISSUER}/introspect`);
      assert.ok(metadata.revocation_endpoint_auth_methods_supported.includes('client_secret_basic'));
      assert.ok(metadata.revocation_endpoint_auth_methods_supported.includes('none'));
      assert.ok(metadata.introspection_endpoint_auth_methods_supported.includes('client_secret_basic'));
      assert.ok(!metadata.introspection_endpoint_auth_methods_supported.includes('none'));
    }
  });
});

describe('I-02: a revocation that could not be stored is never reported as success', () => {
  /** Replaces one storage method for the duration of `work` (the store is a plain object behind a Proxy). */
  async function failing<T>(store: object, method: string, error: Error, work: () => Promise<T>): Promise<T> {
    const target = store as Record<string, unknown>;
    const original = target[method];
    target[method] = async () => {
      throw error;
    };
    try {
      return await work();
    } finally {
      target[method] = original;
    }
  }
  const outage = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });

  it('grant revocation fails with an outage → 503 temporarily_unavailable; the family stays as it was', async () => {
    const c1 = await confidentialApp(server);
    const tokens = await tokensFor(server, c1, user);
    const response = await failing(server.deps.storage.grants, 'revoke', outage(), () =>
      revoke(server, c1, tokens.refresh_token),
    );
    assert.equal(response.statusCode, 503, response.body);
    assert.equal(response.json().error, 'temporarily_unavailable');
    // Not revoked: the client learns it must retry, rather than believing the token is dead.
    assert.equal(await introspectActive(server, c1, tokens.refresh_token), true);
    // The retry succeeds once the database answers again.
    assertRevokeOk(await revoke(server, c1, tokens.refresh_token));
    assert.equal(await introspectActive(server, c1, tokens.refresh_token), false);
  });

  it('access token revocation fails with an outage → 503; with an unexpected error → 500, never 200', async () => {
    const c1 = await confidentialApp(server);
    const tokens = await tokensFor(server, c1, user);
    const down = await failing(server.deps.storage.accessTokens, 'revoke', outage(), () =>
      revoke(server, c1, tokens.access_token),
    );
    assert.equal(down.statusCode, 503, down.body);
    const bug = await failing(server.deps.storage.accessTokens, 'revoke', new Error('boom'), () =>
      revoke(server, c1, tokens.access_token),
    );
    assert.equal(bug.statusCode, 500, bug.body);
    assert.equal(bug.json().error, 'server_error');
    assert.equal(await introspectActive(server, rs, tokens.access_token), true);
  });

  it('the lookup fails (database unreachable while reading) → /revoke and /introspect 503', async () => {
    const c1 = await confidentialApp(server);
    const tokens = await tokensFor(server, c1, user);
    const revoked = await failing(server.deps.storage.refreshTokens, 'find', outage(), () =>
      revoke(server, c1, tokens.refresh_token),
    );
    assert.equal(revoked.statusCode, 503, revoked.body);
    const introspected = await failing(server.deps.storage.accessTokens, 'findActive', outage(), () =>
      as(server, rs, '/introspect', { token: tokens.access_token }),
    );
    assert.equal(introspected.statusCode, 503, introspected.body);
    assert.equal(introspected.json().active, undefined);
  });
});

describe('R9: two nodes on one database — a revocation at A is seen at once at B', () => {
  let nodeB: TestServer;
  before(async () => {
    nodeB = await buildTestServer({}, { databaseUrl });
  });
  after(() => nodeB?.close());

  it('refresh token revoked at A → introspection at B inactive, userinfo at B 401', async () => {
    const c1 = await confidentialApp(server);
    const tokens = await tokensFor(server, c1, user);
    assert.equal(await introspectActive(nodeB, c1, tokens.refresh_token), true);
    assert.equal(await introspectActive(nodeB, rs, tokens.access_token), true);
    assertRevokeOk(await revoke(server, c1, tokens.refresh_token));
    assert.equal(await introspectActive(nodeB, c1, tokens.refresh_token), false);
    assert.equal(await introspectActive(nodeB, rs, tokens.access_token), false);
    assertUserinfoRefused(await userinfo(nodeB, tokens.access_token));
  });

  it('access token revoked at B → refused at A', async () => {
    const c1 = await confidentialApp(server);
    const tokens = await tokensFor(server, c1, user);
    assert.equal((await userinfo(server, tokens.access_token)).statusCode, 200);
    assertRevokeOk(await revoke(nodeB, c1, tokens.access_token));
    assertUserinfoRefused(await userinfo(server, tokens.access_token));
    assert.equal(await introspectActive(server, rs, tokens.access_token), false);
  });
});

// ---------------------------------------------------------------------------------------------------------
// R4 with a real outage: PostgreSQL stops.

interface Outage {
  url: string;
  cut(): Promise<void>;
  cleanup(): Promise<void>;
}

async function withAdmin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

async function prepareOutage(): Promise<Outage> {
  const shared = process.env.DATABASE_URL_TEST;
  if (shared) {
    // A server others may use: bar only our own database.
    const fresh = await freshDatabase(shared);
    const name = decodeURIComponent(new URL(fresh.url).pathname.slice(1));
    const ident = `"${name.replaceAll('"', '""')}"`;
    return {
      url: fresh.url,
      cut: () =>
        withAdmin(shared, async (admin) => {
          await admin.query(`ALTER DATABASE ${ident} ALLOW_CONNECTIONS false`);
          await admin.query(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
            [name],
          );
        }),
      async cleanup() {
        await withAdmin(shared, (admin) => admin.query(`ALTER DATABASE ${ident} ALLOW_CONNECTIONS true`));
        await fresh.drop();
      },
    };
  }
  const cluster = await startPostgres();
  const fresh = await freshDatabase(cluster.url);
  return { url: fresh.url, cut: () => cluster.stop(), cleanup: () => cluster.stop() };
}

const { postgres: pgOutage, skip: skipReason } = await postgresOrSkipReason(prepareOutage);

if (pgOutage === undefined) {
  test('I-02/R4/R9 on PostgreSQL', (t) => {
    t.skip(skipReason);
  });
} else {
  const db = pgOutage;
  describe('on PostgreSQL: R9 across two nodes, then I-02/R4 with the database stopped', () => {
    let nodeA: TestServer;
    let nodeB: TestServer;
    let c1: App;
    let resource: App;
    let live: Tokens;
    let pgUser: TestUser;

    before(async () => {
      nodeA = await buildTestServer({}, { databaseUrl: db.url });
      nodeB = await buildTestServer({}, { databaseUrl: db.url });
      pgUser = await nodeA.addUser();
      c1 = await confidentialApp(nodeA);
      resource = await resourceServer(nodeA);
      live = await tokensFor(nodeA, c1, pgUser);
    });

    after(async () => {
      await nodeA?.close();
      await nodeB?.close();
      await db.cleanup();
    });

    it('R9: revocation at A → the next introspection at B is inactive (no staleness)', async () => {
      const tokens = await tokensFor(nodeA, c1, pgUser);
      assert.equal(await introspectActive(nodeB, resource, tokens.access_token), true);
      assert.equal(await introspectActive(nodeB, c1, tokens.refresh_token), true);
      assertRevokeOk(await revoke(nodeA, c1, tokens.refresh_token));
      assert.equal(await introspectActive(nodeB, resource, tokens.access_token), false);
      assert.equal(await introspectActive(nodeB, c1, tokens.refresh_token), false);
    });

    it('before the outage the live tokens are active', async () => {
      assert.equal(await introspectActive(nodeA, resource, live.access_token), true);
      assert.equal(await introspectActive(nodeA, c1, live.refresh_token), true);
    });

    describe('after the database stopped', () => {
      before(async () => {
        await db.cut();
      });

      it('/revoke → 503 temporarily_unavailable, never 200 (refresh token, access token, unknown token)', async () => {
        for (const token of [
          live.refresh_token,
          live.access_token,
          mintTimeOrderedToken(TOKEN_PREFIX.refreshToken, Date.now()),
        ]) {
          for (const node of [nodeA, nodeB]) {
            const response = await revoke(node, c1, token);
            assert.notEqual(response.statusCode, 200, response.body);
            assert.equal(response.statusCode, 503, response.body);
            assert.equal(response.json().error, 'temporarily_unavailable');
            assert.equal(response.headers['cache-control'], 'no-store');
          }
        }
      });

      it('/introspect → 503, never active:true', async () => {
        for (const [token, asker] of [
          [live.access_token, resource],
          [live.refresh_token, c1],
        ] as const) {
          for (const node of [nodeA, nodeB]) {
            const response = await as(node, asker, '/introspect', { token });
            assert.equal(response.statusCode, 503, response.body);
            assert.notEqual(response.json().active, true);
            assert.equal(response.json().error, 'temporarily_unavailable');
            assert.equal(response.headers['cache-control'], 'no-store');
          }
        }
      });
    });
  });
}
