// gatehouse api-keys create|list|revoke, gatehouse purge and gatehouse clients add --grant client_credentials,
// run in-process through runCli with a fake io and temporary SQLite databases. Where it matters, the result is
// checked against the real server on the same database (the key works, then stops working; the machine client
// gets a token).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { isWellFormedOpaqueToken, mintOpaqueToken, TOKEN_PREFIX } from '../../src/oauth/opaque-token.ts';
import { openDatabase, openStorage } from '../../src/storage/open.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { sha256 } from '../../src/util/hash.ts';
import { existingSqliteUrl, runCliCaptured } from '../helpers/cli.ts';
import { basicAuth } from '../helpers/flow.ts';
import { buildTestServer, TEST_SECRET, type TestServer } from '../helpers/server.ts';

const DAY = 86_400_000;

interface Run {
  code: number | undefined;
  stdout: string;
  stderr: string;
}

let dir: string;

function envFor(name: string): Record<string, string> {
  return {
    DATABASE_URL: existingSqliteUrl(path.join(dir, `${name}.db`)),
    GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
    // A fixed secret, so that a test server (which uses it) can open the keys the CLI created.
    GATEHOUSE_SECRET: TEST_SECRET,
    GATEHOUSE_PASSWORD_COST: '10',
    LOG_LEVEL: 'silent',
    GATEHOUSE_SCOPES: JSON.stringify([{ name: 'reports:read', description: 'Read your reports' }]),
  };
}

const cli = (argv: string[], env: Record<string, string>): Promise<Run> => runCliCaptured(argv, env);

async function withStorage<T>(
  env: Record<string, string>,
  work: (storage: Storage) => Promise<T>,
): Promise<T> {
  const { storage } = await openStorage(env.DATABASE_URL!);
  try {
    return await work(storage);
  } finally {
    await storage.close();
  }
}

/** A test server on the CLI's database, its clock set to the real time the CLI uses. */
async function serverOn(env: Record<string, string>): Promise<TestServer> {
  const server = await buildTestServer({}, { databaseUrl: env.DATABASE_URL! });
  server.clock.advance(Date.now() - server.clock.now());
  return server;
}

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-cli-keys-test-'));
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('gatehouse api-keys', () => {
  let env: Record<string, string>;
  const email = 'alice@example.com';
  let userId: string;

  interface Described {
    id: string;
    name: string;
    user: string;
    scope: string;
    created_at: string;
    expires_at: string | null;
    status: string;
    api_key?: string;
  }

  async function create(...extra: string[]) {
    const run = await cli(['api-keys', 'create', '--user', email, '--name', 'CI job', ...extra], env);
    assert.equal(run.code, 0, run.stderr);
    return { run, key: JSON.parse(run.stdout) as Described };
  }

  before(async () => {
    env = envFor('api-keys');
    const added = await cli(['users', 'add', email], env);
    assert.equal(added.code, 0, added.stderr);
    const user = await withStorage(env, (storage) => storage.users.findByEmail(email));
    assert.ok(user);
    userId = user.id;
  });

  it('create prints the key once (ghk_…), stores only its hash, and the key works at the server', async () => {
    const { run, key } = await create('--scope', 'openid reports:read');
    assert.ok(key.api_key, 'the key is printed');
    assert.ok(key.api_key.startsWith(TOKEN_PREFIX.apiKey), key.api_key);
    assert.ok(isWellFormedOpaqueToken(key.api_key, TOKEN_PREFIX.apiKey));
    assert.equal(key.name, 'CI job');
    assert.equal(key.user, email);
    assert.equal(key.scope, 'openid reports:read');
    assert.equal(key.status, 'active');
    assert.equal(key.expires_at, null);
    assert.match(run.stderr, /shown once/);
    assert.ok(!run.stderr.includes(key.api_key), 'the key is not repeated on stderr');

    const stored = await withStorage(env, (storage) => storage.apiKeys.list());
    const record = stored.find((candidate) => candidate.id === key.id);
    assert.ok(record);
    assert.equal(record.keyHash, sha256(key.api_key));
    assert.equal(record.userId, userId);
    // Nothing in the database files holds the key itself.
    for (const file of readdirSync(dir).filter((name) => name.startsWith('api-keys.db'))) {
      assert.ok(!readFileSync(path.join(dir, file)).includes(key.api_key), `${file} holds the key`);
    }

    const server = await serverOn(env);
    try {
      const response = await server.app.inject({
        url: '/oauth/test-token-with-scopes',
        headers: { authorization: `Bearer ${key.api_key}` },
      });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json().sub, userId);
      assert.deepEqual(response.json().scopes, ['openid', 'reports:read']);
    } finally {
      await server.close();
    }
  });

  it('--expires-in-days sets the end; a value outside 1..3650 or not a whole number → exit 2', async () => {
    const before = Date.now();
    const { key } = await create('--expires-in-days', '30');
    assert.ok(key.expires_at);
    const end = Date.parse(key.expires_at);
    assert.ok(end >= before + 30 * DAY && end <= Date.now() + 30 * DAY, key.expires_at);
    for (const days of ['0', '3651', '1.5', 'soon']) {
      const run = await cli(
        ['api-keys', 'create', '--user', email, '--name', 'x', '--expires-in-days', days],
        env,
      );
      assert.equal(run.code, 2, `${days}: ${run.stderr}`);
      assert.equal(run.stdout, '');
    }
  });

  it('list never prints a key or its hash; --user filters', async () => {
    const { key } = await create();
    assert.ok(key.api_key);
    const run = await cli(['api-keys', 'list', '--json'], env);
    assert.equal(run.code, 0, run.stderr);
    const listed = JSON.parse(run.stdout) as Described[];
    const entry = listed.find((candidate) => candidate.id === key.id);
    assert.ok(entry, 'the new key is listed');
    assert.equal(entry.status, 'active');
    assert.equal(entry.user, email);
    assert.equal(entry.api_key, undefined);
    assert.ok(!run.stdout.includes(key.api_key), 'list printed the key');
    assert.ok(!run.stdout.includes(sha256(key.api_key)), 'list printed the hash');
    assert.ok(!run.stdout.includes(TOKEN_PREFIX.apiKey), 'list printed something key-shaped');

    const other = 'bob@example.com';
    assert.equal((await cli(['users', 'add', other], env)).code, 0);
    const bobs = await cli(['api-keys', 'list', '--user', other, '--json'], env);
    assert.equal(bobs.code, 0, bobs.stderr);
    assert.deepEqual(JSON.parse(bobs.stdout), []);
    const alices = await cli(['api-keys', 'list', '--user', email, '--json'], env);
    assert.ok((JSON.parse(alices.stdout) as Described[]).some((candidate) => candidate.id === key.id));

    const unknown = await cli(['api-keys', 'list', '--user', 'nobody@example.com'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /nobody@example\.com/);
  });

  it('revoke works once (the key stops working at once), then exit 1', async () => {
    const { key } = await create('--scope', 'openid');
    assert.ok(key.api_key);
    const server = await serverOn(env);
    try {
      const check = () =>
        server.app.inject({
          url: '/oauth/test-token-with-scopes',
          headers: { authorization: `Bearer ${key.api_key}` },
        });
      assert.equal((await check()).statusCode, 200);

      const first = await cli(['api-keys', 'revoke', key.id], env);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, new RegExp(`Revoked API key ${key.id}`));

      assert.equal((await check()).statusCode, 401);
      const listed = JSON.parse((await cli(['api-keys', 'list', '--json'], env)).stdout) as Described[];
      assert.equal(listed.find((candidate) => candidate.id === key.id)?.status, 'revoked');
      assert.equal(
        await withStorage(env, (storage) => storage.apiKeys.findActive(sha256(key.api_key!), Date.now())),
        undefined,
      );

      const again = await cli(['api-keys', 'revoke', key.id], env);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /No active API key/);
    } finally {
      await server.close();
    }
  });

  it('revoke of an unknown id → exit 1; without an id or with two → exit 2', async () => {
    assert.equal((await cli(['api-keys', 'revoke', 'no-such-id'], env)).code, 1);
    assert.equal((await cli(['api-keys', 'revoke'], env)).code, 2);
    assert.equal((await cli(['api-keys', 'revoke', 'a', 'b'], env)).code, 2);
  });

  it('create for an unknown user → exit 1, nothing printed on stdout, no key stored', async () => {
    const before = await withStorage(env, (storage) => storage.apiKeys.list());
    const run = await cli(['api-keys', 'create', '--user', 'nobody@example.com', '--name', 'x'], env);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /No user with the email nobody@example\.com/);
    assert.equal((await withStorage(env, (storage) => storage.apiKeys.list())).length, before.length);
  });

  it('create without --user or --name, or with a malformed scope → refused, nothing stored', async () => {
    const before = await withStorage(env, (storage) => storage.apiKeys.list());
    assert.equal((await cli(['api-keys', 'create', '--user', email], env)).code, 2);
    assert.equal((await cli(['api-keys', 'create', '--name', 'x'], env)).code, 2);
    const badScope = await cli(['api-keys', 'create', '--user', email, '--name', 'x', '--scope', 'a"b'], env);
    assert.equal(badScope.code, 1, badScope.stderr);
    assert.equal(badScope.stdout, '');
    assert.equal((await withStorage(env, (storage) => storage.apiKeys.list())).length, before.length);
  });

  it('create with a scope outside the catalogue → refused naming it, nothing stored', async () => {
    const before = await withStorage(env, (storage) => storage.apiKeys.list());
    const run = await cli(
      ['api-keys', 'create', '--user', email, '--name', 'x', '--scope', 'openid reports:write admin'],
      env,
    );
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /Unknown scopes "reports:write", "admin": .*scope catalogue.*GATEHOUSE_SCOPES/);
    assert.equal((await withStorage(env, (storage) => storage.apiKeys.list())).length, before.length);
  });

  it('--resource (repeatable) names the APIs the key is for, from GATEHOUSE_RESOURCES; another → refused', async () => {
    const reports = 'https://api.example.test/reports';
    const files = 'https://api.example.test/files';
    const withResources = {
      ...env,
      GATEHOUSE_RESOURCES: JSON.stringify([
        { uri: reports, format: 'opaque' },
        { uri: files, format: 'jwt' },
      ]),
    };
    const made = await cli(
      [
        'api-keys',
        'create',
        '--user',
        email,
        '--name',
        'Reports job',
        '--resource',
        reports,
        '--resource',
        files,
      ],
      withResources,
    );
    assert.equal(made.code, 0, made.stderr);
    const key = JSON.parse(made.stdout) as Described & { resources: string[] };
    assert.deepEqual(key.resources, [reports, files]);
    const stored = await withStorage(env, (storage) => storage.apiKeys.list());
    assert.deepEqual(stored.find((each) => each.id === key.id)?.resources, [reports, files]);

    const refused = await cli(
      ['api-keys', 'create', '--user', email, '--name', 'x', '--resource', 'https://api.example.test/typo'],
      withResources,
    );
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /Unknown resource "https:\/\/api\.example\.test\/typo": .*GATEHOUSE_RESOURCES/,
    );
    assert.equal((await withStorage(env, (storage) => storage.apiKeys.list())).length, stored.length);
  });
});

describe('gatehouse purge', () => {
  it('prints the counts as JSON and removes expired rows, keeping live rows and used refresh-token tombstones', async () => {
    const env = envFor('purge');
    // `migrate` creates the schema.
    assert.equal((await cli(['migrate'], env)).code, 0);
    const now = Date.now();
    const ids = {
      expiredCode: sha256(mintOpaqueToken(TOKEN_PREFIX.authorizationCode)),
      recentlyExpiredCode: sha256(mintOpaqueToken(TOKEN_PREFIX.authorizationCode)),
      expiredAccess: 'at-expired',
      liveAccess: 'at-live',
      expiredRefresh: sha256(mintOpaqueToken(TOKEN_PREFIX.refreshToken)),
      tombstone: sha256(mintOpaqueToken(TOKEN_PREFIX.refreshToken)),
      expiredSession: sha256('session-expired'),
      liveSession: sha256('session-live'),
      expiredInteraction: 'interaction-expired',
      liveInteraction: 'interaction-live',
    };
    await withStorage(env, async (storage) => {
      const code = (codeHash: string, expiresAt: number) =>
        storage.authorizationCodes.create({
          codeHash,
          grantId: 'g1',
          clientId: 'c1',
          userId: 'u1',
          redirectUri: 'https://rp.example/cb',
          redirectUriProvided: true,
          scope: 'openid',
          nonce: null,
          codeChallenge: null,
          resource: null,
          authTime: expiresAt - 60_000,
          createdAt: expiresAt - 60_000,
          expiresAt,
          consumedAt: null,
        });
      // Used codes are kept a day past expiry (reuse detection): only the one expired two days ago goes.
      await code(ids.expiredCode, now - 2 * DAY);
      await code(ids.recentlyExpiredCode, now - 3_600_000);
      const access = (id: string, expiresAt: number) =>
        storage.accessTokens.create({
          id,
          grantId: 'g1',
          clientId: 'c1',
          userId: 'u1',
          scope: 'openid',
          audience: 'http://localhost:3000',
          createdAt: expiresAt - 600_000,
          expiresAt,
          revokedAt: null,
        });
      await access(ids.expiredAccess, now - 1000);
      await access(ids.liveAccess, now + 600_000);
      const refresh = (
        tokenHash: string,
        expiresAt: number,
        rotatedAt: number | null,
        createdAt = now - DAY,
      ) =>
        storage.refreshTokens.create({
          tokenHash,
          id: tokenHash.slice(0, 16),
          grantId: 'g1',
          clientId: 'c1',
          userId: 'u1',
          scope: 'openid',
          resource: null,
          parentId: null,
          createdAt,
          expiresAt,
          idleExpiresAt: null,
          rotatedAt,
          rotationFingerprint: null,
          revokedAt: null,
        });
      // Expired, and older than the longest a refresh token row can live (30 days without an idle window).
      await refresh(ids.expiredRefresh, now - 1000, null, now - 31 * DAY);
      // A used (rotated) refresh token whose family lives on: kept, so a replay is still caught as reuse.
      await refresh(ids.tombstone, now + 30 * DAY, now - 3_600_000);
      const session = (idHash: string, expiresAt: number) =>
        storage.sessions.create({
          idHash,
          userId: 'u1',
          authTime: now - DAY,
          createdAt: now - DAY,
          expiresAt,
        });
      await session(ids.expiredSession, now - 1000);
      await session(ids.liveSession, now + 3_600_000);
      const interaction = (id: string, expiresAt: number) =>
        storage.interactions.create({
          id,
          browserHash: sha256(id),
          clientId: 'c1',
          request: {
            clientId: 'c1',
            redirectUri: 'https://rp.example/cb',
            redirectUriProvided: true,
            scope: 'openid',
            state: null,
            nonce: null,
            codeChallenge: 'x'.repeat(43),
            resource: null,
            prompt: [],
            maxAge: null,
          },
          loginUserId: null,
          loginAuthTime: null,
          consentedScope: null,
          challengeHash: null,
          external: null,
          denied: false,
          createdAt: expiresAt - 1_800_000,
          expiresAt,
        });
      await interaction(ids.expiredInteraction, now - 1000);
      await interaction(ids.liveInteraction, now + 1_800_000);
      // A login throttle entry whose last failure is two days old goes; today's stays.
      const rule = { freeAttempts: 5, firstDelayMs: 1000, maxDelayMs: 60_000, windowMs: 900_000 };
      await storage.loginThrottle.reserve('old@example.com', now - 2 * DAY, rule);
      await storage.loginThrottle.reserve('new@example.com', now - 1000, rule);
      // A registration rate-limit window that ended goes; one still running stays.
      await storage.rateLimits.hit('register:192.0.2.1', now - 2 * 3_600_000, 3_600_000);
      await storage.rateLimits.hit('register:192.0.2.2', now - 1000, 3_600_000);
      // A security event past the default retention (365 days) goes; a recent one stays.
      // A device authorization two days past expiry goes; one a minute past stays (a late poll: expired_token).
      for (const [key, expiresAt] of [
        ['device-old', now - 2 * 86_400_000],
        ['device-recent', now - 60_000],
      ] as const) {
        await storage.deviceAuthorizations.create({
          deviceCodeHash: sha256(key),
          userCodeHash: sha256(`${key}-user`),
          clientId: 'c1',
          scope: 'openid',
          resource: null,
          createdAt: expiresAt - 600_000,
          expiresAt,
          interval: 5,
          lastPolledAt: null,
          status: 'pending',
          userId: null,
          grantId: null,
          authTime: null,
        });
      }
      for (const [id, createdAt] of [
        ['event-old', now - 400 * 86_400_000],
        ['event-recent', now - 1000],
      ] as const) {
        await storage.securityEvents.record({
          id,
          type: 'login_failed',
          clientId: null,
          userId: null,
          grantId: null,
          detail: {},
          createdAt,
        });
      }
    });

    const run = await cli(['purge'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), {
      authorization_codes: 1,
      device_authorizations: 1,
      interactions: 1,
      sessions: 1,
      access_tokens: 1,
      refresh_tokens: 1,
      login_throttle: 1,
      rate_limits: 1,
      security_events: 1,
    });

    const { db } = await openDatabase(env.DATABASE_URL!);
    try {
      const keys = async (table: string, column: string) => {
        const { rows } = await sql<{
          key: string;
        }>`select ${sql.ref(column)} as key from ${sql.table(table)}`.execute(db);
        return rows.map((row) => row.key);
      };
      assert.deepEqual(await keys('authorization_codes', 'code_hash'), [ids.recentlyExpiredCode]);
      assert.deepEqual(await keys('access_tokens', 'id'), [ids.liveAccess]);
      assert.deepEqual(await keys('refresh_tokens', 'token_hash'), [ids.tombstone]);
      assert.deepEqual(await keys('sessions', 'id_hash'), [ids.liveSession]);
      assert.deepEqual(await keys('interactions', 'id'), [ids.liveInteraction]);
      const throttle = await db.selectFrom('login_throttle').select('key').execute();
      assert.deepEqual(
        throttle.map((row) => row.key),
        ['new@example.com'],
      );
      const windows = await db.selectFrom('rate_limits').select('key').execute();
      assert.deepEqual(
        windows.map((row) => row.key),
        ['register:192.0.2.2'],
      );
      assert.deepEqual(await keys('security_events', 'id'), ['event-recent']);
    } finally {
      await db.destroy();
    }

    // Idempotent: a second run (without the rests between batches) finds nothing more to do.
    const again = await cli(['purge', '--no-rest'], env);
    assert.equal(again.code, 0, again.stderr);
    const counts = JSON.parse(again.stdout) as Record<string, number>;
    assert.ok(
      Object.values(counts).every((count) => count === 0),
      again.stdout,
    );
  });
});

describe('gatehouse clients add --grant client_credentials', () => {
  it('needs no redirect URI, prints the secret once, and the client gets a token', async () => {
    const env = envFor('machine');
    const run = await cli(
      [
        'clients',
        'add',
        '--name',
        'Reporting service',
        '--grant',
        'client_credentials',
        '--scope',
        'reports:read',
      ],
      env,
    );
    assert.equal(run.code, 0, run.stderr);
    const client = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.deepEqual(client.grant_types, ['client_credentials']);
    assert.deepEqual(client.redirect_uris, []);
    assert.equal(client.token_endpoint_auth_method, 'client_secret_basic');
    assert.equal(client.scope, 'reports:read');
    assert.equal(typeof client.client_secret, 'string');
    assert.ok(isWellFormedOpaqueToken(client.client_secret as string, TOKEN_PREFIX.clientSecret));

    const server = await serverOn(env);
    try {
      const response = await server.app.inject({
        method: 'POST',
        url: '/token',
        payload: 'grant_type=client_credentials',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basicAuth(client.client_id as string, client.client_secret as string),
        },
      });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json().scope, 'reports:read');
      assert.equal(response.json().refresh_token, undefined);
      // It has no redirect URI, so it cannot start an authorization code flow.
      const authorize = await server.app.inject(
        `/authorize?response_type=code&client_id=${client.client_id}&scope=openid&code_challenge=${'x'.repeat(43)}&code_challenge_method=S256`,
      );
      assert.notEqual(authorize.statusCode, 303);
      assert.equal(authorize.headers.location, undefined);
    } finally {
      await server.close();
    }
  });

  it('a public client cannot use client_credentials; an authorization_code client still needs a redirect URI', async () => {
    const env = envFor('machine-refused');
    const publicRun = await cli(
      ['clients', 'add', '--name', 'x', '--grant', 'client_credentials', '--public'],
      env,
    );
    assert.equal(publicRun.code, 1, publicRun.stderr);
    assert.equal(publicRun.stdout, '');
    const noRedirect = await cli(
      ['clients', 'add', '--name', 'x', '--grant', 'client_credentials', '--grant', 'authorization_code'],
      env,
    );
    assert.equal(noRedirect.code, 1, noRedirect.stderr);
    assert.match(noRedirect.stderr, /redirect URI/i);
    const clients = await withStorage(env, (storage) => storage.clients.list());
    assert.deepEqual(clients, []);
  });
});
