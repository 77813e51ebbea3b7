// OIDC Core §5.3: UserInfo, GET and POST, with the access token in the Authorization header (RFC 6750 §2.1).

import { BearerError, type Verifier } from '@gatehouse/resource';
import { fastifyAuthenticate, tokenOf } from '@gatehouse/resource/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../../deps.ts';
import { allowCorsFor, corsOrigin } from '../../http/cors.ts';
import { userClaims } from '../../oauth/claims.ts';

export function registerUserinfo(app: FastifyInstance, deps: Deps, verifier: Verifier) {
  async function userinfo(request: FastifyRequest, reply: FastifyReply) {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    const token = tokenOf(request)!;
    // CORS: the answer is readable only by an origin the token's client registered. Its row is looked up only
    // for a cross-origin request (an Origin header), and comes from the client cache on SQLite.
    if (corsOrigin(request) !== undefined) {
      const client = await deps.storage.clients.find(token.clientId);
      if (client) allowCorsFor(request, client);
    }
    const user =
      token.subject !== token.clientId ? await deps.storage.users.findById(token.subject) : undefined;
    if (!user || user.disabledAt !== null) {
      const error = new BearerError('invalid_token', 'The token does not speak for a user');
      return reply.code(401).header('www-authenticate', error.challenge(verifier.options)).send(error.body());
    }
    return userClaims(user, token.scopes);
  }
  const options = { preHandler: fastifyAuthenticate(verifier, 'openid') };
  app.get(deps.config.paths.userinfo, options, userinfo);
  app.post(deps.config.paths.userinfo, options, userinfo);

  // A users/me-style endpoint (Dialpad's GET /api/v2/users/me): the token's user, for any scope.
  const userEndpoint = deps.config.paths.userEndpoint;
  if (userEndpoint) {
    app.get(userEndpoint, { preHandler: fastifyAuthenticate(verifier) }, async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const token = tokenOf(request)!;
      const user =
        token.subject !== token.clientId ? await deps.storage.users.findById(token.subject) : undefined;
      if (!user || user.disabledAt !== null) {
        const error = new BearerError('invalid_token', 'The token does not speak for a user');
        return reply
          .code(401)
          .header('www-authenticate', error.challenge(verifier.options))
          .send(error.body());
      }
      return { id: user.id, email: user.email, name: user.name, is_admin: user.isAdmin };
    });
  }
}
