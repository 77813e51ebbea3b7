import { closeSync, existsSync, fdatasync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type {
  CompiledQuery,
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely';
import { Kysely } from 'kysely';
import { SqliteDialect } from 'kysely-sqlite';
import type { Database } from './database.ts';

/** The part of a node:sqlite statement the Kysely dialect uses, with the column list read once. */
interface PreparedStatement {
  columns(): ReturnType<StatementSync['columns']>;
  all: StatementSync['all'];
  run: StatementSync['run'];
  iterate: StatementSync['iterate'];
}

function prepared(statement: StatementSync): PreparedStatement {
  const columns = statement.columns();
  return {
    columns: () => columns,
    all: statement.all.bind(statement),
    run: statement.run.bind(statement),
    iterate: statement.iterate.bind(statement),
  };
}

/**
 * Durable commits without stopping the event loop. SQLite's `synchronous = FULL` fsyncs the WAL inside COMMIT,
 * on the JavaScript thread: every request waits while the disk flushes. Instead the database runs with
 * `synchronous = NORMAL` (which is FULL minus exactly that per-commit WAL sync; checkpoints still sync) and
 * this class syncs the WAL on libuv's thread pool after each commit. One sync covers every commit made
 * before it started, so concurrent commits share it.
 *
 * The rule that keeps it as durable as FULL: no query's result is handed back while a commit made before it
 * is not yet on disk. So nothing is answered, and nothing is decided, on data a power cut could take back.
 */
class WalSync {
  #fd: number;
  #syncFile: SyncFile;
  #committed = 0;
  #synced = 0;
  #running: Promise<void> | undefined;

  constructor(walFile: string, syncFile: SyncFile) {
    // Read-only is enough for fdatasync. Never closed before the database: closing a descriptor drops the
    // process's POSIX locks on that file (SQLite keeps its WAL locks in the -shm file, but be safe).
    this.#fd = openSync(walFile, 'r');
    this.#syncFile = syncFile;
  }

  /** After each statement: count a commit (any non-SELECT outside a transaction), then wait for the disk. */
  afterStatement(sql: string, inTransaction: boolean): Promise<void> | undefined {
    if (!inTransaction && !sql.startsWith('select ')) this.#committed++;
    return this.#synced < this.#committed ? this.durable() : undefined;
  }

  async durable(): Promise<void> {
    const target = this.#committed;
    while (this.#synced < target) {
      this.#running ??= this.#sync().finally(() => {
        this.#running = undefined;
      });
      await this.#running;
    }
  }

  async #sync(): Promise<void> {
    const upTo = this.#committed;
    await this.#syncFile(this.#fd);
    this.#synced = Math.max(this.#synced, upTo);
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/** Flushes a file to stable storage. Tests pass a slower one to watch what waits for it. */
export type SyncFile = (fd: number) => Promise<void>;

const fdatasyncFile: SyncFile = (fd) =>
  new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));

/** kysely-sqlite's dialect, with every query's answer held back until the commits before it are durable. */
class DurableSqliteDialect implements Dialect {
  #inner: SqliteDialect;
  #database: DatabaseSync;
  #wal: WalSync;
  constructor(inner: SqliteDialect, database: DatabaseSync, wal: WalSync) {
    this.#inner = inner;
    this.#database = database;
    this.#wal = wal;
  }
  createDriver(): Driver {
    return new DurableDriver(this.#inner.createDriver(), this.#database, this.#wal);
  }
  createQueryCompiler(): QueryCompiler {
    return this.#inner.createQueryCompiler();
  }
  createAdapter(): DialectAdapter {
    return this.#inner.createAdapter();
  }
  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return this.#inner.createIntrospector(db);
  }
}

class DurableDriver implements Driver {
  #inner: Driver;
  #database: DatabaseSync;
  #wal: WalSync;
  #connections = new WeakMap<DatabaseConnection, DatabaseConnection>();
  constructor(inner: Driver, database: DatabaseSync, wal: WalSync) {
    this.#inner = inner;
    this.#database = database;
    this.#wal = wal;
  }
  init() {
    return this.#inner.init();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.#inner.acquireConnection();
    let durable = this.#connections.get(connection);
    if (!durable) {
      const database = this.#database;
      const wal = this.#wal;
      durable = {
        async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
          const result = await connection.executeQuery<R>(query);
          const waiting = wal.afterStatement(query.sql, database.isTransaction);
          if (waiting) await waiting;
          return result;
        },
        streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
      };
      this.#connections.set(connection, durable);
    }
    return durable;
  }
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings) {
    return this.#inner.beginTransaction(connection, settings);
  }
  commitTransaction(connection: DatabaseConnection) {
    return this.#inner.commitTransaction(connection);
  }
  rollbackTransaction(connection: DatabaseConnection) {
    return this.#inner.rollbackTransaction(connection);
  }
  releaseConnection(connection: DatabaseConnection) {
    return this.#inner.releaseConnection(connection);
  }
  async destroy() {
    await this.#wal.durable();
    await this.#inner.destroy();
    this.#wal.close();
  }
}

/** Opens (creating if needed) a SQLite database on Node's built-in driver: WAL, durable commits. */
export function openSqlite(file: string, options: { syncFile?: SyncFile } = {}): Kysely<Database> {
  if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const database = new DatabaseSync(file);
  database.exec('PRAGMA journal_mode = WAL');
  database.exec('PRAGMA busy_timeout = 5000');
  database.exec('PRAGMA foreign_keys = ON');
  // 32 MiB of page cache (the default is 2 MiB): the hot right edges of the token indexes stay in memory.
  database.exec('PRAGMA cache_size = -32768');
  // Savepoints (one per group-commit job) journal the pages they change; keep that journal in memory rather
  // than in a temporary file (measured: 22 → 15 µs per token insert inside a savepoint).
  database.exec('PRAGMA temp_store = MEMORY');
  // Opens the WAL file (SQLite creates it on the first read), so that it can be synced.
  database.exec('SELECT count(*) FROM sqlite_master');
  const walFile = `${path.resolve(file)}-wal`;
  const wal =
    file !== ':memory:' && existsSync(walFile)
      ? new WalSync(walFile, options.syncFile ?? fdatasyncFile)
      : undefined;
  // A commit must be on disk before the token it stores is handed out, even across power loss: FULL syncs
  // inside COMMIT; with WalSync, NORMAL plus a sync after COMMIT, off the event loop, is the same guarantee.
  database.exec(`PRAGMA synchronous = ${wal ? 'NORMAL' : 'FULL'}`);
  // Kysely's dialect prepares every query anew and asks each statement for its columns (to tell a query that
  // returns rows from one that does not). The queries are a fixed set, so keep each prepared statement and
  // its answer: `columns()` alone costs about as much as running a primary-key lookup. node:sqlite statements
  // are synchronous, so one statement is never used by two queries at once.
  const statements = new Map<string, PreparedStatement>();
  const cached = {
    prepare(sql: string): PreparedStatement {
      let statement = statements.get(sql);
      if (!statement) {
        statement = prepared(database.prepare(sql));
        if (statements.size < 1000) statements.set(sql, statement);
      }
      return statement;
    },
    close: () => database.close(),
  };
  const dialect = new SqliteDialect({ database: cached as unknown as DatabaseSync });
  return new Kysely<Database>({ dialect: wal ? new DurableSqliteDialect(dialect, database, wal) : dialect });
}
