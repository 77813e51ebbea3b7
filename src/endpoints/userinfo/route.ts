// OIDC Core §5.3: UserInfo, GET and POST, with the access token in the Authorization header (RFC 6750 §2.1).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../../deps.ts';
import { OAuthError } from '../../errors.ts';
import { bearerVerifier, insufficientScope, readBearer } from '../../oauth/bearer.ts';
import { userClaims } from '../../oauth/claims.ts';
import { parseScope } from '../../oauth/scope.ts';

export function registerUserinfo(app: FastifyInstance, deps: Deps) {
  const verify = bearerVerifier(deps.keys, deps.storage, deps.config.issuer, () => deps.clock.now());
  async function userinfo(request: FastifyRequest, reply: FastifyReply) {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    const record = await verify(readBearer(request.headers.authorization));
    const scopes = parseScope(record.scope);
    if (!scopes.includes('openid')) throw insufficientScope('openid');
    const user = record.userId ? await deps.storage.users.findById(record.userId) : undefined;
    if (!user || user.disabledAt !== null) {
      throw new OAuthError('invalid_token', 'The user no longer exists', {
        headers: { 'WWW-Authenticate': 'Bearer realm="gatehouse", error="invalid_token"' },
      });
    }
    return userClaims(user, scopes);
  }
  app.get('/userinfo', userinfo);
  app.post('/userinfo', userinfo);
}
