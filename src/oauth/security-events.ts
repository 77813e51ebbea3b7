// The security event log (sign-ins, registrations, reuse detection, revocations, deauthorizations, key rotation,
// admin actions) that the admin console shows and the admin API and `gatehouse events` export. One way to write
// an event, so every event has the same shape, and one way to read and print them.
import { OAuthError } from '../errors.ts';
import type {
  PageCursor,
  SecurityEvent,
  SecurityEventActor,
  SecurityEventQuery,
  Storage,
} from '../storage/storage.ts';

/**
 * Who did it. An administrator in the console, a person signing in or using their account, an operator at the
 * CLI, an admin API key, a client (registration, revocation), or Gatehouse itself (reuse detection).
 */
export type Actor = SecurityEventActor;

/** Who performs an operation, and from where: what every administrative operation records with its event. */
export interface Acting {
  actor: Actor;
  ip?: string | null;
}

export interface EventSubject {
  clientId?: string | null;
  /** The client's name, when the caller has it (or the client is about to be deleted); looked up otherwise. */
  clientName?: string | null;
  userId?: string | null;
  /** The user's email, when the caller has it; looked up otherwise. For an unknown account: the email tried. */
  userEmail?: string | null;
  grantId?: string | null;
  /** Who acted; omitted for an anonymous request. */
  actor?: Actor;
  /** The address the request came from (request.ip: after the trusted-proxy rule), when there was a request. */
  ip?: string | null;
  detail?: Record<string, unknown>;
}

/**
 * Records one event. The target's and the actor's names are stored as they are now (the log must say whom an
 * event was about after a rename or a deletion): what the caller does not pass is read by id.
 */
export async function recordSecurityEvent(
  storage: Storage,
  now: number,
  type: string,
  subject: EventSubject,
): Promise<void> {
  const clientId = subject.clientId ?? null;
  const userId = subject.userId ?? null;
  const clientName =
    subject.clientName !== undefined
      ? subject.clientName
      : clientId === null
        ? null
        : ((await storage.clients.find(clientId))?.name ?? null);
  const userEmail =
    subject.userEmail !== undefined
      ? subject.userEmail
      : userId === null
        ? null
        : ((await storage.users.findById(userId))?.email ?? null);
  const event: SecurityEvent = {
    id: eventId(now),
    type,
    actor: subject.actor
      ? await withName(storage, subject.actor, { clientId, clientName, userId, userEmail })
      : null,
    ip: subject.ip ?? null,
    clientId,
    clientName,
    userId,
    userEmail,
    grantId: subject.grantId ?? null,
    detail: subject.detail ?? {},
    createdAt: now,
  };
  return storage.securityEvents.record(event);
}

// A 30-bit count of the events this process recorded, from a random start: it orders the ids of events
// recorded in the same millisecond (see eventId).
let sequence = Math.floor(Math.random() * 2 ** 29);

/**
 * A UUIDv7 (RFC 9562 §5.7) of the event's time with a counter after it (§6.2, method 1): ids of one process
 * sort in the order the events were recorded, so that "newest first" holds within a millisecond too (the log
 * is ordered by time, then id). The last 44 bits are random.
 */
export function eventId(now: number): string {
  sequence = (sequence + 1) % 2 ** 30;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const ms = BigInt(Math.max(0, Math.floor(now)));
  for (let i = 0; i < 6; i++) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = 0x70 | ((sequence >>> 26) & 0x0f); // version 7, then the counter's top 4 bits
  bytes[7] = (sequence >>> 18) & 0xff;
  bytes[8] = 0x80 | ((sequence >>> 12) & 0x3f); // variant 10
  bytes[9] = (sequence >>> 4) & 0xff;
  bytes[10] = ((sequence & 0x0f) << 4) | ((bytes[10] ?? 0) & 0x0f);
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

async function withName(
  storage: Storage,
  actor: Actor,
  target: {
    clientId: string | null;
    clientName: string | null;
    userId: string | null;
    userEmail: string | null;
  },
): Promise<Actor> {
  if (actor.kind === 'cli' || actor.kind === 'system' || actor.name !== undefined) return actor;
  if (actor.kind === 'admin_key') return { ...actor, name: null };
  if (actor.kind === 'user') {
    const name =
      actor.id === target.userId
        ? target.userEmail
        : ((await storage.users.findById(actor.id))?.email ?? null);
    return { ...actor, name };
  }
  const name =
    actor.id === target.clientId ? target.clientName : ((await storage.clients.find(actor.id))?.name ?? null);
  return { ...actor, name };
}

/** One event as the admin API and `gatehouse events` print it (one JSON Lines line each). */
export interface SecurityEventJson {
  id: string;
  type: string;
  /** ISO 8601, UTC. */
  created_at: string;
  actor: { kind: Actor['kind']; id?: string; name?: string | null } | null;
  ip: string | null;
  client_id: string | null;
  client_name: string | null;
  user_id: string | null;
  user_email: string | null;
  grant_id: string | null;
  detail: Record<string, unknown>;
}

export function securityEventJson(event: SecurityEvent): SecurityEventJson {
  return {
    id: event.id,
    type: event.type,
    created_at: new Date(event.createdAt).toISOString(),
    actor: event.actor && { ...event.actor },
    ip: event.ip,
    client_id: event.clientId,
    client_name: event.clientName,
    user_id: event.userId,
    user_email: event.userEmail,
    grant_id: event.grantId,
    detail: event.detail,
  };
}

/** The filters as the admin API's query and the CLI's options spell them. */
export interface EventFilterInput {
  type?: string;
  user_id?: string;
  client_id?: string;
  since?: string;
  until?: string;
  limit?: string;
}

const EVENT_TYPE = /^[a-z][a-z0-9_]{0,63}$/;
// A calendar date (midnight UTC) or a date-time with its zone: a time without a zone would mean whichever zone
// the server runs in.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/i;

function time(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = ISO_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(parsed)) {
    throw new OAuthError(
      'invalid_request',
      `${name} must be an ISO 8601 date or date-time with a zone, e.g. 2026-11-22 or 2026-11-22T12:00:00Z`,
    );
  }
  return parsed;
}

function identifier(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.length === 0 || value.length > 255) {
    throw new OAuthError('invalid_request', `${name} must be 1 to 255 characters`);
  }
  return value;
}

/**
 * Reads the filters (invalid_request for a malformed one). `limit` is a whole number from 1 to `maxLimit`;
 * without it, `defaultLimit` (undefined: no limit, for an export).
 */
export function parseEventFilter(
  input: EventFilterInput,
  limits: { defaultLimit?: number; maxLimit: number },
): Omit<SecurityEventQuery, 'limit' | 'before'> & { limit: number | undefined } {
  if (input.type !== undefined && !EVENT_TYPE.test(input.type)) {
    throw new OAuthError('invalid_request', 'type must be an event type such as login_failed');
  }
  let limit = limits.defaultLimit;
  if (input.limit !== undefined) {
    limit = /^\d{1,10}$/.test(input.limit) ? Number(input.limit) : Number.NaN;
    if (!(limit >= 1 && limit <= limits.maxLimit)) {
      throw new OAuthError('invalid_request', `limit must be a whole number from 1 to ${limits.maxLimit}`);
    }
  }
  const since = time('since', input.since);
  const until = time('until', input.until);
  return {
    ...(input.type !== undefined ? { type: input.type } : {}),
    ...(input.user_id !== undefined ? { userId: identifier('user_id', input.user_id) } : {}),
    ...(input.client_id !== undefined ? { clientId: identifier('client_id', input.client_id) } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
    limit,
  };
}

/** An opaque cursor that continues a listing after `event`. */
export function eventCursor(event: Pick<SecurityEvent, 'createdAt' | 'id'>): string {
  return Buffer.from(`${event.createdAt}.${event.id}`).toString('base64url');
}

export function parseEventCursor(cursor: string): PageCursor {
  const match = /^(\d{1,16})\.([\x21-\x7e]{1,200})$/.exec(
    Buffer.from(cursor, 'base64url').toString('latin1'),
  );
  if (!match || cursor.length > 300) throw new OAuthError('invalid_request', 'The cursor is not valid');
  return { createdAt: Number(match[1]), id: match[2] as string };
}

/** Every event the query selects, newest first, read `batch` at a time (an export of any size in bounded memory). */
export async function* eachSecurityEvent(
  storage: Storage,
  query: Omit<SecurityEventQuery, 'limit'> & { limit?: number },
  batch = 500,
): AsyncGenerator<SecurityEvent> {
  let remaining = query.limit ?? Number.POSITIVE_INFINITY;
  let before = query.before;
  while (remaining > 0) {
    const asked = Math.min(batch, remaining);
    const page = await storage.securityEvents.list({ ...query, limit: asked, before });
    for (const event of page) yield event;
    remaining -= page.length;
    const last = page.at(-1);
    if (!last || page.length < asked) return;
    before = { createdAt: last.createdAt, id: last.id };
  }
}
