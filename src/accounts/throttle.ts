// Failed sign-ins slow down, per account and per client IP, with delays that double after a few free tries.
// The per-account delay is capped at one minute so nobody can lock a victim out for long; the per-IP cap is
// longer, because one address guessing many accounts is the attack worth stopping.
//
// Every attempt is reserved before the password is checked (one atomic upsert per key, in the database every
// process shares) and given back when it succeeds. Checking first and counting after the KDF let 30 concurrent
// wrong passwords for one account all be checked (docs/security.md R14).
import type { LoginThrottleRule, Storage } from '../storage/storage.ts';

export type ThrottlePolicy = LoginThrottleRule;

/** Failures older than this are forgotten. */
const WINDOW_MS = 15 * 60_000;

export const ACCOUNT_POLICY: ThrottlePolicy = {
  freeAttempts: 5,
  firstDelayMs: 1000,
  maxDelayMs: 60_000,
  windowMs: WINDOW_MS,
};
export const IP_POLICY: ThrottlePolicy = {
  freeAttempts: 20,
  firstDelayMs: 1000,
  maxDelayMs: 15 * 60_000,
  windowMs: WINDOW_MS,
};

/** The delay the `failures`-th attempt within the window earns (what LoginThrottleStore.reserve applies). */
export function delayAfter(failures: number, policy: ThrottlePolicy): number {
  if (failures < policy.freeAttempts) return 0;
  return Math.min(policy.firstDelayMs * 2 ** (failures - policy.freeAttempts), policy.maxDelayMs);
}

export function throttleKeys(email: string, ip: string) {
  return { account: `account:${email.trim().toLowerCase()}`, ip: `ip:${ip}` };
}

/**
 * Reserves this attempt for the address and the account before the password is checked. Returns the
 * milliseconds the caller must still wait (0 = go ahead and check; the attempt then counts as a failure unless
 * recordSuccess gives it back).
 */
export async function reserveAttempt(
  storage: Storage,
  keys: { account: string; ip: string },
  now: number,
): Promise<number> {
  const ip = await storage.loginThrottle.reserve(keys.ip, now, IP_POLICY);
  if (!ip.allowed) return ip.blockedUntil - now;
  const account = await storage.loginThrottle.reserve(keys.account, now, ACCOUNT_POLICY);
  if (account.allowed) return 0;
  // Refused without a check, so it does not count against the address (as before reservations): a victim
  // trying their own locked account from their usual address does not lock that address too.
  await storage.loginThrottle.refund(keys.ip, IP_POLICY.freeAttempts);
  return account.blockedUntil - now;
}

/** A correct password: the account starts afresh, and the address gets its reserved attempt back. */
export async function recordSuccess(storage: Storage, keys: { account: string; ip: string }): Promise<void> {
  await storage.loginThrottle.clear(keys.account);
  await storage.loginThrottle.refund(keys.ip, IP_POLICY.freeAttempts);
}
