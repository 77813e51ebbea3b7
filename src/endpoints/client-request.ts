// What the token, revocation and introspection endpoints share: a form body answered with no-store, from a
// client that authenticates the way this deployment allows (RFC 6749 §2.3).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../deps.ts';
import type { FormParams } from '../http/form-body.ts';
import { authenticateClient, clientAuthOptions, readClientCredentials } from '../oauth/client-auth.ts';
import { checkEndpointProof, endpointUrl } from '../oauth/dpop.ts';
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

/**
 * The request's DPoP proof for the endpoint at `path` (RFC 9449 §5), checked against the issuer's public URL of
 * that endpoint: the key's thumbprint, or undefined without a DPoP header. When nonces are on, the answer carries
 * the current one (DPoP-Nonce), errors included, so the client always holds a fresh nonce.
 */
export async function dpopProof(
  deps: Deps,
  request: FastifyRequest,
  reply: FastifyReply,
  path: string,
): Promise<string | undefined> {
  const proof = await checkEndpointProof(
    {
      storage: deps.storage,
      nonceKey: deps.rotationKey,
      requireNonce: deps.config.dpopNonce,
      now: deps.clock.now(),
    },
    request.headers.dpop,
    request.method,
    endpointUrl(deps.config.issuer, path),
  );
  if (proof?.nonce !== undefined) reply.header('dpop-nonce', proof.nonce);
  return proof?.jkt;
}
