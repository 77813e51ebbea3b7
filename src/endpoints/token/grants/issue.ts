// Minting the token response for a grant: access token (RFC 9068 JWT), refresh token, ID token. Shared by every
// grant so that each issues tokens the same way.

import type { SigningAlg } from '../../../config.ts';
import type { Deps } from '../../../deps.ts';
import { userClaims } from '../../../oauth/claims.ts';
import { signIdToken } from '../../../oauth/id-token.ts';
import { mintOpaqueToken, TOKEN_PREFIX } from '../../../oauth/opaque-token.ts';
import { parseScope } from '../../../oauth/scope.ts';
import { signAccessToken } from '../../../oauth/tokens.ts';
import type { Client, User } from '../../../storage/storage.ts';
import { sha256 } from '../../../util/hash.ts';
import { randomId } from '../../../util/random.ts';
import type { TokenResponse } from './types.ts';

export interface IssueInput {
  client: Client;
  user: User;
  grantId: string;
  scope: string;
  authTime: number;
  nonce: string | null;
}

export function wantsRefreshToken(deps: Deps, client: Client, scopes: readonly string[]): boolean {
  if (!client.grantTypes.includes('refresh_token')) return false;
  // MCP clients register for the refresh grant and never ask for offline_access; OIDC's stricter reading
  // (offline_access required) is a setting.
  return !deps.config.requireOfflineAccess || scopes.includes('offline_access');
}

export async function issueTokens(deps: Deps, input: IssueInput): Promise<TokenResponse> {
  const { config, clock, keys } = deps;
  const now = clock.now();
  const scopes = parseScope(input.scope);
  const accessExpiresAt = now + config.accessTokenTtl * 1000;
  const access = await signAccessToken(keys, config.accessTokenAlg, {
    issuer: config.issuer,
    subject: input.user.id,
    audience: config.issuer,
    clientId: input.client.id,
    scope: input.scope,
    authTime: input.authTime,
    issuedAt: now,
    expiresAt: accessExpiresAt,
  });
  const refreshToken = wantsRefreshToken(deps, input.client, scopes)
    ? mintOpaqueToken(TOKEN_PREFIX.refreshToken)
    : undefined;
  let idToken: string | undefined;
  if (scopes.includes('openid')) {
    const alg = (input.client.idTokenSignedResponseAlg as SigningAlg | null) ?? config.idTokenAlg;
    idToken = await signIdToken(keys, alg, {
      issuer: config.issuer,
      subject: input.user.id,
      clientId: input.client.id,
      nonce: input.nonce,
      authTime: input.authTime,
      issuedAt: now,
      expiresAt: now + config.idTokenTtl * 1000,
      accessToken: access.token,
      claims: userClaims(input.user, scopes),
    });
  }

  // Every row of this response commits together, or none does. The grant row already exists (it was created
  // with the code), so a revocation of the grant that races with this insert still covers these tokens.
  await deps.storage.transaction(async (tx) => {
    await tx.accessTokens.create({
      id: access.jti,
      grantId: input.grantId,
      clientId: input.client.id,
      userId: input.user.id,
      scope: input.scope,
      createdAt: now,
      expiresAt: accessExpiresAt,
      revokedAt: null,
    });
    if (refreshToken) {
      await tx.refreshTokens.create({
        tokenHash: sha256(refreshToken),
        id: randomId(),
        grantId: input.grantId,
        clientId: input.client.id,
        userId: input.user.id,
        scope: input.scope,
        createdAt: now,
        expiresAt: now + config.refreshTokenTtl * 1000,
        rotatedAt: null,
        revokedAt: null,
      });
    }
  });

  const response: TokenResponse = {
    access_token: access.token,
    token_type: 'Bearer',
    expires_in: config.accessTokenTtl,
    scope: input.scope,
  };
  if (refreshToken) response.refresh_token = refreshToken;
  if (idToken) response.id_token = idToken;
  return response;
}
