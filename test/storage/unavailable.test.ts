// docs/security.md R4: when the database is unreachable, Gatehouse fails closed. Nothing that needs the database
// answers 200: /token, /authorize and the protected endpoints refuse with 503, /health reports 503, and
// only what is served from memory (discovery, JWKS) keeps working.
//
// The outage is real: this file starts its own PostgreSQL cluster and stops it. With DATABASE_URL_TEST (a
// shared server this file must not stop) it instead bars its own fresh database: ALLOW_CONNECTIONS false,
// then terminates every connection to it.
import assert from 'node:assert/strict';
import { after, before, describe, it, test } from 'node:test';
import pg from 'pg';
import { StorageUnavailableError } from '../../src/errors.ts';
import { mintTimeOrderedToken, TOKEN_PREFIX } from '../../src/oauth/opaque-token.ts';
import { isUnavailable } from '../../src/storage/kysely/index.ts';
import type { Client, User } from '../../src/storage/storage.ts';
import { Agent } from '../helpers/agent.ts';
import {
  authorizeUrl,
  exchangeCode,
  type FlowResult,
  pkcePair,
  runAuthorizationFlow,
} from '../helpers/flow.ts';
import { freshDatabase, postgresOrSkipReason, startPostgres } from '../helpers/postgres.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';

describe('isUnavailable tells an outage from a bug', () => {
  const error = (message: string, fields: Record<string, unknown> = {}) =>
    Object.assign(new Error(message), fields);

  const outages: [string, unknown][] = [
    ['connection refused', error('connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED' })],
    ['connection reset', error('read ECONNRESET', { code: 'ECONNRESET' })],
    ['connect timeout (errno)', error('connect ETIMEDOUT 10.0.0.1:5432', { code: 'ETIMEDOUT' })],
    ['host not found', error('getaddrinfo ENOTFOUND db', { code: 'ENOTFOUND' })],
    ['host unreachable', error('connect EHOSTUNREACH', { code: 'EHOSTUNREACH' })],
    ['broken pipe', error('write EPIPE', { code: 'EPIPE' })],
    ['admin_shutdown 57P01', error('terminating connection due to administrator command', { code: '57P01' })],
    [
      'crash_shutdown 57P02',
      error('terminating connection due to crash of another process', { code: '57P02' }),
    ],
    ['cannot_connect_now 57P03', error('the database system is starting up', { code: '57P03' })],
    ['too_many_connections 53300', error('sorry, too many clients already', { code: '53300' })],
    ['disk_full 53100', error('could not extend file: No space left on device', { code: '53100' })],
    ['connection_failure 08006', error('connection failure', { code: '08006' })],
    ['connection_exception 08000', error('connection exception', { code: '08000' })],
    ['pg: connection terminated', error('Connection terminated unexpectedly')],
    ['pg-pool: connect timeout', error('timeout exceeded when trying to connect')],
    ['SQLite BUSY (5)', error('database is locked', { code: 'ERR_SQLITE_ERROR', errcode: 5 })],
    ['SQLite BUSY_SNAPSHOT (517)', error('database is locked', { code: 'ERR_SQLITE_ERROR', errcode: 517 })],
    ['SQLite LOCKED (6)', error('database table is locked', { code: 'ERR_SQLITE_ERROR', errcode: 6 })],
    ['SQLite IOERR (10)', error('disk I/O error', { code: 'ERR_SQLITE_ERROR', errcode: 10 })],
    ['SQLite FULL (13)', error('database or disk is full', { code: 'ERR_SQLITE_ERROR', errcode: 13 })],
    [
      'SQLite CANTOPEN (14)',
      error('unable to open database file', { code: 'ERR_SQLITE_ERROR', errcode: 14 }),
    ],
    ['SQLite closed handle', error('database is not open', { code: 'ERR_INVALID_STATE' })],
    ['Kysely destroyed', error('driver has already been destroyed')],
  ];
  for (const [name, sample] of outages) {
    it(`outage: ${name}`, () => assert.equal(isUnavailable(sample), true));
  }

  const bugs: [string, unknown][] = [
    ['unique violation 23505', error('duplicate key value violates unique constraint', { code: '23505' })],
    ['syntax error 42601', error('syntax error at or near "where"', { code: '42601' })],
    ['undefined table 42P01', error('relation "clients" does not exist', { code: '42P01' })],
    ['SQLite CONSTRAINT (19)', error('UNIQUE constraint failed', { code: 'ERR_SQLITE_ERROR', errcode: 19 })],
    [
      'SQLite CONSTRAINT_UNIQUE (2067)',
      error('UNIQUE constraint failed: users.email', { code: 'ERR_SQLITE_ERROR', errcode: 2067 }),
    ],
    [
      'SQLite generic error (1)',
      error('near "where": syntax error', { code: 'ERR_SQLITE_ERROR', errcode: 1 }),
    ],
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a plain Error', new Error('something else')],
    ['a string', 'ECONNREFUSED'],
    ['an object that is not an Error', { code: 'ECONNREFUSED', message: 'Connection terminated' }],
    ['undefined', undefined],
    ['null', null],
  ];
  for (const [name, sample] of bugs) {
    it(`not an outage: ${name}`, () => assert.equal(isUnavailable(sample), false));
  }
});

interface Outage {
  /** The database the server runs on. */
  url: string;
  /** Makes that database unreachable. */
  cut(): Promise<void>;
  /** Removes everything this file created. */
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
  // A cluster of our own, so stopping it affects no other test file.
  const cluster = await startPostgres();
  const fresh = await freshDatabase(cluster.url);
  return { url: fresh.url, cut: () => cluster.stop(), cleanup: () => cluster.stop() };
}

const { postgres: outage, skip: skipReason } = await postgresOrSkipReason(prepareOutage);

if (outage === undefined) {
  test('R4: database down → fail closed', (t) => {
    t.skip(skipReason);
  });
} else {
  const db = outage;
  describe('R4: database down → fail closed', () => {
    let server: TestServer;
    let user: User & { email: string; password: string };
    let client: Client;
    let secret: string | undefined;
    let signedIn: FlowResult;
    let pending: FlowResult;
    let accessToken: string;
    let discoveryBefore: unknown;
    let jwksBefore: unknown;

    before(async () => {
      server = await buildTestServer({}, { databaseUrl: db.url });
      user = await server.addUser({ name: 'Outage User' });
      ({ client, secret } = await server.addClient());
      signedIn = await runAuthorizationFlow(server, client, user, { nonce: 'n-1' });
      const tokens = await exchangeCode(server, client, secret, signedIn);
      assert.equal(tokens.statusCode, 200, tokens.body);
      accessToken = tokens.json().access_token;
      // A second code, issued but not yet redeemed: it would be exchanged for tokens if the database answered.
      pending = await runAuthorizationFlow(server, client, user, {
        agent: signedIn.agent,
        expectNoConsent: true,
      });
      discoveryBefore = (await server.app.inject('/.well-known/openid-configuration')).json();
      jwksBefore = (await server.app.inject('/jwks')).json();
    });

    after(async () => {
      await server?.close();
      await db.cleanup();
    });

    it('while the database answers: /health 200, /userinfo 200', async () => {
      const health = await server.app.inject('/health');
      assert.equal(health.statusCode, 200, health.body);
      assert.deepEqual(health.json(), { status: 'ok' });
      const userinfo = await server.app.inject({
        url: '/userinfo',
        headers: { authorization: `Bearer ${accessToken}` },
      });
      assert.equal(userinfo.statusCode, 200, userinfo.body);
      assert.equal(userinfo.json().sub, user.id);
    });

    describe('after the database became unreachable', () => {
      before(async () => {
        await db.cut();
      });

      it('/health and /health/ready answer 503; /health/live stays 200 (a restart would not help)', async () => {
        for (const url of ['/health', '/health/ready']) {
          const health = await server.app.inject(url);
          assert.equal(health.statusCode, 503, health.body);
          assert.deepEqual(health.json(), { status: 'unavailable', reason: 'database_unavailable' });
          assert.equal(health.headers['cache-control'], 'no-store');
        }
        const live = await server.app.inject('/health/live');
        assert.equal(live.statusCode, 200, live.body);
      });

      it('POST /token with a well-formed, issued code → 503 temporarily_unavailable, never 200', async () => {
        const response = await exchangeCode(server, client, secret, pending);
        assert.notEqual(response.statusCode, 200, response.body);
        assert.equal(response.statusCode, 503, response.body);
        assert.equal(response.json().error, 'temporarily_unavailable');
        assert.equal(response.json().access_token, undefined);
        assert.equal(response.headers['cache-control'], 'no-store');

        // A well-formed code the server never issued is refused the same way (no lookup succeeds).
        const unknown = await exchangeCode(server, client, secret, {
          ...pending,
          code: mintTimeOrderedToken(TOKEN_PREFIX.authorizationCode, Date.now()),
        });
        assert.equal(unknown.statusCode, 503, unknown.body);
        assert.equal(unknown.json().error, 'temporarily_unavailable');
      });

      it('GET /authorize for a valid request → 503 error page, no redirect and no code', async () => {
        const { challenge } = pkcePair();
        const url = authorizeUrl({
          response_type: 'code',
          client_id: client.id,
          redirect_uri: client.redirectUris[0],
          scope: 'openid profile email',
          state: 'outage-state',
          code_challenge: challenge,
          code_challenge_method: 'S256',
        });
        // The signed-in browser with remembered consent would get a code straight away if the database answered;
        // a fresh browser would be sent to the login page.
        for (const agent of [signedIn.agent, new Agent(server.app)]) {
          const response = await agent.get(url);
          assert.equal(response.statusCode, 503, response.body.slice(0, 300));
          assert.match(String(response.headers['content-type']), /^text\/html/);
          assert.equal(response.headers.location, undefined);
          assert.doesNotMatch(response.body, /ghc_|[?&]code=/);
          assert.match(response.body, /temporarily unavailable/i);
        }
      });

      it('every protected endpoint with a previously valid token → 503 with Retry-After, never 200 or 401', async () => {
        // A 401 invalid_token would tell the client its good token is bad, and the client would throw it away.
        const calls = [
          { method: 'GET', url: '/userinfo' },
          { method: 'POST', url: '/userinfo' },
          { method: 'GET', url: '/oauth/test-token-with-scopes' },
          { method: 'POST', url: '/oauth/deauthorize' },
        ] as const;
        for (const call of calls) {
          const response = await server.app.inject({
            ...call,
            headers: { authorization: `Bearer ${accessToken}` },
          });
          const what = `${call.method} ${call.url}: ${response.statusCode} ${response.body}`;
          assert.equal(response.statusCode, 503, what);
          assert.equal(response.json().error, 'temporarily_unavailable', what);
          assert.equal(response.json().sub, undefined, what);
          assert.equal(response.headers['retry-after'], '5', what);
          assert.equal(response.headers['www-authenticate'], undefined, what);
          assert.equal(response.headers['cache-control'], 'no-store', what);
        }
      });

      it('discovery and JWKS are still served (from memory), unchanged', async () => {
        for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
          const response = await server.app.inject(path);
          assert.equal(response.statusCode, 200, `${path}: ${response.body}`);
          assert.deepEqual(response.json(), discoveryBefore);
        }
        const jwks = await server.app.inject('/jwks');
        assert.equal(jwks.statusCode, 200, jwks.body);
        assert.deepEqual(jwks.json(), jwksBefore);
        assert.ok((jwks.json() as { keys: unknown[] }).keys.length > 0);
      });

      it('storage calls reject with StorageUnavailableError (503), not a generic error', async () => {
        await assert.rejects(server.deps.storage.clients.find(client.id), StorageUnavailableError);
        await assert.rejects(
          server.deps.storage.transaction((tx) => tx.settings.get('x')),
          StorageUnavailableError,
        );
      });
    });
  });
}
