// The throwaway PostgreSQL cluster behind the gatehouse-pg rows: the test suite's (test/helpers/postgres.ts:
// private cluster on 127.0.0.1, but durable as production runs it: fsync and synchronous_commit on), one fresh
// database per server start. The cluster is the server's
// side of the machine, so it runs pinned to the server's core, and its CPU time counts as the server's.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { freshDatabase, type RunningPostgres, startPostgres } from '../test/helpers/postgres.ts';

export interface BenchPostgres {
  /** The postmaster (its direct children are the backends, checkpointer, WAL writer…); unknown for an
   * external server (DATABASE_URL_TEST), whose CPU time then goes unmeasured. */
  postmasterPid: number | undefined;
  fresh(): Promise<{ url: string; drop(): Promise<void> }>;
  stop(): Promise<void>;
}

const parentOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[1]);
};

function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (parentOf(Number(entry)) === pid) children.push(Number(entry));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return children;
}

/** Starts the cluster; with `core`, pins it there (backends forked later inherit the postmaster's affinity). */
export async function startBenchPostgres(core: number | undefined): Promise<BenchPostgres> {
  const cluster: RunningPostgres = await startPostgres({ durable: true });
  if (process.env.DATABASE_URL_TEST) {
    return { postmasterPid: undefined, fresh: () => freshDatabase(cluster.url), stop: () => cluster.stop() };
  }
  const client = new pg.Client({ connectionString: cluster.url });
  await client.connect();
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  // Read while the backend still exists: it ends with the connection.
  const postmasterPid = parentOf(rows[0]!.pid);
  await client.end();
  if (core !== undefined) {
    for (const pid of [postmasterPid, ...childrenOf(postmasterPid)]) {
      execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
    }
  }
  return { postmasterPid, fresh: () => freshDatabase(cluster.url), stop: () => cluster.stop() };
}
