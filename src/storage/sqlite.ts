import { closeSync, existsSync, fdatasync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  Kysely,
  type QueryCompiler,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type TransactionSettings,
} from 'kysely';
import type { Database } from './database.ts';
import { setDirectRunner } from './kysely/direct.ts';

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

const OPENS_OR_RELEASES = /^(begin|savepoint |release )/i;

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
  /** Once a sync fails, nothing is durable any more: Linux may have dropped the unwritten pages. */
  #failed: Error | undefined;

  constructor(walFile: string, syncFile: SyncFile) {
    // Read-only is enough for fdatasync. Never closed before the database: closing a descriptor drops the
    // process's POSIX locks on that file (SQLite keeps its WAL locks in the -shm file, but be safe).
    this.#fd = openSync(walFile, 'r');
    this.#syncFile = syncFile;
  }

  /** After each statement: count a commit (any non-SELECT outside a transaction), then wait for the disk. */
  afterStatement(sql: string, inTransaction: boolean): Promise<void> | undefined {
    if (!inTransaction) {
      if (!sql.startsWith('select ') && !sql.startsWith('rollback')) this.#committed++;
    } else if (OPENS_OR_RELEASES.test(sql)) {
      // BEGIN, SAVEPOINT and an inner RELEASE say nothing about the data; the statements after them still
      // wait. (An outermost RELEASE commits: it leaves no transaction open and is counted above.)
      return undefined;
    }
    return this.pending();
  }

  /** The wait for every commit so far, if any is not yet on disk. */
  pending(): Promise<void> | undefined {
    return this.#synced < this.#committed || this.#failed ? this.durable() : undefined;
  }

  async durable(): Promise<void> {
    if (this.#failed) throw this.#failed;
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
    try {
      await this.#syncFile(this.#fd);
    } catch (error) {
      // A later successful fsync would not bring back what this one lost: refuse everything until a restart
      // (PostgreSQL does the same), answered as an outage (503).
      this.#failed ??= new Error('WAL sync failed; the database is unavailable until restart', {
        cause: error,
      });
      throw this.#failed;
    }
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

/**
 * The one node:sqlite connection's statements. node:sqlite is synchronous, so a statement runs to completion
 * before anything else does; only the wait for durability is asynchronous.
 */
class Statements {
  #database: DatabaseSync;
  #cache = new Map<string, PreparedStatement>();
  #wal: WalSync | undefined;
  constructor(database: DatabaseSync, wal: WalSync | undefined) {
    this.#database = database;
    this.#wal = wal;
  }

  get inTransaction(): boolean {
    return this.#database.isTransaction;
  }

  // Kysely's dialect prepared every query anew and asked each statement for its columns (to tell a query that
  // returns rows from one that does not). The queries are a fixed set, so each prepared statement and its
  // answer are kept: `columns()` alone cost about as much as a primary-key lookup.
  #prepare(sql: string): PreparedStatement {
    let statement = this.#cache.get(sql);
    if (!statement) {
      statement = prepared(this.#database.prepare(sql));
      if (this.#cache.size < 1000) this.#cache.set(sql, statement);
    }
    return statement;
  }

  /** Runs one statement now. Its answer may be given only once `durable` (if any) resolves: see WalSync. */
  run<R>(sql: string, parameters: readonly unknown[]): { result: QueryResult<R>; durable?: Promise<void> } {
    const statement = this.#prepare(sql);
    let result: QueryResult<R>;
    if (statement.columns().length > 0) {
      result = { rows: statement.all(...(parameters as SQLInputValue[])) as R[] };
    } else {
      const { changes, lastInsertRowid } = statement.run(...(parameters as SQLInputValue[]));
      result = { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
    }
    return { result, durable: this.#wal?.afterStatement(sql, this.#database.isTransaction) };
  }

  /**
   * A statement's error is an answer too (a UNIQUE conflict says a row exists): it is told only once the
   * commits before it are on disk.
   */
  failed(error: unknown): Promise<never> {
    const durable = this.#wal?.pending();
    return durable ? durable.then(() => Promise.reject(error)) : Promise.reject(error);
  }
}

/** One user's turn with the connection, from Kysely's acquireConnection to its releaseConnection. */
class Turn implements DatabaseConnection {
  /** Holding the lock; 'lent' while waiting for the disk after its last statement; 'over' once released. */
  state: 'holding' | 'lent' | 'over' = 'holding';
  #driver: SqliteDriver;
  constructor(driver: SqliteDriver) {
    this.#driver = driver;
  }
  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.#driver.execute<R>(this, query);
  }
  // Streams go through executeQuery, so that they take the lock and wait for durability like any query
  // (Gatehouse streams nothing; the rows are small and few).
  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    for (const row of (await this.executeQuery<R>(query)).rows) yield { rows: [row] };
  }
}

const BEGIN = CompiledQuery.raw('begin');
const COMMIT = CompiledQuery.raw('commit');
const ROLLBACK = CompiledQuery.raw('rollback');

/**
 * Kysely's driver for the one connection: a FIFO lock gives it to one user at a time (a transaction holds it
 * from BEGIN to COMMIT). Two things Kysely's own SQLite dialects do not do:
 * - A turn that has committed (an autocommit write, or a COMMIT) and now only waits for the fsync lends the
 *   connection to the next user meanwhile, and takes it back if it runs another statement. Holding the lock
 *   through the fsync made every other query, reads included, wait for the disk too.
 * - `runNow` lets the hot-path queries skip Kysely's executor (its connection provider, lock and promise layers
 *   cost a few microseconds per query, several queries per token request) whenever running at once is what
 *   the lock would have allowed anyway.
 */
class SqliteDriver implements Driver {
  #database: DatabaseSync;
  #wal: WalSync | undefined;
  #statements: Statements;
  #held = false;
  #waiting: (() => void)[] = [];
  /**
   * The direct reads made while nobody holds the connection share one read transaction, until the event loop
   * moves on or someone needs the connection. In WAL mode every autocommit read takes and drops a read lock
   * on the shared-memory file (two fcntl calls, and checking the WAL index): per statement that cost more
   * than the B-tree lookup itself. Reads that share a snapshot are as correct as reads made at its start.
   */
  #readSnapshot = false;
  /** Set while Kysely's migrator holds its lock: a migration's turn keeps the connection between statements. */
  pinned = false;
  #beginRead: StatementSync;
  #endRead: StatementSync;
  readonly #endReadSnapshot = () => {
    if (!this.#readSnapshot) return;
    this.#readSnapshot = false;
    this.#endRead.run();
  };
  constructor(database: DatabaseSync, wal: WalSync | undefined) {
    this.#database = database;
    this.#wal = wal;
    this.#statements = new Statements(database, wal);
    this.#beginRead = database.prepare('begin');
    this.#endRead = database.prepare('commit');
  }
  async init(): Promise<void> {}

  #lock(): Promise<void> | undefined {
    if (!this.#held) {
      this.#endReadSnapshot();
      this.#held = true;
      return undefined;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
  #unlock(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#held = false;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#lock();
    return new Turn(this);
  }
  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const turn = connection as Turn;
    if (turn.state === 'holding') this.#unlock();
    turn.state = 'over';
  }

  async execute<R>(turn: Turn, query: CompiledQuery): Promise<QueryResult<R>> {
    if (turn.state === 'over') throw new Error('This connection was already released');
    if (turn.state === 'lent') {
      await this.#lock();
      turn.state = 'holding';
    }
    let ran: { result: QueryResult<R>; durable?: Promise<void> };
    try {
      ran = this.#statements.run<R>(query.sql, query.parameters);
    } catch (error) {
      return this.#statements.failed(error);
    }
    const { result, durable } = ran;
    if (durable) {
      if (!this.#statements.inTransaction && turn.state === 'holding' && !this.pinned) {
        turn.state = 'lent';
        this.#unlock();
      }
      await durable;
    }
    return result;
  }

  async beginTransaction(connection: DatabaseConnection, _settings: TransactionSettings): Promise<void> {
    await connection.executeQuery(BEGIN);
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(COMMIT);
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    // SQLite may already have rolled the transaction back itself (SQLITE_FULL, IOERR): then a ROLLBACK would
    // fail with "no transaction is active" and hide the error that matters.
    if (this.#statements.inTransaction) await connection.executeQuery(ROLLBACK);
  }
  async destroy(): Promise<void> {
    this.#endReadSnapshot();
    await this.#wal?.durable();
    this.#database.close();
    this.#wal?.close();
  }

  /**
   * Runs a query without going through Kysely, if that is safe now: inside a transaction (whose caller holds
   * the connection), or outside one while nobody holds it. Otherwise undefined, and the caller queues through
   * Kysely as usual. A statement that throws rejects, as through Kysely.
   */
  runNow<R>(sql: string, parameters: readonly unknown[], inTransaction: boolean) {
    if (inTransaction) {
      // Only for a live transaction of the lock's holder; a handle that outlived its transaction, or one that
      // SQLite rolled back, goes through Kysely, which refuses it.
      if (!this.#held || !this.#statements.inTransaction || this.#readSnapshot) return undefined;
    } else if (this.#held || (this.#statements.inTransaction && !this.#readSnapshot)) {
      return undefined;
    }
    try {
      if (!inTransaction) {
        if (!sql.startsWith('select ')) {
          this.#endReadSnapshot(); // a write commits on its own, now
        } else if (!this.#readSnapshot) {
          this.#beginRead.run();
          this.#readSnapshot = true;
          setImmediate(this.#endReadSnapshot);
        }
      }
      const { result, durable } = this.#statements.run<R>(sql, parameters);
      return durable ? durable.then(() => result) : Promise.resolve(result);
    } catch (error) {
      return this.#statements.failed(error);
    }
  }
}

/** Kysely's SQLite adapter, minus Kysely's own connection lock: SqliteDriver keeps the one lock (it can lend). */
class SqliteAdapterOwnLock extends SqliteAdapter {
  #driver: SqliteDriver;
  constructor(driver: SqliteDriver) {
    super();
    this.#driver = driver;
  }
  override get supportsMultipleConnections(): boolean {
    return true;
  }
  // Kysely's SQLite migrator relies on its turn keeping the one connection from start to end.
  override async acquireMigrationLock(): Promise<void> {
    this.#driver.pinned = true;
  }
  override async releaseMigrationLock(): Promise<void> {
    this.#driver.pinned = false;
  }
}

/** Kysely's own SQLite compiler, adapter and introspector over the driver above. */
class DurableSqliteDialect implements Dialect {
  #driver: SqliteDriver;
  constructor(driver: SqliteDriver) {
    this.#driver = driver;
  }
  createDriver(): Driver {
    return this.#driver;
  }
  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
  createAdapter(): DialectAdapter {
    const adapter = new SqliteAdapterOwnLock(this.#driver);
    setDirectRunner(adapter, (sql, parameters, inTransaction) =>
      this.#driver.runNow(sql, parameters, inTransaction),
    );
    return adapter;
  }
  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
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
  return new Kysely<Database>({ dialect: new DurableSqliteDialect(new SqliteDriver(database, wal)) });
}
