// Gatehouse's own protected endpoints (userinfo, deauthorize, the token test endpoint) check tokens with the
// same resource-server library an API would use, asking the in-process introspection so that revoked tokens
// are refused at once.

import { createVerifier, type IntrospectionResponse, type Verifier } from '@gatehouse/resource';
import type { Config } from '../config.ts';
import type { Storage } from '../storage/storage.ts';
import { databaseReplayCache, PROOF_MAX_AGE_SECONDS } from './dpop.ts';
import type { Introspect } from './introspection.ts';

export function ownResourceVerifier(
  config: Config,
  introspect: Introspect,
  now: () => number,
  storage: Storage,
): Verifier {
  return createVerifier({
    issuer: config.issuer,
    audience: config.issuer,
    realm: config.realm,
    resourceMetadata: `${config.issuer}/.well-known/oauth-protected-resource`,
    introspectEverything: true,
    allowQueryToken: config.legacy.queryAccessToken,
    allowOAuthScheme: config.legacy.oauthAuthScheme,
    now,
    // DPoP-bound tokens (RFC 9449 §7): proofs name the endpoint's public URL under the issuer (never the Host
    // header), and each is accepted once across every instance (the database remembers it). No resource-server
    // nonce: the iat window and the shared replay cache bound a proof here; the token endpoint has the nonce.
    dpop: {
      replayCache: databaseReplayCache(storage, now),
      maxAgeSeconds: PROOF_MAX_AGE_SECONDS,
      requestUrl: (request) => `${config.issuer}${(request.url ?? '/').split('?')[0]}`,
    },
    introspection: async (token): Promise<IntrospectionResponse> => {
      const active = await introspect(token);
      if (!active || active.kind === 'refresh_token') {
        // In-process only: lets the library answer "The access token expired" instead of "not active".
        return (await introspect.expired(token)) ? { active: false, expired: true } : { active: false };
      }
      const { recordId: _r, grantId: _g, userId: _u, kind: _k, ...response } = active;
      return response;
    },
  });
}
