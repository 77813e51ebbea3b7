// npm run soak: SECURITY.md R13 (memory under steady load). One Gatehouse process (SQLite file, or PostgreSQL
// with --postgres) under a steady mixed load for --minutes: client_credentials and introspection at a fixed
// rate (autocannon), refresh rotation and the signed-in code flow (bench/flow-driver.ts), all at once, in
// segments of --segment seconds. After every segment it records the server's RSS and its live JS heap (the
// server collects garbage first, so the heap figure is what is still reachable), and it takes a heap snapshot
// before the load and one at the end and prints which kinds of object grew between them.
//
// Reading the result: a leak is a live heap that keeps growing segment after segment; RSS that climbs and then
// levels off while the heap stays flat is caches filling (SQLite's 32 MiB page cache, V8's old space sizing
// itself), not a leak.
//
// Usage: node bench/soak.ts [--minutes 60] [--segment 30] [--warmup-segments 4] [--rate 200] [--postgres]
//        [--keep-snapshots]
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { DriverOptions, DriverResult } from './flow-driver.ts';
import { type BenchPostgres, startBenchPostgres } from './postgres.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '60' },
    segment: { type: 'string', default: '30' },
    'warmup-segments': { type: 'string', default: '4' },
    rate: { type: 'string', default: '200' },
    postgres: { type: 'boolean', default: false },
    'keep-snapshots': { type: 'boolean', default: false },
  },
});
const SEGMENT_S = Number(values.segment);
const SEGMENTS = Math.max(2, Math.round((Number(values.minutes) * 60) / SEGMENT_S));
const WARMUP_SEGMENTS = Math.min(Number(values['warmup-segments']), SEGMENTS - 1);
/** Requests per second for each of the two autocannon workloads. */
const RATE = Number(values.rate);
const CHAINS = 4;
/** Each refresh and code-flow chain pauses this long between operations: about 4 × 40 refreshes and flows a second. */
const PAUSE_MS = 25;

interface Memory {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

const snapshotDir = mkdtempSync(path.join(os.tmpdir(), 'gh-soak-'));
let postgres: BenchPostgres | undefined;
let databaseUrl: string | undefined;
if (values.postgres) {
  postgres = await startBenchPostgres(undefined);
  databaseUrl = (await postgres.fresh()).url;
}

// The server logs its memory after a full collection on BENCH_MEMORY_SIGNAL (SIGWINCH: SIGUSR1 would open the
// inspector) and writes a heap snapshot into its working directory on SIGUSR2.
const server = spawn(
  process.execPath,
  ['--expose-gc', '--heapsnapshot-signal=SIGUSR2', path.resolve('bench/servers/gatehouse.ts')],
  {
    cwd: snapshotDir,
    env: {
      ...process.env,
      BENCH_USERS: String(CHAINS * 2),
      BENCH_MEMORY_SIGNAL: 'SIGWINCH',
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
process.on('exit', () => server.kill('SIGTERM'));

const memoryWaiters: ((memory: Memory) => void)[] = [];
let stderrBuffer = '';
server.stderr!.on('data', (chunk: Buffer) => {
  stderrBuffer += chunk.toString();
  let newline = stderrBuffer.indexOf('\n');
  while (newline >= 0) {
    const line = stderrBuffer.slice(0, newline);
    stderrBuffer = stderrBuffer.slice(newline + 1);
    if (line.startsWith('{"memory":'))
      memoryWaiters.shift()?.((JSON.parse(line) as { memory: Memory }).memory);
    else process.stderr.write(`server: ${line}\n`);
    newline = stderrBuffer.indexOf('\n');
  }
});

const ready = await new Promise<{
  port: number;
  clientId: string;
  clientSecret: string;
  users: { emails: string[]; password: string };
}>((resolve, reject) => {
  let buffer = '';
  server.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const newline = buffer.indexOf('\n');
    if (newline >= 0) resolve(JSON.parse(buffer.slice(0, newline)));
  });
  server.once('exit', (code) => reject(new Error(`the server exited with ${code} before it was ready`)));
});

function memoryNow(): Promise<Memory> {
  return new Promise((resolve) => {
    memoryWaiters.push(resolve);
    server.kill('SIGWINCH');
  });
}

function run(script: string, options: unknown): { child: ChildProcess; output: Promise<string> } {
  const child = spawn(process.execPath, [script, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let errors = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
  });
  return {
    child,
    output: new Promise((resolve, reject) =>
      child.once('exit', (code) =>
        code === 0 ? resolve(output) : reject(new Error(`${script} exited with ${code}: ${errors}`)),
      ),
    ),
  };
}

const base = `http://127.0.0.1:${ready.port}`;
const basic = `Basic ${Buffer.from(`${encodeURIComponent(ready.clientId)}:${encodeURIComponent(ready.clientSecret)}`).toString('base64')}`;
const form = { 'content-type': 'application/x-www-form-urlencoded' };

async function segment(): Promise<{ requests: number; failures: number }> {
  // A fresh token to introspect each segment, as a resource server sees new tokens all day.
  const minted = (await (
    await fetch(`${base}/token`, {
      method: 'POST',
      headers: { ...form, authorization: basic },
      body: 'grant_type=client_credentials&scope=api%3Aread',
    })
  ).json()) as { access_token: string };
  const autocannon = (body: string, pathName: string) =>
    run('bench/load.ts', {
      url: `${base}${pathName}`,
      method: 'POST',
      headers: { ...form, authorization: basic },
      body,
      connections: 4,
      overallRate: RATE,
      duration: SEGMENT_S,
    });
  const flow = (workload: DriverOptions['workload']) =>
    run('bench/flow-driver.ts', {
      workload,
      target: 'gatehouse',
      port: ready.port,
      clientId: ready.clientId,
      clientSecret: ready.clientSecret,
      authorizePath: '/authorize',
      tokenPath: '/token',
      users: ready.users,
      chains: CHAINS,
      warmup: 0,
      duration: SEGMENT_S,
      cpuPids: [server.pid!],
      pauseMs: PAUSE_MS,
    } satisfies DriverOptions);
  const runs = [
    autocannon('grant_type=client_credentials&scope=api%3Aread', '/token'),
    autocannon(`token=${encodeURIComponent(minted.access_token)}`, '/introspect'),
    flow('refresh'),
    flow('code-flow'),
  ];
  let requests = 0;
  let failures = 0;
  for (const [index, { output }] of runs.entries()) {
    const result = JSON.parse(await output) as Partial<DriverResult> & {
      requests: number;
      non2xx?: number;
      errors?: number;
      timeouts?: number;
    };
    requests += result.requests;
    failures +=
      index < 2
        ? (result.non2xx ?? 0) + (result.errors ?? 0) + (result.timeouts ?? 0)
        : (result.failures ?? 0);
  }
  return { requests, failures };
}

/** Heap snapshot → self size and count per object kind ("(closure) name", "Map", "(string)", …). */
function heapSummary(file: string): Map<string, { size: number; count: number }> {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const summary = new Map<string, { size: number; count: number }>();
  for (let i = 0; i < snapshot.nodes.length; i += stride) {
    const type = types[snapshot.nodes[i + typeAt]!]!;
    const name = snapshot.strings[snapshot.nodes[i + nameAt]!]!;
    const key =
      type === 'object' || type === 'closure'
        ? `${type === 'closure' ? '(closure) ' : ''}${name}`
        : `(${type})`;
    const entry = summary.get(key) ?? { size: 0, count: 0 };
    entry.size += snapshot.nodes[i + sizeAt]!;
    entry.count += 1;
    summary.set(key, entry);
  }
  return summary;
}

async function takeSnapshot(): Promise<string> {
  const before = new Set(readdirSync(snapshotDir));
  server.kill('SIGUSR2');
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const added = readdirSync(snapshotDir).filter(
      (name) => name.endsWith('.heapsnapshot') && !before.has(name),
    );
    // The file is complete once its size stops changing.
    if (added.length > 0) {
      const file = path.join(snapshotDir, added[0]!);
      let size = -1;
      for (;;) {
        const now = readFileSync(file).length;
        if (now === size && now > 0) return file;
        size = now;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const began = Date.now();
const samples: (Memory & { minute: number; requests: number; failures: number })[] = [];
let baseline: Memory | undefined;
process.stdout.write(
  `soak: ${SEGMENTS} segments of ${SEGMENT_S} s on ${values.postgres ? 'PostgreSQL' : 'SQLite'}, ` +
    `${RATE}/s client_credentials + ${RATE}/s introspection + ${CHAINS} refresh chains + ${CHAINS} code-flow chains\n`,
);
process.stdout.write('minute  requests  failures  rss MB  heap total MB  live heap MB  external MB\n');
const line = (minute: number, requests: number, failures: number, memory: Memory) =>
  `${minute.toFixed(1).padStart(6)}  ${String(requests).padStart(8)}  ${String(failures).padStart(8)}  ` +
  `${mb(memory.rss).padStart(6)}  ${mb(memory.heapTotal).padStart(13)}  ${mb(memory.heapUsed).padStart(12)}  ` +
  `${mb(memory.external).padStart(11)}\n`;
// The first snapshot is taken before any load: writing one takes tens of MB of native memory that the
// allocator keeps, which would blur the RSS figures if it happened during the run.
const idle = await memoryNow();
const firstSnapshot = await takeSnapshot();
const start = await memoryNow();
process.stdout.write(`  idle RSS ${mb(idle.rss)} MB; after the first heap snapshot (the baseline below):\n`);
process.stdout.write(line(0, 0, 0, start));
for (let index = 0; index < SEGMENTS; index++) {
  const { requests, failures } = await segment();
  const memory = await memoryNow();
  const minute = (Date.now() - began) / 60_000;
  samples.push({ ...memory, minute, requests, failures });
  process.stdout.write(line(minute, requests, failures, memory));
  if (index === WARMUP_SEGMENTS - 1) baseline = memory;
}
const lastSnapshot = await takeSnapshot();

const afterWarmup = baseline ?? samples[WARMUP_SEGMENTS - 1]!;
const last = samples.at(-1)!;
const measured = samples.slice(WARMUP_SEGMENTS);
const half = measured.slice(Math.floor(measured.length / 2));
const totalRequests = samples.reduce((sum, sample) => sum + sample.requests, 0);
const totalFailures = samples.reduce((sum, sample) => sum + sample.failures, 0);
/** Least-squares slope of a field over the samples, in MB per hour. */
const slope = (list: typeof samples, field: 'rss' | 'heapUsed') => {
  if (list.length < 2) return Number.NaN;
  const meanX = list.reduce((sum, s) => sum + s.minute, 0) / list.length;
  const meanY = list.reduce((sum, s) => sum + s[field], 0) / list.length;
  const covariance = list.reduce((sum, s) => sum + (s.minute - meanX) * (s[field] - meanY), 0);
  const variance = list.reduce((sum, s) => sum + (s.minute - meanX) ** 2, 0);
  return ((covariance / variance) * 60) / 1024 / 1024;
};
process.stdout.write(
  `\n${totalRequests} requests, ${totalFailures} failures, ${((Date.now() - began) / 60_000).toFixed(1)} minutes.\n` +
    `RSS: ${mb(start.rss)} MB at start, ${mb(afterWarmup.rss)} MB after warm-up, ${mb(last.rss)} MB at the end ` +
    `(max ${mb(Math.max(...samples.map((s) => s.rss)))} MB); trend over the second half ${slope(half, 'rss').toFixed(1)} MB/h.\n` +
    `Live heap: ${mb(start.heapUsed)} MB at start, ${mb(afterWarmup.heapUsed)} MB after warm-up, ${mb(last.heapUsed)} MB at the end; ` +
    `trend after warm-up ${slope(measured, 'heapUsed').toFixed(1)} MB/h.\n`,
);
{
  const before = heapSummary(firstSnapshot);
  const after = heapSummary(lastSnapshot);
  const growth = [...after]
    .map(([key, value]) => ({
      key,
      size: value.size - (before.get(key)?.size ?? 0),
      count: value.count - (before.get(key)?.count ?? 0),
    }))
    .sort((a, b) => b.size - a.size)
    .slice(0, 12);
  process.stdout.write('\nLargest growth in the live heap between the snapshots (before the load → end):\n');
  for (const row of growth)
    process.stdout.write(
      `  ${(row.size / 1024).toFixed(0).padStart(8)} KB  ${String(row.count).padStart(8)} objects  ${row.key}\n`,
    );
}
if (values['keep-snapshots']) process.stdout.write(`\nSnapshots kept in ${snapshotDir}\n`);
else rmSync(snapshotDir, { recursive: true, force: true });
server.kill('SIGTERM');
await postgres?.stop();
process.exit(totalFailures > 0 ? 1 : 0);
