import type { AccessTokenStore, GrantStore, RefreshTokenStore } from '../storage.ts';
import { type Db, inTransaction } from './rows.ts';

export function grantStore(db: Db): GrantStore {
  return {
    async create(grant) {
      await db
        .insertInto('grants')
        .values({
          id: grant.id,
          client_id: grant.clientId,
          user_id: grant.userId,
          scope: grant.scope,
          created_at: grant.createdAt,
          revoked_at: grant.revokedAt,
        })
        .execute();
    },
    async find(id) {
      const row = await db.selectFrom('grants').selectAll().where('id', '=', id).executeTakeFirst();
      return (
        row && {
          id: row.id,
          clientId: row.client_id,
          userId: row.user_id,
          scope: row.scope,
          createdAt: row.created_at,
          revokedAt: row.revoked_at,
        }
      );
    },
    async revoke(id, now) {
      await inTransaction(db, async (tx) => {
        await tx
          .updateTable('grants')
          .set({ revoked_at: now })
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .execute();
        await tx
          .updateTable('access_tokens')
          .set({ revoked_at: now })
          .where('grant_id', '=', id)
          .where('revoked_at', 'is', null)
          .execute();
        await tx
          .updateTable('refresh_tokens')
          .set({ revoked_at: now })
          .where('grant_id', '=', id)
          .where('revoked_at', 'is', null)
          .execute();
      });
    },
  };
}

export function accessTokenStore(db: Db): AccessTokenStore {
  return {
    async create(token) {
      await db
        .insertInto('access_tokens')
        .values({
          id: token.id,
          grant_id: token.grantId,
          client_id: token.clientId,
          user_id: token.userId,
          scope: token.scope,
          created_at: token.createdAt,
          expires_at: token.expiresAt,
          revoked_at: token.revokedAt,
        })
        .execute();
    },
    async findActive(id, now) {
      // One round trip: the token and its grant must both be live.
      const row = await db
        .selectFrom('access_tokens')
        .innerJoin('grants', 'grants.id', 'access_tokens.grant_id')
        .selectAll('access_tokens')
        .where('access_tokens.id', '=', id)
        .where('access_tokens.expires_at', '>', now)
        .where('access_tokens.revoked_at', 'is', null)
        .where('grants.revoked_at', 'is', null)
        .executeTakeFirst();
      return (
        row && {
          id: row.id,
          grantId: row.grant_id,
          clientId: row.client_id,
          userId: row.user_id,
          scope: row.scope,
          createdAt: row.created_at,
          expiresAt: row.expires_at,
          revokedAt: row.revoked_at,
        }
      );
    },
  };
}

export function refreshTokenStore(db: Db): RefreshTokenStore {
  return {
    async create(token) {
      await db
        .insertInto('refresh_tokens')
        .values({
          token_hash: token.tokenHash,
          id: token.id,
          grant_id: token.grantId,
          client_id: token.clientId,
          user_id: token.userId,
          scope: token.scope,
          created_at: token.createdAt,
          expires_at: token.expiresAt,
          rotated_at: token.rotatedAt,
          revoked_at: token.revokedAt,
        })
        .execute();
    },
  };
}
