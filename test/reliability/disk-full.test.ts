// docs/security.md R4 on SQLite: a full disk. Reads keep working while every write that needs space fails, so a
// health check that only asks `select 1` said 200 while /token answered 503. The disk is filled for real from
// SQLite's point of view: `PRAGMA max_page_count` on the server's own connection caps the database at its
// current size, so a write that needs a new page fails inside SQLite with SQLITE_FULL, the error a full disk
// gives. Then: /token answers 503 (never 500), /health/ready and /health 503 while /health/live stays 200, the
// failure is logged once at error level with its cause, and readiness comes back once writes work again.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { type Kysely, sql } from 'kysely';
import { loadConfig } from '../../src/config.ts';
import type { Deps } from '../../src/deps.ts';
import { OUTAGE_READINESS_MS } from '../../src/endpoints/health/route.ts';
import { clientDirectoryFor } from '../../src/oauth/client-id-metadata.ts';
import { buildClient } from '../../src/oauth/client-metadata.ts';
import { ensureSigningKeys, loadKeyRing } from '../../src/oauth/keys.ts';
import { rotationKeyFrom } from '../../src/oauth/refresh-rotation.ts';
import { noMetrics } from '../../src/observability/metrics.ts';
import { buildServer } from '../../src/server.ts';
import type { Database } from '../../src/storage/database.ts';
import { openStorage } from '../../src/storage/open.ts';
import { manualClock } from '../../src/util/clock.ts';
import { sealKeyFrom } from '../../src/util/seal.ts';
import { basicAuth } from '../helpers/flow.ts';
import { TEST_SECRET } from '../helpers/server.ts';

interface LogLine {
  level: number;
  msg: string;
  err?: { message?: string; errcode?: number };
}

describe('R4 on SQLite: the disk is full', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-disk-full-'));
  const logs: LogLine[] = [];
  let app: FastifyInstance;
  let deps: Deps;
  let db: Kysely<Database>;
  let clock: ReturnType<typeof manualClock>;
  let basic: string;

  before(async () => {
    const config = loadConfig({
      GATEHOUSE_ISSUER: 'http://localhost:3000',
      GATEHOUSE_SECRET: TEST_SECRET,
      GATEHOUSE_ACCESS_TOKEN_FORMAT: 'opaque',
      DATABASE_URL: `sqlite:${path.join(dir, 'gatehouse.db')}`,
    });
    clock = manualClock(Date.UTC(2026, 10, 22, 12));
    const opened = await openStorage(config.databaseUrl);
    db = opened.db;
    await ensureSigningKeys(
      opened.storage,
      TEST_SECRET,
      [config.accessTokenAlg, config.idTokenAlg],
      clock.now(),
    );
    deps = {
      config,
      storage: opened.storage,
      keys: await loadKeyRing(opened.storage, TEST_SECRET, clock),
      clock,
      rotationKey: rotationKeyFrom(TEST_SECRET),
      sealKey: sealKeyFrom(TEST_SECRET),
      metrics: noMetrics,
      clients: clientDirectoryFor({ config, storage: opened.storage, clock, metrics: noMetrics }),
    };
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line));
        done();
      },
    });
    app = await buildServer(deps, { logger: { level: 'info', stream } });
    await app.ready();
    const built = buildClient(
      { name: 'machine', redirectUris: [], grantTypes: ['client_credentials'], scope: 'api:read' },
      clock.now(),
    );
    await deps.storage.clients.create(built.client);
    basic = basicAuth(built.client.id, built.secret!);
  });

  after(async () => {
    await app?.close();
    await deps?.storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const token = () =>
    app.inject({
      method: 'POST',
      url: '/token',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=client_credentials',
    });
  const health = async (url: string) => {
    const response = await app.inject(url);
    return { status: response.statusCode, body: response.json() as Record<string, string> };
  };
  const storageFailureLogs = () => logs.filter((line) => line.level >= 40 && /storage/i.test(line.msg));

  it('while writes work: /health, /health/ready and /health/live answer 200', async () => {
    assert.equal((await token()).statusCode, 200);
    for (const url of ['/health', '/health/ready', '/health/live']) {
      assert.deepEqual(await health(url), { status: 200, body: { status: 'ok' } }, url);
    }
  });

  it('disk full: /token answers 503 (never 500); readiness 503 while liveness stays 200; logged once', async () => {
    const pages = (await sql<{ page_count: number }>`pragma page_count`.execute(db)).rows[0]!.page_count;
    await sql.raw(`pragma max_page_count = ${pages}`).execute(db);

    const statuses: number[] = [];
    for (let i = 0; i < 2000 && !statuses.includes(503); i++) statuses.push((await token()).statusCode);
    for (let i = 0; i < 20; i++) {
      const response = await token();
      statuses.push(response.statusCode);
      if (response.statusCode !== 200) {
        assert.equal(response.statusCode, 503, response.body);
        assert.equal(response.json().error, 'temporarily_unavailable');
      }
    }
    assert.ok(statuses.filter((status) => status === 503).length > 1, `statuses: ${statuses.join(' ')}`);
    assert.deepEqual(
      statuses.filter((status) => status !== 200 && status !== 503),
      [],
    );

    const ready = { status: 503, body: { status: 'unavailable', reason: 'storage_failing' } };
    assert.deepEqual(await health('/health/ready'), ready);
    assert.deepEqual(await health('/health'), ready);
    assert.deepEqual(await health('/health/live'), { status: 200, body: { status: 'ok' } });

    // Many failed requests, one line at error level naming the cause.
    const failures = storageFailureLogs();
    assert.equal(failures.length, 1, JSON.stringify(failures));
    assert.equal(failures[0]!.level, 50);
    assert.match(String(failures[0]!.err?.message), /full/i);
  });

  it('space again: writes work at once, readiness once no write has failed for a while, logged once', async () => {
    await sql.raw('pragma max_page_count = 1073741823').execute(db);
    assert.equal((await token()).statusCode, 200);
    assert.equal((await health('/health/ready')).status, 503, 'the last failure was moments ago');
    clock.advance(OUTAGE_READINESS_MS);
    assert.deepEqual(await health('/health/ready'), { status: 200, body: { status: 'ok' } });
    assert.deepEqual(await health('/health'), { status: 200, body: { status: 'ok' } });
    assert.equal(storageFailureLogs().length, 1, 'no new failure logged');
    assert.equal(logs.filter((line) => /storage works again/.test(line.msg)).length, 1);
  });
});
