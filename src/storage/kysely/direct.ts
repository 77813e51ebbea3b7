// A way around Kysely's executor for dialects that can run a compiled query at once (SQLite, whose driver is
// synchronous): the hot-path queries are compiled once (prepared.ts), and going through Kysely's connection
// provider, lock and promise layers cost more than some of the lookups themselves. Kysely remains the query
// builder and compiler, and the path for everything else.
import type { CompiledQuery, QueryResult } from 'kysely';
import type { Db } from './rows.ts';

/** Runs a query now and answers, or answers undefined when it cannot run now (the caller then uses Kysely). */
export type DirectRunner = (
  sql: string,
  parameters: readonly unknown[],
  inTransaction: boolean,
) => Promise<QueryResult<unknown>> | undefined;

// Keyed by the Kysely adapter: one per database handle, shared by its transactions.
const runners = new WeakMap<object, DirectRunner>();

/**
 * The transaction handles whose callback is running. Only these may run directly inside their transaction: a
 * handle kept after its transaction ended would otherwise run inside whichever transaction holds the
 * connection now. Others go through Kysely, which refuses them.
 */
const liveTransactions = new WeakSet<object>();

/** Runs a transaction's callback with its handle marked live (see liveTransactions). */
export async function whileLive<T>(tx: Db, work: (tx: Db) => Promise<T>): Promise<T> {
  liveTransactions.add(tx);
  try {
    return await work(tx);
  } finally {
    liveTransactions.delete(tx);
  }
}

/** Whether a handle may run directly: outside any transaction, or inside its own live one. */
export function mayRunDirectly(db: Db): boolean {
  return !db.isTransaction || liveTransactions.has(db);
}

export function setDirectRunner(adapter: object, runner: DirectRunner): void {
  runners.set(adapter, runner);
}

export function directRunner(db: Db): DirectRunner | undefined {
  return runners.get(db.getExecutor().adapter);
}

/** Runs a compiled query directly where the dialect allows it, through Kysely otherwise. */
export function runCompiled<R>(db: Db, query: CompiledQuery<R>): Promise<QueryResult<R>> {
  const direct = mayRunDirectly(db)
    ? directRunner(db)?.(query.sql, query.parameters, db.isTransaction)
    : undefined;
  return (direct as Promise<QueryResult<R>> | undefined) ?? db.executeQuery(query);
}
