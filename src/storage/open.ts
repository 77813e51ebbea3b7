import path from 'node:path';
import type { Kysely } from 'kysely';
import { Migrator } from 'kysely/migration';
import type { Database } from './database.ts';
import { createKyselyStorage, type StorageObserver } from './kysely/index.ts';
import { migrationProvider } from './migrations/index.ts';
import { openSqlite } from './sqlite.ts';
import type { Storage } from './storage.ts';

export interface OpenedStorage {
  storage: Storage;
  dialect: 'sqlite' | 'postgres';
  db: Kysely<Database>;
}

const POSTGRES_URL = /^postgres(ql)?:\/\//;

/** The SQLite file DATABASE_URL names (absolute), or undefined for PostgreSQL and `:memory:`. */
export function sqliteFile(url: string): string | undefined {
  if (POSTGRES_URL.test(url)) return undefined;
  const file = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  return file === ':memory:' ? undefined : path.resolve(file);
}

/** The database as it may be printed: the SQLite file's absolute path, or the PostgreSQL URL without password. */
export function databaseLabel(url: string): string {
  if (!POSTGRES_URL.test(url)) return sqliteFile(url) ?? ':memory:';
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'PostgreSQL';
  }
}

/** Opens the database named by DATABASE_URL: postgres://… or a SQLite path (`sqlite:PATH`, or just PATH). */
export async function openDatabase(
  url: string,
): Promise<{ db: Kysely<Database>; dialect: 'sqlite' | 'postgres' }> {
  if (POSTGRES_URL.test(url)) {
    // Loaded only when used: an embedded SQLite deployment never pays for the pg driver at start-up.
    const { openPostgres } = await import('./postgres.ts');
    return { db: openPostgres(url), dialect: 'postgres' };
  }
  const file = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  return { db: openSqlite(file), dialect: 'sqlite' };
}

/** Applies pending migrations. On PostgreSQL Kysely holds an advisory lock, so concurrent starts apply them once. */
export async function migrate(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export async function openStorage(
  url: string,
  options: { migrate?: boolean; observer?: StorageObserver } = {},
): Promise<OpenedStorage> {
  const { db, dialect } = await openDatabase(url);
  if (options.migrate !== false) await migrate(db);
  const storage = createKyselyStorage(db, { groupCommit: dialect === 'sqlite', observer: options.observer });
  return { storage, dialect, db };
}
