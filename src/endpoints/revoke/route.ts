// RFC 7009: a client revokes one of its own tokens. A refresh token takes its whole family (grant) with it;
// an access token goes alone. Unknown tokens, and other clients' tokens, answer 200 and change nothing.
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../../deps.ts';
import { OAuthError } from '../../errors.ts';
import { allowCorsFor } from '../../http/cors.ts';
import type { FormParams } from '../../http/form-body.ts';
import type { Introspect } from '../../oauth/introspection.ts';
import { recordSecurityEvent } from '../../oauth/security-events.ts';
import { authenticatedClient, noStore } from '../client-request.ts';

export function registerRevoke(app: FastifyInstance, deps: Deps, introspect: Introspect) {
  app.post(deps.config.paths.revoke, async (request, reply) => {
    noStore(reply);
    const params = (request.body ?? {}) as FormParams;
    const client = await authenticatedClient(deps, request, params);
    allowCorsFor(request, client);
    if (!params.token) throw new OAuthError('invalid_request', 'The request has no token');
    // token_type_hint is only a hint (RFC 7009 §2.1): the token's own prefix or shape says what it is.
    const active = await introspect(params.token, client.id);
    if (active && active.client_id === client.id) {
      const now = deps.clock.now();
      if (active.kind === 'refresh_token' && active.grantId)
        await deps.storage.grants.revoke(active.grantId, now);
      else if (active.kind === 'access_token') await deps.storage.accessTokens.revoke(active.recordId, now);
      await recordSecurityEvent(deps.storage, now, 'token_revoked', {
        actor: { kind: 'client', id: client.id, name: client.name },
        ip: request.ip,
        clientId: client.id,
        clientName: client.name,
        userId: active.userId,
        grantId: active.grantId,
        detail: { kind: active.kind },
      });
    }
    // RFC 7009 §2.2: "The content of the response body is ignored by the client". An empty JSON object rather
    // than no body at all: some client libraries parse every 200 as JSON and throw on an empty one.
    return reply.code(200).send({});
  });
}
