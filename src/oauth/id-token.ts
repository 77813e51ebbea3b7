// OIDC Core §2 and §3.1.3.6: the ID token, with at_hash binding it to the access token.
import { createHash } from 'node:crypto';
import { compactVerify, createLocalJWKSet, decodeProtectedHeader } from 'jose';
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

/**
 * OpenID Connect Front- and Back-Channel Logout `sid`: names the login session in ID tokens and logout tokens.
 * Derived from the session's stored hash (itself a hash of the cookie), so nothing more is stored and a `sid`
 * gives no way back to the cookie.
 */
export function sessionSid(sessionIdHash: string): string {
  return createHash('sha256').update(`sid:${sessionIdHash}`).digest('base64url').slice(0, 32);
}

export interface IdTokenInput {
  issuer: string;
  subject: string;
  clientId: string;
  nonce: string | null;
  /** null when the sign-in time is unknown (a grant older than the column): then no auth_time claim. */
  authTime: number | null;
  /** The login session (back-channel logout, OIDC Back-Channel Logout 1.0 §2.1). */
  sid?: string | undefined;
  /** OIDC Core §2 amr and acr: present only when the sign-in came with them (an upstream identity provider, or the company's
   * login app). */
  amr?: string[] | undefined;
  acr?: string | undefined;
  issuedAt: number;
  expiresAt: number;
  accessToken: string;
  claims: Record<string, unknown>;
}

export async function signIdToken(keys: KeyRing, alg: SigningAlg, input: IdTokenInput): Promise<string> {
  const key = keys.signingKey(alg);
  const payload: Record<string, unknown> = {
    ...input.claims,
    at_hash: accessTokenHash(input.accessToken, alg),
    azp: input.clientId,
  };
  if (input.authTime !== null) payload.auth_time = epochSeconds(input.authTime);
  if (input.nonce !== null) payload.nonce = input.nonce;
  if (input.sid !== undefined) payload.sid = input.sid;
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

/** What the end-session endpoint learns from an id_token_hint. */
export interface IdTokenHint {
  subject: string;
  /** The client the ID token was issued to (azp, or the single aud). */
  clientId: string;
}

/**
 * OpenID Connect RP-Initiated Logout 1.0 §2: an id_token_hint is an ID token this server issued. Its signature
 * (by a key still in the JWKS) and issuer are checked; its expiry is not (the spec asks OPs to accept expired
 * ones: a user signing out after an hour still holds the ID token from the sign-in). Undefined when it is not
 * one of ours.
 */
export async function readIdTokenHint(
  keys: KeyRing,
  issuer: string,
  token: string,
): Promise<IdTokenHint | undefined> {
  if (token.length > 16_384) return undefined;
  try {
    const header = decodeProtectedHeader(token);
    if (typeof header.kid !== 'string' || !(await keys.knows(header.kid))) return undefined;
    const { payload } = await compactVerify(token, createLocalJWKSet(keys.jwks()));
    const claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    const clientId = typeof claims.azp === 'string' ? claims.azp : aud.length === 1 ? aud[0] : undefined;
    if (claims.iss !== issuer || typeof claims.sub !== 'string' || typeof clientId !== 'string') {
      return undefined;
    }
    // An access token is a JWT from the same keys: only an ID token (no token type, a nonce-capable shape) counts.
    if (header.typ === 'at+jwt') return undefined;
    return { subject: claims.sub, clientId };
  } catch {
    return undefined;
  }
}
