import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { Kysely } from 'kysely';
import { SqliteDialect } from 'kysely-sqlite';
import type { Database } from './database.ts';

/** Opens (creating if needed) a SQLite database on Node's built-in driver: WAL, durable commits. */
export function openSqlite(file: string): Kysely<Database> {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const database = new DatabaseSync(file);
  database.exec('PRAGMA journal_mode = WAL');
  // FULL: a commit is on disk before the token it stores is handed out, even across power loss.
  database.exec('PRAGMA synchronous = FULL');
  database.exec('PRAGMA busy_timeout = 5000');
  database.exec('PRAGMA foreign_keys = ON');
  // Kysely's dialect prepares every query anew; the queries are a fixed set, so keep each prepared statement
  // (node:sqlite statements are synchronous, so one statement is never used by two queries at once).
  const statements = new Map<string, StatementSync>();
  const cached = {
    prepare(sql: string): StatementSync {
      let statement = statements.get(sql);
      if (!statement) {
        statement = database.prepare(sql);
        if (statements.size < 1000) statements.set(sql, statement);
      }
      return statement;
    },
    close: () => database.close(),
  };
  return new Kysely<Database>({
    dialect: new SqliteDialect({ database: cached as unknown as DatabaseSync }),
  });
}
