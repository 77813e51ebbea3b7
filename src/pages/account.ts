// Who is signed in, for pages that need someone to be: the user, or a trip to the sign-in page that comes
// straight back here afterwards (a same-origin path only: no open redirect, docs/security.md A-08).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../deps.ts';
import { currentSession } from '../http/session.ts';
import type { User } from '../storage/storage.ts';
import type { LayoutOptions } from './layout.ts';
import { csrfToken } from './render.ts';

/** A path on this server: one leading slash, no scheme, no `//` or `/\\` tricks. */
export function safeNext(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 500) return undefined;
  return /^\/(?![/\\])[\w\-./?=&%~]*$/.test(value) ? value : undefined;
}

export async function signedInUser(deps: Deps, request: FastifyRequest): Promise<User | undefined> {
  const session = await currentSession(deps, request);
  const user = session && (await deps.storage.users.findById(session.userId));
  return user && user.disabledAt === null ? user : undefined;
}

export function toLogin(request: FastifyRequest, reply: FastifyReply) {
  const next = safeNext(request.url) ?? '/';
  return reply.redirect(`/login?next=${encodeURIComponent(next)}`, 303);
}

/** The header and frame every signed-in page shares. */
export function chrome(
  deps: Deps,
  reply: FastifyReply,
  user: User | undefined,
  title: string,
): Omit<LayoutOptions, 'body'> {
  const nav = user
    ? [
        { href: '/account/apps', label: 'Connected apps' },
        { href: '/portal', label: 'Developer portal' },
        { href: deps.config.paths.playground, label: 'Playground' },
        ...(user.isAdmin ? [{ href: '/admin', label: 'Admin' }] : []),
      ]
    : [];
  return {
    title,
    productName: deps.config.productName,
    logoUrl: deps.config.logoUrl,
    signedInAs: user ? (user.email ?? user.name ?? user.id) : undefined,
    csrfToken: csrfToken(reply),
    nav,
  };
}
