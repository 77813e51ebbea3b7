// What the token, revocation and introspection endpoints share: a form body answered with no-store, from a
// client that authenticates the way this deployment allows (RFC 6749 §2.3).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../deps.ts';
import type { FormParams } from '../http/form-body.ts';
import { authenticateClient, clientAuthOptions, readClientCredentials } from '../oauth/client-auth.ts';
import type { Client } from '../storage/storage.ts';

export function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

export async function authenticatedClient(
  deps: Deps,
  request: FastifyRequest,
  params: FormParams,
): Promise<Client> {
  return authenticateClient(
    deps.storage,
    readClientCredentials(request.headers.authorization, params),
    deps.clock.now(),
    {
      ...clientAuthOptions(deps.config),
      findClient: (clientId) => deps.clients.find(clientId, { ip: request.ip }),
      clientKeys: (client, kid) => deps.clients.keysFor(client, kid),
    },
  );
}
