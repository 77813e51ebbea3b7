// The small stores: remembered consent, signing keys, login throttling, settings.
import { PostgresAdapter, sql } from 'kysely';
import type { AdminKeysTable, ApiKeysTable, SigningKeysTable } from '../database.ts';
import type {
  AdminKey,
  AdminKeyStore,
  ApiKey,
  ApiKeyStore,
  ConsentStore,
  InitialAccessTokenStore,
  KeyStore,
  LoginThrottleRule,
  LoginThrottleStore,
  SettingStore,
  SigningKeyRecord,
} from '../storage.ts';
import { prepared } from './prepared.ts';
import { type Db, inTransaction } from './rows.ts';

// Every signed-in /authorize asks whether consent is remembered: compiled once.
const selectConsent = prepared((db, { userId, clientId }: { userId: string; clientId: string }) =>
  db.selectFrom('consents').selectAll().where('user_id', '=', userId).where('client_id', '=', clientId),
);

export function consentStore(db: Db): ConsentStore {
  return {
    async find(userId, clientId) {
      const row = (await selectConsent(db, { userId, clientId })).rows[0];
      return (
        row && { userId: row.user_id, clientId: row.client_id, scope: row.scope, updatedAt: row.updated_at }
      );
    },
    async grant(userId, clientId, scope, now) {
      // A compare-and-set loop, not read-then-upsert: on PostgreSQL two consents given at once (two tabs) both
      // read the old scope, and the second upsert dropped what the first added.
      const requested = scope.split(' ').filter(Boolean);
      for (let attempt = 0; attempt < 20; attempt++) {
        const existing = (await selectConsent(db, { userId, clientId })).rows[0];
        const merged = [
          ...new Set([...(existing?.scope.split(' ') ?? []), ...requested].filter(Boolean)),
        ].join(' ');
        if (!existing) {
          const inserted = await db
            .insertInto('consents')
            .values({ user_id: userId, client_id: clientId, scope: merged, updated_at: now })
            .onConflict((oc) => oc.columns(['user_id', 'client_id']).doNothing())
            .executeTakeFirst();
          if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1) return;
          continue; // someone else's consent came first: merge with it
        }
        const updated = await db
          .updateTable('consents')
          .set({ scope: merged, updated_at: now })
          .where('user_id', '=', userId)
          .where('client_id', '=', clientId)
          .where('scope', '=', existing.scope)
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 1) return;
      }
      throw new Error('The consent kept changing while it was being recorded');
    },
    async forget(userId, clientId) {
      await db
        .deleteFrom('consents')
        .where('user_id', '=', userId)
        .where('client_id', '=', clientId)
        .execute();
    },
  };
}

export function adminKeyStore(db: Db): AdminKeyStore {
  const toKey = (row: AdminKeysTable): AdminKey => ({
    id: row.id,
    keyHash: row.key_hash,
    name: row.name,
    scope: row.scope,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  });
  return {
    async create(key) {
      await db
        .insertInto('admin_keys')
        .values({
          id: key.id,
          key_hash: key.keyHash,
          name: key.name,
          scope: key.scope,
          created_at: key.createdAt,
          expires_at: key.expiresAt,
          revoked_at: key.revokedAt,
        })
        .execute();
    },
    async findActive(keyHash, now) {
      const row = await db
        .selectFrom('admin_keys')
        .selectAll()
        .where('key_hash', '=', keyHash)
        .where('revoked_at', 'is', null)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
        .executeTakeFirst();
      return row && toKey(row);
    },
    async list() {
      return (await db.selectFrom('admin_keys').selectAll().orderBy('created_at', 'desc').execute()).map(
        toKey,
      );
    },
    async revoke(id, now) {
      const result = await db
        .updateTable('admin_keys')
        .set({ revoked_at: now })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

export function apiKeyStore(db: Db): ApiKeyStore {
  const toKey = (row: ApiKeysTable): ApiKey => ({
    id: row.id,
    keyHash: row.key_hash,
    userId: row.user_id,
    name: row.name,
    scope: row.scope,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    resources: row.resources === null ? [] : row.resources.split(' '),
  });
  return {
    async create(key) {
      await db
        .insertInto('api_keys')
        .values({
          id: key.id,
          key_hash: key.keyHash,
          user_id: key.userId,
          name: key.name,
          scope: key.scope,
          created_at: key.createdAt,
          expires_at: key.expiresAt,
          revoked_at: key.revokedAt,
          resources: key.resources.length === 0 ? null : key.resources.join(' '),
        })
        .execute();
    },
    async findActive(keyHash, now) {
      const row = await db
        .selectFrom('api_keys')
        .selectAll()
        .where('key_hash', '=', keyHash)
        .where('revoked_at', 'is', null)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
        .executeTakeFirst();
      return row && toKey(row);
    },
    async list(userId) {
      let query = db.selectFrom('api_keys').selectAll().orderBy('created_at', 'desc');
      if (userId !== undefined) query = query.where('user_id', '=', userId);
      return (await query.execute()).map(toKey);
    },
    async revoke(id, now) {
      const result = await db
        .updateTable('api_keys')
        .set({ revoked_at: now })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

export function initialAccessTokenStore(db: Db): InitialAccessTokenStore {
  return {
    async create(tokenHash, uses, now, expiresAt) {
      await db
        .insertInto('initial_access_tokens')
        .values({ token_hash: tokenHash, remaining_uses: uses, created_at: now, expires_at: expiresAt })
        .execute();
    },
    async consume(tokenHash, now) {
      const result = await db
        .updateTable('initial_access_tokens')
        .set((eb) => ({ remaining_uses: eb('remaining_uses', '-', 1) }))
        .where('token_hash', '=', tokenHash)
        .where('remaining_uses', '>', 0)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

/** A key as it is added: the newest of its alg, so neither rotated nor due to retire. */
function newestKeyRow(key: SigningKeyRecord): SigningKeysTable {
  return {
    kid: key.kid,
    alg: key.alg,
    public_jwk: key.publicJwk,
    private_jwk_encrypted: key.privateJwkEncrypted,
    created_at: key.createdAt,
    activates_at: key.activatesAt,
    rotated_at: null,
    retire_at: null,
  };
}

/** Every write to signing_keys calls this in its transaction: running servers watch the version. */
async function bumpKeySetVersion(tx: Db): Promise<void> {
  await tx
    .updateTable('key_set_version')
    .set((eb) => ({ version: eb('version', '+', 1) }))
    .where('id', '=', 1)
    .execute();
}

export function keyStore(db: Db): KeyStore {
  return {
    async version() {
      const row = await db
        .selectFrom('key_set_version')
        .select('version')
        .where('id', '=', 1)
        .executeTakeFirst();
      return Number(row?.version ?? 0);
    },
    async list() {
      const rows = await db.selectFrom('signing_keys').selectAll().orderBy('created_at').execute();
      return rows.map((row) => ({
        kid: row.kid,
        alg: row.alg,
        publicJwk: row.public_jwk,
        privateJwkEncrypted: row.private_jwk_encrypted,
        createdAt: row.created_at,
        activatesAt: row.activates_at,
        rotatedAt: row.rotated_at,
        retireAt: row.retire_at,
      }));
    },
    async rotateIn(key, now, retireAfterMs) {
      await inTransaction(db, async (tx) => {
        await tx
          .updateTable('signing_keys')
          .set({ rotated_at: now, retire_at: key.activatesAt + retireAfterMs })
          .where('alg', '=', key.alg)
          .where('rotated_at', 'is', null)
          .execute();
        await tx.insertInto('signing_keys').values(newestKeyRow(key)).execute();
        await bumpKeySetVersion(tx);
      });
    },
    async addFirst(key) {
      return inTransaction(db, async (tx) => {
        // Check-then-insert, made atomic: on PostgreSQL a transaction-scoped advisory lock (as Kysely's
        // migrator takes) queues concurrent starts, and READ COMMITTED lets the next one see the key the first
        // committed. On SQLite one process runs one transaction at a time; another process's concurrent write
        // makes this one fail (SQLITE_BUSY) rather than add a second key.
        if (tx.getExecutor().adapter instanceof PostgresAdapter) {
          await sql`select pg_advisory_xact_lock(hashtext('gatehouse:signing_keys'))`.execute(tx);
        }
        const current = await tx
          .selectFrom('signing_keys')
          .select('kid')
          .where('alg', '=', key.alg)
          .where('rotated_at', 'is', null)
          .executeTakeFirst();
        if (current) return false;
        await tx.insertInto('signing_keys').values(newestKeyRow(key)).execute();
        await bumpKeySetVersion(tx);
        return true;
      });
    },
    async retire(kids, now) {
      if (kids.length === 0) return;
      await inTransaction(db, async (tx) => {
        await tx
          .updateTable('signing_keys')
          .set((eb) => ({
            rotated_at: eb.fn.coalesce('rotated_at', eb.val(now)),
            retire_at: now,
          }))
          .where('kid', 'in', [...kids])
          .execute();
        await bumpKeySetVersion(tx);
      });
    },
  };
}

/** Where a key's first attempt leaves it: blocked only when the rule allows no more than one attempt. */
function firstBlock(now: number, rule: LoginThrottleRule): number {
  return rule.freeAttempts > 1
    ? 0
    : now + Math.min(rule.firstDelayMs * 2 ** (1 - rule.freeAttempts), rule.maxDelayMs);
}

export function loginThrottleStore(db: Db): LoginThrottleStore {
  return {
    async find(key) {
      const row = await db.selectFrom('login_throttle').selectAll().where('key', '=', key).executeTakeFirst();
      return (
        row && {
          key: row.key,
          failures: row.failures,
          lastFailureAt: row.last_failure_at,
          blockedUntil: row.blocked_until,
        }
      );
    },
    async reserve(key, now, rule) {
      // The count this attempt makes, and the block it earns (LoginThrottleRule), from the row as it is when
      // the upsert takes its lock: concurrent reservations of one key, from any process, queue on that row.
      const count = sql<number>`(case when login_throttle.last_failure_at < ${now - rule.windowMs}
        then 1 else login_throttle.failures + 1 end)`;
      const doublings = sql<number>`(${count} - ${rule.freeAttempts})`;
      const doubled = sql<number>`(cast(${rule.firstDelayMs} as bigint) << ${doublings})`;
      // The shift is bounded first: 2^30 times any sane first delay is already past every maximum.
      const delay = sql<number>`case when ${doublings} >= 30 or ${doubled} > ${rule.maxDelayMs}
        then ${rule.maxDelayMs} else ${doubled} end`;
      const blockedUntil = sql<number>`case when ${count} < ${rule.freeAttempts} then 0 else ${now} + ${delay} end`;
      const reserved = await db
        .insertInto('login_throttle')
        .values({ key, failures: 1, last_failure_at: now, blocked_until: firstBlock(now, rule) })
        .onConflict((oc) =>
          oc
            .column('key')
            .doUpdateSet({
              failures: count,
              last_failure_at: now,
              blocked_until: blockedUntil,
            })
            // A blocked key updates nothing, and then returns no row.
            .where('login_throttle.blocked_until', '<=', now),
        )
        .returning('failures')
        .executeTakeFirst();
      if (reserved) return { allowed: true };
      const row = await db
        .selectFrom('login_throttle')
        .select('blocked_until')
        .where('key', '=', key)
        .executeTakeFirst();
      // Cleared in between (a successful sign-in): still refused, for the shortest wait.
      return { allowed: false, blockedUntil: Math.max(Number(row?.blocked_until ?? now), now + 1) };
    },
    async refund(key, freeAttempts) {
      await db
        .updateTable('login_throttle')
        .set({
          failures: sql<number>`failures - 1`,
          blocked_until: sql<number>`case when failures - 1 < ${freeAttempts} then 0 else blocked_until end`,
        })
        .where('key', '=', key)
        .where('failures', '>', 0)
        .execute();
    },
    async clear(key) {
      await db.deleteFrom('login_throttle').where('key', '=', key).execute();
    },
  };
}

export function settingStore(db: Db): SettingStore {
  return {
    async get(key) {
      const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
      return row?.value;
    },
    async set(key, value) {
      await db
        .insertInto('settings')
        .values({ key, value })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
        .execute();
    },
    async delete(key) {
      const result = await db.deleteFrom('settings').where('key', '=', key).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
  };
}
