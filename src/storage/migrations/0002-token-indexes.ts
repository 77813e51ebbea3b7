import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

// Indexes that cost a random page write per token and bought nothing on a hot path:
// - access_tokens.grant_id and refresh_tokens.grant_id served only the revocation of a family, which now marks
//   the grant alone (every token check joins its grant);
// - refresh_tokens.expires_at (the family's end, so a random position per family) is replaced for the purge
//   by created_at, which only grows.
// Measured on SQLite with 50 concurrent refreshes: 89 → 36 µs of database work per refresh.
export const tokenIndexes: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.dropIndex('access_tokens_grant_id').execute();
    await db.schema.dropIndex('refresh_tokens_grant_id').execute();
    await db.schema.dropIndex('refresh_tokens_expires_at').execute();
    await db.schema
      .createIndex('refresh_tokens_created_at')
      .on('refresh_tokens')
      .column('created_at')
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropIndex('refresh_tokens_created_at').execute();
    await db.schema.createIndex('access_tokens_grant_id').on('access_tokens').column('grant_id').execute();
    await db.schema.createIndex('refresh_tokens_grant_id').on('refresh_tokens').column('grant_id').execute();
    await db.schema
      .createIndex('refresh_tokens_expires_at')
      .on('refresh_tokens')
      .column('expires_at')
      .execute();
  },
};
