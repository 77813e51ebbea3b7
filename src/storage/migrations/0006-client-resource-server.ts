import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

// clients.resource_server: an operator marked this client as a resource server, which may introspect every
// client's access tokens (RFC 7662 §4). Every other client may introspect only its own tokens. Existing clients
// start unmarked: introspection rights are granted, never assumed (`gatehouse clients resource-server ID`).
export const clientResourceServer: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('clients')
      .addColumn('resource_server', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.alterTable('clients').dropColumn('resource_server').execute();
  },
};
