// One-time messages across a post/redirect/get: a POST that changes something answers 303 to a page, and what
// it has to say (a "Saved", or a secret shown once) travels in a sealed cookie read once by that page. A reload
// of the page then shows the page without the message, and never repeats the POST (a second app, a second
// secret). A secret never goes into a URL (history, logs, Referer); the cookie is sealed (AES-GCM under the
// server secret, util/seal.ts), HttpOnly, bound to the one path it is for, and dies after FLASH_TTL_SECONDS
// or at its first reading, whichever comes first.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../deps.ts';
import { cookieNames, cookieOptions } from '../http/session.ts';
import { seal, unseal } from '../util/seal.ts';

/** A secret shown once: the label the person reads and the value to copy. */
export interface FlashSecret {
  label: string;
  value: string;
  /** The element id (and data-testid) of the value, for the copy button and tests. */
  id: string;
}

export interface Flash {
  /** What happened, as a heading or a one-line message. */
  message: string;
  /** Shown once, with a copy button. */
  secrets?: FlashSecret[];
  /** A line under the secrets (how long they are shown, what to do next). */
  note?: string;
}

interface Sealed extends Flash {
  path: string;
  expiresAt: number;
}

const PURPOSE = 'flash/v1';
export const FLASH_TTL_SECONDS = 300;

const cookieName = (deps: Deps) => {
  const names = cookieNames(deps.config.issuer);
  return names.secure ? '__Host-gatehouse_flash' : 'gatehouse_flash';
};

/** Sets `flash` for the next GET of `path` and answers 303 there. */
export function redirectWithFlash(deps: Deps, reply: FastifyReply, path: string, flash: Flash) {
  const sealed: Sealed = { ...flash, path, expiresAt: deps.clock.now() + FLASH_TTL_SECONDS * 1000 };
  reply.setCookie(
    cookieName(deps),
    seal(sealed, deps.sealKey, PURPOSE),
    cookieOptions(cookieNames(deps.config.issuer), FLASH_TTL_SECONDS),
  );
  return reply.redirect(path, 303);
}

/** The flash for this page, if any, and clears it: a reload shows the page without it. */
export function takeFlash(deps: Deps, request: FastifyRequest, reply: FastifyReply): Flash | undefined {
  const name = cookieName(deps);
  const value = request.cookies[name];
  if (value === undefined) return undefined;
  const sealed = unseal<Sealed>(value, deps.sealKey, PURPOSE);
  const path = request.url.split('?')[0];
  // A flash for another page stays for that page (say, a second tab's answer that has not arrived yet).
  if (sealed && sealed.path !== path && sealed.expiresAt > deps.clock.now()) return undefined;
  reply.clearCookie(name, cookieOptions(cookieNames(deps.config.issuer)));
  if (!sealed || sealed.expiresAt <= deps.clock.now()) return undefined;
  const { path: _path, expiresAt: _expiresAt, ...flash } = sealed;
  return flash;
}
