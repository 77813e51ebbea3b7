// Prometheus metrics (GATEHOUSE_METRICS_ADDRESS): off by default; on, GET /metrics on a listener of its own and
// never on the public port. Real `gatehouse start` processes scraped with fetch, on SQLite and PostgreSQL (the
// storage series), and with --workers 2, where the primary serves both workers' series summed. The storage
// series are also checked in-process, down to an outage counted as `unavailable`. PostgreSQL is a throwaway
// cluster or DATABASE_URL_TEST; its cases are skipped outside CI on a machine without one.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { configFrom } from '../../src/config-file.ts';
import { StorageUnavailableError } from '../../src/errors.ts';
import { noMetrics } from '../../src/observability/metrics.ts';
import { createPrometheusMetrics } from '../../src/observability/prometheus.ts';
import { freePort } from '../e2e/loopback.ts';
import { csrfFrom } from '../helpers/agent.ts';
import { existingSqliteUrl, runCliCaptured } from '../helpers/cli.ts';
import { basicAuth } from '../helpers/flow.ts';
import { parseExposition, type Sample, scrape, total } from '../helpers/metrics.ts';
import { freshDatabase, postgresOrSkipReason } from '../helpers/postgres.ts';
import { startGatehouse } from '../helpers/process.ts';
import { buildTestServer } from '../helpers/server.ts';

const HTTP = 'gatehouse_http_request_duration_seconds';
const STORAGE = 'gatehouse_storage_operation_duration_seconds';
const BATCHES = 'gatehouse_storage_group_commit_batch_size';

const dir = mkdtempSync(path.join(tmpdir(), 'gh-metrics-'));
const { postgres, skip: skipReason } = await postgresOrSkipReason();
const databases: { drop(): Promise<void> }[] = [];
after(async () => {
  await Promise.all(databases.map((database) => database.drop()));
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function databaseUrl(kind: 'SQLite' | 'PostgreSQL', name: string): Promise<string> {
  if (kind === 'SQLite') return existingSqliteUrl(path.join(dir, `${name}.db`));
  const database = await freshDatabase((postgres as { url: string }).url);
  databases.push(database);
  return database.url;
}

describe('GATEHOUSE_METRICS_ADDRESS', () => {
  it('is off by default; a port alone listens on 127.0.0.1; host:port and [v6]:port as given', () => {
    assert.equal(loadConfig({}).metricsAddress, undefined);
    assert.deepEqual(loadConfig({ GATEHOUSE_METRICS_ADDRESS: '9464' }).metricsAddress, {
      host: '127.0.0.1',
      port: 9464,
    });
    assert.deepEqual(loadConfig({ GATEHOUSE_METRICS_ADDRESS: '0.0.0.0:9100' }).metricsAddress, {
      host: '0.0.0.0',
      port: 9100,
    });
    assert.deepEqual(loadConfig({ GATEHOUSE_METRICS_ADDRESS: '[::1]:9464' }).metricsAddress, {
      host: '::1',
      port: 9464,
    });
  });

  it('refuses what is not [host:]port, and the public port, naming the variable', () => {
    for (const bad of [
      '0',
      '70000',
      'metrics',
      ':9464',
      'http://127.0.0.1:9464',
      '[nope]:9464',
      '1.2.3.4:',
    ]) {
      assert.throws(
        () => loadConfig({ GATEHOUSE_METRICS_ADDRESS: bad }),
        (error: unknown) => error instanceof ConfigError && /GATEHOUSE_METRICS_ADDRESS/.test(error.message),
        bad,
      );
    }
    assert.throws(
      () => loadConfig({ PORT: '3000', GATEHOUSE_METRICS_ADDRESS: '127.0.0.1:3000' }),
      /GATEHOUSE_METRICS_ADDRESS: port 3000 is the public port/,
    );
  });

  it('gatehouse.config.json: metricsAddress as a port or "host:port", checked by the schema', () => {
    const write = (name: string, value: unknown) => {
      const file = path.join(dir, name);
      writeFileSync(file, JSON.stringify(value));
      return file;
    };
    const byPort = configFrom({ GATEHOUSE_CONFIG: write('port.json', { metricsAddress: 9464 }) });
    assert.deepEqual(byPort.metricsAddress, { host: '127.0.0.1', port: 9464 });
    const byAddress = configFrom({
      GATEHOUSE_CONFIG: write('address.json', { metricsAddress: '10.0.0.5:9100' }),
    });
    assert.deepEqual(byAddress.metricsAddress, { host: '10.0.0.5', port: 9100 });
    assert.throws(
      () => configFrom({ GATEHOUSE_CONFIG: write('bad.json', { metricsAddress: 'http://x:1' }) }),
      /does not match gatehouse\.config\.schema\.json: \/metricsAddress/,
    );
  });
});

for (const kind of ['SQLite', 'PostgreSQL'] as const) {
  if (kind === 'PostgreSQL' && postgres === undefined) {
    test('metrics on PostgreSQL (in-process storage series, and a real process)', (t) => t.skip(skipReason));
    continue;
  }

  describe(`storage metrics in-process, on ${kind}`, () => {
    it('times storage calls and transactions, counts group commits (SQLite only) and an outage as unavailable', async () => {
      const metrics = createPrometheusMetrics();
      const server = await buildTestServer(
        {},
        { databaseUrl: await databaseUrl(kind, 'in-process'), metrics },
      );
      const samples = async () => parseExposition(await metrics.registry.metrics());
      try {
        assert.equal(server.deps.metrics, metrics);
        const { client, secret } = await server.addClient({
          redirectUris: [],
          grantTypes: ['client_credentials'],
          scope: 'api:read',
        });
        const before = await samples();
        for (let i = 0; i < 3; i++) {
          const answer = await server.app.inject({
            method: 'POST',
            url: '/token',
            payload: 'grant_type=client_credentials',
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              authorization: basicAuth(client.id, secret as string),
            },
          });
          assert.equal(answer.statusCode, 200, answer.body);
        }
        const afterTokens = await samples();
        assert.equal(
          total(afterTokens, 'gatehouse_tokens_issued_total', { grant_type: 'client_credentials' }),
          3,
        );
        assert.equal(
          total(afterTokens, `${HTTP}_count`, { method: 'POST', route: '/token', status_code: '200' }),
          3,
        );
        const storageCalls = total(afterTokens, `${STORAGE}_count`) - total(before, `${STORAGE}_count`);
        assert.ok(storageCalls >= 3, `storage calls timed: ${storageCalls}`);
        assert.ok(total(afterTokens, `${STORAGE}_sum`) > 0);
        // Every call lands in a bucket: the +Inf bucket of each operation equals its count.
        for (const sample of afterTokens.filter((s) => s.name === `${STORAGE}_count`)) {
          assert.equal(
            total(afterTokens, `${STORAGE}_bucket`, { ...sample.labels, le: '+Inf' }),
            sample.value,
          );
        }
        const batches = total(afterTokens, `${BATCHES}_count`);
        if (kind === 'SQLite') assert.ok(batches >= 1, `group commits: ${batches}`);
        else assert.equal(batches, 0, 'PostgreSQL does not group commits');
        assert.equal(total(afterTokens, 'gatehouse_storage_errors_total'), 0);

        // An outage: the database is gone. The call answers 503's error and is counted as unavailable.
        await server.deps.storage.close();
        await assert.rejects(server.deps.storage.clients.find(client.id), StorageUnavailableError);
        const afterOutage = await samples();
        assert.equal(
          total(afterOutage, 'gatehouse_storage_errors_total', {
            operation: 'clients.find',
            kind: 'unavailable',
          }),
          1,
        );
      } finally {
        await server.app.close();
      }
    });
  });

  describe(`gatehouse start with GATEHOUSE_METRICS_ADDRESS, on ${kind}`, () => {
    it('a token, a failed sign-in and a registration move their counters; the public port has no /metrics', async () => {
      const port = await freePort();
      const metricsPort = await freePort();
      const env = {
        DATABASE_URL: await databaseUrl(kind, 'process'),
        GATEHOUSE_DATA_DIR: dir,
        GATEHOUSE_SECRET: 'metrics-test-secret-metrics-test-secret-0123',
        GATEHOUSE_PASSWORD_COST: '10',
        LOG_LEVEL: 'silent',
        HOST: '127.0.0.1',
        PORT: String(port),
        GATEHOUSE_METRICS_ADDRESS: String(metricsPort),
      };
      const created = await runCliCaptured(
        ['clients', 'add', '--name', 'machine', '--grant', 'client_credentials', '--scope', 'api:read'],
        env,
      );
      assert.equal(created.code, 0, created.stderr);
      const { client_id: clientId, client_secret: secret } = JSON.parse(created.stdout);

      const server = startGatehouse({ env, port });
      const metricsBase = `http://127.0.0.1:${metricsPort}`;
      try {
        await server.waitUntilReady();
        await server.waitForOutput('Metrics:');
        assert.match(server.output(), new RegExp(`Metrics: +http://127\\.0\\.0\\.1:${metricsPort}/metrics`));
        const before = await scrape(metricsBase);
        assert.equal(total(before, 'gatehouse_tokens_issued_total'), 0);

        const token = await fetch(`${server.base}/token`, {
          method: 'POST',
          headers: {
            authorization: basicAuth(clientId, secret),
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'grant_type=client_credentials',
        });
        assert.equal(token.status, 200, await token.text());

        const page = await fetch(`${server.base}/login`);
        const cookie = String(page.headers.get('set-cookie')).split(';')[0] as string;
        const signIn = await fetch(`${server.base}/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
          body: new URLSearchParams({
            _csrf: csrfFrom(await page.text()),
            email: 'nobody@example.com',
            password: 'not the password',
          }).toString(),
          redirect: 'manual',
        });
        assert.equal(signIn.status, 401);
        await signIn.arrayBuffer();

        const registered = await fetch(`${server.base}/oauth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ client_name: 'MCP client', redirect_uris: ['http://127.0.0.1:8090/cb'] }),
        });
        assert.equal(registered.status, 201, await registered.text());

        const publicMetrics = await fetch(`${server.base}/metrics`);
        assert.equal(publicMetrics.status, 404, 'the public port never serves metrics');
        await publicMetrics.arrayBuffer();

        const samples = await scrape(metricsBase);
        const moved = (name: string, labels: Record<string, string> = {}) =>
          total(samples, name, labels) - total(before, name, labels);
        assert.equal(moved('gatehouse_tokens_issued_total', { grant_type: 'client_credentials' }), 1);
        assert.equal(moved('gatehouse_logins_total', { outcome: 'failed' }), 1);
        assert.equal(moved('gatehouse_logins_total', { outcome: 'succeeded' }), 0);
        assert.equal(moved('gatehouse_client_registrations_total'), 1);
        for (const [method, route, status] of [
          ['POST', '/token', '200'],
          ['GET', '/login', '200'],
          ['POST', '/login', '401'],
          ['POST', '/oauth/register', '201'],
          ['GET', 'unmatched', '404'],
        ] as const) {
          assert.equal(
            moved(`${HTTP}_count`, { method, route, status_code: status }),
            1,
            `${method} ${route}`,
          );
        }
        // Route patterns only: no URL, no query string, in any label.
        const routes = new Set(samples.filter((s) => s.name === `${HTTP}_count`).map((s) => s.labels.route));
        for (const route of routes) assert.match(String(route), /^(\/[^?]*|unmatched)$/);

        assert.ok(moved(`${STORAGE}_count`, { operation: 'transaction' }) >= 1, 'the registration');
        assert.ok(moved(`${STORAGE}_count`) >= 4);
        assert.equal(total(samples, 'gatehouse_storage_errors_total'), 0);
        const batches = total(samples, `${BATCHES}_count`);
        if (kind === 'SQLite') assert.ok(batches >= 1, `group commits: ${batches}`);
        else assert.equal(batches, 0);
        // Node's own: event-loop lag and the process.
        assert.ok(samples.some((s) => s.name === 'nodejs_eventloop_lag_p99_seconds'));
        assert.ok(total(samples, 'process_cpu_seconds_total') > 0);
        assert.ok(total(samples, 'process_resident_memory_bytes') > 0);

        const elsewhere = await fetch(`${metricsBase}/`);
        assert.equal(elsewhere.status, 404);
        await elsewhere.arrayBuffer();
      } finally {
        await server.stop();
      }
      assert.equal(await server.exited, 0, server.output());
    });
  });
}

describe('metrics are off by default', () => {
  it('in-process: deps.metrics is noMetrics, and storage calls are not timed', async () => {
    const server = await buildTestServer();
    try {
      assert.equal(server.deps.metrics, noMetrics);
      assert.equal(noMetrics.storage, undefined);
    } finally {
      await server.close();
    }
  });

  it('gatehouse start without the setting: no metrics listener in the banner, no /metrics on the public port', async () => {
    const port = await freePort();
    const server = startGatehouse({
      env: {
        DATABASE_URL: existingSqliteUrl(path.join(dir, 'off.db')),
        GATEHOUSE_DATA_DIR: dir,
        GATEHOUSE_SECRET: 'metrics-test-secret-metrics-test-secret-0123',
        LOG_LEVEL: 'silent',
        HOST: '127.0.0.1',
        GATEHOUSE_METRICS_ADDRESS: '',
      },
      port,
    });
    try {
      await server.waitUntilReady();
      await server.waitForOutput('Discovery:');
      assert.doesNotMatch(server.output(), /Metrics:/);
      const response = await fetch(`${server.base}/metrics`);
      assert.equal(response.status, 404);
      await response.arrayBuffer();
    } finally {
      await server.stop();
    }
  });
});

/** A request on a connection of its own, so that the primary hands each to the next worker in turn. */
function tokenRequestOnNewConnection(base: string, authorization: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      `${base}/token`,
      {
        method: 'POST',
        agent: false,
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', connection: 'close' },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', reject);
    request.end('grant_type=client_credentials');
  });
}

describe('gatehouse start --workers 2 with GATEHOUSE_METRICS_ADDRESS', () => {
  it('the primary serves both workers’ series, summed', async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const env = {
      DATABASE_URL: existingSqliteUrl(path.join(dir, 'workers.db')),
      GATEHOUSE_DATA_DIR: dir,
      GATEHOUSE_SECRET: 'metrics-test-secret-metrics-test-secret-0123',
      // Info: each request's log line says which process (pid) answered it.
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: String(port),
      GATEHOUSE_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
    };
    const created = await runCliCaptured(
      ['clients', 'add', '--name', 'machine', '--grant', 'client_credentials', '--scope', 'api:read'],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    const { client_id: clientId, client_secret: secret } = JSON.parse(created.stdout);
    const server = startGatehouse({ env, port, workers: 2 });
    const answeredBy = () =>
      server
        .stdout()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { msg: string; route?: string; pid: number })
        .filter((line) => line.msg === 'request' && line.route === '/token');
    try {
      await server.waitUntilReady();
      const authorization = basicAuth(clientId, secret);
      let sent = 0;
      // Round-robin hands connections to the workers that listen, in turn. Ready means one worker listens; on a
      // loaded machine the second may take seconds more: go on until both have answered (bounded in time).
      const until = Date.now() + 30_000;
      while (sent < 10 || (new Set(answeredBy().map((line) => line.pid)).size < 2 && Date.now() < until)) {
        const statuses = await Promise.all(
          Array.from({ length: 10 }, () => tokenRequestOnNewConnection(server.base, authorization)),
        );
        assert.deepEqual(statuses, Array(10).fill(200));
        sent += 10;
        if (sent > 10) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      // The log lines of the last requests may still be on their way.
      const deadline = Date.now() + 10_000;
      while (answeredBy().length < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const lines = answeredBy();
      assert.equal(lines.length, sent);
      const pids = new Set(lines.map((line) => line.pid));
      assert.equal(pids.size, 2, 'both workers answered token requests');

      const samples: Sample[] = await scrape(`http://127.0.0.1:${metricsPort}`);
      assert.equal(
        total(samples, 'gatehouse_tokens_issued_total', { grant_type: 'client_credentials' }),
        sent,
      );
      assert.equal(
        total(samples, `${HTTP}_count`, { method: 'POST', route: '/token', status_code: '200' }),
        sent,
      );
      assert.equal(
        total(samples, `${HTTP}_bucket`, { method: 'POST', route: '/token', status_code: '200', le: '+Inf' }),
        sent,
      );
      assert.ok(total(samples, 'process_resident_memory_bytes') > 0);
    } finally {
      await server.stop();
    }
    assert.equal(await server.exited, 0, server.output());
  });
});
