import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

// Sign-in with upstream identity providers.
// - linked_identities: which Gatehouse user an upstream account (provider id + the upstream's subject) signs in
//   as. The primary key makes one upstream account belong to at most one user; the unique (user_id,
//   provider_id) index gives a user at most one account per provider (a second account at the same provider
//   with the same email cannot attach itself: docs/security.md U-03) and serves the per-user listing. No
//   upstream token is stored.
// - sessions.amr / acr, authorization_codes.amr / acr: how the user authenticated (the upstream's amr, a JSON
//   list, and acr, as far as the provider's settings pass them through), carried from the sign-in session to
//   the code and from the code to the ID token. Null for password sign-ins, which set neither.
export const linkedIdentities: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('linked_identities')
      .addColumn('provider_id', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('email', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_used_at', 'bigint')
      .addPrimaryKeyConstraint('linked_identities_pkey', ['provider_id', 'subject'])
      .execute();
    await db.schema
      .createIndex('linked_identities_user_provider')
      .on('linked_identities')
      .columns(['user_id', 'provider_id'])
      .unique()
      .execute();
    for (const table of ['sessions', 'authorization_codes']) {
      await db.schema.alterTable(table).addColumn('amr', 'text').execute();
      await db.schema.alterTable(table).addColumn('acr', 'text').execute();
    }
  },
  async down(db: Kysely<unknown>) {
    for (const table of ['sessions', 'authorization_codes']) {
      await db.schema.alterTable(table).dropColumn('amr').execute();
      await db.schema.alterTable(table).dropColumn('acr').execute();
    }
    await db.schema.dropTable('linked_identities').execute();
  },
};
