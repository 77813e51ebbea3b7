// RFC 9728: Protected Resource Metadata for Gatehouse's own protected endpoints, so a client holding only the
// userinfo URL (or an MCP client following a 401's resource_metadata) finds its authorization server.

import { DPOP_ALGORITHMS, protectedResourceMetadata } from '@gatehouse/resource';
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../../deps.ts';

export function registerResourceMetadata(app: FastifyInstance, deps: Deps) {
  const body = JSON.stringify(
    protectedResourceMetadata({
      resource: deps.config.issuer,
      authorizationServers: [deps.config.issuer],
      scopes: ['openid', 'profile', 'email'],
      resourceName: deps.config.productName,
      // DPoP-bound tokens are accepted (RFC 9449 §7); never required here: API keys are bearer credentials.
      dpopSigningAlgorithms: DPOP_ALGORITHMS,
    }),
  );
  app.get('/.well-known/oauth-protected-resource', async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').type('application/json; charset=utf-8').send(body),
  );
}
