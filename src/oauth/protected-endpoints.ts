// Gatehouse's own protected endpoints (userinfo, deauthorize, the token test endpoint) check tokens with the
// same resource-server library an API would use, asking the in-process introspection so that revoked tokens
// are refused at once.

import { createVerifier, type IntrospectionResponse, type Verifier } from '@gatehouse/resource';
import type { Config } from '../config.ts';
import type { Introspect } from './introspection.ts';

export function ownResourceVerifier(config: Config, introspect: Introspect, now: () => number): Verifier {
  return createVerifier({
    issuer: config.issuer,
    audience: config.issuer,
    realm: config.realm,
    resourceMetadata: `${config.issuer}/.well-known/oauth-protected-resource`,
    introspectEverything: true,
    allowQueryToken: config.legacy.queryAccessToken,
    allowOAuthScheme: config.legacy.oauthAuthScheme,
    now,
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
