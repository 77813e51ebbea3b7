// OIDC Core §5.3: UserInfo, GET and POST, with the access token in the Authorization header (RFC 6750 §2.1).

import { BearerError, type Verifier } from '@gatehouse/resource';
import { fastifyAuthenticate, tokenOf } from '@gatehouse/resource/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SigningAlg } from '../../config.ts';
import type { Deps } from '../../deps.ts';
import { allowCorsFor, corsOrigin } from '../../http/cors.ts';
import { userClaims } from '../../oauth/claims.ts';
import { signJwt } from '../../oauth/jws.ts';
import { epochSeconds } from '../../util/clock.ts';

export function registerUserinfo(app: FastifyInstance, deps: Deps, verifier: Verifier) {
  async function userinfo(request: FastifyRequest, reply: FastifyReply) {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    const token = tokenOf(request)!;
    const [client, user] = await Promise.all([
      // The client decides the answer's form (signed or not) and, for a cross-origin request, who may read it
      // (CORS). From the client cache on SQLite.
      deps.storage.clients.find(token.clientId),
      token.subject !== token.clientId ? deps.storage.users.findById(token.subject) : undefined,
    ]);
    if (client && corsOrigin(request) !== undefined) allowCorsFor(request, client);
    if (!user || user.disabledAt !== null) {
      const error = new BearerError('invalid_token', 'The token does not speak for a user');
      return reply.code(401).header('www-authenticate', error.challenge(verifier.options)).send(error.body());
    }
    const claims = userClaims(user, token.scopes);
    const alg = client?.metadata.userinfo_signed_response_alg as SigningAlg | undefined;
    if (!client || alg === undefined) return claims;
    // OIDC Core §5.3.2: a client that registered userinfo_signed_response_alg gets a JWT, with iss and aud so
    // that it cannot be replayed as another server's or another client's answer. A key of that alg exists
    // unless the operator changed the algs since; then the ID token alg signs (the JWS header names it).
    const signingAlg = deps.keys.algs().includes(alg) ? alg : deps.config.idTokenAlg;
    const jwt = await signJwt(deps.keys.signingKey(signingAlg), 'JWT', {
      ...claims,
      iss: deps.config.issuer,
      aud: client.id,
      iat: epochSeconds(deps.clock.now()),
    });
    return reply.type('application/jwt').send(jwt);
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
