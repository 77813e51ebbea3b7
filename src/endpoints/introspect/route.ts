// RFC 7662: token introspection for resource servers, which authenticate as confidential clients. Anything
// not active answers exactly {"active":false}, without saying why.
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
    if (!active) return { active: false };
    const { recordId: _r, grantId: _g, userId: _u, kind: _k, ...response } = active;
    return response;
  });
}
