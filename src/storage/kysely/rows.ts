// Row ↔ domain mapping helpers: the only place that knows lists are JSON text and booleans are 0/1.
import { type Kysely, PostgresAdapter, type Transaction } from 'kysely';
import type { Database } from '../database.ts';
import { whileLive } from './direct.ts';

export type Db = Kysely<Database>;

/** Runs `work` atomically and durably: see createKyselyStorage, which makes one per storage. */
export type Atomically = <T>(work: (tx: Db) => Promise<T>) => Promise<T>;

/**
 * Whether `db` is PostgreSQL, where a store may do in one statement (a data-modifying WITH) what SQLite does
 * in several: each statement is a network round trip there, and the round trips were most of a request's cost.
 */
export const isPostgres = (db: Db): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

export const toJson = (list: readonly string[]): string => JSON.stringify(list);
export const fromJson = (text: string): string[] => JSON.parse(text) as string[];
export const toFlag = (value: boolean): number => (value ? 1 : 0);
export const fromFlag = (value: number): boolean => value === 1;

/** Runs `work` in a transaction, or directly when `db` already is one (Kysely cannot nest them). */
export function inTransaction<T>(db: Db, work: (tx: Db) => Promise<T>): Promise<T> {
  if (db.isTransaction) return work(db);
  return db.transaction().execute((tx: Transaction<Database>) => whileLive(tx, work));
}
