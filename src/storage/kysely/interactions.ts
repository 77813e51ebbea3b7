import type { InteractionsTable } from '../database.ts';
import type { AuthorizationRequest, ExternalState, Interaction, InteractionStore } from '../storage.ts';
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
    challengeHash: row.challenge_hash,
    external: row.external === null ? null : (JSON.parse(row.external) as ExternalState),
  };
}

type Changes = Parameters<InteractionStore['update']>[1];

function changedColumns(changes: Changes): Partial<InteractionsTable> {
  const set: Partial<InteractionsTable> = {};
  if (changes.loginUserId !== undefined) set.login_user_id = changes.loginUserId;
  if (changes.loginAuthTime !== undefined) set.login_auth_time = changes.loginAuthTime;
  if (changes.consentedScope !== undefined) set.consented_scope = changes.consentedScope;
  if (changes.denied !== undefined) set.denied = toFlag(changes.denied);
  if (changes.challengeHash !== undefined) set.challenge_hash = changes.challengeHash;
  if (changes.external !== undefined) {
    set.external = changes.external === null ? null : JSON.stringify(changes.external);
  }
  return set;
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
          challenge_hash: interaction.challengeHash,
          external: interaction.external === null ? null : JSON.stringify(interaction.external),
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
    async findIncludingExpired(id) {
      const row = await db.selectFrom('interactions').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toInteraction(row);
    },
    async findByChallenge(challengeHash) {
      const row = await db
        .selectFrom('interactions')
        .selectAll()
        .where('challenge_hash', '=', challengeHash)
        .executeTakeFirst();
      return row && toInteraction(row);
    },
    async update(id, changes) {
      const set = changedColumns(changes);
      if (Object.keys(set).length === 0) return;
      await db.updateTable('interactions').set(set).where('id', '=', id).execute();
    },
    async settleChallenge(challengeHash, now, changes) {
      // The single-use guarantee lives in this one conditional UPDATE, like a code's claim: only one caller
      // can match the challenge before it is cleared.
      const result = await db
        .updateTable('interactions')
        .set({ ...changedColumns(changes), challenge_hash: null })
        .where('challenge_hash', '=', challengeHash)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async finish(id) {
      const result = await db.deleteFrom('interactions').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
  };
}
