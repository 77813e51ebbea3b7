import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

// rate_limits: fixed-window counters for limits that guard shared resources (registrations per client IP). In
// process memory they reset on every restart and multiplied with the number of processes (60 registrations
// got through a limit of 30 with --workers 2); here every process and instance counts in one row per key.
// expires_at is the end of the key's current window: the purge of ended windows goes through its index.
export const rateLimits: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('rate_limits')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('hits', 'integer', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('rate_limits_expires_at').on('rate_limits').column('expires_at').execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('rate_limits').execute();
  },
};
