import { type Kysely, sql } from 'kysely';
import type { Migration } from 'kysely/migration';

// key_set_version: one row whose version every change to signing_keys bumps in the same transaction. A running
// server reads it once a second (one primary-key read) and re-reads and imports the keys only when it moved, so
// a rotation by another process (`gatehouse keys rotate`, another instance) is published everywhere within
// about a second (src/oauth/keys.ts watchKeyChanges) without re-reading every key every second.
export const keySetVersion: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('key_set_version')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('version', 'bigint', (c) => c.notNull())
      .execute();
    await sql`insert into key_set_version (id, version) values (1, 0)`.execute(db);
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('key_set_version').execute();
  },
};
