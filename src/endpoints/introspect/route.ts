// RFC 7662: token introspection for resource servers, which authenticate as confidential clients. Anything
// not active answers exactly {"active":false}, without saying why. §4: "the authorization server MUST determine
// whether or not the protected resource is allowed to introspect the token": a client an operator marked as a
// resource server may ask about any token; any other client only about its own. A token it may not ask about is
// answered exactly as an inactive one, so that nobody learns another client's token is live.
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../../deps.ts';
import { OAuthError } from '../../errors.ts';
import type { FormParams } from '../../http/form-body.ts';
import type { Introspect } from '../../oauth/introspection.ts';
import { authenticatedClient, noStore } from '../client-request.ts';

export function registerIntrospect(app: FastifyInstance, deps: Deps, introspect: Introspect) {
  app.post(deps.config.paths.introspect, async (request, reply) => {
    noStore(reply);
    const params = (request.body ?? {}) as FormParams;
    const client = await authenticatedClient(deps, request, params);
    // Only a client that can keep a secret may ask what tokens mean.
    if (client.tokenEndpointAuthMethod === 'none') {
      throw new OAuthError('invalid_client', 'Public clients cannot introspect tokens');
    }
    if (!params.token) throw new OAuthError('invalid_request', 'The request has no token');
    const active = await introspect(params.token, client.id);
    // The client row is already loaded (authentication): the rule costs no extra round trip.
    if (!active || (active.client_id !== client.id && !client.resourceServer)) return { active: false };
    const { recordId: _r, grantId: _g, userId: _u, kind: _k, ...response } = active;
    return response;
  });
}
