// Failed sign-ins slow down, per account and per client IP, with delays that double after a few free tries.
// The per-account delay is capped at one minute so nobody can lock a victim out for long; the per-IP cap is
// longer, because one address guessing many accounts is the attack worth stopping.
import type { Storage } from '../storage/storage.ts';

export interface ThrottlePolicy {
  freeAttempts: number;
  maxDelayMs: number;
}

export const ACCOUNT_POLICY: ThrottlePolicy = { freeAttempts: 5, maxDelayMs: 60_000 };
export const IP_POLICY: ThrottlePolicy = { freeAttempts: 20, maxDelayMs: 15 * 60_000 };
/** Failures older than this are forgotten. */
const WINDOW_MS = 15 * 60_000;

export function delayAfter(failures: number, policy: ThrottlePolicy): number {
  if (failures < policy.freeAttempts) return 0;
  return Math.min(1000 * 2 ** (failures - policy.freeAttempts), policy.maxDelayMs);
}

export function throttleKeys(email: string, ip: string) {
  return { account: `account:${email.trim().toLowerCase()}`, ip: `ip:${ip}` };
}

/** Milliseconds the caller must still wait before another attempt (0 = go ahead). */
export async function waitRequired(storage: Storage, keys: string[], now: number): Promise<number> {
  let wait = 0;
  for (const key of keys) {
    const entry = await storage.loginThrottle.find(key);
    if (entry && entry.blockedUntil > now) wait = Math.max(wait, entry.blockedUntil - now);
  }
  return wait;
}

export async function recordFailure(
  storage: Storage,
  keys: { account: string; ip: string },
  now: number,
): Promise<void> {
  for (const [key, policy] of [
    [keys.account, ACCOUNT_POLICY],
    [keys.ip, IP_POLICY],
  ] as const) {
    const failures = await storage.loginThrottle.recordFailure(key, now, WINDOW_MS);
    const delay = delayAfter(failures, policy);
    if (delay > 0) await storage.loginThrottle.block(key, now + delay);
  }
}

export async function recordSuccess(storage: Storage, keys: { account: string }): Promise<void> {
  await storage.loginThrottle.clear(keys.account);
}
