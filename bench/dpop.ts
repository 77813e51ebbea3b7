// npm run bench:dpop: what binding a token to a DPoP key (RFC 9449) costs at the token endpoint. One Gatehouse
// (bench/servers/gatehouse.ts: durable SQLite, or DATABASE_URL) answers client_credentials requests alternately
// as Bearer (no proof) and as DPoP (a fresh proof per request, with the server's nonce), run after run; the table
// shows the medians of throughput, latency and, the figure that survives a busy machine, the server's CPU time
// per token (from /proc). The proofs are signed before each run, so the driver's signing is not measured: what a
// DPoP request adds on the server is the proof's signature check, its thumbprint, the nonce HMAC and the jti
// written to rate_limits (one upsert in the same commit group).
// Usage: node bench/dpop.ts [--runs 3] [--duration 5] [--connections 20] [--format opaque|jwt]
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '20' },
    format: { type: 'string', default: 'opaque' },
  },
});
const RUNS = Number(values.runs);
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const CLOCK_TICK_MS = 10; // Linux USER_HZ = 100

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
}

const port = await freePort();
const issuer = `http://127.0.0.1:${port}`;
const child: ChildProcess = spawn(process.execPath, ['bench/servers/gatehouse.ts'], {
  env: {
    ...process.env,
    PORT: String(port),
    GATEHOUSE_ISSUER: issuer,
    GATEHOUSE_ACCESS_TOKEN_FORMAT: values.format,
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const ready = await new Promise<{ clientId: string; clientSecret: string }>((resolve, reject) => {
  let buffered = '';
  child.stdout!.on('data', (chunk) => {
    buffered += chunk;
    const line = buffered.split('\n')[0];
    if (buffered.includes('\n') && line) resolve(JSON.parse(line));
  });
  child.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
});
const basic = `Basic ${Buffer.from(`${ready.clientId}:${ready.clientSecret}`).toString('base64')}`;
const headers = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic };
const body = 'grant_type=client_credentials&scope=api:read';

const { publicKey, privateKey } = await generateKeyPair('ES256');
const jwk = await exportJWK(publicKey);
async function proof(nonce: string | undefined): Promise<string> {
  return new SignJWT({
    htm: 'POST',
    htu: `${issuer}/token`,
    iat: Math.floor(Date.now() / 1000),
    jti: randomUUID(),
    nonce,
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .sign(privateKey);
}
// The nonce, learned as a client learns it.
const first = await fetch(`${issuer}/token`, {
  method: 'POST',
  headers: { ...headers, dpop: await proof(undefined) },
  body,
});
const nonce = first.headers.get('dpop-nonce') ?? undefined;
if (first.status !== 400 && first.status !== 200)
  throw new Error(`unexpected ${first.status}: ${await first.text()}`);

interface Result {
  rps: number;
  p50: number;
  p99: number;
  cpuPerTokenMs: number;
  non2xx: number;
}

async function run(dpop: boolean, expected: number): Promise<Result> {
  const proofs: string[] = [];
  if (dpop) for (let i = 0; i < expected; i++) proofs.push(await proof(nonce));
  let next = 0;
  const cpuBefore = cpuMs(child.pid!);
  const result = await autocannon({
    url: `${issuer}/token`,
    method: 'POST',
    headers,
    body,
    connections: CONNECTIONS,
    duration: DURATION,
    requests: dpop
      ? [
          {
            setupRequest: (request) => {
              // Past the pool, a proof is replayed and refused: counted as non-2xx and reported.
              const dpopHeader = proofs[next++ % proofs.length]!;
              return { ...request, headers: { ...request.headers, dpop: dpopHeader } };
            },
          },
        ]
      : undefined,
  });
  const cpu = cpuMs(child.pid!) - cpuBefore;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuPerTokenMs: cpu / Math.max(1, result['2xx']),
    non2xx: result.non2xx,
  };
}

const median = (numbers: number[]) => [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)]!;
const results: Record<'bearer' | 'dpop', Result[]> = { bearer: [], dpop: [] };
// A short warm-up, then alternate; the pool is sized from the bearer run before it (plus headroom).
await run(false, 0);
for (let index = 0; index < RUNS; index++) {
  const bearer = await run(false, 0);
  results.bearer.push(bearer);
  results.dpop.push(await run(true, Math.ceil(bearer.rps * DURATION * 1.5) + 500));
}
child.kill('SIGTERM');

const line = (name: string, list: Result[]) =>
  `| ${name} | ${median(list.map((r) => r.rps)).toFixed(0)} | ${median(list.map((r) => r.p50))} | ${median(list.map((r) => r.p99))} | ${median(list.map((r) => r.cpuPerTokenMs)).toFixed(3)} | ${list.reduce((sum, r) => sum + r.non2xx, 0)} |`;
process.stdout.write(
  [
    `client_credentials, ${values.format} tokens, ${CONNECTIONS} connections, ${RUNS} × ${DURATION} s each (medians)`,
    '',
    '| token | req/s | p50 ms | p99 ms | server CPU ms per token | non-2xx |',
    '|---|---|---|---|---|---|',
    line('Bearer', results.bearer),
    line('DPoP-bound (proof + nonce + jti)', results.dpop),
    '',
  ].join('\n'),
);
