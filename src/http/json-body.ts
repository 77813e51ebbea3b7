// application/json bodies for the routes that take them (dynamic registration, the admin API): parsed within a size
// limit, and refused whole when invalid or when any string in them holds a control character (no metadata or
// admin input has one, and "\u0000" would also fail PostgreSQL's text columns). Each route says in its own words
// (its own OAuthError) what was wrong, so that the registration endpoint keeps RFC 7591's invalid_client_metadata.
import type { FastifyInstance } from 'fastify';
import type { OAuthError } from '../errors.ts';
import { containsControlCharacter } from '../util/control-characters.ts';

export const MAX_JSON_BYTES = 16 * 1024;

export function acceptJsonBodies(
  scope: FastifyInstance,
  refuse: { invalidJson: () => OAuthError; controlCharacter: () => OAuthError },
): void {
  scope.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: MAX_JSON_BYTES },
    (_request, body, done) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body as string);
      } catch {
        done(refuse.invalidJson(), undefined);
        return;
      }
      if (containsControlCharacter(parsed)) {
        done(refuse.controlCharacter(), undefined);
        return;
      }
      done(null, parsed);
    },
  );
}
