import { type Kysely, SqliteAdapter, sql } from 'kysely';
import type { Migration } from 'kysely/migration';

// The company's own sign-in and consent pages (docs/architecture.md "External sign-in and consent"):
// - users.email becomes nullable and users.claims appears: a subject the company's login app signed in is a
//   users row whose id is the company's subject (so every grant, token, session, consent and revocation path
//   works unchanged), with no email and no usable password; `claims` holds the profile the login app gave
//   (JSON), and is null for Gatehouse's own users. SQLite cannot drop NOT NULL in place, so the table is rebuilt
//   with the columns 0001 to 0007 gave it (UNIQUE still allows any number of NULLs, on both databases).
// - interactions.challenge_hash: SHA-256 of the one-time challenge the login or consent app holds; its unique
//   index is the lookup, and the accept/reject is one conditional UPDATE on it (single use, even concurrently).
//   interactions.external: JSON of what the login app said (remember, acr, amr, a rejection).
// - authorization_codes.acr and .amr: the authentication context the ID token reports.
// - admin_keys: credentials for the admin API (`ghm_…`), SHA-256 only, with scopes (`interactions` first).
export const externalInteractions: Migration = {
  async up(db: Kysely<unknown>) {
    if (db.getExecutor().adapter instanceof SqliteAdapter) {
      await sql`create table users_rebuilt (
        id text primary key,
        email text unique,
        name text,
        password_hash text not null,
        is_admin integer not null,
        email_verified integer not null,
        created_at bigint not null,
        updated_at bigint not null,
        disabled_at bigint,
        claims text
      )`.execute(db);
      await sql`insert into users_rebuilt (id, email, name, password_hash, is_admin, email_verified, created_at,
        updated_at, disabled_at)
        select id, email, name, password_hash, is_admin, email_verified, created_at, updated_at, disabled_at
        from users`.execute(db);
      await sql`drop table users`.execute(db);
      await sql`alter table users_rebuilt rename to users`.execute(db);
      await db.schema.createIndex('users_created_at').on('users').columns(['created_at', 'id']).execute();
    } else {
      await sql`alter table users alter column email drop not null`.execute(db);
      await db.schema.alterTable('users').addColumn('claims', 'text').execute();
    }

    await db.schema.alterTable('interactions').addColumn('challenge_hash', 'text').execute();
    await db.schema.alterTable('interactions').addColumn('external', 'text').execute();
    await db.schema
      .createIndex('interactions_challenge_hash')
      .unique()
      .on('interactions')
      .column('challenge_hash')
      .execute();
    await db.schema.alterTable('authorization_codes').addColumn('acr', 'text').execute();
    await db.schema.alterTable('authorization_codes').addColumn('amr', 'text').execute();

    await db.schema
      .createTable('admin_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('key_hash', 'text', (c) => c.notNull().unique())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('admin_keys').execute();
    await db.schema.alterTable('authorization_codes').dropColumn('amr').execute();
    await db.schema.alterTable('authorization_codes').dropColumn('acr').execute();
    await db.schema.dropIndex('interactions_challenge_hash').execute();
    await db.schema.alterTable('interactions').dropColumn('external').execute();
    await db.schema.alterTable('interactions').dropColumn('challenge_hash').execute();
    // External subjects cannot go back into a table whose email is NOT NULL.
    await sql`delete from users where email is null`.execute(db);
    await db.schema.alterTable('users').dropColumn('claims').execute();
  },
};
