// The security event log: one row per event, read newest first with keyset paging on (created_at, id).
import type { Selectable } from 'kysely';
import type { SecurityEventsTable } from '../database.ts';
import type { SecurityEvent, SecurityEventActor, SecurityEventStore } from '../storage.ts';
import type { Db } from './rows.ts';

const ACTOR_KINDS = new Set(['user', 'admin_key', 'client', 'cli', 'system']);

function actorOf(row: Selectable<SecurityEventsTable>): SecurityEventActor | null {
  const kind = row.actor_kind;
  if (kind === null || !ACTOR_KINDS.has(kind)) return null;
  if (kind === 'cli' || kind === 'system') return { kind };
  return { kind, id: row.actor_id ?? '', name: row.actor_name } as SecurityEventActor;
}

function toEvent(row: Selectable<SecurityEventsTable>): SecurityEvent {
  return {
    id: row.id,
    type: row.type,
    actor: actorOf(row),
    ip: row.ip,
    clientId: row.client_id,
    clientName: row.client_name,
    userId: row.user_id,
    userEmail: row.user_email,
    grantId: row.grant_id,
    detail: JSON.parse(row.detail) as Record<string, unknown>,
    createdAt: row.created_at,
  };
}

export function securityEventStore(db: Db): SecurityEventStore {
  return {
    async record(event) {
      const actor = event.actor;
      await db
        .insertInto('security_events')
        .values({
          id: event.id,
          type: event.type,
          actor_kind: actor?.kind ?? null,
          actor_id: actor && 'id' in actor ? actor.id : null,
          actor_name: actor && 'name' in actor ? (actor.name ?? null) : null,
          ip: event.ip ?? null,
          client_id: event.clientId,
          client_name: event.clientName ?? null,
          user_id: event.userId,
          user_email: event.userEmail ?? null,
          grant_id: event.grantId,
          detail: JSON.stringify(event.detail),
          created_at: event.createdAt,
        })
        .execute();
    },
    async list(query) {
      const { type, userId, clientId, since, until, limit, before } =
        typeof query === 'number' ? { limit: query } : query;
      let select = db.selectFrom('security_events').selectAll();
      if (type !== undefined) select = select.where('type', '=', type);
      if (userId !== undefined) select = select.where('user_id', '=', userId);
      if (clientId !== undefined) select = select.where('client_id', '=', clientId);
      if (since !== undefined) select = select.where('created_at', '>=', since);
      if (until !== undefined) select = select.where('created_at', '<', until);
      if (before) {
        select = select.where((eb) =>
          eb(eb.refTuple('created_at', 'id'), '<', eb.tuple(before.createdAt, before.id)),
        );
      }
      const rows = await select.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map(toEvent);
    },
  };
}
