import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

// OpenID Connect completeness (issue 16):
// - grants.auth_time / amr / acr / sid / claims_request: how the user signed in when the grant was made, the
//   login session it came from, and the claims the client asked for (OIDC Core §5.5). A refresh issues an ID
//   token (§12.2) that must repeat auth_time and may carry sid; the refresh query already reads the grant row,
//   so these cost no extra round trip. Grants made before this migration keep nulls: their refreshed ID tokens
//   carry no auth_time (better none than a wrong one). Indexed by sid: when a session ends, back-channel logout
//   (OpenID Connect Back-Channel Logout 1.0) tells the clients that got tokens through it.
// - authorization_codes.sid / claims_request: the same for the code exchange's ID token.
// - users.phone_number / phone_number_verified / address: the `phone` and `address` scopes' claims (§5.1);
//   address is the JSON of the §5.1.1 address object.
export const openIdContext: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('grants').addColumn('auth_time', 'bigint').execute();
    for (const column of ['amr', 'acr', 'sid', 'claims_request']) {
      await db.schema.alterTable('grants').addColumn(column, 'text').execute();
    }
    // Back-channel logout finds the grants of the session that ended (GrantStore.listActiveForSession).
    await db.schema.createIndex('grants_sid').on('grants').column('sid').execute();
    for (const column of ['sid', 'claims_request']) {
      await db.schema.alterTable('authorization_codes').addColumn(column, 'text').execute();
    }
    await db.schema.alterTable('users').addColumn('phone_number', 'text').execute();
    await db.schema
      .alterTable('users')
      .addColumn('phone_number_verified', 'integer', (column) => column.notNull().defaultTo(0))
      .execute();
    await db.schema.alterTable('users').addColumn('address', 'text').execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropIndex('grants_sid').execute();
    for (const column of ['auth_time', 'amr', 'acr', 'sid', 'claims_request']) {
      await db.schema.alterTable('grants').dropColumn(column).execute();
    }
    for (const column of ['sid', 'claims_request']) {
      await db.schema.alterTable('authorization_codes').dropColumn(column).execute();
    }
    for (const column of ['phone_number', 'phone_number_verified', 'address']) {
      await db.schema.alterTable('users').dropColumn(column).execute();
    }
  },
};
