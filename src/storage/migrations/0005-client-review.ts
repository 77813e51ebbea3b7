import { type Kysely, sql } from 'kysely';
import type { Migration } from 'kysely/migration';

// What an operator reviewed of a self-registered client (issue 12, items 1 and 4):
// - clients.reviewed_at: when an operator approved the client (console or CLI). A self-registered client
//   (dcr, portal) may use client_credentials only with it set; clients made by an operator (cli) need none.
//   Nothing is filled in: the old code let anyone self-assign client_credentials under every policy, so no
//   stored client proves it was looked at. An operator approves again the few that should keep it
//   (`gatehouse clients approve CLIENT_ID`, or Approve in the console).
// - clients.pending_changes: under GATEHOUSE_REGISTRATION=approval, a change to reviewed metadata (RFC 7592
//   PUT, the portal's redirect URI edit) waits here as JSON while the approved registration stays in force.
// - clients_awaiting_review: the console's review list now includes clients with pending changes; the partial
//   index is rebuilt with that predicate (a handful of rows; the listing must not scan clients).
const AWAITING_REVIEW_BEFORE = sql<boolean>`(status = 'pending' or requested_scope <> '')`;
const AWAITING_REVIEW = sql<boolean>`(status = 'pending' or requested_scope <> '' or pending_changes is not null)`;

export const clientReview: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('clients').addColumn('reviewed_at', 'bigint').execute();
    await db.schema.alterTable('clients').addColumn('pending_changes', 'text').execute();
    await db.schema.dropIndex('clients_awaiting_review').execute();
    await db.schema
      .createIndex('clients_awaiting_review')
      .on('clients')
      .column('created_at')
      .where(AWAITING_REVIEW)
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropIndex('clients_awaiting_review').execute();
    await db.schema
      .createIndex('clients_awaiting_review')
      .on('clients')
      .column('created_at')
      .where(AWAITING_REVIEW_BEFORE)
      .execute();
    await db.schema.alterTable('clients').dropColumn('pending_changes').execute();
    await db.schema.alterTable('clients').dropColumn('reviewed_at').execute();
  },
};
