// The security event log (reuse detection, revocations, deauthorizations, admin actions) that the admin console
// shows. One way to write an event, so every event has the same shape.
import type { Storage } from '../storage/storage.ts';

export interface EventSubject {
  clientId?: string | null;
  userId?: string | null;
  grantId?: string | null;
  detail?: Record<string, unknown>;
}

export function recordSecurityEvent(
  storage: Storage,
  now: number,
  type: string,
  subject: EventSubject,
): Promise<void> {
  return storage.securityEvents.record({
    id: crypto.randomUUID(),
    type,
    clientId: subject.clientId ?? null,
    userId: subject.userId ?? null,
    grantId: subject.grantId ?? null,
    detail: subject.detail ?? {},
    createdAt: now,
  });
}
