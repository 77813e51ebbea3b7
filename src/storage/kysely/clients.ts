import { type CompiledQuery, SqliteAdapter, sql } from 'kysely';
import type { ClientsTable } from '../database.ts';
import type {
  ApplicationType,
  Client,
  ClientChanges,
  ClientDisplayMetadata,
  ClientStore,
  TokenEndpointAuthMethod,
} from '../storage.ts';
import { runCompiled } from './direct.ts';
import { prepared } from './prepared.ts';
import { type Db, fromFlag, fromJson, inTransaction, toFlag, toJson } from './rows.ts';

function toClient(row: ClientsTable): Client {
  return {
    id: row.id,
    name: row.name,
    secretHash: row.secret_hash,
    redirectUris: fromJson(row.redirect_uris),
    grantTypes: fromJson(row.grant_types),
    scope: row.scope,
    tokenEndpointAuthMethod: row.token_endpoint_auth_method as TokenEndpointAuthMethod,
    applicationType: row.application_type as ApplicationType,
    requirePkce: fromFlag(row.require_pkce),
    allowedCorsOrigins: fromJson(row.allowed_cors_origins),
    idTokenSignedResponseAlg: row.id_token_signed_response_alg,
    allowedResources: fromJson(row.allowed_resources),
    nonExpiringTokens: fromFlag(row.non_expiring_tokens),
    resourceServer: fromFlag(row.resource_server),
    status: row.status as Client['status'],
    registeredVia: row.registered_via as Client['registeredVia'],
    registrationAccessTokenHash: row.registration_access_token_hash,
    metadata: JSON.parse(row.metadata) as ClientDisplayMetadata,
    ownerUserId: row.owner_user_id,
    requestedScope: row.requested_scope,
    previousSecretHash: row.previous_secret_hash,
    previousSecretExpiresAt: row.previous_secret_expires_at,
    createdAt: row.created_at,
    disabledAt: row.disabled_at,
    reviewedAt: row.reviewed_at,
    pendingChanges: row.pending_changes === null ? null : (JSON.parse(row.pending_changes) as ClientChanges),
  };
}

function toRow(client: Client): ClientsTable {
  return {
    id: client.id,
    name: client.name,
    secret_hash: client.secretHash,
    redirect_uris: toJson(client.redirectUris),
    grant_types: toJson(client.grantTypes),
    scope: client.scope,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    application_type: client.applicationType,
    require_pkce: toFlag(client.requirePkce),
    allowed_cors_origins: toJson(client.allowedCorsOrigins),
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    allowed_resources: toJson(client.allowedResources),
    non_expiring_tokens: toFlag(client.nonExpiringTokens),
    resource_server: toFlag(client.resourceServer),
    status: client.status,
    registered_via: client.registeredVia,
    registration_access_token_hash: client.registrationAccessTokenHash,
    metadata: JSON.stringify(client.metadata),
    owner_user_id: client.ownerUserId,
    requested_scope: client.requestedScope,
    previous_secret_hash: client.previousSecretHash,
    previous_secret_expires_at: client.previousSecretExpiresAt,
    created_at: client.createdAt,
    disabled_at: client.disabledAt,
    reviewed_at: client.reviewedAt,
    pending_changes: client.pendingChanges === null ? null : JSON.stringify(client.pendingChanges),
  };
}

async function replaceCorsOrigins(db: Db, client: Client) {
  await db.deleteFrom('client_cors_origins').where('client_id', '=', client.id).execute();
  if (client.allowedCorsOrigins.length > 0) {
    await db
      .insertInto('client_cors_origins')
      .values(client.allowedCorsOrigins.map((origin) => ({ origin, client_id: client.id })))
      .execute();
  }
}

// Every token, introspection and revocation request authenticates its client: compiled once.
const selectClient = prepared((db, { id }: { id: string }) =>
  db.selectFrom('clients').selectAll().where('id', '=', id),
);

/**
 * Clients as read, kept per database while nothing can have changed them: a code flow looks its client up
 * three times, and every token and introspection request once; the row has 26 columns, five of them JSON.
 * - Another process's commit (a `gatehouse clients …` command, another worker or instance) must drop it:
 *   - SQLite: the data version changes, read on every lookup: then everything is dropped. It is read by an
 *     ordinary query, so it queues for the connection, shares the read snapshot and waits for durability
 *     exactly as reading the row would (a bare PRAGMA run while another caller holds the connection would
 *     start that caller's snapshot).
 *   - PostgreSQL: a trigger on the clients table notifies every listening process at each commit that
 *     changed it (migration 0019), and storage/postgres.ts listens: each notification drops everything. The
 *     cache is used only while the listening connection is up; losing it, or getting it back, drops
 *     everything too. A change made elsewhere is seen here once its notification arrives (milliseconds).
 * - This process's own writes all go through clientStore, which drops everything before and after each one;
 *   a lookup caches what it read only if no write or notification began or ended meanwhile (`writes`).
 * - Lookups inside a transaction neither use nor fill it: they may see that transaction's uncommitted rows.
 * Found clients are frozen: callers share them.
 */
interface ClientCache {
  /** SQLite's data version query; undefined on PostgreSQL, which is told of changes instead. */
  readVersion: CompiledQuery<{ data_version: number }> | undefined;
  /** PostgreSQL: whether changes made elsewhere are being heard; the cache is unused while they are not. */
  feed: ClientChangeFeed | undefined;
  version: number | undefined;
  writes: number;
  clients: Map<string, Client>;
}

/** How PostgreSQL tells a process that another changed the clients table (storage/postgres.ts). */
export interface ClientChangeFeed {
  /** True while every commit that changes a client is reported to onChange. */
  readonly listening: boolean;
  /** `listener` runs at every reported change, and whenever listening starts or stops. */
  onChange(listener: () => void): void;
}

const caches = new WeakMap<object, ClientCache>();
const feeds = new WeakMap<object, ClientChangeFeed>();
const DATA_VERSION = sql<{ data_version: number }>`select data_version from pragma_data_version`;

/** Called once per PostgreSQL database handle, with its Kysely adapter: turns the client cache on there. */
export function setClientChangeFeed(adapter: object, feed: ClientChangeFeed): void {
  feeds.set(adapter, feed);
}

function cacheOf(db: Db): ClientCache | undefined {
  if (db.isTransaction) return undefined;
  const adapter = db.getExecutor().adapter;
  let cache = caches.get(adapter);
  if (!cache) {
    const feed = feeds.get(adapter);
    if (adapter instanceof SqliteAdapter) {
      cache = {
        readVersion: DATA_VERSION.compile(db),
        feed: undefined,
        version: undefined,
        writes: 0,
        clients: new Map(),
      };
    } else if (feed) {
      const made: ClientCache = {
        readVersion: undefined,
        feed,
        version: undefined,
        writes: 0,
        clients: new Map(),
      };
      feed.onChange(() => {
        made.writes += 1;
        made.clients.clear();
      });
      cache = made;
    } else {
      return undefined;
    }
    caches.set(adapter, cache);
  }
  if (cache.feed && !cache.feed.listening) return undefined;
  return cache;
}

/**
 * Drops every cached client of the database `db` belongs to (a transaction shares its database's cache). A write
 * to the clients table from another store (UserStore.delete) calls it before and after, as clientStore does.
 */
export function forgetClients(db: Db): void {
  const cache = caches.get(db.getExecutor().adapter);
  if (!cache) return;
  cache.writes += 1;
  cache.clients.clear();
}

async function writingClients<T>(db: Db, write: (tx: Db) => Promise<T>): Promise<T> {
  forgetClients(db);
  try {
    return await inTransaction(db, write);
  } finally {
    forgetClients(db);
  }
}

function frozen(client: Client): Client {
  Object.freeze(client.redirectUris);
  Object.freeze(client.grantTypes);
  Object.freeze(client.allowedCorsOrigins);
  Object.freeze(client.allowedResources);
  for (const value of Object.values(client.metadata)) if (typeof value === 'object') Object.freeze(value);
  Object.freeze(client.metadata);
  if (client.pendingChanges) {
    for (const value of Object.values(client.pendingChanges))
      if (typeof value === 'object') Object.freeze(value);
    Object.freeze(client.pendingChanges);
  }
  return Object.freeze(client);
}

export function clientStore(db: Db): ClientStore {
  return {
    async find(id) {
      const cache = cacheOf(db);
      if (!cache) {
        // Frozen here too, so that a caller that changes a found client fails on every database alike.
        const row = (await selectClient(db, { id })).rows[0];
        return row && frozen(toClient(row));
      }
      const writes = cache.writes;
      const version = cache.readVersion
        ? Number((await runCompiled(db, cache.readVersion)).rows[0]?.data_version)
        : undefined;
      if (version !== cache.version) {
        cache.version = version;
        cache.clients.clear();
      }
      const cached = cache.clients.get(id);
      if (cached && cache.writes === writes) return cached;
      const row = (await selectClient(db, { id })).rows[0];
      if (!row) return undefined;
      const client = frozen(toClient(row));
      // Read at `version` or later: if it was later, the next lookup sees the new version and drops it.
      if (cache.writes === writes && cache.version === version && cache.clients.size < 10_000) {
        cache.clients.set(id, client);
      }
      return client;
    },
    async list() {
      const rows = await db.selectFrom('clients').selectAll().orderBy('created_at').execute();
      return rows.map(toClient);
    },
    async listPage({ limit, before }) {
      let query = db.selectFrom('clients').selectAll();
      if (before) {
        query = query.where((eb) =>
          eb(eb.refTuple('created_at', 'id'), '<', eb.tuple(before.createdAt, before.id)),
        );
      }
      const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map(toClient);
    },
    async listAwaitingReview() {
      // Written literally, as in the partial index clients_awaiting_review: a bound parameter would keep
      // the planner from using it.
      const rows = await db
        .selectFrom('clients')
        .selectAll()
        .where(sql<boolean>`(status = 'pending' or requested_scope <> '' or pending_changes is not null)`)
        .orderBy('created_at')
        .execute();
      return rows.map(toClient);
    },
    async listByOwner(userId) {
      const rows = await db
        .selectFrom('clients')
        .selectAll()
        .where('owner_user_id', '=', userId)
        .orderBy('created_at')
        .execute();
      return rows.map(toClient);
    },
    async hasCorsOrigin(origin) {
      const row = await db
        .selectFrom('client_cors_origins')
        .innerJoin('clients', 'clients.id', 'client_cors_origins.client_id')
        .select('client_cors_origins.origin')
        .where('client_cors_origins.origin', '=', origin)
        .where('clients.disabled_at', 'is', null)
        .where('clients.status', '=', 'active')
        .executeTakeFirst();
      return row !== undefined;
    },
    async create(client) {
      await writingClients(db, async (tx) => {
        await tx.insertInto('clients').values(toRow(client)).execute();
        await replaceCorsOrigins(tx, client);
      });
    },
    async update(client) {
      const { id: _id, created_at: _created, ...changes } = toRow(client);
      await writingClients(db, async (tx) => {
        await tx.updateTable('clients').set(changes).where('id', '=', client.id).execute();
        await replaceCorsOrigins(tx, client);
      });
    },
    async delete(id, now) {
      return writingClients(db, async (tx) => {
        // One statement through grants_client_id, however many grants the client has (a list of their ids
        // overflowed SQLite's 32,766 parameters for a popular client).
        await tx
          .updateTable('grants')
          .set({ revoked_at: now })
          .where('client_id', '=', id)
          .where('revoked_at', 'is', null)
          .execute();
        await tx.deleteFrom('client_cors_origins').where('client_id', '=', id).execute();
        await tx.deleteFrom('consents').where('client_id', '=', id).execute();
        const result = await tx.deleteFrom('clients').where('id', '=', id).executeTakeFirst();
        return Number(result.numDeletedRows) === 1;
      });
    },
  };
}
