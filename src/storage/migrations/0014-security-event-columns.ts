import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

// The security event log gets columns for who acted and on what (issue 15), so that it can be filtered and
// exported without parsing `detail`:
// - actor_kind / actor_id / actor_name: who did it (a signed-in user, an admin key, a client, the CLI, Gatehouse
//   itself); null for an anonymous request (a failed sign-in, an open registration).
// - ip: the address the request came from, after the trusted-proxy rule; null without a request (the CLI).
// - client_name, user_email: the target's name when the event happened, beside its id ("target by name and id"):
//   a client is renamed or deleted, a user changes email, and the log must still say whom it was about.
// Indexes: the log is read newest first, one page at a time (created_at, id), overall or for one type, user or
// client; each index ends in (created_at, id) so a filtered page is a range read in index order, with no sort.
// Rows written before this migration keep nulls in the new columns: their actor and address were never recorded.
export const securityEventColumns: Migration = {
  async up(db: Kysely<unknown>) {
    for (const column of ['actor_kind', 'actor_id', 'actor_name', 'ip', 'client_name', 'user_email']) {
      await db.schema.alterTable('security_events').addColumn(column, 'text').execute();
    }
    await db.schema.dropIndex('security_events_created_at').execute();
    await db.schema
      .createIndex('security_events_created_at')
      .on('security_events')
      .columns(['created_at', 'id'])
      .execute();
    for (const column of ['type', 'user_id', 'client_id']) {
      await db.schema
        .createIndex(`security_events_${column}`)
        .on('security_events')
        .columns([column, 'created_at', 'id'])
        .execute();
    }
  },
  async down(db: Kysely<unknown>) {
    for (const column of ['type', 'user_id', 'client_id']) {
      await db.schema.dropIndex(`security_events_${column}`).execute();
    }
    await db.schema.dropIndex('security_events_created_at').execute();
    await db.schema
      .createIndex('security_events_created_at')
      .on('security_events')
      .column('created_at')
      .execute();
    for (const column of ['actor_kind', 'actor_id', 'actor_name', 'ip', 'client_name', 'user_email']) {
      await db.schema.alterTable('security_events').dropColumn(column).execute();
    }
  },
};
