// RFC 9126: pushed authorization requests. The client sends the authorization request's parameters here,
// authenticated as at the token endpoint, and gets a request_uri to send the browser to /authorize with. The
// request is validated now exactly as /authorize would (§2.1), so a bad one is a JSON error to the client,
// never a page the user sees; /authorize validates it again when it arrives (the client may have changed).
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../../deps.ts';
import { OAuthError } from '../../errors.ts';
import type { FormParams } from '../../http/form-body.ts';
import { pushedQuery, pushRequest } from '../../oauth/pushed-request.ts';
import {
  authorizeContext,
  PageError,
  RedirectError,
  validateAuthorizationRequest,
} from '../authorize/validate-request.ts';
import { authenticatedClient, dpopProof, noStore } from '../client-request.ts';

export function registerPushedAuthorization(app: FastifyInstance, deps: Deps) {
  app.post(deps.config.paths.par, async (request, reply) => {
    noStore(reply);
    const params = (request.body ?? {}) as FormParams;
    const client = await authenticatedClient(deps, request, params);
    if (params.client_id !== undefined && params.client_id !== client.id) {
      throw new OAuthError('invalid_request', 'client_id differs from the authenticated client');
    }
    // §2.1: a pushed request cannot itself point at another one.
    if (params.request_uri !== undefined) {
      throw new OAuthError('invalid_request', 'request_uri cannot be pushed');
    }
    const query = pushedQuery(client.id, params);
    // RFC 9449 §10.1: a DPoP proof here binds the code to its key, as dpop_jkt does; sent together, they agree.
    const dpopJkt = await dpopProof(deps, request, reply, deps.config.paths.par);
    if (dpopJkt !== undefined) {
      const named = query.get('dpop_jkt');
      if (named !== null && named !== dpopJkt) {
        throw new OAuthError('invalid_dpop_proof', 'dpop_jkt differs from the key of the DPoP proof');
      }
      query.set('dpop_jkt', dpopJkt);
    }
    try {
      await validateAuthorizationRequest(query, authorizeContext(deps, request.ip));
    } catch (error) {
      if (error instanceof PageError || error instanceof RedirectError) throw error.oauthError;
      throw error;
    }
    const pushed = pushRequest(deps.sealKey, client.id, query, deps.clock.now());
    return reply.code(201).send({ request_uri: pushed.requestUri, expires_in: pushed.expiresIn });
  });
}
