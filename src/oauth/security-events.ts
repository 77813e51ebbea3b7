// The security event log (reuse detection, revocations, deauthorizations, admin actions) that the admin console
// shows. One way to write an event, so every event has the same shape.
import type { SecurityEvent, Storage } from '../storage/storage.ts';

/**
 * Who did it. An administrator in the console, a person signing in or using their account, an operator at the
 * CLI, an admin API key, a client (registration, revocation), or Gatehouse itself (reuse detection).
 */
export type Actor =
  | { kind: 'user'; id: string; name?: string | null }
  | { kind: 'admin_key'; id: string; name?: string | null }
  | { kind: 'client'; id: string; name?: string | null }
  | { kind: 'cli' }
  | { kind: 'system' };

/** Who performs an operation, and from where: what every administrative operation records with its event. */
export interface Acting {
  actor: Actor;
  ip?: string | null;
}

export interface EventSubject {
  clientId?: string | null;
  userId?: string | null;
  grantId?: string | null;
  /** Who acted; omitted for the events Gatehouse itself raises. */
  actor?: Actor;
  /** The address the request came from (after the trusted-proxy rule), when there was a request. */
  ip?: string | null;
  detail?: Record<string, unknown>;
}

export function recordSecurityEvent(
  storage: Storage,
  now: number,
  type: string,
  subject: EventSubject,
): Promise<void> {
  const event: SecurityEvent = {
    id: crypto.randomUUID(),
    type,
    clientId: subject.clientId ?? null,
    userId: subject.userId ?? null,
    grantId: subject.grantId ?? null,
    // Until the log has columns of its own for them, the actor and the address travel in the detail.
    detail: {
      ...subject.detail,
      ...(subject.actor ? { actor: subject.actor } : {}),
      ...(subject.ip ? { ip: subject.ip } : {}),
    },
    createdAt: now,
  };
  return storage.securityEvents.record(event);
}
