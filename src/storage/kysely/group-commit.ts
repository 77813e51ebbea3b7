// Group commit for SQLite: the transactions of concurrent requests share one COMMIT (one fsync) instead of
// paying one each. Each piece of work runs in its own savepoint, so one that fails is rolled back alone and
// answers its own error; the others commit. A transaction's caller still gets its answer only after the
// COMMIT that made its writes durable. On PostgreSQL, where a pool commits in parallel, it is not used.
import { CompiledQuery } from 'kysely';
import { runCompiled, whileLive } from './direct.ts';
import type { Db } from './rows.ts';

interface Job {
  work: (tx: Db) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

const MAX_BATCH = 256;
// Compiled once: they run two or three times per request.
const SAVEPOINT = CompiledQuery.raw('savepoint group_commit');
const RELEASE = CompiledQuery.raw('release group_commit');
const ROLLBACK_TO = CompiledQuery.raw('rollback to group_commit');

/** `onBatch` hears each batch's size (metrics). */
export function groupCommit(db: Db, onBatch?: (size: number) => void) {
  const queue: Job[] = [];
  let scheduled = false;
  let running = false;

  function schedule() {
    if (scheduled || running || queue.length === 0) return;
    scheduled = true;
    // setImmediate: let every request already read from the sockets submit its work before the batch starts.
    setImmediate(flush);
  }

  async function flush() {
    scheduled = false;
    running = true;
    const batch = queue.splice(0, MAX_BATCH);
    onBatch?.(batch.length);
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      const runBatch = async (tx: Db) => {
        for (const job of batch) {
          await runCompiled(tx, SAVEPOINT);
          try {
            const value = await job.work(tx);
            await runCompiled(tx, RELEASE);
            outcomes.push({ ok: true, value });
          } catch (error) {
            try {
              await runCompiled(tx, ROLLBACK_TO);
              await runCompiled(tx, RELEASE);
            } catch {
              // No savepoint left: the database rolled the whole transaction back (disk full, I/O error).
              // The batch fails with the error that says why, not with "no such savepoint".
              throw error;
            }
            outcomes.push({ ok: false, error });
          }
        }
      };
      await db.transaction().execute((tx) => whileLive(tx, runBatch));
      batch.forEach((job, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) job.resolve(outcome.value);
        else job.reject(outcome.error);
      });
    } catch (error) {
      // The COMMIT itself failed: nothing of the batch is durable, so nobody may be told otherwise.
      for (const job of batch) job.reject(error);
    } finally {
      running = false;
      schedule();
    }
  }

  return function submit<T>(work: (tx: Db) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      schedule();
    });
  };
}
