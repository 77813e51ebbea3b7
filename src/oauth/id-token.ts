// OIDC Core §2 and §3.1.3.6: the ID token, with at_hash binding it to the access token.
import { createHash } from 'node:crypto';
import type { SigningAlg } from '../config.ts';
import { epochSeconds } from '../util/clock.ts';
import { signJwt } from './jws.ts';
import type { KeyRing } from './keys.ts';

/** at_hash: the left half of the hash of the access token, with the hash the alg uses (SHA-512 for Ed25519). */
export function accessTokenHash(accessToken: string, alg: SigningAlg): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256')
    .update(accessToken, 'ascii')
    .digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

export interface IdTokenInput {
  issuer: string;
  subject: string;
  clientId: string;
  nonce: string | null;
  authTime: number;
  /** OIDC Core §2 amr and acr: present only when the sign-in came with them (an upstream identity provider). */
  amr?: string[];
  acr?: string;
  issuedAt: number;
  expiresAt: number;
  accessToken: string;
  claims: Record<string, unknown>;
}

export async function signIdToken(keys: KeyRing, alg: SigningAlg, input: IdTokenInput): Promise<string> {
  const key = keys.signingKey(alg);
  const payload: Record<string, unknown> = {
    ...input.claims,
    auth_time: epochSeconds(input.authTime),
    at_hash: accessTokenHash(input.accessToken, alg),
    azp: input.clientId,
  };
  if (input.nonce !== null) payload.nonce = input.nonce;
  if (input.amr !== undefined && input.amr.length > 0) payload.amr = input.amr;
  if (input.acr !== undefined) payload.acr = input.acr;
  Object.assign(payload, {
    iss: input.issuer,
    sub: input.subject,
    aud: input.clientId,
    iat: epochSeconds(input.issuedAt),
    exp: epochSeconds(input.expiresAt),
  });
  return signJwt(key, 'JWT', payload);
}
