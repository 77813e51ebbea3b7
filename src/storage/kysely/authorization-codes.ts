import { CompiledQuery } from 'kysely';
import type { AuthorizationCodesTable } from '../database.ts';
import type { AuthorizationCode, AuthorizationCodeStore, ClaimsRequest } from '../storage.ts';
import { runCompiled } from './direct.ts';
import { columnsOf, prepared } from './prepared.ts';
import { type Atomically, type Db, fromFlag, grantNotRevoked, isPostgres, toFlag } from './rows.ts';
import {
  ACCESS_TOKEN_COLUMNS,
  accessRow,
  GRANT_COLUMNS,
  grantRow,
  insertAccessToken,
  insertFromJson,
  insertGrant,
  insertRefreshToken,
  REFRESH_TOKEN_COLUMNS,
  refreshRow,
} from './tokens.ts';
import { authenticationFrom } from './users.ts';

function toCode(row: AuthorizationCodesTable): AuthorizationCode {
  return {
    codeHash: row.code_hash,
    grantId: row.grant_id,
    clientId: row.client_id,
    userId: row.user_id,
    redirectUri: row.redirect_uri,
    redirectUriProvided: fromFlag(row.redirect_uri_provided),
    scope: row.scope,
    nonce: row.nonce,
    codeChallenge: row.code_challenge,
    resource: row.resource,
    authTime: row.auth_time,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    consumedAt: row.consumed_at,
    ...authenticationFrom(row),
    ...(row.dpop_jkt === null ? {} : { dpopJkt: row.dpop_jkt }),
    ...(row.sid !== null ? { sid: row.sid } : {}),
    ...(row.claims_request !== null
      ? { claimsRequest: JSON.parse(row.claims_request) as ClaimsRequest }
      : {}),
  };
}

// Every authorization-code flow runs these once each: compiled once.
const CODE_COLUMNS = columnsOf<AuthorizationCodesTable>()([
  'code_hash',
  'grant_id',
  'client_id',
  'user_id',
  'redirect_uri',
  'redirect_uri_provided',
  'scope',
  'nonce',
  'code_challenge',
  'resource',
  'auth_time',
  'created_at',
  'expires_at',
  'consumed_at',
  'amr',
  'acr',
  'dpop_jkt',
  'sid',
  'claims_request',
]);
const insertCode = prepared(
  (db, row: AuthorizationCodesTable) => db.insertInto('authorization_codes').values(row),
  CODE_COLUMNS,
);
const selectCode = prepared((db, { codeHash }: { codeHash: string }) =>
  db.selectFrom('authorization_codes').selectAll().where('code_hash', '=', codeHash),
);
// The atomicity lives in this one conditional UPDATE: only one caller can move consumed_at off NULL. A code
// whose grant was revoked while it waited (a password reset, "Remove access", a disabled client) is dead too:
// checked in the same statement, so a revocation either happens before the claim and wins, or after it and
// covers the tokens the claim's transaction inserts (they carry the grant).
const claimCode = prepared((db, { codeHash, now }: { codeHash: string; now: number }) =>
  db
    .updateTable('authorization_codes')
    .set({ consumed_at: now })
    .where('code_hash', '=', codeHash)
    .where('consumed_at', 'is', null)
    .where('expires_at', '>', now)
    .where(grantNotRevoked('authorization_codes'))
    .returningAll(),
);

function codeRow(code: AuthorizationCode): AuthorizationCodesTable {
  return {
    code_hash: code.codeHash,
    grant_id: code.grantId,
    client_id: code.clientId,
    user_id: code.userId,
    redirect_uri: code.redirectUri,
    redirect_uri_provided: toFlag(code.redirectUriProvided),
    scope: code.scope,
    nonce: code.nonce,
    code_challenge: code.codeChallenge,
    resource: code.resource,
    auth_time: code.authTime,
    created_at: code.createdAt,
    expires_at: code.expiresAt,
    consumed_at: code.consumedAt,
    amr: code.amr === undefined ? null : JSON.stringify(code.amr),
    acr: code.acr ?? null,
    dpop_jkt: code.dpopJkt ?? null,
    sid: code.sid ?? null,
    claims_request: code.claimsRequest === undefined ? null : JSON.stringify(code.claimsRequest),
  };
}

/** A code and its grant on PostgreSQL, in one statement (four round trips with BEGIN and COMMIT). */
const CREATE_WITH_GRANT_ON_POSTGRES = `with grant_row as (
  ${insertFromJson('grants', GRANT_COLUMNS, '$1')}
)
${insertFromJson('authorization_codes', CODE_COLUMNS, '$2')}`;

/**
 * A redemption on PostgreSQL, in one statement: the same conditional claim as claimCode, and the tokens
 * inserted only if it claimed (see ROTATE_ON_POSTGRES in tokens.ts for why a concurrent claim inserts
 * nothing). $1 code hash, $2 now, $3 access token row, $4 refresh token row or null (JSON).
 */
const CONSUME_ON_POSTGRES = `with claimed as (
  update authorization_codes set consumed_at = $2
  where code_hash = $1 and consumed_at is null and expires_at > $2
    and not exists (
      select from grants where grants.id = authorization_codes.grant_id and grants.revoked_at is not null
    )
  returning *
), access as (
  ${insertFromJson('access_tokens', ACCESS_TOKEN_COLUMNS, '$3')} where exists (select from claimed)
), refresh as (
  ${insertFromJson('refresh_tokens', REFRESH_TOKEN_COLUMNS, '$4')}
  where $4::json is not null and exists (select from claimed)
)
select * from claimed`;

export function authorizationCodeStore(db: Db, atomically: Atomically): AuthorizationCodeStore {
  return {
    async create(code) {
      await insertCode(db, codeRow(code));
    },
    async createWithGrant(code, grant) {
      if (isPostgres(db)) {
        await runCompiled(
          db,
          CompiledQuery.raw(CREATE_WITH_GRANT_ON_POSTGRES, [
            JSON.stringify(grantRow(grant)),
            JSON.stringify(codeRow(code)),
          ]),
        );
        return;
      }
      await atomically(async (tx) => {
        await insertGrant(tx, grantRow(grant));
        await insertCode(tx, codeRow(code));
      });
    },
    async find(codeHash) {
      const row = (await selectCode(db, { codeHash })).rows[0];
      return row && toCode(row);
    },
    async consume(codeHash, now, issued) {
      let claimed: AuthorizationCodesTable | undefined;
      if (issued && isPostgres(db)) {
        const result = await runCompiled(
          db,
          CompiledQuery.raw(CONSUME_ON_POSTGRES, [
            codeHash,
            now,
            JSON.stringify(accessRow(issued.access)),
            issued.refresh ? JSON.stringify(refreshRow(issued.refresh)) : null,
          ]),
        );
        claimed = result.rows[0] as AuthorizationCodesTable | undefined;
      } else if (issued) {
        claimed = await atomically(async (tx) => {
          const row = (await claimCode(tx, { codeHash, now })).rows[0];
          if (!row) return undefined;
          await insertAccessToken(tx, accessRow(issued.access));
          if (issued.refresh) await insertRefreshToken(tx, refreshRow(issued.refresh));
          return row;
        });
      } else {
        claimed = (await claimCode(db, { codeHash, now })).rows[0];
      }
      if (claimed) return { status: 'ok', code: toCode(claimed) };
      const existing = (await selectCode(db, { codeHash })).rows[0];
      if (existing && existing.consumed_at !== null) return { status: 'reused', code: toCode(existing) };
      return { status: 'not_found' };
    },
  };
}
