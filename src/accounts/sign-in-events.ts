// The security events of signing in (password and upstream): succeeded, failed, throttled. Each carries the
// browser's address (request.ip, after GATEHOUSE_TRUST_PROXY) and the app the person was signing in for.
import { recordSecurityEvent } from '../oauth/security-events.ts';
import type { Storage, User } from '../storage/storage.ts';

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

interface Where {
  ip: string;
  /** The client of the authorization request the sign-in continues, if any. */
  clientId?: string | null;
}

export type SignInFailure = 'unknown_account' | 'wrong_password' | 'account_disabled';

/** A successful sign-in; `method` is 'password' or 'upstream' (with the provider's id). */
export function recordSignedIn(
  storage: Storage,
  now: number,
  user: User,
  where: Where & { method: 'password' | 'upstream'; provider?: string },
): Promise<void> {
  return recordSecurityEvent(storage, now, 'login_succeeded', {
    actor: { kind: 'user', id: user.id, name: user.email },
    userId: user.id,
    userEmail: user.email,
    clientId: where.clientId,
    ip: where.ip,
    detail: { method: where.method, ...(where.provider ? { provider: where.provider } : {}) },
  });
}

/**
 * A refused password. For an unknown account the email tried is kept when it looks like one: what someone typed
 * into the email field may be a password, and that must not be stored.
 */
export function recordSignInFailed(
  storage: Storage,
  now: number,
  attempt: { user: User | undefined; email: string; reason: SignInFailure },
  where: Where,
): Promise<void> {
  const tried = attempt.email.trim().toLowerCase();
  return recordSecurityEvent(storage, now, 'login_failed', {
    userId: attempt.user?.id ?? null,
    userEmail: attempt.user ? attempt.user.email : EMAIL.test(tried) ? tried : null,
    clientId: where.clientId,
    ip: where.ip,
    detail: { reason: attempt.reason },
  });
}

/**
 * A sign-in refused by the throttle before any password check. Recorded once per account, address and block
 * (the first refusal; a rate-limit counter that lasts as long as the block remembers it, in the database every
 * process shares): a refusal costs nothing, and an event per refusal would let anyone grow the log at will.
 */
export async function recordSignInThrottled(
  storage: Storage,
  now: number,
  attempt: { email: string; waitMs: number },
  where: Where,
): Promise<void> {
  const tried = attempt.email.trim().toLowerCase();
  const { count } = await storage.rateLimits.hit(
    `event:login_throttled:${tried}:${where.ip}`,
    now,
    Math.max(1000, attempt.waitMs),
  );
  if (count > 1) return;
  const user = EMAIL.test(tried) ? await storage.users.findByEmail(tried) : undefined;
  await recordSecurityEvent(storage, now, 'login_throttled', {
    userId: user?.id ?? null,
    userEmail: user ? user.email : EMAIL.test(tried) ? tried : null,
    clientId: where.clientId,
    ip: where.ip,
    detail: { retry_after: Math.ceil(attempt.waitMs / 1000) },
  });
}
