// Browser cookies: the sign-in session (server-side; the cookie holds a random id whose SHA-256 is the key)
// and the browser binding that ties a parked authorization request to the browser that started it.
// HttpOnly, SameSite=Lax, Secure except on plain-http localhost, __Host- prefix whenever Secure.
import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { backchannelLogoutDeps, type Deps } from '../deps.ts';
import { type LogoutLog, startBackchannelLogout } from '../oauth/backchannel-logout.ts';
import { sessionSid } from '../oauth/id-token.ts';
import type { Session } from '../storage/storage.ts';
import { sha256 } from '../util/hash.ts';
import { randomToken } from '../util/random.ts';

export interface CookieNames {
  session: string;
  browser: string;
  /** The sealed state of a sign-in in progress at an upstream identity provider (pages/login/federated.ts). */
  upstream: string;
  secure: boolean;
}

export function cookieNames(issuer: string): CookieNames {
  const secure = issuer.startsWith('https:');
  const prefix = secure ? '__Host-' : '';
  return {
    session: `${prefix}gatehouse_session`,
    browser: `${prefix}gatehouse_browser`,
    upstream: `${prefix}gatehouse_upstream`,
    secure,
  };
}

export function cookieOptions(names: CookieNames, maxAgeSeconds?: number) {
  return { path: '/', httpOnly: true, sameSite: 'lax' as const, secure: names.secure, maxAge: maxAgeSeconds };
}

export async function currentSession(deps: Deps, request: FastifyRequest): Promise<Session | undefined> {
  const names = cookieNames(deps.config.issuer);
  const value = request.cookies[names.session];
  if (!value) return undefined;
  return deps.storage.sessions.find(sha256(value), deps.clock.now());
}

/**
 * Starts a new session with a fresh id (never reuses the old one: no session fixation). `options`: how an
 * upstream identity provider said the user authenticated (amr, acr), for the ID token (unset for passwords); or
 * that the sign-in happened earlier (the company's login app, docs/architecture.md "External sign-in and
 * consent") and the session lasts `ttlSeconds` (at most GATEHOUSE_SESSION_TTL).
 */
export async function startSession(
  deps: Deps,
  request: FastifyRequest,
  reply: FastifyReply,
  userId: string,
  options: Pick<Session, 'amr' | 'acr'> & { authTime?: number; ttlSeconds?: number } = {},
) {
  const names = cookieNames(deps.config.issuer);
  const old = request.cookies[names.session];
  if (old) await deps.storage.sessions.delete(sha256(old));
  const now = deps.clock.now();
  const ttl = Math.min(options.ttlSeconds ?? deps.config.sessionTtl, deps.config.sessionTtl);
  const value = randomToken(32);
  const session: Session = {
    idHash: sha256(value),
    userId,
    authTime: options.authTime ?? now,
    createdAt: now,
    expiresAt: now + ttl * 1000,
    ...(options.amr ? { amr: options.amr } : {}),
    ...(options.acr ? { acr: options.acr } : {}),
  };
  await deps.storage.sessions.create(session);
  reply.setCookie(names.session, value, cookieOptions(names, ttl));
  return session;
}

/**
 * Signs the browser out: the session ends, and the clients that got tokens through it hear so over the back
 * channel (oauth/backchannel-logout.ts; started, not awaited: the answer never waits for them).
 */
export async function endSession(deps: Deps, request: FastifyRequest, reply: FastifyReply) {
  const names = cookieNames(deps.config.issuer);
  const value = request.cookies[names.session];
  if (value) {
    const idHash = sha256(value);
    await deps.storage.sessions.delete(idHash);
    void startBackchannelLogout(backchannelLogoutDeps(deps), { sid: sessionSid(idHash) }, request.log);
  }
  reply.clearCookie(names.session, cookieOptions(names));
}

/**
 * Every session of the user ended elsewhere (an administrator disabled them): the clients they signed in to hear
 * so over the back channel too, as for endSession. Started, not awaited.
 */
export function announceSignOutEverywhere(deps: Deps, userId: string, log: LogoutLog): void {
  void startBackchannelLogout(backchannelLogoutDeps(deps), { userId }, log);
}

/** The hash of this browser's binding cookie, creating the cookie if it has none. */
export function browserBinding(deps: Deps, request: FastifyRequest, reply: FastifyReply): string {
  const names = cookieNames(deps.config.issuer);
  let value = request.cookies[names.browser];
  if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) {
    value = randomToken(32);
    reply.setCookie(names.browser, value, cookieOptions(names));
  }
  return sha256(value);
}

/** The browser binding hash if the cookie exists (pages that continue a flow never create one). */
export function existingBrowserBinding(deps: Deps, request: FastifyRequest): string | undefined {
  const value = request.cookies[cookieNames(deps.config.issuer).browser];
  return value ? sha256(value) : undefined;
}
