// Benchmark target: Gatehouse as `npm start` runs it (durable SQLite file in WAL mode, or DATABASE_URL), with
// one confidential client (client_credentials, authorization code, refresh token; a resource server). Prints one JSON line when
// ready: { port, clientId, clientSecret, users? }.
//
// BENCH_PURGE=1 runs the housekeeping purge (the same function, batches and pauses as the
// 10-minute timer) for BENCH_PURGE_WINDOW_MS after each SIGUSR2, to measure what purging costs the requests;
// on SIGTERM it prints how many rows it deleted.
//
// BENCH_USERS=N also seeds N users (bench-0@bench.example, …) with one shared password, for the stateful
// workloads that sign in through the login page; the ready line then carries { emails, password }.
//
// GATEHOUSE_METRICS_ADDRESS (bench/run.ts --metrics) turns Prometheus metrics on as `gatehouse start` does: their
// cost on the measured paths.
//
// BENCH_MEMORY_SIGNAL=SIGWINCH (bench/soak.ts) prints {"memory":{rss,heapUsed,…}} to stderr on that signal,
// after a full garbage collection when the process runs with --expose-gc.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashPassword } from '../../src/accounts/password.ts';
import { loadConfig } from '../../src/config.ts';
import { purgeExpired, refreshTokenLifetimeMs } from '../../src/housekeeping.ts';
import { openDeps } from '../../src/main.ts';
import { buildClient } from '../../src/oauth/client-metadata.ts';
import { buildServer } from '../../src/server.ts';
import { randomId, randomToken } from '../../src/util/random.ts';

const dataDir = process.env.GATEHOUSE_DATA_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'gh-bench-'));
const config = loadConfig({
  ...process.env,
  GATEHOUSE_DATA_DIR: dataDir,
  LOG_LEVEL: 'silent',
  PORT: process.env.PORT ?? '0',
  HOST: '127.0.0.1',
  GATEHOUSE_ISSUER: process.env.GATEHOUSE_ISSUER ?? 'http://127.0.0.1:0',
  // Sign-in is set-up here, not what is measured: the seeded users' hashes and the configured cost agree, or
  // every chain's first sign-in would rehash at the default N=2^17 (0.6 s each, two at a time).
  GATEHOUSE_PASSWORD_COST: process.env.GATEHOUSE_PASSWORD_COST ?? '10',
});
const prometheus = config.metricsAddress ? await import('../../src/observability/prometheus.ts') : undefined;
const metrics = prometheus?.createPrometheusMetrics();
const deps = await openDeps(config, { metrics });
if (prometheus && metrics && config.metricsAddress) {
  await prometheus.serveMetrics(config.metricsAddress, () => metrics.registry.metrics());
}
const { client, secret } = buildClient(
  {
    name: 'bench',
    redirectUris: ['https://rp.example/cb'],
    grantTypes: ['client_credentials', 'authorization_code', 'refresh_token'],
    scope: 'openid profile email offline_access api:read',
    // The introspection workload asks about this client's own client_credentials tokens, which any client may
    // do; marked anyway, as the API that introspects would be (RFC 7662 §4), so the run measures that path.
    resourceServer: true,
  },
  Date.now(),
);
await deps.storage.clients.create(client);

let users: { emails: string[]; password: string } | undefined;
const userCount = Number(process.env.BENCH_USERS ?? 0);
if (userCount > 0) {
  const password = randomToken(12);
  // One hash for all, at scrypt's lowest accepted cost: sign-in is set-up, not what is measured, and the hash
  // format carries its cost, so the login page verifies it as it would any other.
  const passwordHash = await hashPassword(password, config.passwordCost);
  const now = Date.now();
  const emails = Array.from({ length: userCount }, (_, index) => `bench-${index}@bench.example`);
  for (const email of emails) {
    await deps.storage.users.create({
      id: randomId(),
      email,
      name: null,
      passwordHash,
      isAdmin: false,
      emailVerified: true,
      createdAt: now,
      updatedAt: now,
      disabledAt: null,
      claims: null,
    });
  }
  users = { emails, password };
}

const app = await buildServer(deps, { logger: false });
await app.listen({ port: config.port, host: '127.0.0.1' });
const port = (app.server.address() as { port: number }).port;
process.stdout.write(`${JSON.stringify({ port, clientId: client.id, clientSecret: secret, users })}\n`);
const memorySignal = process.env.BENCH_MEMORY_SIGNAL as NodeJS.Signals | undefined;
if (memorySignal) {
  process.on(memorySignal, () => {
    (globalThis as { gc?: () => void }).gc?.();
    process.stderr.write(`${JSON.stringify({ memory: process.memoryUsage() })}\n`);
  });
}
let purged = 0;
let stopping = false;
if (process.env.BENCH_PURGE === '1') {
  // The benchmark sends SIGUSR2 before each measured run: the purge then runs for that run's length, so that
  // the rows it has to delete are not used up before the runs that measure it.
  let purgeUntil = 0;
  process.on('SIGUSR2', () => {
    purgeUntil = Date.now() + Number(process.env.BENCH_PURGE_WINDOW_MS ?? 10_000);
  });
  void (async () => {
    while (!stopping) {
      if (Date.now() < purgeUntil) {
        // One run of the housekeeping (batches and pauses as in production) at a time.
        const counts = await purgeExpired(deps.storage, deps.clock, {
          refreshTokenLifetimeMs: refreshTokenLifetimeMs(deps.config),
          maxBatches: 20,
        });
        purged += Object.values(counts).reduce((sum, count) => sum + count, 0);
      } else await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
}
process.once('SIGTERM', () => {
  stopping = true;
  if (process.env.BENCH_PURGE === '1') process.stderr.write(`housekeeping purged ${purged} expired rows\n`);
  process.exit(0);
});
