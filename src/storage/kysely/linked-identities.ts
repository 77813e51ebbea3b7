import type { LinkedIdentitiesTable } from '../database.ts';
import type { LinkedIdentity, LinkedIdentityStore } from '../storage.ts';
import type { Db } from './rows.ts';

function toLink(row: LinkedIdentitiesTable): LinkedIdentity {
  return {
    providerId: row.provider_id,
    subject: row.subject,
    userId: row.user_id,
    email: row.email,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}

export function linkedIdentityStore(db: Db): LinkedIdentityStore {
  return {
    async find(providerId, subject) {
      const row = await db
        .selectFrom('linked_identities')
        .selectAll()
        .where('provider_id', '=', providerId)
        .where('subject', '=', subject)
        .executeTakeFirst();
      return row && toLink(row);
    },
    async listForUser(userId) {
      const rows = await db
        .selectFrom('linked_identities')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('provider_id')
        .execute();
      return rows.map(toLink);
    },
    async create(link) {
      // Both unique constraints (the upstream account; one account per user and provider) decide in the one
      // statement: no check-then-insert race between processes.
      const result = await db
        .insertInto('linked_identities')
        .values({
          provider_id: link.providerId,
          subject: link.subject,
          user_id: link.userId,
          email: link.email,
          created_at: link.createdAt,
          last_used_at: link.lastUsedAt,
        })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
    },
    async markUsed(providerId, subject, now) {
      await db
        .updateTable('linked_identities')
        .set({ last_used_at: now })
        .where('provider_id', '=', providerId)
        .where('subject', '=', subject)
        .execute();
    },
    async delete(providerId, subject, userId) {
      const result = await db
        .deleteFrom('linked_identities')
        .where('provider_id', '=', providerId)
        .where('subject', '=', subject)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
  };
}
