// Browser cookies: the sign-in session (server-side; the cookie holds a random id whose SHA-256 is the key)
// and the browser binding that ties a parked authorization request to the browser that started it.
// HttpOnly, SameSite=Lax, Secure except on plain-http localhost, __Host- prefix whenever Secure.
import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../deps.ts';
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
 * Starts a new session with a fresh id (never reuses the old one: no session fixation). `authentication`: how
 * an upstream identity provider said the user authenticated (amr, acr), for the ID token; unset for passwords.
 */
export async function startSession(
  deps: Deps,
  request: FastifyRequest,
  reply: FastifyReply,
  userId: string,
  authentication: Pick<Session, 'amr' | 'acr'> = {},
) {
  const names = cookieNames(deps.config.issuer);
  const old = request.cookies[names.session];
  if (old) await deps.storage.sessions.delete(sha256(old));
  const now = deps.clock.now();
  const value = randomToken(32);
  const session: Session = {
    idHash: sha256(value),
    userId,
    authTime: now,
    createdAt: now,
    expiresAt: now + deps.config.sessionTtl * 1000,
    ...(authentication.amr ? { amr: authentication.amr } : {}),
    ...(authentication.acr ? { acr: authentication.acr } : {}),
  };
  await deps.storage.sessions.create(session);
  reply.setCookie(names.session, value, cookieOptions(names, deps.config.sessionTtl));
  return session;
}

export async function endSession(deps: Deps, request: FastifyRequest, reply: FastifyReply) {
  const names = cookieNames(deps.config.issuer);
  const value = request.cookies[names.session];
  if (value) await deps.storage.sessions.delete(sha256(value));
  reply.clearCookie(names.session, cookieOptions(names));
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
