import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

// DPoP (RFC 9449): the RFC 7638 thumbprint of the key a credential is bound to, null for unbound ones (every
// row made before). An authorization code carries the authorization request's dpop_jkt (§10), an access token
// its cnf.jkt (introspection answers it, also for JWTs), a public client's refresh token the key every refresh
// must prove (§5). No index: each is read with its row, never searched by.
const TABLES = ['authorization_codes', 'access_tokens', 'refresh_tokens'] as const;

export const dpopBinding: Migration = {
  async up(db: Kysely<unknown>) {
    for (const table of TABLES) await db.schema.alterTable(table).addColumn('dpop_jkt', 'text').execute();
  },
  async down(db: Kysely<unknown>) {
    for (const table of TABLES) await db.schema.alterTable(table).dropColumn('dpop_jkt').execute();
  },
};
