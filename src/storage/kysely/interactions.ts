import type { InteractionsTable } from '../database.ts';
import type { AuthorizationRequest, Interaction, InteractionStore } from '../storage.ts';
import { type Db, fromFlag, toFlag } from './rows.ts';

function toInteraction(row: InteractionsTable): Interaction {
  return {
    id: row.id,
    browserHash: row.browser_hash,
    clientId: row.client_id,
    request: JSON.parse(row.request) as AuthorizationRequest,
    loginUserId: row.login_user_id,
    loginAuthTime: row.login_auth_time,
    consentedScope: row.consented_scope,
    denied: fromFlag(row.denied),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

export function interactionStore(db: Db): InteractionStore {
  return {
    async create(interaction) {
      await db
        .insertInto('interactions')
        .values({
          id: interaction.id,
          browser_hash: interaction.browserHash,
          client_id: interaction.clientId,
          request: JSON.stringify(interaction.request),
          login_user_id: interaction.loginUserId,
          login_auth_time: interaction.loginAuthTime,
          consented_scope: interaction.consentedScope,
          denied: toFlag(interaction.denied),
          created_at: interaction.createdAt,
          expires_at: interaction.expiresAt,
        })
        .execute();
    },
    async find(id, now) {
      const row = await db
        .selectFrom('interactions')
        .selectAll()
        .where('id', '=', id)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return row && toInteraction(row);
    },
    async update(id, changes) {
      const set: Partial<InteractionsTable> = {};
      if (changes.loginUserId !== undefined) set.login_user_id = changes.loginUserId;
      if (changes.loginAuthTime !== undefined) set.login_auth_time = changes.loginAuthTime;
      if (changes.consentedScope !== undefined) set.consented_scope = changes.consentedScope;
      if (changes.denied !== undefined) set.denied = toFlag(changes.denied);
      if (Object.keys(set).length === 0) return;
      await db.updateTable('interactions').set(set).where('id', '=', id).execute();
    },
    async finish(id) {
      const result = await db.deleteFrom('interactions').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
  };
}
