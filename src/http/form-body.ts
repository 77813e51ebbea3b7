// application/x-www-form-urlencoded bodies for protocol and page routes. A repeated parameter is an error
// (RFC 6749 §3.1, §3.2: "parameters MUST NOT be included more than once"), except `resource` (RFC 8707).
import type { FastifyInstance } from 'fastify';
import { OAuthError } from '../errors.ts';

export type FormParams = Record<string, string>;

const REPEATABLE = new Set(['resource']);
export const MAX_FORM_BYTES = 64 * 1024;

/** Parses a query string or form body into single-valued params; throws invalid_request on duplicates. */
export function parseForm(text: string): FormParams {
  const params: FormParams = Object.create(null);
  for (const [key, value] of new URLSearchParams(text)) {
    if (key in params) {
      // RFC 8707 lets `resource` repeat; its values (URIs, which cannot contain spaces) are kept space-joined.
      if (REPEATABLE.has(key)) {
        params[key] = `${params[key]} ${value}`;
        continue;
      }
      throw new OAuthError(
        'invalid_request',
        `Parameter "${key.replace(/[^\x20-\x7e]/g, '?').slice(0, 64)}" is repeated`,
      );
    }
    params[key] = value;
  }
  return params;
}

/** Same, for repeatable parameters: every value of `name` in order. */
export function allValues(text: string, name: string): string[] {
  return new URLSearchParams(text).getAll(name);
}

export function registerFormParser(app: FastifyInstance): void {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: MAX_FORM_BYTES },
    (_request, body, done) => {
      try {
        done(null, parseForm(body as string));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );
}
