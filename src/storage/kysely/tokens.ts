import { CompiledQuery, sql } from 'kysely';
import type { AccessTokensTable, GrantsTable, RefreshTokensTable } from '../database.ts';
import type {
  AccessTokenRecord,
  AccessTokenStore,
  ClaimsRequest,
  Grant,
  GrantStore,
  OpenIdContext,
  RefreshTokenRecord,
  RefreshTokenStore,
} from '../storage.ts';
import { runCompiled } from './direct.ts';
import { columnsOf, prepared } from './prepared.ts';
import { type Atomically, type Db, isPostgres } from './rows.ts';
import { toUser } from './users.ts';

type OpenIdColumns = Pick<GrantsTable, 'auth_time' | 'amr' | 'acr' | 'sid' | 'claims_request'>;

/** A grant's sign-in context from its columns; undefined for a grant that has none (client_credentials, old). */
export function openIdFrom(row: OpenIdColumns): OpenIdContext | undefined {
  if (row.auth_time === null && row.sid === null && row.claims_request === null) return undefined;
  const context: OpenIdContext = { authTime: row.auth_time === null ? null : Number(row.auth_time) };
  if (row.amr !== null) context.amr = JSON.parse(row.amr) as string[];
  if (row.acr !== null) context.acr = row.acr;
  if (row.sid !== null) context.sid = row.sid;
  if (row.claims_request !== null) context.claimsRequest = JSON.parse(row.claims_request) as ClaimsRequest;
  return context;
}

export function openIdColumns(context: OpenIdContext | undefined): OpenIdColumns {
  return {
    auth_time: context?.authTime ?? null,
    amr: context?.amr === undefined ? null : JSON.stringify(context.amr),
    acr: context?.acr ?? null,
    sid: context?.sid ?? null,
    claims_request: context?.claimsRequest === undefined ? null : JSON.stringify(context.claimsRequest),
  };
}

function toGrant(row: GrantsTable): Grant {
  const grant: Grant = {
    id: row.id,
    clientId: row.client_id,
    userId: row.user_id,
    scope: row.scope,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
  const openId = openIdFrom(row);
  return openId ? { ...grant, openId } : grant;
}

export function grantRow(grant: Grant): GrantsTable {
  return {
    id: grant.id,
    client_id: grant.clientId,
    user_id: grant.userId,
    scope: grant.scope,
    created_at: grant.createdAt,
    revoked_at: grant.revokedAt,
    last_used_at: grant.lastUsedAt,
    ...openIdColumns(grant.openId),
  };
}

export function accessRow(token: AccessTokenRecord): AccessTokensTable {
  return {
    id: token.id,
    grant_id: token.grantId,
    client_id: token.clientId,
    user_id: token.userId,
    scope: token.scope,
    audience: token.audience,
    created_at: token.createdAt,
    expires_at: token.expiresAt,
    revoked_at: token.revokedAt,
    dpop_jkt: token.dpopJkt ?? null,
  };
}

export function refreshRow(token: RefreshTokenRecord): RefreshTokensTable {
  return {
    token_hash: token.tokenHash,
    id: token.id,
    grant_id: token.grantId,
    client_id: token.clientId,
    user_id: token.userId,
    scope: token.scope,
    resource: token.resource,
    parent_id: token.parentId,
    created_at: token.createdAt,
    expires_at: token.expiresAt,
    idle_expires_at: token.idleExpiresAt,
    rotated_at: token.rotatedAt,
    rotation_fingerprint: token.rotationFingerprint,
    revoked_at: token.revokedAt,
    dpop_jkt: token.dpopJkt ?? null,
  };
}

// The queries of every token request, compiled once (see prepared.ts).
export const GRANT_COLUMNS = columnsOf<GrantsTable>()([
  'id',
  'client_id',
  'user_id',
  'scope',
  'created_at',
  'revoked_at',
  'last_used_at',
  'auth_time',
  'amr',
  'acr',
  'sid',
  'claims_request',
]);
export const insertGrant = prepared(
  (db, row: GrantsTable) => db.insertInto('grants').values(row),
  GRANT_COLUMNS,
);
const insertGrantIfMissing = prepared(
  (db, row: GrantsTable) =>
    db
      .insertInto('grants')
      .values(row)
      .onConflict((conflict) => conflict.column('id').doNothing()),
  GRANT_COLUMNS,
);
export const ACCESS_TOKEN_COLUMNS = columnsOf<AccessTokensTable>()([
  'id',
  'grant_id',
  'client_id',
  'user_id',
  'scope',
  'audience',
  'created_at',
  'expires_at',
  'revoked_at',
  'dpop_jkt',
]);
export const insertAccessToken = prepared(
  (db, row: AccessTokensTable) => db.insertInto('access_tokens').values(row),
  ACCESS_TOKEN_COLUMNS,
);
export const REFRESH_TOKEN_COLUMNS = columnsOf<RefreshTokensTable>()([
  'token_hash',
  'id',
  'grant_id',
  'client_id',
  'user_id',
  'scope',
  'resource',
  'parent_id',
  'created_at',
  'expires_at',
  'idle_expires_at',
  'rotated_at',
  'rotation_fingerprint',
  'revoked_at',
  'dpop_jkt',
]);
export const insertRefreshToken = prepared(
  (db, row: RefreshTokensTable) => db.insertInto('refresh_tokens').values(row),
  REFRESH_TOKEN_COLUMNS,
);
const selectActiveAccessToken = prepared((db, { id, now }: { id: string; now: number }) =>
  // One statement: the token, and that its grant, its client and its user (if any) are all live (disabling a
  // client or a user stops their tokens at once). Correlated lookups, not joins: with SQLite 3.54 (Node
  // 24.22) a join of these four tables costs two to four times as much as the same lookups written so
  // (docs/performance.md, "Node 24.22"); on PostgreSQL both plan as index lookups.
  db
    .selectFrom('access_tokens')
    .selectAll('access_tokens')
    .where('access_tokens.id', '=', id)
    .where('access_tokens.expires_at', '>', now)
    .where('access_tokens.revoked_at', 'is', null)
    .where(
      sql<boolean>`(select grants.revoked_at is null from grants where grants.id = access_tokens.grant_id)`,
    )
    .where(
      sql<boolean>`(select clients.disabled_at from clients where clients.id = access_tokens.client_id) is null`,
    )
    .where(
      sql<boolean>`(select users.disabled_at from users where users.id = access_tokens.user_id) is null`,
    ),
);
const selectRefreshToken = prepared((db, { tokenHash }: { tokenHash: string }) =>
  // One round trip for everything a refresh checks and issues: the token, its grant (with the sign-in an ID
  // token repeats, OIDC Core §12.2), and its user (still allowed to act; the claims of that ID token). A join:
  // the user's row is needed whole, which correlated lookups (as in selectActiveAccessToken) cannot give in one
  // statement; on Node 24.22 that costs about 25 µs a refresh on SQLite (docs/performance.md), against a second
  // round trip on PostgreSQL.
  db
    .selectFrom('refresh_tokens')
    .innerJoin('grants', 'grants.id', 'refresh_tokens.grant_id')
    .leftJoin('users', 'users.id', 'refresh_tokens.user_id')
    .selectAll('refresh_tokens')
    .select([
      'grants.revoked_at as grant_revoked_at',
      'grants.last_used_at as grant_last_used_at',
      'grants.auth_time as grant_auth_time',
      'grants.amr as grant_amr',
      'grants.acr as grant_acr',
      'grants.sid as grant_sid',
      'grants.claims_request as grant_claims_request',
      'users.id as user_found',
      'users.disabled_at as user_disabled_at',
      'users.email as user_email',
      'users.name as user_name',
      'users.password_hash as user_password_hash',
      'users.is_admin as user_is_admin',
      'users.email_verified as user_email_verified',
      'users.created_at as user_created_at',
      'users.updated_at as user_updated_at',
      'users.claims as user_claims',
      'users.phone_number as user_phone_number',
      'users.phone_number_verified as user_phone_number_verified',
      'users.address as user_address',
    ])
    .where('refresh_tokens.token_hash', '=', tokenHash),
);
const claimRefreshToken = prepared(
  (db, { tokenHash, now, fingerprint }: { tokenHash: string; now: number; fingerprint: string }) =>
    db
      .updateTable('refresh_tokens')
      .set({ rotated_at: now, rotation_fingerprint: fingerprint })
      .where('token_hash', '=', tokenHash)
      .where('rotated_at', 'is', null)
      .where('revoked_at', 'is', null),
);

const markGrantUsedAt = prepared((db, { id, now }: { id: string; now: number }) =>
  db
    .updateTable('grants')
    .set({ last_used_at: now })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', now)])),
);

export function grantStore(db: Db): GrantStore {
  return {
    async create(grant) {
      await insertGrant(db, grantRow(grant));
    },
    async createIfMissing(grant) {
      await insertGrantIfMissing(db, grantRow(grant));
    },
    async find(id) {
      const row = await db.selectFrom('grants').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toGrant(row);
    },
    // Revoking a grant revokes every token issued under it: each token check joins its grant (findActive,
    // find), so marking the grant is enough, including for a token a concurrent request is still writing.
    async revoke(id, now) {
      await db
        .updateTable('grants')
        .set({ revoked_at: now })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
    },
    async revokeForUserAndClient(userId, clientId, now) {
      const result = await db
        .updateTable('grants')
        .set({ revoked_at: now })
        .where('user_id', '=', userId)
        .where('client_id', '=', clientId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
    async revokeForUser(userId, now) {
      // Through grants_user_client (user_id leads it); the token checks join the grant, as for revoke().
      const result = await db
        .updateTable('grants')
        .set({ revoked_at: now })
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
    async revokeForClient(clientId, now) {
      // Through grants_client_id, like ClientStore.delete.
      const result = await db
        .updateTable('grants')
        .set({ revoked_at: now })
        .where('client_id', '=', clientId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
    async markUsed(id, now) {
      await markGrantUsedAt(db, { id, now });
    },
    async lastUsedByClient(userId) {
      // From the grants (index grants_user_client), not the tokens: access_tokens has no user index, and
      // scanning it blocked every request for 200 ms per page view with 1.5 million tokens.
      const rows = await db
        .selectFrom('grants')
        .select([
          'client_id',
          (eb) => eb.fn.max(eb.fn.coalesce('last_used_at', 'created_at')).as('last_used'),
        ])
        .where('user_id', '=', userId)
        .groupBy('client_id')
        .execute();
      return new Map(rows.map((row) => [row.client_id, Number(row.last_used)]));
    },
    async listActiveForSession(sid) {
      const rows = await db
        .selectFrom('grants')
        .selectAll()
        .where('sid', '=', sid)
        .where('revoked_at', 'is', null)
        .execute();
      return rows.map(toGrant);
    },
    async listActiveForUser(userId) {
      const rows = await db
        .selectFrom('grants')
        .selectAll()
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .orderBy('created_at', 'desc')
        .execute();
      return rows.map(toGrant);
    },
  };
}

export function accessTokenStore(db: Db): AccessTokenStore {
  return {
    async create(token) {
      await insertAccessToken(db, accessRow(token));
    },
    async findActive(id, now) {
      const row = (await selectActiveAccessToken(db, { id, now })).rows[0];
      return (
        row && {
          id: row.id,
          grantId: row.grant_id,
          clientId: row.client_id,
          userId: row.user_id,
          scope: row.scope,
          audience: row.audience,
          createdAt: row.created_at,
          expiresAt: row.expires_at,
          revokedAt: row.revoked_at,
          ...(row.dpop_jkt === null ? {} : { dpopJkt: row.dpop_jkt }),
        }
      );
    },
    async revoke(id, now) {
      await db
        .updateTable('access_tokens')
        .set({ revoked_at: now })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
    },
  };
}

/**
 * A row inserted from one JSON parameter: PostgreSQL builds a record of the table's type from it, so each
 * value takes its column's type (a bare parameter in INSERT … SELECT would be text). Only the listed columns
 * are set; the others take their defaults.
 */
export function insertFromJson(table: string, columns: readonly string[], parameter: string): string {
  const list = columns.join(', ');
  return `insert into ${table} (${list}) select ${list} from json_populate_record(null::${table}, ${parameter}::json)`;
}

/**
 * A rotation on PostgreSQL, in one statement and one round trip (seven with BEGIN, the claim, two inserts, the
 * grant's "last used" and COMMIT). Every part of a WITH runs against one snapshot: the claim is the same
 * conditional UPDATE, and a concurrent rotation of the same parent waits for its row lock, finds rotated_at
 * set and claims nothing, so its inserts (guarded by `exists (select from claimed)`) insert nothing.
 * $1 now, $2 fingerprint, $3 parent hash, $4 successor row, $5 access token row (JSON), $6 mark the grant used.
 */
const ROTATE_ON_POSTGRES = `with claimed as (
  update refresh_tokens set rotated_at = $1, rotation_fingerprint = $2
  where token_hash = $3 and rotated_at is null and revoked_at is null
  returning grant_id
), successor as (
  ${insertFromJson('refresh_tokens', REFRESH_TOKEN_COLUMNS, '$4')} where exists (select from claimed)
), access as (
  ${insertFromJson('access_tokens', ACCESS_TOKEN_COLUMNS, '$5')} where exists (select from claimed)
), used as (
  update grants set last_used_at = $1
  where $6 and id in (select grant_id from claimed) and (last_used_at is null or last_used_at < $1)
)
select count(*)::int as claimed from claimed`;

export function refreshTokenStore(db: Db, atomically: Atomically): RefreshTokenStore {
  return {
    async create(token) {
      await insertRefreshToken(db, refreshRow(token));
    },
    async find(tokenHash) {
      const row = (await selectRefreshToken(db, { tokenHash })).rows[0];
      if (!row) return undefined;
      return {
        tokenHash: row.token_hash,
        id: row.id,
        grantId: row.grant_id,
        clientId: row.client_id,
        userId: row.user_id,
        scope: row.scope,
        resource: row.resource,
        parentId: row.parent_id,
        createdAt: row.created_at,
        expiresAt: row.expires_at,
        idleExpiresAt: row.idle_expires_at,
        rotatedAt: row.rotated_at,
        rotationFingerprint: row.rotation_fingerprint,
        revokedAt: row.revoked_at,
        grantRevoked: row.grant_revoked_at !== null,
        grantLastUsedAt: row.grant_last_used_at,
        userActive: row.user_found !== null && row.user_disabled_at === null,
        openId: openIdFrom({
          auth_time: row.grant_auth_time,
          amr: row.grant_amr,
          acr: row.grant_acr,
          sid: row.grant_sid,
          claims_request: row.grant_claims_request,
        }),
        user:
          row.user_found === null
            ? undefined
            : toUser({
                id: row.user_found,
                email: row.user_email,
                name: row.user_name,
                password_hash: row.user_password_hash!,
                is_admin: row.user_is_admin!,
                email_verified: row.user_email_verified!,
                created_at: row.user_created_at!,
                updated_at: row.user_updated_at!,
                disabled_at: row.user_disabled_at,
                claims: row.user_claims,
                phone_number: row.user_phone_number,
                phone_number_verified: row.user_phone_number_verified!,
                address: row.user_address,
              }),
        ...(row.dpop_jkt === null ? {} : { dpopJkt: row.dpop_jkt }),
      };
    },
    async rotate(parentHash, fingerprint, now, child, access, markGrantUsed = false) {
      if (isPostgres(db)) {
        const result = await runCompiled(
          db,
          CompiledQuery.raw(ROTATE_ON_POSTGRES, [
            now,
            fingerprint,
            parentHash,
            JSON.stringify(refreshRow(child)),
            JSON.stringify(accessRow(access)),
            markGrantUsed,
          ]),
        );
        return (result.rows[0] as { claimed: number } | undefined)?.claimed === 1;
      }
      return atomically(async (tx) => {
        // The atomicity lives in this conditional UPDATE: on SQLite transactions are serialized.
        const claimed = await claimRefreshToken(tx, { tokenHash: parentHash, now, fingerprint });
        if (Number(claimed.numAffectedRows) !== 1) return false;
        await insertRefreshToken(tx, refreshRow(child));
        await insertAccessToken(tx, accessRow(access));
        if (markGrantUsed) await markGrantUsedAt(tx, { id: child.grantId, now });
        return true;
      });
    },
  };
}
