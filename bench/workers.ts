// Single process vs `gatehouse start --workers 2` for client_credentials (opaque), unpinned, on loopback.
// Usage: node bench/workers.ts [--duration 5]. On a 2-core machine the load generator shares the cores.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { runCli } from '../src/cli/main.ts';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '5' } } });

async function measure(workers: number): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gh-bench-workers-'));
  const port = 4800 + workers;
  const env = {
    DATABASE_URL: `sqlite:${path.join(dir, 'gatehouse.db')}`,
    GATEHOUSE_DATA_DIR: dir,
    GATEHOUSE_ACCESS_TOKEN_FORMAT: 'opaque',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: String(port),
  };
  let out = '';
  await runCli(
    ['clients', 'add', '--name', 'bench', '--grant', 'client_credentials', '--scope', 'api:read'],
    {
      stdout: (text) => {
        out += text;
      },
      stderr: () => {},
      readStdin: async () => '',
      env,
    },
  );
  const { client_id: id, client_secret: secret } = JSON.parse(out);
  const child = spawn(process.execPath, ['bin/gatehouse.js', 'start', '--workers', String(workers)], {
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
  for (;;) {
    if (
      await fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const options = {
    url: `http://127.0.0.1:${port}/token`,
    method: 'POST' as const,
    headers: {
      authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
    connections: 50,
  };
  await autocannon({ ...options, duration: 1 });
  const result = await autocannon({ ...options, duration: Number(values.duration) });
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  if (result.non2xx) throw new Error(`${result.non2xx} failed requests`);
  return result.requests.average;
}

const one = await measure(1);
const two = await measure(2);
process.stdout.write(
  `client_credentials (opaque), unpinned, load generator on the same ${os.cpus().length} cores: 1 process ${Math.round(one)} req/s, --workers 2 ${Math.round(two)} req/s (${(two / one).toFixed(2)}×)\n`,
);
