// Minting access tokens in either format: JWTs per RFC 9068 (typ at+jwt, verifiable offline) whose jti is
// recorded, or opaque `gha_…` tokens recorded under their issue time and SHA-256 (checked by introspection). Either way the
// record makes the token revocable.
import type { AccessTokenFormat, SigningAlg } from '../config.ts';
import type { AccessTokenRecord } from '../storage/storage.ts';
import { epochSeconds } from '../util/clock.ts';
import { timeOrderedId } from '../util/random.ts';
import { signJwt } from './jws.ts';
import type { KeyRing } from './keys.ts';
import { mintOpaqueAccessToken, timeOrderedTokenKey } from './opaque-token.ts';

export interface AccessTokenInput {
  format: AccessTokenFormat;
  alg: SigningAlg;
  issuer: string;
  /** The user's id, or the client's for client_credentials (RFC 9068 §2.2). */
  subject: string;
  userId: string | null;
  audience: string;
  clientId: string;
  grantId: string;
  scope: string;
  authTime?: number;
  issuedAt: number;
  expiresAt: number;
  /** RFC 9449 §6: binds the token to this DPoP key (cnf.jkt in a JWT; recorded for introspection either way). */
  dpopJkt?: string | undefined;
}

export async function mintAccessToken(
  keys: KeyRing,
  input: AccessTokenInput,
): Promise<{ token: string; record: AccessTokenRecord }> {
  let token: string;
  let id: string;
  if (input.format === 'opaque') {
    token = mintOpaqueAccessToken(input.issuedAt);
    id = timeOrderedTokenKey(token);
  } else {
    const key = keys.signingKey(input.alg);
    id = timeOrderedId(input.issuedAt);
    const claims: Record<string, unknown> = { client_id: input.clientId, scope: input.scope };
    if (input.authTime !== undefined) claims.auth_time = epochSeconds(input.authTime);
    if (input.dpopJkt !== undefined) claims.cnf = { jkt: input.dpopJkt };
    Object.assign(claims, {
      iss: input.issuer,
      sub: input.subject,
      aud: input.audience,
      jti: id,
      iat: epochSeconds(input.issuedAt),
      exp: epochSeconds(input.expiresAt),
    });
    token = await signJwt(key, 'at+jwt', claims);
  }
  return {
    token,
    record: {
      id,
      grantId: input.grantId,
      clientId: input.clientId,
      userId: input.userId,
      scope: input.scope,
      audience: input.audience,
      createdAt: input.issuedAt,
      expiresAt: input.expiresAt,
      revokedAt: null,
      ...(input.dpopJkt === undefined ? {} : { dpopJkt: input.dpopJkt }),
    },
  };
}
