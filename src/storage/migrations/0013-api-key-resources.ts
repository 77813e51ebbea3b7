import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

// api_keys.resources: the resource identifiers (RFC 8707) an API key may be used at, space-separated, besides
// Gatehouse's own endpoints. Null for keys made before (and without --resource): Gatehouse's endpoints only, as
// before. Introspection answers them in `aud`, which is what an API checks (docs/any-language.md).
export const apiKeyResources: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('api_keys').addColumn('resources', 'text').execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.alterTable('api_keys').dropColumn('resources').execute();
  },
};
