import { type Kysely, sql } from 'kysely';
import type { Migration } from 'kysely/migration';

// grants.last_used_at: when a grant last issued tokens after its first exchange (written by refreshes, at most
// once a minute per grant). The connected-apps page read "last used" by scanning access_tokens for the user's
// rows (it has no user index, and one per token would cost a page write per token): 200 ms with 1.5 million
// tokens, during which the single-threaded server answered nothing. Now it is one indexed lookup.
export const grantLastUsed: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('grants').addColumn('last_used_at', 'bigint').execute();
    // The history so far, in one pass over the tokens (not one scan per grant).
    await sql`
      update grants set last_used_at = used.last
      from (select grant_id, max(created_at) as last from access_tokens group by grant_id) as used
      where used.grant_id = grants.id and grants.user_id is not null`.execute(db);
  },
  async down(db: Kysely<unknown>) {
    await db.schema.alterTable('grants').dropColumn('last_used_at').execute();
  },
};
