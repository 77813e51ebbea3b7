// OpenID Connect Back-Channel Logout 1.0: when a person signs out of Gatehouse (RP-initiated logout, the sign-out
// button) or an administrator disables them, every client that got tokens through that sign-in and registered a
// `backchannel_logout_uri` is told so, server to server, with a signed logout token (§2.4), so it can end its
// own session for the person.
//
// The rules:
// - Never in the way of the sign-out: started after the session is gone and not awaited by the request, each
//   delivery bounded (5 s for the whole exchange), every error caught. A failed delivery (refused by the SSRF
//   guard, no answer, an answer other than 200/204) is logged and recorded as a `backchannel_logout_failed`
//   security event; the logout token itself is in neither (it is a credential for the client's logout).
// - Delivered only through http/outbound.ts (docs/security.md H-03): https, public addresses, no redirects. A
//   test's receiver on 127.0.0.1 is reached only with the test-only allowance (Deps.backchannelLogoutLoopback).
// - Recipients: the clients with live grants made through the session that ended (grants keep the session's
//   `sid`, migration 0018), or, for a disabled user, every client with a live grant of theirs.
import type { SigningAlg } from '../config.ts';
import { outboundFetch } from '../http/outbound.ts';
import type { Grant, Storage } from '../storage/storage.ts';
import type { Clock } from '../util/clock.ts';
import { epochSeconds } from '../util/clock.ts';
import { randomId } from '../util/random.ts';
import { isUsable } from './client-metadata.ts';
import { signJwt } from './jws.ts';
import type { KeyRing } from './keys.ts';
import { recordSecurityEvent } from './security-events.ts';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** §2.4: a logout token is short-lived; two minutes cover clock skew and a slow receiver. */
const LOGOUT_TOKEN_TTL_S = 120;
const DELIVERY_TIMEOUT_MS = 5000;
/** The answer's body is never read: only its status counts (§2.8). */
const MAX_ANSWER_BYTES = 16 * 1024;

export interface BackchannelLogoutDeps {
  storage: Storage;
  keys: KeyRing;
  clock: Clock;
  issuer: string;
  /** The server's ID token alg: logout tokens are signed like the client's ID tokens. */
  idTokenAlg: SigningAlg;
  /**
   * Test-only: deliver to a receiver on 127.0.0.1 over plain http (http/outbound.ts `allowPrivateNetwork`).
   * No configuration key sets it: a URI a client registered must never reach an internal network.
   */
  allowPrivateNetwork?: boolean;
}

/** Where a logout line goes (pino's shape; the request's logger). */
export interface LogoutLog {
  warn(details: Record<string, unknown>, message: string): void;
  info(details: Record<string, unknown>, message: string): void;
}

/** Whose sign-out it is: one login session (its sid), or every session of a user. */
export type LogoutScope = { sid: string } | { userId: string };

/** What the logout token says, for one client (§2.4). */
export function logoutTokenClaims(
  issuer: string,
  clientId: string,
  subject: string,
  sid: string | undefined,
  now: number,
): Record<string, unknown> {
  const iat = epochSeconds(now);
  return {
    iss: issuer,
    aud: clientId,
    iat,
    exp: iat + LOGOUT_TOKEN_TTL_S,
    jti: randomId(),
    sub: subject,
    ...(sid !== undefined ? { sid } : {}),
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
  };
}

/**
 * Starts the deliveries for a sign-out and returns at once; the promise it also returns settles when every
 * delivery has (tests wait on it; requests never do). Never rejects.
 */
export function startBackchannelLogout(
  deps: BackchannelLogoutDeps,
  scope: LogoutScope,
  log: LogoutLog,
): Promise<void> {
  return deliverAll(deps, scope, log).catch((error: unknown) => {
    log.warn({ err: error }, 'back-channel logout: could not find whom to notify');
  });
}

async function deliverAll(deps: BackchannelLogoutDeps, scope: LogoutScope, log: LogoutLog): Promise<void> {
  const grants =
    'sid' in scope
      ? await deps.storage.grants.listActiveForSession(scope.sid)
      : await deps.storage.grants.listActiveForUser(scope.userId);
  // One logout token per client and session: a client with several grants from one sign-in hears once.
  const notices = new Map<string, Grant>();
  for (const grant of grants) {
    if (grant.userId === null) continue;
    notices.set(`${grant.clientId} ${grant.openId?.sid ?? ''}`, grant);
  }
  if (notices.size === 0) return;
  const fetch = outboundFetch({
    allowPrivateNetwork: deps.allowPrivateNetwork ?? false,
    timeoutMs: DELIVERY_TIMEOUT_MS,
    maxResponseBytes: MAX_ANSWER_BYTES,
  });
  await Promise.allSettled([...notices.values()].map((grant) => deliver(deps, fetch, grant, log)));
}

async function deliver(
  deps: BackchannelLogoutDeps,
  fetch: ReturnType<typeof outboundFetch>,
  grant: Grant,
  log: LogoutLog,
): Promise<void> {
  const client = await deps.storage.clients.find(grant.clientId);
  const uri = client?.metadata.backchannel_logout_uri;
  if (!isUsable(client) || uri === undefined) return;
  const userId = grant.userId!;
  const sid = grant.openId?.sid;
  const failed = async (reason: string, status?: number) => {
    // The URI's origin only: its path or query may carry something the client meant for itself.
    const target = URL.parse(uri)?.origin ?? 'unparsable';
    log.warn({ client_id: client.id, target, reason, status }, 'back-channel logout not delivered');
    await recordSecurityEvent(deps.storage, deps.clock.now(), 'backchannel_logout_failed', {
      actor: { kind: 'system' },
      clientId: client.id,
      clientName: client.name,
      userId,
      grantId: grant.id,
      detail: { target, reason, ...(status !== undefined ? { status } : {}) },
    }).catch((error: unknown) => log.warn({ err: error }, 'back-channel logout: event not recorded'));
  };
  try {
    const alg = (client.idTokenSignedResponseAlg as SigningAlg | null) ?? deps.idTokenAlg;
    const token = await signJwt(
      deps.keys.signingKey(alg),
      'logout+jwt',
      logoutTokenClaims(deps.issuer, client.id, userId, sid, deps.clock.now()),
    );
    const response = await fetch(uri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'cache-control': 'no-store' },
      body: new URLSearchParams({ logout_token: token }).toString(),
    });
    // §2.8: 200 OK, or 204 (frameworks answer an empty body so).
    if (response.status === 200 || response.status === 204) {
      log.info({ client_id: client.id }, 'back-channel logout delivered');
      return;
    }
    await failed('the client did not accept it', response.status);
  } catch (error) {
    await failed(error instanceof Error ? error.message : 'delivery failed');
  }
}
