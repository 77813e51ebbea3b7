import type { AuthorizationCodesTable } from '../database.ts';
import type { AuthorizationCode, AuthorizationCodeStore, ClaimsRequest } from '../storage.ts';
import { columnsOf, prepared } from './prepared.ts';
import { type Db, fromFlag, toFlag } from './rows.ts';
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
    ...(row.sid !== null ? { sid: row.sid } : {}),
    ...(row.claims_request !== null
      ? { claimsRequest: JSON.parse(row.claims_request) as ClaimsRequest }
      : {}),
  };
}

// Every authorization-code flow runs these once each: compiled once.
const insertCode = prepared(
  (db, row: AuthorizationCodesTable) => db.insertInto('authorization_codes').values(row),
  columnsOf<AuthorizationCodesTable>()([
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
    'sid',
    'claims_request',
  ]),
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
    .where(({ exists, not, selectFrom }) =>
      not(
        exists(
          selectFrom('grants')
            .select('grants.id')
            .whereRef('grants.id', '=', 'authorization_codes.grant_id')
            .where('grants.revoked_at', 'is not', null),
        ),
      ),
    )
    .returningAll(),
);

export function authorizationCodeStore(db: Db): AuthorizationCodeStore {
  return {
    async create(code) {
      await insertCode(db, {
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
        sid: code.sid ?? null,
        claims_request: code.claimsRequest === undefined ? null : JSON.stringify(code.claimsRequest),
      });
    },
    async find(codeHash) {
      const row = (await selectCode(db, { codeHash })).rows[0];
      return row && toCode(row);
    },
    async consume(codeHash, now) {
      const claimed = (await claimCode(db, { codeHash, now })).rows[0];
      if (claimed) return { status: 'ok', code: toCode(claimed) };
      const existing = (await selectCode(db, { codeHash })).rows[0];
      if (existing && existing.consumed_at !== null) return { status: 'reused', code: toCode(existing) };
      return { status: 'not_found' };
    },
  };
}
