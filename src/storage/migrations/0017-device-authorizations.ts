import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

// device_authorizations: RFC 8628 device authorization requests, from the device's request to the token its
// poll redeems. Neither code is stored: the device code as its time-ordered SHA-256 key (the primary key), the
// user code as an HMAC under a server key (a bare hash of 8 letters could be reversed from a copy of the
// table). The unique index on the user code's HMAC makes the code typed on the verification page name one
// request at most (an insert that collides is retried with a fresh code); expires_at serves the purge.
// status: pending → approved | denied, approved → redeemed. user_id, grant_id, auth_time, amr and acr are set
// by the approval (the grant row exists from then on, so revoking it also stops the redemption).
export const deviceAuthorizations: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('device_authorizations')
      .addColumn('device_code_hash', 'text', (c) => c.primaryKey())
      .addColumn('user_code_hash', 'text', (c) => c.notNull())
      .addColumn('client_id', 'text', (c) => c.notNull())
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('resource', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('interval_seconds', 'integer', (c) => c.notNull())
      .addColumn('last_polled_at', 'bigint')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text')
      .addColumn('grant_id', 'text')
      .addColumn('auth_time', 'bigint')
      .addColumn('amr', 'text')
      .addColumn('acr', 'text')
      .execute();
    await db.schema
      .createIndex('device_authorizations_user_code')
      .on('device_authorizations')
      .column('user_code_hash')
      .unique()
      .execute();
    await db.schema
      .createIndex('device_authorizations_expires_at')
      .on('device_authorizations')
      .column('expires_at')
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('device_authorizations').execute();
  },
};
