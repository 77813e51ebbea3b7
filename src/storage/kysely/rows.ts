// Row ↔ domain mapping helpers: the only place that knows lists are JSON text and booleans are 0/1.
import { type ExpressionBuilder, type Kysely, PostgresAdapter, type Transaction } from 'kysely';
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

/**
 * The condition of a claim (a code, a device code): the grant it opens was not revoked meanwhile. Checked in the
 * claim's own statement, so a revocation either happens before the claim and wins, or after it and covers the
 * tokens the claim's transaction stores (they carry the grant).
 */
export function grantNotRevoked(table: 'authorization_codes' | 'device_authorizations') {
  return ({ exists, not, selectFrom }: ExpressionBuilder<Database, typeof table>) =>
    not(
      exists(
        selectFrom('grants')
          .select('grants.id')
          .whereRef('grants.id', '=', `${table}.grant_id`)
          .where('grants.revoked_at', 'is not', null),
      ),
    );
}

/** Runs `work` in a transaction, or directly when `db` already is one (Kysely cannot nest them). */
export function inTransaction<T>(db: Db, work: (tx: Db) => Promise<T>): Promise<T> {
  if (db.isTransaction) return work(db);
  return db.transaction().execute((tx: Transaction<Database>) => whileLive(tx, work));
}
