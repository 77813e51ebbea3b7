// Import throughput: `gatehouse users import` as a real process on a generated JSON Lines file of N users whose
// password hashes are the fixtures' mix of bcrypt, Argon2, scrypt and PBKDF2 (test/fixtures/password-hashes.json),
// on durable SQLite (a file, WAL) and on the test suite's throwaway PostgreSQL (fsync off). Three runs per
// database: into an empty database (every line created), the same file again (every line unchanged), and a file
// whose names changed (every line updated). Prints users per second and the process's peak RSS.
// Usage: node bench/import.ts [--users 100000] [--database sqlite|postgres|both]
import { execFile } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { startPostgres } from '../test/helpers/postgres.ts';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    database: { type: 'string', default: 'both' },
  },
});
const users = Number(values.users);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const hashes = (
  JSON.parse(readFileSync(path.join(ROOT, 'test/fixtures/password-hashes.json'), 'utf8')) as {
    hash: string;
  }[]
).map((fixture) => fixture.hash);
const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-import-bench-'));

async function writeFile(name: string, renamed: boolean): Promise<string> {
  const file = path.join(dir, name);
  const out = createWriteStream(file);
  for (let i = 0; i < users; i++) {
    const line = JSON.stringify({
      external_id: `legacy|${i}`,
      email: `user${i}@example.com`,
      name: `${renamed ? 'Renamed' : 'User'} ${i}`,
      email_verified: i % 2 === 0,
      password_hash: hashes[i % hashes.length],
    });
    if (!out.write(`${line}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
  return file;
}

async function importOnce(databaseUrl: string, file: string) {
  const started = performance.now();
  // GNU time's %M: the process's peak RSS in KiB, on stderr's last line.
  const { stdout, stderr } = await promisify(execFile)(
    '/usr/bin/time',
    ['-f', '%M', process.execPath, path.join(ROOT, 'bin/gatehouse.js'), 'users', 'import', file],
    {
      env: { ...process.env, DATABASE_URL: databaseUrl, GATEHOUSE_DATA_DIR: dir, LOG_LEVEL: 'silent' },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const seconds = (performance.now() - started) / 1000;
  const peakMiB = Number(stderr.trim().split('\n').at(-1)) / 1024;
  return { seconds, peakMiB, summary: stdout.trim() };
}

const original = await writeFile('users.jsonl', false);
const renamed = await writeFile('renamed.jsonl', true);
console.log(
  `node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, load ${os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(' ')}, ${users} users`,
);
console.log('| database | run | seconds | users per second | peak RSS MiB |');
console.log('|---|---|---:|---:|---:|');

const targets: { name: string; url: () => Promise<{ url: string; stop(): Promise<void> }> }[] = [];
if (values.database !== 'postgres') {
  targets.push({
    name: 'SQLite (file, WAL, durable)',
    url: async () => ({ url: `sqlite:${path.join(dir, 'bench.db')}`, stop: async () => undefined }),
  });
}
if (values.database !== 'sqlite') {
  targets.push({ name: 'PostgreSQL (local, fsync off)', url: startPostgres });
}
try {
  for (const target of targets) {
    const database = await target.url();
    try {
      for (const [run, file] of [
        ['create', original],
        ['re-run, unchanged', original],
        ['re-run, every name changed', renamed],
      ] as const) {
        const { seconds, peakMiB, summary } = await importOnce(database.url, file);
        if (!summary.includes(' 0 failed')) throw new Error(`lines failed: ${summary}`);
        console.log(
          `| ${target.name} | ${run} | ${seconds.toFixed(1)} | ${Math.round(users / seconds)} | ${peakMiB.toFixed(0)} |`,
        );
      }
    } finally {
      await database.stop();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
