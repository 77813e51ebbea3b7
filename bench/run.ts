// npm run bench: Gatehouse side by side with node-oidc-provider (in-memory, its fastest) and a bare Fastify
// ceiling, on loopback. Each server runs pinned to core 0 and autocannon to core 1 (--unpinned to let both
// float); the servers take turns run after run (A B C, C B A, …) and the table shows medians.
// Usage: node bench/run.ts [--runs 3] [--duration 5] [--connections 50] [--unpinned] [--only discovery,cc-opaque]
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    unpinned: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: 'bench/results/latest.md' },
  },
});
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
  startupMs: number;
}

const SERVERS: Record<string, { script: string; env?: Record<string, string> }> = {
  gatehouse: { script: 'bench/servers/gatehouse.ts', env: { GATEHOUSE_ACCESS_TOKEN_FORMAT: 'opaque' } },
  'gatehouse-jwt': { script: 'bench/servers/gatehouse.ts' },
  'node-oidc-provider': { script: 'bench/servers/oidc-provider.ts' },
  'fastify-ceiling': { script: 'bench/servers/fastify-hello.ts' },
};

function pinned(core: number, command: string, args: string[]): [string, string[]] {
  return PINNED ? ['taskset', ['-c', String(core), command, ...args]] : [command, args];
}

async function start(name: string): Promise<Started> {
  const server = SERVERS[name]!;
  const [command, args] = pinned(0, process.execPath, [server.script]);
  const began = performance.now();
  const child = spawn(command, args, {
    env: { ...process.env, ...server.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const newline = buffer.indexOf('\n');
      if (newline >= 0) resolve(buffer.slice(0, newline));
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready`)));
  });
  const ready = JSON.parse(line) as { port: number; clientId: string; clientSecret: string };
  return { name, child, ...ready, startupMs: performance.now() - began };
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

interface Workload {
  name: string;
  servers: string[];
  request(server: Started): Promise<Record<string, unknown>>;
}

const form = { 'content-type': 'application/x-www-form-urlencoded' };
const WORKLOADS: Workload[] = [
  {
    name: 'discovery',
    servers: ['gatehouse', 'node-oidc-provider', 'fastify-ceiling'],
    request: async () => ({ method: 'GET', path: '/.well-known/openid-configuration' }),
  },
  {
    name: 'cc-opaque',
    servers: ['gatehouse', 'node-oidc-provider', 'fastify-ceiling'],
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
    servers: ['gatehouse', 'node-oidc-provider'],
    request: async (server) => {
      const path = server.name === 'node-oidc-provider' ? '/token/introspection' : '/introspect';
      const token = await mintToken(server, '/token');
      return {
        method: 'POST',
        path,
        headers: { ...form, authorization: basic(server) },
        body: `token=${encodeURIComponent(token)}`,
      };
    },
  },
];

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
  for (const name of workload.servers) {
    const server = await start(name);
    started.push(server);
    startups.set(name, [...(startups.get(name) ?? []), server.startupMs]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (!idle.has(name)) idle.set(name, memoryMb(server.child.pid!, 'VmRSS'));
  }
  const byName = new Map<string, Row>();
  for (let run = 0; run < RUNS; run++) {
    // Alternate the order so no server always runs on a machine warmed (or tired) by the previous one.
    const order = run % 2 === 0 ? started : [...started].reverse();
    for (const server of order) {
      const { path, ...request } = await workload.request(server);
      const url = `http://127.0.0.1:${server.port}${path}`;
      // Warm-up, not measured.
      await load({ url, ...request, connections: CONNECTIONS, duration: 1 });
      const cpuBefore = cpuMs(server.child.pid!);
      const result = await load({ url, ...request, connections: CONNECTIONS, duration: DURATION });
      const cpu = cpuMs(server.child.pid!) - cpuBefore;
      const row = byName.get(server.name) ?? {
        workload: workload.name,
        server: server.name,
        rps: [],
        p50: [],
        p99: [],
        cpuUsPerOp: [],
        peakRssMb: 0,
        failures: 0,
      };
      row.rps.push(result.rps);
      row.p50.push(result.p50);
      row.p99.push(result.p99);
      row.cpuUsPerOp.push((cpu * 1000) / Math.max(1, result.requests));
      row.failures += result.errors + result.timeouts + result.non2xx;
      row.peakRssMb = memoryMb(server.child.pid!, 'VmHWM');
      byName.set(server.name, row);
      process.stderr.write(
        `${workload.name} ${server.name} run ${run + 1}: ${Math.round(result.rps)} req/s, p99 ${result.p99} ms, failures ${result.errors + result.timeouts + result.non2xx}\n`,
      );
    }
  }
  rows.push(...byName.values());
  for (const server of started) server.child.kill('SIGTERM');
}

/**
 * Restart to first 200, as an operator sees it: `gatehouse start` on a data folder that already has its keys
 * (the first start, which generates them, is not counted), polled on /health; the Fastify hello-world the same way.
 */
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
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      // Run 0 warms the data folder (keys) and the compile cache; it is not counted.
      if (run > 0) times.set(name, [...(times.get(name) ?? []), elapsed]);
    }
  }
  return times;
}

const fmt = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const lines = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; ${PINNED ? 'server pinned to core 0, load generator (autocannon) to core 1' : 'unpinned'}; ${CONNECTIONS} connections, ${DURATION} s per run, median of ${RUNS} alternating runs. Gatehouse on durable SQLite (file, WAL, synchronous=FULL); node-oidc-provider with its in-memory adapter. Command: \`npm run bench -- --runs ${RUNS} --duration ${DURATION}${PINNED ? '' : ' --unpinned'}\`.`,
  '',
  '| workload | server | req/s | p50 ms | p99 ms | server CPU µs/op | peak RSS MB | vs node-oidc-provider | vs Fastify ceiling | failed requests |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
];
for (const row of rows) {
  const peer = rows.find((other) => other.workload === row.workload && other.server === 'node-oidc-provider');
  const ceiling = rows.find((other) => other.workload === row.workload && other.server === 'fastify-ceiling');
  const ratio = (other: Row | undefined) =>
    other && other !== row ? `${fmt(median(row.rps) / median(other.rps), 2)}×` : '';
  lines.push(
    `| ${row.workload} | ${row.server} | ${fmt(median(row.rps))} | ${fmt(median(row.p50), 1)} | ${fmt(median(row.p99), 1)} | ${fmt(median(row.cpuUsPerOp))} | ${fmt(row.peakRssMb)} | ${ratio(peer)} | ${ratio(ceiling)} | ${row.failures} |`,
  );
}
const restarts = selected ? new Map<string, number[]>() : await restartTimes();
lines.push(
  '',
  '| server | first start to ready, ms (fresh data: keys generated) | restart to first 200, ms | idle RSS MB |',
  '|---|---:|---:|---:|',
);
for (const [name, times] of startups) {
  lines.push(
    `| ${name} | ${fmt(median(times))} | ${fmt(median(restarts.get(name) ?? []))} | ${fmt(idle.get(name) ?? Number.NaN)} |`,
  );
}
const table = `${lines.join('\n')}\n`;
writeFileSync(values.out, table);
process.stdout.write(table);
