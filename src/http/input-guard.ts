// Refuses a request whose route parameters, query or parsed body carry a control character, before any
// handler can put the value into a query (see util/control-characters.ts). One hook per scope: the protocol
// scope refuses every C0 control and DEL; the pages scope lets a textarea's TAB, CR and LF through. An endpoint
// that owes a more specific error (invalid_client for Basic credentials, invalid_client_metadata for a
// registration body) checks in its own parser, which runs first.
import type { FastifyInstance } from 'fastify';
import { OAuthError } from '../errors.ts';
import { type ControlPolicy, containsControlCharacter } from '../util/control-characters.ts';

export function rejectControlCharacters(scope: FastifyInstance, policy: ControlPolicy): void {
  scope.addHook('preValidation', (request, _reply, done) => {
    if (
      containsControlCharacter(request.params, policy) ||
      containsControlCharacter(request.query, policy) ||
      containsControlCharacter(request.body, policy)
    ) {
      done(new OAuthError('invalid_request', 'The request contains a control character'));
      return;
    }
    done();
  });
}
