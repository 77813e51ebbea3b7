// Minting access tokens: JWTs per RFC 9068 (typ at+jwt), whose jti is recorded so they can be revoked.
import { SignJWT } from 'jose';
import type { SigningAlg } from '../config.ts';
import { epochSeconds } from '../util/clock.ts';
import { randomId } from '../util/random.ts';
import type { KeyRing } from './keys.ts';

export interface AccessTokenClaims {
  issuer: string;
  subject: string;
  audience: string;
  clientId: string;
  scope: string;
  authTime?: number;
  issuedAt: number;
  expiresAt: number;
}

export async function signAccessToken(
  keys: KeyRing,
  alg: SigningAlg,
  claims: AccessTokenClaims,
): Promise<{ token: string; jti: string }> {
  const key = keys.signingKey(alg);
  const jti = randomId();
  const payload: Record<string, unknown> = { client_id: claims.clientId, scope: claims.scope };
  if (claims.authTime !== undefined) payload.auth_time = epochSeconds(claims.authTime);
  const token = await new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, typ: 'at+jwt', kid: key.kid })
    .setIssuer(claims.issuer)
    .setSubject(claims.subject)
    .setAudience(claims.audience)
    .setJti(jti)
    .setIssuedAt(epochSeconds(claims.issuedAt))
    .setExpirationTime(epochSeconds(claims.expiresAt))
    .sign(key.privateKey);
  return { token, jti };
}
