// What every admin API route shares: the admin key check, who is acting, cursors, and the answers for the
// outcomes of an operation (util/outcome.ts). Errors are JSON {error, error_description} as everywhere else.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type AdminScope, findAdminKey } from '../../accounts/admin-keys.ts';
import { UserInputError } from '../../accounts/users.ts';
import type { Deps } from '../../deps.ts';
import { OAuthError } from '../../errors.ts';
import { isWellFormedOpaqueToken, TOKEN_PREFIX } from '../../oauth/opaque-token.ts';
import type { Acting } from '../../oauth/security-events.ts';
import type { AdminKey, PageCursor } from '../../storage/storage.ts';
import type { Outcome } from '../../util/outcome.ts';

export const API_PREFIX = '/api/v1';

/** The admin key a request presents, if it is live and carries `scope`; otherwise an RFC 6750 error. */
export async function authenticate(
  deps: Deps,
  request: FastifyRequest,
  scope: AdminScope,
): Promise<AdminKey> {
  const header = request.headers.authorization ?? '';
  const match = /^Bearer ([A-Za-z0-9_-]+)$/.exec(header);
  const challenge = (error: string) =>
    `Bearer realm="${deps.config.realm.replace(/["\\]/g, '')} admin API", error="${error}", scope="${scope}"`;
  // A mistyped or truncated key is refused without a database lookup (its CRC32 tail).
  if (!match?.[1] || !isWellFormedOpaqueToken(match[1], TOKEN_PREFIX.adminKey)) {
    throw new OAuthError('invalid_token', 'An admin key is required: Authorization: Bearer ghm_…', {
      headers: { 'www-authenticate': challenge('invalid_token') },
    });
  }
  const key = await findAdminKey(deps.storage, match[1], scope, deps.clock.now());
  if (key === 'unknown') {
    throw new OAuthError('invalid_token', 'The admin key is unknown, revoked or expired', {
      headers: { 'www-authenticate': challenge('invalid_token') },
    });
  }
  if (key === 'missing_scope') {
    throw new OAuthError('insufficient_scope', `The admin key lacks the "${scope}" scope`, {
      headers: { 'www-authenticate': challenge('insufficient_scope') },
    });
  }
  return key;
}

/** An admin key acts for whoever holds it: the event log names the key. */
export function actingAs(key: AdminKey, request: FastifyRequest): Acting {
  return { actor: { kind: 'admin_key', id: key.id, name: key.name }, ip: request.ip };
}

/** Checks the key and answers no-store (every admin answer may hold something that must not be cached). */
export async function authorize(
  deps: Deps,
  request: FastifyRequest,
  reply: FastifyReply,
  scope: AdminScope,
): Promise<Acting> {
  reply.header('cache-control', 'no-store');
  return actingAs(await authenticate(deps, request, scope), request);
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** `?limit=`: 1 to MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE without it. */
export function pageSize(value: unknown): number {
  if (value === undefined) return DEFAULT_PAGE_SIZE;
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new OAuthError('invalid_request', `limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  return limit;
}

/** A cursor is opaque to callers: where the previous page ended (creation time and id), base64url. */
export function cursorOf(row: { createdAt: number; id: string }): string {
  return Buffer.from(`${row.createdAt}.${row.id}`).toString('base64url');
}

export function cursorFrom(value: unknown): PageCursor | undefined {
  if (value === undefined) return undefined;
  const match =
    typeof value === 'string' && value.length <= 400
      ? /^(\d{1,16})\.(.{1,255})$/.exec(Buffer.from(value, 'base64url').toString())
      : null;
  if (!match) throw new OAuthError('invalid_request', 'cursor is not one this API gave out');
  return { createdAt: Number(match[1]), id: match[2]! };
}

/** A page of rows and where the next one starts (null on the last page). */
export function page<T extends { createdAt: number; id: string }, V>(
  rows: T[],
  limit: number,
  view: (row: T) => V,
) {
  const last = rows.at(-1);
  return { items: rows.map(view), next_cursor: rows.length === limit && last ? cursorOf(last) : null };
}

export function notFound(reply: FastifyReply, what: string) {
  return reply.code(404).send({ error: 'not_found', error_description: `No such ${what}` });
}

/**
 * An operation's outcome as an answer: ok and unchanged give `view` of the record (200; an operation that
 * found nothing to do is not an error, so a retried call is safe), not_found 404, conflict 409.
 */
export function sendOutcome<T, Extra>(
  reply: FastifyReply,
  outcome: Outcome<T, Extra>,
  what: string,
  view: (outcome: Extract<Outcome<T, Extra>, { status: 'ok' | 'unchanged' }>) => unknown,
) {
  switch (outcome.status) {
    case 'not_found':
      return notFound(reply, what);
    case 'conflict':
      return reply.code(409).send({ error: 'conflict', error_description: outcome.reason });
    default:
      return reply.code(200).send(view(outcome));
  }
}

/** Runs an operation that may refuse its input (UserInputError) as an invalid_request. */
export async function withInput<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof UserInputError) throw new OAuthError('invalid_request', error.message);
    throw error;
  }
}

export function bodyOf(request: FastifyRequest): Record<string, unknown> {
  const body = request.body ?? {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new OAuthError('invalid_request', 'The body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
