// An endpoint that takes no parameters (Dialpad's deauthorize: "POST with an empty body", no content type named)
// accepts an empty body whatever Content-Type it is labelled with; anything else in the body stays refused as
// on every protocol route. Registered in the endpoint's own scope, so no other route gains a parser.
import type { FastifyInstance } from 'fastify';
import { OAuthError } from '../errors.ts';

/** Adds a catch-all parser to `scope` that accepts an empty body of any media type (form bodies keep theirs). */
export function acceptEmptyBodies(scope: FastifyInstance): void {
  scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 }, (_request, body, done) => {
    if ((body as Buffer).length === 0) return done(null, undefined);
    done(new OAuthError('invalid_request', 'The body must be empty or application/x-www-form-urlencoded'));
  });
}
