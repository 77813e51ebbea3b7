// The person's side of the device flow (RFC 8628 §3.3): the verification page finds the request a typed user
// code names, and records the signed-in user's approval or denial. Pages reach the device flow only through
// these functions; the token endpoint's grant (endpoints/token/grants/device-code.ts) issues the tokens.
//
// §5.1 (user code brute forcing): every lookup of a well-formed code is reserved against the signed-in user
// and the address before it runs (the login throttle's atomic upsert, as for passwords: docs/security.md R14),
// and given back when the code was right; wrong ones earn doubling delays. §5.4 (remote phishing): the page
// shows the client and the code and asks for a click even when the code came in the URL.

import type { KeyObject } from 'node:crypto';
import { isUsable } from '../oauth/client-metadata.ts';
import { formatUserCode, normalizeUserCode, userCodeKey } from '../oauth/device-code.ts';
import { recordSecurityEvent } from '../oauth/security-events.ts';
import type {
  Client,
  DeviceAuthorization,
  LoginThrottleRule,
  Session,
  Storage,
  User,
} from '../storage/storage.ts';
import type { Clock } from '../util/clock.ts';
import { timeOrderedId } from '../util/random.ts';

export interface DeviceFlowDeps {
  storage: Storage;
  clock: Clock;
  /** The key user codes are stored under (Deps.rotationKey). */
  codeKey: KeyObject;
}

const WINDOW_MS = 15 * 60_000;
/** Per signed-in user: a few typos are free, then each wrong code doubles the wait, up to five minutes. */
export const DEVICE_USER_POLICY: LoginThrottleRule = {
  freeAttempts: 5,
  firstDelayMs: 2000,
  maxDelayMs: 5 * 60_000,
  windowMs: WINDOW_MS,
};
/** Per address: room for a household or an office behind one address, not for a guesser with many accounts. */
export const DEVICE_IP_POLICY: LoginThrottleRule = {
  freeAttempts: 20,
  firstDelayMs: 2000,
  maxDelayMs: 15 * 60_000,
  windowMs: WINDOW_MS,
};

export type UserCodeLookup =
  | {
      kind: 'found';
      authorization: DeviceAuthorization;
      client: Client;
      /** The code as the page shows it back for confirmation: XXXX-XXXX. */
      userCode: string;
    }
  /** Malformed, unknown, expired, already answered, or its client is gone: one answer for all. */
  | { kind: 'invalid' }
  | { kind: 'throttled'; waitMs: number };

const throttleKeys = (userId: string, ip: string) => ({
  user: `device-user:${userId}`,
  ip: `device-ip:${ip}`,
});

/** The pending request `typed` names, for the signed-in user `userId` at `ip`, throttled (§5.1). */
export async function lookUpUserCode(
  deps: DeviceFlowDeps,
  typed: string | undefined,
  who: { userId: string; ip: string },
): Promise<UserCodeLookup> {
  const normalized = normalizeUserCode(typed);
  // A malformed code names nothing and probes nothing: refused without a lookup, and without counting.
  if (normalized === undefined) return { kind: 'invalid' };
  const now = deps.clock.now();
  const keys = throttleKeys(who.userId, who.ip);
  const { loginThrottle } = deps.storage;
  const ip = await loginThrottle.reserve(keys.ip, now, DEVICE_IP_POLICY);
  if (!ip.allowed) return { kind: 'throttled', waitMs: ip.blockedUntil - now };
  const user = await loginThrottle.reserve(keys.user, now, DEVICE_USER_POLICY);
  if (!user.allowed) {
    // Not checked, so it does not count against the address.
    await loginThrottle.refund(keys.ip, DEVICE_IP_POLICY.freeAttempts);
    return { kind: 'throttled', waitMs: user.blockedUntil - now };
  }
  const authorization = await deps.storage.deviceAuthorizations.findPendingByUserCode(
    userCodeKey(deps.codeKey, normalized),
    now,
  );
  const client = authorization && (await deps.storage.clients.find(authorization.clientId));
  if (!authorization || !isUsable(client)) return { kind: 'invalid' };
  // A right code gives both reservations back: typing codes one has is never slowed down.
  await loginThrottle.refund(keys.user, DEVICE_USER_POLICY.freeAttempts);
  await loginThrottle.refund(keys.ip, DEVICE_IP_POLICY.freeAttempts);
  return { kind: 'found', authorization, client, userCode: formatUserCode(normalized) };
}

/**
 * The signed-in user approves: the request records who, and the grant (token family) the tokens will carry
 * exists from now on, in one transaction, so revoking the user's grants before the device polls stops it too.
 * False when the request was answered, or expired, in the meantime (then nothing is written).
 */
export async function approveDevice(
  deps: DeviceFlowDeps,
  found: { authorization: DeviceAuthorization; client: Client },
  user: User,
  session: Session,
  ip: string,
): Promise<boolean> {
  const { authorization, client } = found;
  const now = deps.clock.now();
  const grantId = timeOrderedId();
  const approved = await deps.storage.transaction(async (tx) => {
    const decided = await tx.deviceAuthorizations.approve(authorization.userCodeHash, now, {
      userId: user.id,
      grantId,
      authTime: session.authTime,
      amr: session.amr,
      acr: session.acr,
    });
    if (!decided) return false;
    await tx.grants.create({
      id: grantId,
      clientId: client.id,
      userId: user.id,
      scope: authorization.scope,
      createdAt: now,
      revokedAt: null,
      lastUsedAt: null,
    });
    return true;
  });
  if (approved) {
    await recordSecurityEvent(deps.storage, now, 'device_approved', {
      actor: { kind: 'user', id: user.id, name: user.email },
      userId: user.id,
      userEmail: user.email,
      clientId: client.id,
      clientName: client.name,
      grantId,
      ip,
      detail: { scope: authorization.scope },
    });
  }
  return approved;
}

/** The signed-in user denies; false when the request was answered, or expired, in the meantime. */
export async function denyDevice(
  deps: DeviceFlowDeps,
  found: { authorization: DeviceAuthorization; client: Client },
  user: User,
  ip: string,
): Promise<boolean> {
  const now = deps.clock.now();
  const denied = await deps.storage.deviceAuthorizations.deny(found.authorization.userCodeHash, now);
  if (denied) {
    await recordSecurityEvent(deps.storage, now, 'device_denied', {
      actor: { kind: 'user', id: user.id, name: user.email },
      userId: user.id,
      userEmail: user.email,
      clientId: found.client.id,
      clientName: found.client.name,
      ip,
    });
  }
  return denied;
}
