// Refuses a request whose route parameters, query or parsed body carry a control character, before any
// handler can put the value into a query (see util/control-characters.ts). One hook per scope: the protocol
// scope refuses every C0 control and DEL; the pages scope lets a textarea's TAB, CR and LF through. An endpoint
// that owes a more specific error (invalid_client for Basic credentials, invalid_client_metadata for a
// registration body) checks in its own parser, which runs first.
import type { FastifyInstance } from 'fastify';
import { OAuthError } from '../errors.ts';
import {
  type ControlPolicy,
  containsControlCharacter,
  hasControlCharacter,
} from '../util/control-characters.ts';

/**
 * The query string as URLSearchParams decodes it, when it has escapes. Fastify's parser (fast-querystring)
 * leaves a value with an invalid escape undecoded (`a=%00%` stays "%00%"), while URLSearchParams, which some
 * routes use on the raw URL (legacy token parameters in the query, /authorize), decodes it ("\u0000%"):
 * both readings are checked, so no reading of the URL can carry a control character past this guard.
 */
function rawQueryHasControl(url: string, policy: ControlPolicy): boolean {
  const index = url.indexOf('?');
  if (index < 0 || !url.includes('%', index)) return false;
  for (const [key, value] of new URLSearchParams(url.slice(index + 1))) {
    if (hasControlCharacter(key, policy) || hasControlCharacter(value, policy)) return true;
  }
  return false;
}

export function rejectControlCharacters(scope: FastifyInstance, policy: ControlPolicy): void {
  scope.addHook('preValidation', (request, _reply, done) => {
    if (
      containsControlCharacter(request.params, policy) ||
      containsControlCharacter(request.query, policy) ||
      rawQueryHasControl(request.url, policy) ||
      containsControlCharacter(request.body, policy)
    ) {
      done(new OAuthError('invalid_request', 'The request contains a control character'));
      return;
    }
    done();
  });
}
