// npm run bench: Gatehouse side by side with node-oidc-provider (in-memory, its fastest) and a bare Fastify
// ceiling, on loopback. Each server runs pinned to core 0 and the load driver to core 1 (--unpinned to let both
// float); the servers take turns run after run (A B C, C B A, …) and the table shows medians.
// Stateless workloads are driven by autocannon (bench/load.ts); the stateful ones (refresh, code-flow), where
// each request depends on the previous answer, by bench/flow-driver.ts, with Gatehouse also on PostgreSQL.
// --large-store adds Gatehouse on a store of 100,000 clients and 1,000,000 live access and refresh tokens
// (bench/seed.ts; about 30 s to build once) to the introspection, refresh, code-flow and client_credentials
// workloads, and the same store with the housekeeping purge running non-stop (gatehouse-purging).
// Usage: node bench/run.ts [--runs 3] [--duration 5] [--connections 50] [--unpinned] [--large-store]
//        [--only discovery,cc-opaque] [--metrics]
// --metrics runs the Gatehouse servers with Prometheus metrics on (GATEHOUSE_METRICS_ADDRESS), to measure their cost.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { compareWithBaseline, driftSection, parseBaseline } from './drift.ts';
import type { DriverOptions, DriverResult } from './flow-driver.ts';
import { type BenchPostgres, startBenchPostgres } from './postgres.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    unpinned: { type: 'boolean', default: false },
    'large-store': { type: 'boolean', default: false },
    only: { type: 'string' },
    metrics: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results/latest.md' },
    // What the CPU per operation is compared with (bench/drift.ts): the committed results by default.
    baseline: { type: 'string', default: 'bench/results/latest.md' },
  },
});
// Read before the run: --out usually names the same file.
const baselineText = existsSync(values.baseline) ? readFileSync(values.baseline, 'utf8') : undefined;
const RUNS = Number(values.runs);
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const PINNED = !values.unpinned && os.cpus().length >= 2;
const CLOCK_TICK_MS = 10; // Linux USER_HZ = 100

interface Started {
  name: string;
  child: ChildProcess;
  port: number;
  clientId: string;
  clientSecret: string;
  /** Gatehouse started with BENCH_USERS: the users the flow driver signs in as. */
  users?: { emails: string[]; password: string };
  startupMs: number;
  /** Other processes doing the server's work (PostgreSQL), whose CPU time counts as the server's. */
  helperPids: number[];
  stop(): Promise<void>;
}

const LARGE_STORE = values['large-store'];

const SERVERS: Record<
  string,
  { script: string; env?: Record<string, string>; postgres?: boolean; largeStore?: boolean }
> = {
  gatehouse: { script: 'bench/servers/gatehouse.ts', env: { GATEHOUSE_ACCESS_TOKEN_FORMAT: 'opaque' } },
  'gatehouse-pg': {
    script: 'bench/servers/gatehouse.ts',
    env: { GATEHOUSE_ACCESS_TOKEN_FORMAT: 'opaque' },
    postgres: true,
  },
  'gatehouse-jwt': { script: 'bench/servers/gatehouse.ts' },
  'gatehouse-large': {
    script: 'bench/servers/gatehouse.ts',
    env: { GATEHOUSE_ACCESS_TOKEN_FORMAT: 'opaque' },
    largeStore: true,
  },
  'gatehouse-purging': {
    script: 'bench/servers/gatehouse.ts',
    env: {
      GATEHOUSE_ACCESS_TOKEN_FORMAT: 'opaque',
      BENCH_PURGE: '1',
      BENCH_PURGE_WINDOW_MS: String((Number(values.duration) + 1) * 1000),
    },
    largeStore: true,
  },
  'node-oidc-provider': { script: 'bench/servers/oidc-provider.ts' },
  'fastify-ceiling': { script: 'bench/servers/fastify-hello.ts' },
  'node-http-ceiling': { script: 'bench/servers/node-http-ceiling.ts' },
};

function pinned(core: number, command: string, args: string[]): [string, string[]] {
  return PINNED ? ['taskset', ['-c', String(core), command, ...args]] : [command, args];
}

/** The seeded large store, built once on first use; every server that uses it gets its own copy. */
let largeStore: Promise<string> | undefined;
function largeStoreCopy(): Promise<string> {
  largeStore ??= (async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gh-bench-large-'));
    const file = path.join(dir, 'gatehouse.db');
    const { openStorage } = await import('../src/storage/open.ts');
    await (await openStorage(`sqlite:${file}`)).storage.close();
    const { seedStore } = await import('./seed.ts');
    const began = performance.now();
    seedStore(file);
    execFileSync('sync');
    process.stderr.write(`large store seeded in ${Math.round(performance.now() - began)} ms\n`);
    return dir;
  })();
  return largeStore.then((template) => {
    const copy = mkdtempSync(path.join(os.tmpdir(), 'gh-bench-large-copy-'));
    cpSync(template, copy, { recursive: true });
    // Write the copy out now, so the kernel's writeback of a gigabyte does not run during a measurement.
    execFileSync('sync');
    return copy;
  });
}

/** Started on first use by a gatehouse-pg server, stopped at the end. */
let postgres: Promise<BenchPostgres> | undefined;

// Servers still running; if the benchmark dies half-way (a driver failing its set-up), they go with it.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGTERM');
});

async function start(name: string, workloadEnv: Record<string, string> = {}): Promise<Started> {
  const server = SERVERS[name]!;
  let database: { url: string; drop(): Promise<void> } | undefined;
  let helperPids: number[] = [];
  if (server.postgres) {
    postgres ??= startBenchPostgres(PINNED ? 0 : undefined);
    const cluster = await postgres;
    database = await cluster.fresh();
    helperPids = cluster.postmasterPid === undefined ? [] : [cluster.postmasterPid];
  }
  const dataDir = server.largeStore ? await largeStoreCopy() : undefined;
  const metricsAddress =
    values.metrics && server.script === 'bench/servers/gatehouse.ts'
      ? `127.0.0.1:${await freePort()}`
      : undefined;
  const [command, args] = pinned(0, process.execPath, [server.script]);
  const began = performance.now();
  const child = spawn(command, args, {
    env: {
      ...process.env,
      ...server.env,
      ...workloadEnv,
      ...(database ? { DATABASE_URL: database.url } : {}),
      ...(dataDir ? { GATEHOUSE_DATA_DIR: dataDir } : {}),
      ...(metricsAddress ? { GATEHOUSE_METRICS_ADDRESS: metricsAddress } : {}),
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const line = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const newline = buffer.indexOf('\n');
      if (newline >= 0) resolve(buffer.slice(0, newline));
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready`)));
  });
  const ready = JSON.parse(line) as Pick<Started, 'port' | 'clientId' | 'clientSecret' | 'users'>;
  const stop = async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    await database?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  return { name, child, ...ready, startupMs: performance.now() - began, helperPids, stop };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
}

function memoryMb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}

async function load(options: Record<string, unknown>): Promise<LoadResult> {
  const [command, args] = pinned(1, process.execPath, ['bench/load.ts', JSON.stringify(options)]);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await new Promise((resolve) => child.once('exit', resolve));
  return JSON.parse(output) as LoadResult;
}

const basic = (server: Started) =>
  `Basic ${Buffer.from(`${encodeURIComponent(server.clientId)}:${encodeURIComponent(server.clientSecret)}`).toString('base64')}`;

async function mintToken(server: Started, tokenPath: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${server.port}${tokenPath}`, {
    method: 'POST',
    headers: { authorization: basic(server), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=api%3Aread',
  });
  const body = (await response.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`${server.name}: no token: ${JSON.stringify(body)}`);
  return body.access_token;
}

interface AutocannonWorkload {
  name: string;
  servers: string[];
  request(server: Started): Promise<Record<string, unknown>>;
}

/** Driven by bench/flow-driver.ts: one op = one refresh, or one whole authorization code flow. */
interface FlowWorkload {
  name: string;
  servers: string[];
  flow: DriverOptions['workload'];
  /** Added to every server's environment for this workload. */
  serverEnv: Record<string, string>;
}

type Workload = AutocannonWorkload | FlowWorkload;

const form = { 'content-type': 'application/x-www-form-urlencoded' };
/** The stateful workloads run on Gatehouse (SQLite, PostgreSQL, and the large store), the peer and the ceiling. */
const FLOW_SERVERS = [
  'gatehouse',
  'gatehouse-pg',
  'node-oidc-provider',
  'node-http-ceiling',
  ...(LARGE_STORE ? ['gatehouse-large'] : []),
];
const WORKLOADS: Workload[] = [
  {
    name: 'discovery',
    servers: ['gatehouse', 'node-oidc-provider', 'fastify-ceiling'],
    request: async () => ({ method: 'GET', path: '/.well-known/openid-configuration' }),
  },
  {
    name: 'cc-opaque',
    servers: [
      'gatehouse',
      'node-oidc-provider',
      'fastify-ceiling',
      'node-http-ceiling',
      ...(LARGE_STORE ? ['gatehouse-large', 'gatehouse-purging'] : []),
    ],
    request: async (server) => ({
      method: 'POST',
      path: '/token',
      headers: { ...form, authorization: basic(server) },
      body: 'grant_type=client_credentials&scope=api%3Aread',
    }),
  },
  {
    name: 'cc-jwt-es256',
    servers: ['gatehouse-jwt'],
    request: async (server) => ({
      method: 'POST',
      path: '/token',
      headers: { ...form, authorization: basic(server) },
      body: 'grant_type=client_credentials&scope=api%3Aread',
    }),
  },
  {
    name: 'introspection',
    servers: [
      'gatehouse',
      'node-oidc-provider',
      'node-http-ceiling',
      ...(LARGE_STORE ? ['gatehouse-large', 'gatehouse-purging'] : []),
    ],
    request: async (server) => {
      const path = server.name === 'node-oidc-provider' ? '/token/introspection' : '/introspect';
      const token = server.name === 'node-http-ceiling' ? 'x'.repeat(60) : await mintToken(server, '/token');
      return {
        method: 'POST',
        path,
        headers: { ...form, authorization: basic(server) },
        body: `token=${encodeURIComponent(token)}`,
      };
    },
  },
  {
    // 50 chains each holding a refresh token, rotated on every use. Opaque access tokens on both servers, no
    // ID token (scope api:read, without openid).
    name: 'refresh',
    servers: FLOW_SERVERS,
    flow: 'refresh',
    serverEnv: { BENCH_USERS: String(CONNECTIONS) },
  },
  {
    // The same chains with scope "openid api:read": every refresh also returns an RS256 ID token (OIDC Core
    // §12.2). Gatehouse only (node-oidc-provider issues refresh tokens with openid only for offline_access).
    name: 'refresh-openid',
    servers: ['gatehouse', 'gatehouse-pg', 'node-http-ceiling'],
    flow: 'refresh-openid',
    serverEnv: { BENCH_USERS: String(CONNECTIONS) },
  },
  {
    // GET /authorize for a signed-in user with remembered consent → code → POST /token with PKCE and client
    // secret → opaque access token + ES256 ID token (scope openid api:read).
    name: 'code-flow',
    servers: FLOW_SERVERS,
    flow: 'code-flow',
    serverEnv: { BENCH_USERS: String(CONNECTIONS), GATEHOUSE_ID_TOKEN_ALG: 'ES256' },
  },
];

interface RunResult {
  /** Requests for autocannon workloads, operations for flow workloads. */
  ops: number;
  opsPerSecond: number;
  p50: number;
  p99: number;
  failures: number;
  serverCpuMs: number;
  /** Of serverCpuMs, what PostgreSQL's processes spent (flow workloads on gatehouse-pg). */
  helperCpuMs?: number;
}

async function autocannonRun(workload: AutocannonWorkload, server: Started): Promise<RunResult> {
  const { path, ...request } = await workload.request(server);
  const url = `http://127.0.0.1:${server.port}${path}`;
  // The purging server purges for the length of this run (warm-up included).
  if (server.name === 'gatehouse-purging') server.child.kill('SIGUSR2');
  // Warm-up, not measured.
  await load({ url, ...request, connections: CONNECTIONS, duration: 1 });
  const cpuBefore = cpuMs(server.child.pid!);
  const result = await load({ url, ...request, connections: CONNECTIONS, duration: DURATION });
  return {
    ops: result.requests,
    opsPerSecond: result.rps,
    p50: result.p50,
    p99: result.p99,
    failures: result.errors + result.timeouts + result.non2xx,
    serverCpuMs: cpuMs(server.child.pid!) - cpuBefore,
  };
}

const shapesShown = new Set<string>();

/** One flow-driver process: signs its chains in, warms up for a second, measures; it reads the server's CPU. */
async function flowRun(workload: FlowWorkload, server: Started): Promise<RunResult> {
  const options: DriverOptions = {
    workload: workload.flow,
    target: server.name.startsWith('gatehouse')
      ? 'gatehouse'
      : server.name === 'node-oidc-provider'
        ? 'node-oidc-provider'
        : 'ceiling',
    port: server.port,
    clientId: server.clientId,
    clientSecret: server.clientSecret,
    authorizePath: server.name === 'node-oidc-provider' ? '/auth' : '/authorize',
    tokenPath: '/token',
    users: server.users,
    chains: CONNECTIONS,
    warmup: 1,
    duration: DURATION,
    cpuPids: [server.child.pid!, ...server.helperPids],
  };
  const [command, args] = pinned(1, process.execPath, ['bench/flow-driver.ts', JSON.stringify(options)]);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0)
    throw new Error(`${workload.name} on ${server.name}: the flow driver failed (exit ${code})`);
  const result = JSON.parse(output) as DriverResult;
  // What each server answered, once per server and workload: the table compares like with like only if these match.
  const key = `${workload.name} ${server.name}`;
  if (!shapesShown.has(key)) {
    shapesShown.add(key);
    process.stderr.write(`${key} token answer: ${result.answerShape}\n`);
  }
  return {
    ops: result.ops,
    opsPerSecond: result.opsPerSecond,
    // No completed op leaves no percentile: NaN, which JSON carried as null.
    p50: result.p50 ?? Number.NaN,
    p99: result.p99 ?? Number.NaN,
    failures: result.failures,
    serverCpuMs: result.serverCpuMs,
    helperCpuMs: server.helperPids.length > 0 ? result.helperCpuMs : undefined,
  };
}

const median = (list: number[]) => {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

interface Row {
  workload: string;
  server: string;
  rps: number[];
  p50: number[];
  p99: number[];
  cpuUsPerOp: number[];
  /** Of cpuUsPerOp, PostgreSQL's part (gatehouse-pg). */
  helperCpuUsPerOp: number[];
  peakRssMb: number;
  failures: number;
}

const rows: Row[] = [];
const startups = new Map<string, number[]>();
const idle = new Map<string, number>();
const selected = values.only ? new Set(values.only.split(',')) : undefined;

for (const workload of WORKLOADS) {
  if (selected && !selected.has(workload.name)) continue;
  const started: Started[] = [];
  const flow = 'flow' in workload ? workload : undefined;
  for (const name of workload.servers) {
    const server = await start(name, flow?.serverEnv);
    started.push(server);
    // Start-up and idle memory as an operator sees them: not for flow workloads, whose servers seed users first.
    if (!flow) startups.set(name, [...(startups.get(name) ?? []), server.startupMs]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (!flow && !idle.has(name)) idle.set(name, memoryMb(server.child.pid!, 'VmRSS'));
  }
  const byName = new Map<string, Row>();
  for (let run = 0; run < RUNS; run++) {
    // Alternate the order so no server always runs on a machine warmed (or tired) by the previous one.
    const order = run % 2 === 0 ? started : [...started].reverse();
    for (const server of order) {
      const result = flow
        ? await flowRun(flow, server)
        : await autocannonRun(workload as AutocannonWorkload, server);
      const row = byName.get(server.name) ?? {
        workload: workload.name,
        server: server.name,
        rps: [],
        p50: [],
        p99: [],
        cpuUsPerOp: [],
        helperCpuUsPerOp: [],
        peakRssMb: 0,
        failures: 0,
      };
      row.rps.push(result.opsPerSecond);
      row.p50.push(result.p50);
      row.p99.push(result.p99);
      row.cpuUsPerOp.push((result.serverCpuMs * 1000) / Math.max(1, result.ops));
      if (result.helperCpuMs !== undefined)
        row.helperCpuUsPerOp.push((result.helperCpuMs * 1000) / Math.max(1, result.ops));
      row.failures += result.failures;
      row.peakRssMb = memoryMb(server.child.pid!, 'VmHWM');
      byName.set(server.name, row);
      process.stderr.write(
        `${workload.name} ${server.name} run ${run + 1}: ${Math.round(result.opsPerSecond)} ${flow ? 'ops' : 'req'}/s, p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, failures ${result.failures}\n`,
      );
    }
  }
  rows.push(...byName.values());
  for (const server of started) await server.stop();
}
await (await postgres)?.stop();

/**
 * Restart to first 200, as an operator sees it: `gatehouse start` on a data folder that already has its keys
 * (the first start, which generates them, is not counted), polled on /health; the Fastify hello-world the same way.
 */
const restartIdle = new Map<string, number[]>();
async function restartTimes(): Promise<Map<string, number[]>> {
  const { mkdtempSync } = await import('node:fs');
  const path = await import('node:path');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gh-restart-'));
  const targets: Record<string, { args: string[]; probe: string; env: Record<string, string> }> = {
    gatehouse: {
      args: ['bin/gatehouse.js', 'start'],
      probe: '/health',
      env: { GATEHOUSE_DATA_DIR: dataDir, LOG_LEVEL: 'silent' },
    },
    'fastify-ceiling': {
      args: ['bench/servers/fastify-hello.ts'],
      probe: '/.well-known/openid-configuration',
      env: {},
    },
  };
  const times = new Map<string, number[]>();
  for (const [name, target] of Object.entries(targets)) {
    for (let run = 0; run <= RUNS; run++) {
      const port = 4700 + run;
      const [command, args] = pinned(0, process.execPath, target.args);
      const began = performance.now();
      const child = spawn(command, args, {
        env: { ...process.env, ...target.env, PORT: String(port), HOST: '127.0.0.1' },
        stdio: 'ignore',
      });
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${port}${target.probe}`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const elapsed = performance.now() - began;
      // Idle memory of a restarted server: what a running deployment holds (the first start also carries the
      // garbage of key generation and migrations).
      await new Promise((resolve) => setTimeout(resolve, 500));
      if (run > 0) restartIdle.set(name, [...(restartIdle.get(name) ?? []), memoryMb(child.pid!, 'VmRSS')]);
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      // Run 0 warms the data folder (keys) and the compile cache; it is not counted.
      if (run > 0) times.set(name, [...(times.get(name) ?? []), elapsed]);
    }
  }
  return times;
}

const fmt = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const flowRows = rows.some((row) => WORKLOADS.some((w) => w.name === row.workload && 'flow' in w));
const command = `npm run bench -- --runs ${RUNS} --duration ${DURATION}${PINNED ? '' : ' --unpinned'}${LARGE_STORE ? ' --large-store' : ''}${values.only ? ` --only ${values.only}` : ''}`;
const lines = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; ${PINNED ? 'server pinned to core 0, load driver (autocannon, or bench/flow-driver.ts for refresh and code-flow) to core 1' : 'unpinned'}; ${CONNECTIONS} connections, ${DURATION} s per run, median of ${RUNS} alternating runs. Gatehouse on durable SQLite (file, WAL; every commit fsynced before anything that depends on it is answered)${rows.some((row) => row.server === 'gatehouse-pg') ? ', gatehouse-pg on a local durable PostgreSQL (fsync and synchronous_commit on, pinned with the server)' : ''}; node-oidc-provider with its in-memory adapter. Command: \`${command}\`.`,
  '',
  '| workload | server | ops/s | p50 ms | p99 ms | server CPU µs/op | peak RSS MB | vs node-oidc-provider | vs Fastify ceiling | vs node:http ceiling | failures |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
];
for (const row of rows) {
  const peer = rows.find((other) => other.workload === row.workload && other.server === 'node-oidc-provider');
  const ceiling = rows.find((other) => other.workload === row.workload && other.server === 'fastify-ceiling');
  const bare = rows.find((other) => other.workload === row.workload && other.server === 'node-http-ceiling');
  const ratio = (other: Row | undefined) =>
    other && other !== row ? `${fmt(median(row.rps) / median(other.rps), 2)}×` : '';
  lines.push(
    `| ${row.workload} | ${row.server} | ${fmt(median(row.rps))} | ${fmt(median(row.p50), 1)} | ${fmt(median(row.p99), 1)} | ${fmt(median(row.cpuUsPerOp))} | ${fmt(row.peakRssMb)} | ${ratio(peer)} | ${ratio(ceiling)} | ${ratio(bare)} | ${row.failures} |`,
  );
}
if (flowRows) {
  lines.push(
    '',
    'ops/s is requests/s for the autocannon workloads; for refresh, refreshes/s (one refresh_token grant, the rotated refresh token replacing the old one); for code-flow, complete flows/s (GET /authorize with the session cookie and remembered consent → 303 with a code → POST /token with PKCE verifier and client_secret_basic → opaque access token + ES256 ID token); latencies are per op. The node:http ceiling rows send the same requests to a server that answers 200 to anything. gatehouse-pg CPU includes the PostgreSQL processes (their part is given below). Failures: any unexpected status or answer.',
  );
}
const split = rows.filter((row) => row.helperCpuUsPerOp.length > 0);
if (split.length > 0) {
  lines.push(
    '',
    "Where a PostgreSQL operation's CPU goes: the Gatehouse process, and PostgreSQL's (its backends, WAL writer and checkpointer).",
    '',
    '| workload | server | server CPU µs/op | Gatehouse process µs/op | PostgreSQL µs/op |',
    '|---|---|---:|---:|---:|',
    ...split.map((row) => {
      const total = median(row.cpuUsPerOp);
      const database = median(row.helperCpuUsPerOp);
      return `| ${row.workload} | ${row.server} | ${fmt(total)} | ${fmt(total - database)} | ${fmt(database)} |`;
    }),
  );
}
const growth: string[] = [];
for (const workload of WORKLOADS) {
  const find = (server: string) =>
    rows.find((row) => row.workload === workload.name && row.server === server);
  const empty = find('gatehouse');
  const large = find('gatehouse-large');
  const purging = find('gatehouse-purging');
  const change = (row: Row, base: Row) => `${fmt((median(row.rps) / median(base.rps) - 1) * 100, 1)} %`;
  if (empty && large)
    growth.push(
      `| ${workload.name} | ${fmt(median(empty.rps))} | ${fmt(median(large.rps))} | ${change(large, empty)} | ${purging ? `${fmt(median(purging.rps))} (${change(purging, large)})` : ''} |`,
    );
}
if (growth.length > 0) {
  lines.push(
    '',
    'Cost of data (Gatehouse, SQLite): an empty store against 100,000 clients, 200,000 grants, 1,000,000 live access tokens, 1,000,000 live refresh tokens and 500,000 expired ones of each (bench/seed.ts); and the same large store while the housekeeping purge runs during each measured run (its usual batches of 500, each followed by a pause of at least nine times its own duration).',
    '',
    '| workload | empty store ops/s | large store ops/s | change | large store, purge running ops/s (change) |',
    '|---|---:|---:|---:|---:|',
    ...growth,
  );
}
const restarts = selected ? new Map<string, number[]>() : await restartTimes();
if (startups.size > 0) {
  lines.push(
    '',
    '| server | first start to ready, ms (fresh data: keys generated) | restart to first 200, ms | idle RSS MB after first start | idle RSS MB after restart |',
    '|---|---:|---:|---:|---:|',
  );
}
for (const [name, times] of startups) {
  lines.push(
    `| ${name} | ${fmt(median(times))} | ${fmt(median(restarts.get(name) ?? []))} | ${fmt(idle.get(name) ?? Number.NaN)} | ${fmt(median(restartIdle.get(name) ?? []))} |`,
  );
}
if (baselineText !== undefined) {
  const baseline = parseBaseline(baselineText);
  const drifts = compareWithBaseline(
    rows.map((row) => ({ workload: row.workload, server: row.server, cpuUsPerOp: median(row.cpuUsPerOp) })),
    baseline,
  );
  lines.push(...driftSection(drifts, baseline, process.version, values.baseline));
  for (const drift of drifts.filter((each) => each.flagged)) {
    process.stderr.write(
      `bench: ${drift.workload} on ${drift.server} moved ${Math.round(drift.change * 100)} % in server CPU per operation (${drift.before} → ${Math.round(drift.cpuUsPerOp)} µs; baseline Node ${baseline.nodeVersion ?? '?'}, now ${process.version})\n`,
    );
  }
}
const table = `${lines.join('\n')}\n`;
writeFileSync(values.out, table);
process.stdout.write(table);
