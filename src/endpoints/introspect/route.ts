// RFC 7662: token introspection for resource servers, which authenticate as confidential clients. Anything
// not active answers exactly {"active":false}, without saying why.
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../../deps.ts';
import { OAuthError } from '../../errors.ts';
import type { FormParams } from '../../http/form-body.ts';
import { authenticateClient, clientAuthOptions, readClientCredentials } from '../../oauth/client-auth.ts';
import type { Introspect } from '../../oauth/introspection.ts';

export function registerIntrospect(app: FastifyInstance, deps: Deps, introspect: Introspect) {
  app.post(deps.config.paths.introspect, async (request, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    const params = (request.body ?? {}) as FormParams;
    const client = await authenticateClient(
      deps.storage,
      readClientCredentials(request.headers.authorization, params),
      deps.clock.now(),
      clientAuthOptions(deps.config),
    );
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
