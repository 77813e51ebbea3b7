import { createHash, randomUUID } from 'node:crypto';
import { type DialectAdapter, type Driver, Kysely, PostgresDialect, type QueryResult } from 'kysely';
import pg from 'pg';
import type { Database } from './database.ts';
import { type ClientChangeFeed, setClientChangeFeed } from './kysely/clients.ts';
import { setDirectRunner } from './kysely/direct.ts';

// int8 (bigint) columns hold epoch milliseconds, far inside Number's exact range: parse them as numbers.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8) return (value: string) => Number(value);
    // biome-ignore lint/suspicious/noExplicitAny: pg's overloads do not accept a union format argument
    return pg.types.getTypeParser(oid, format as any);
  },
};

/** The commands whose row count Kysely reports as numAffectedRows (as its own PostgreSQL driver does). */
const WRITES = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/**
 * Kysely's PostgreSQL dialect, plus a direct path for the hot-path queries compiled once (kysely/prepared.ts):
 * outside a transaction they run as named prepared statements on the pool. PostgreSQL then parses and plans
 * each statement once per connection instead of on every call, and the request sends Bind/Execute only.
 * Inside a transaction they go through Kysely, which holds the transaction's connection.
 */
class PreparingPostgresDialect extends PostgresDialect {
  #pool: pg.Pool;
  #clientChanges: ClientChangeListener;
  /** Statement names by SQL text: each compiled query keeps its one string, so the lookup hashes it once. */
  #names = new Map<string, string>();
  constructor(pool: pg.Pool, url: string) {
    super({ pool });
    this.#pool = pool;
    this.#clientChanges = new ClientChangeListener(url);
  }
  override createDriver(): Driver {
    const driver = super.createDriver();
    const destroy = driver.destroy.bind(driver);
    driver.destroy = async () => {
      await this.#clientChanges.close();
      await destroy();
    };
    return driver;
  }
  override createAdapter(): DialectAdapter {
    const adapter = super.createAdapter();
    setClientChangeFeed(adapter, this.#clientChanges);
    setDirectRunner(adapter, (sql, parameters, inTransaction) => {
      if (inTransaction) return undefined;
      let name = this.#names.get(sql);
      if (name === undefined) {
        name = `gh_${createHash('sha256').update(sql).digest('base64url').slice(0, 20)}`;
        this.#names.set(sql, name);
      }
      return this.#pool
        .query({ name, text: sql, values: parameters as unknown[] })
        .then(
          (result): QueryResult<unknown> =>
            WRITES.has(result.command)
              ? { rows: result.rows ?? [], numAffectedRows: BigInt(result.rowCount ?? 0) }
              : { rows: result.rows ?? [] },
        );
    });
    return adapter;
  }
}

const RECONNECT_MS = 1000;
const PROBE_TIMEOUT_MS = 5000;
/** The listening connection's application_name. */
export const LISTENER_NAME = 'gatehouse client changes';

/**
 * The connection that LISTENs for changes to the clients table (migration 0019's trigger), behind the client
 * cache: while it is up, every commit that changed a client, in any process, reaches onChange. It reconnects
 * after a loss; while it is down the cache is not used (kysely/clients.ts). TCP keepalive makes a silently
 * dead connection fail, and so count as down, instead of leaving the cache trusted.
 */
class ClientChangeListener implements ClientChangeFeed {
  listening = false;
  #url: string;
  #listeners: (() => void)[] = [];
  #client: pg.Client | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(url: string) {
    this.#url = url;
    void this.#connect();
  }

  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({
      connectionString: this.#url,
      connectionTimeoutMillis: 3000,
      // What an operator sees in pg_stat_activity beside the pool's connections.
      application_name: LISTENER_NAME,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    this.#client = client;
    const lost = () => {
      if (this.#client !== client) return;
      this.#client = undefined;
      if (this.listening) {
        this.listening = false;
        this.#changed();
      }
      client.end().catch(() => {});
      if (!this.#closed) {
        this.#retry = setTimeout(() => void this.#connect(), RECONNECT_MS);
        this.#retry.unref();
      }
    };
    client.on('error', lost);
    client.on('end', lost);
    // A probe of our own proves that notifications reach this connection before the cache trusts them: behind a
    // pooler in transaction mode (PgBouncer's default) LISTEN succeeds but nothing is ever delivered.
    const probe = `probe:${randomUUID()}`;
    let probed: () => void = () => {};
    const arrived = new Promise<void>((resolve) => {
      probed = resolve;
    });
    client.on('notification', (message) => {
      if (message.payload === probe) probed();
      this.#changed();
    });
    try {
      await client.connect();
      await client.query('LISTEN gatehouse_clients');
      await client.query('select pg_notify($1, $2)', ['gatehouse_clients', probe]);
      let timer: NodeJS.Timeout | undefined;
      const heard = await Promise.race([
        arrived.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
      if (!heard) throw new Error('notifications do not arrive on this connection');
    } catch {
      lost();
      return;
    }
    if (this.#client !== client) return;
    // A listener must not keep a process alive that has nothing else to do (a CLI command that forgot to close).
    (client as unknown as { connection?: { stream?: { unref?: () => void } } }).connection?.stream?.unref?.();
    this.listening = true;
    this.#changed();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = undefined;
    if (this.listening) {
      this.listening = false;
      this.#changed();
    }
    await client?.end().catch(() => {});
  }
}

export function openPostgres(url: string, poolSize = 10): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    types,
    // Fail fast when the database is unreachable, so requests answer 503 instead of queueing.
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection must not crash the process; the next query reports the outage.
  pool.on('error', () => {});
  return new Kysely<Database>({ dialect: new PreparingPostgresDialect(pool, url) });
}
