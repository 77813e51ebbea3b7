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
import { columnsOf, prepared } from './prepared.ts';
import { type Db, inTransaction } from './rows.ts';
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

function grantRow(grant: Grant): GrantsTable {
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

function accessRow(token: AccessTokenRecord): AccessTokensTable {
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
  };
}

function refreshRow(token: RefreshTokenRecord): RefreshTokensTable {
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
  };
}

// The queries of every token request, compiled once (see prepared.ts).
const GRANT_COLUMNS = columnsOf<GrantsTable>()([
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
const insertGrant = prepared((db, row: GrantsTable) => db.insertInto('grants').values(row), GRANT_COLUMNS);
const insertGrantIfMissing = prepared(
  (db, row: GrantsTable) =>
    db
      .insertInto('grants')
      .values(row)
      .onConflict((conflict) => conflict.column('id').doNothing()),
  GRANT_COLUMNS,
);
const insertAccessToken = prepared(
  (db, row: AccessTokensTable) => db.insertInto('access_tokens').values(row),
  columnsOf<AccessTokensTable>()([
    'id',
    'grant_id',
    'client_id',
    'user_id',
    'scope',
    'audience',
    'created_at',
    'expires_at',
    'revoked_at',
  ]),
);
const insertRefreshToken = prepared(
  (db, row: RefreshTokensTable) => db.insertInto('refresh_tokens').values(row),
  columnsOf<RefreshTokensTable>()([
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
  ]),
);
const selectActiveAccessToken = prepared((db, { id, now }: { id: string; now: number }) =>
  // One round trip: the token, its grant, its client and its user (if any) must all be live (disabling a
  // client or a user stops their tokens at once).
  db
    .selectFrom('access_tokens')
    .innerJoin('grants', 'grants.id', 'access_tokens.grant_id')
    .leftJoin('clients', 'clients.id', 'access_tokens.client_id')
    .leftJoin('users', 'users.id', 'access_tokens.user_id')
    .selectAll('access_tokens')
    .where('access_tokens.id', '=', id)
    .where('access_tokens.expires_at', '>', now)
    .where('access_tokens.revoked_at', 'is', null)
    .where('grants.revoked_at', 'is', null)
    .where('clients.disabled_at', 'is', null)
    .where('users.disabled_at', 'is', null),
);
const selectRefreshToken = prepared((db, { tokenHash }: { tokenHash: string }) =>
  // One round trip for everything a refresh checks and issues: the token, its grant (with the sign-in an ID
  // token repeats, OIDC Core §12.2), and its user (still allowed to act; the claims of that ID token).
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
      await db
        .updateTable('grants')
        .set({ last_used_at: now })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', now)]))
        .execute();
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

export function refreshTokenStore(db: Db): RefreshTokenStore {
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
      };
    },
    async rotate(parentHash, fingerprint, now, child, access) {
      return inTransaction(db, async (tx) => {
        // The atomicity lives in this conditional UPDATE: on PostgreSQL a concurrent caller waits for the row
        // lock, re-reads rotated_at and updates nothing; on SQLite transactions are serialized.
        const claimed = await claimRefreshToken(tx, { tokenHash: parentHash, now, fingerprint });
        if (Number(claimed.numAffectedRows) !== 1) return false;
        await insertRefreshToken(tx, refreshRow(child));
        await insertAccessToken(tx, accessRow(access));
        return true;
      });
    },
  };
}
