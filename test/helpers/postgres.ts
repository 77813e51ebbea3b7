// Throwaway PostgreSQL for tests.
//
// startPostgres() returns DATABASE_URL_TEST when it is set; otherwise it starts a private cluster from
// the machine's PostgreSQL binaries (initdb/pg_ctl), listening on 127.0.0.1 only, in a temp directory
// that is removed again by stop(). freshDatabase() creates a uniquely named database on a server so that
// several test files can share one cluster (or one DATABASE_URL_TEST).

import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chownSync,
  constants,
  existsSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';

/** Thrown when no PostgreSQL binaries are available outside CI; callers may turn it into a skip. */
export class PostgresUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PostgresUnavailableError';
  }
}

export interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
}

export interface FreshDatabase {
  url: string;
  drop(): Promise<void>;
}

const SUPERUSER = 'gatehouse';
const TEST_DB = 'gatehouse_test';

interface PgBinaries {
  initdb: string;
  pgCtl: string;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function versionKey(name: string): number[] {
  return name
    .split(/[^0-9]+/)
    .filter(Boolean)
    .map(Number);
}

function compareVersionsDesc(a: string, b: string): number {
  const ka = versionKey(a);
  const kb = versionKey(b);
  for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
    const d = (kb[i] ?? -1) - (ka[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/** initdb/pg_ctl from PATH (pg_ctl preferably next to the real initdb), else the highest /usr/lib/postgresql/N/bin. */
function findBinaries(): PgBinaries | undefined {
  const initdbOnPath = findOnPath('initdb');
  if (initdbOnPath) {
    let realDir = dirname(initdbOnPath);
    try {
      realDir = dirname(realpathSync(initdbOnPath));
    } catch {}
    const besideReal = join(realDir, 'pg_ctl');
    const besideLink = join(dirname(initdbOnPath), 'pg_ctl');
    const pgCtl = isExecutable(besideReal)
      ? besideReal
      : isExecutable(besideLink)
        ? besideLink
        : findOnPath('pg_ctl');
    if (pgCtl) return { initdb: initdbOnPath, pgCtl };
  }
  const root = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = readdirSync(root).sort(compareVersionsDesc);
  } catch {}
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    const initdb = join(bin, 'initdb');
    const pgCtl = join(bin, 'pg_ctl');
    if (isExecutable(initdb) && isExecutable(pgCtl)) return { initdb, pgCtl };
  }
  return undefined;
}

interface RunAs {
  user: string;
  uid: number;
  gid: number;
}

function lookupUser(name: string): RunAs | undefined {
  try {
    const uid = Number(
      execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    );
    const gid = Number(
      execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    );
    if (Number.isInteger(uid) && Number.isInteger(gid)) return { user: name, uid, gid };
  } catch {}
  return undefined;
}

/** initdb refuses to run as root: then run the binaries as `postgres` (or `nobody`) via runuser. */
function resolveRunAs(): RunAs | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const runAs = lookupUser('postgres') ?? lookupUser('nobody');
  if (!runAs)
    throw new Error(
      'running as root, but neither a "postgres" nor a "nobody" user exists to run PostgreSQL as',
    );
  return runAs;
}

function command(runAs: RunAs | undefined, bin: string, args: string[]): [string, string[]] {
  return runAs ? ['runuser', ['-u', runAs.user, '--', bin, ...args]] : [bin, args];
}

function run(
  runAs: RunAs | undefined,
  bin: string,
  args: string[],
  cwd: string,
): Promise<{ stdout: string; stderr: string }> {
  const [file, argv] = command(runAs, bin, args);
  return new Promise((resolve, reject) => {
    execFile(
      file,
      argv,
      {
        cwd,
        encoding: 'utf8',
        timeout: 120_000,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, LC_ALL: 'C' },
      },
      (error, stdout, stderr) => {
        if (error) {
          const detail = [stdout, stderr].filter((s) => s.trim()).join('\n');
          reject(
            new Error(`${file} ${argv.join(' ')} failed: ${error.message}${detail ? `\n${detail}` : ''}`),
          );
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not allocate a free TCP port'))));
    });
  });
}

function readTail(path: string, max = 4000): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.length > max ? text.slice(-max) : text;
  } catch {
    return '';
  }
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export interface StartPostgresOptions {
  /**
   * Durable as production runs it (fsync, synchronous_commit and full_page_writes on): the benchmark's
   * cluster. Tests leave it off, since a crash of the test machine loses nothing worth keeping.
   */
  durable?: boolean;
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<RunningPostgres> {
  const external = process.env.DATABASE_URL_TEST;
  if (external) return { url: external, stop: async () => {} };

  const bins = findBinaries();
  if (!bins) {
    const message =
      'PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under /usr/lib/postgresql/*/bin; ' +
      'install PostgreSQL (e.g. apt-get install postgresql) or set DATABASE_URL_TEST';
    if (process.env.CI === 'true') throw new Error(`${message} (required when CI=true)`);
    throw new PostgresUnavailableError(message);
  }

  const runAs = resolveRunAs();
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  let stopped = false;
  let stopping: Promise<void> | undefined;

  const stopSync = (): void => {
    if (stopped) return;
    stopped = true;
    if (existsSync(join(dataDir, 'postmaster.pid'))) {
      const [file, argv] = command(runAs, bins.pgCtl, ['stop', '-D', dataDir, '-m', 'immediate', '-w']);
      try {
        execFileSync(file, argv, { cwd: dir, stdio: 'ignore', timeout: 15_000 });
      } catch {}
    }
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {}
  };
  const onExit = (): void => stopSync();
  process.on('exit', onExit);

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.off('exit', onExit);
      if (stopped) return;
      stopped = true;
      if (existsSync(join(dataDir, 'postmaster.pid'))) {
        await run(runAs, bins.pgCtl, ['stop', '-D', dataDir, '-m', 'immediate', '-w'], dir).catch(() => {});
      }
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    })();
    return stopping;
  };

  try {
    if (runAs) chownSync(dir, runAs.uid, runAs.gid);
    await run(
      runAs,
      bins.initdb,
      ['-D', dataDir, '-A', 'trust', '-U', SUPERUSER, '--no-sync', '-E', 'UTF8', '--locale=C'],
      dir,
    );

    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const durability = options.durable ? 'on' : 'off';
      const settings = [
        `-p ${port}`,
        `-k '${dir}'`,
        '-c listen_addresses=127.0.0.1',
        `-c fsync=${durability}`,
        `-c synchronous_commit=${durability}`,
        `-c full_page_writes=${durability}`,
        '-c max_connections=200',
      ].join(' ');
      try {
        await run(runAs, bins.pgCtl, ['start', '-D', dataDir, '-w', '-l', logFile, '-o', settings], dir);
        break;
      } catch (error) {
        const log = readTail(logFile);
        // Another process grabbed the port between freePort() and the bind: try again with a new one.
        if (attempt < 3 && /could not bind|address already in use/i.test(log)) continue;
        throw new Error(`${(error as Error).message}\n--- ${logFile} ---\n${log}`);
      }
    }

    await withClient(`postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`, async (client) => {
      await client.query(`CREATE DATABASE ${quoteIdent(TEST_DB)}`);
    });
    return { url: `postgres://${SUPERUSER}@127.0.0.1:${port}/${TEST_DB}`, stop };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

/**
 * The usual start of a file with PostgreSQL cases: `start()` (startPostgres by default), or, outside CI on a
 * machine without PostgreSQL, the reason to skip them. Under CI=true, and on any other error, it throws.
 */
export async function postgresOrSkipReason<T = RunningPostgres>(
  start: () => Promise<T> = startPostgres as () => Promise<T>,
): Promise<{ postgres: T; skip: undefined } | { postgres: undefined; skip: string }> {
  try {
    return { postgres: await start(), skip: undefined };
  } catch (error) {
    if (!(error instanceof PostgresUnavailableError) || process.env.CI === 'true') throw error;
    return { postgres: undefined, skip: error.message };
  }
}

export async function freshDatabase(baseUrl: string): Promise<FreshDatabase> {
  const name = `gh_${randomBytes(8).toString('hex')}`;
  await withClient(baseUrl, async (client) => {
    await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
  });
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;

  let dropping: Promise<void> | undefined;
  const drop = (): Promise<void> => {
    dropping ??= withClient(baseUrl, async (client) => {
      await client.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [name],
      );
      const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
      const force = Number(rows[0]?.v ?? 0) >= 130000 ? ' WITH (FORCE)' : '';
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}${force}`);
    });
    return dropping;
  };
  return { url: url.toString(), drop };
}

/**
 * Defines `suite` twice: on SQLite in memory (`databaseUrl()` gives undefined, the test server's default) and
 * on a fresh database of a throwaway PostgreSQL cluster (one database per call, dropped with the cluster at the
 * end). Outside CI on a machine without PostgreSQL, the PostgreSQL half is one skipped test saying why.
 */
export async function onEachDatabase(
  title: string,
  suite: (database: 'SQLite' | 'PostgreSQL', databaseUrl: () => Promise<string | undefined>) => void,
): Promise<void> {
  suite('SQLite', async () => undefined);
  const { postgres, skip } = await postgresOrSkipReason();
  if (postgres === undefined) {
    test(`${title} on PostgreSQL`, (t) => {
      t.skip(skip);
    });
    return;
  }
  const databases: FreshDatabase[] = [];
  after(async () => {
    await Promise.all(databases.map((database) => database.drop()));
    await postgres.stop();
  });
  suite('PostgreSQL', async () => {
    const database = await freshDatabase(postgres.url);
    databases.push(database);
    return database.url;
  });
}
