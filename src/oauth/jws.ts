// Signing a JWT (compact JWS, RFC 7515 §7.1). ES256 and EdDSA are signed with node:crypto on the calling
// thread; RS256 goes through jose (WebCrypto, libuv's thread pool). jose's WebCrypto path hands every
// signature to another thread: for a 50 µs ES256 signature that hop cost more than the signature (the
// client_credentials JWT benchmark spent about 140 µs of CPU per token above the opaque path, against about
// 60 µs here). An RS256 signature takes about 0.9 ms, long enough to stall every other request if it ran on
// the event loop, so it stays off it. jose still does all verification and key import.
import { type KeyObject, sign } from 'node:crypto';
import { type CryptoKey, SignJWT } from 'jose';
import type { SigningAlg } from '../config.ts';

export interface JwtSigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: CryptoKey;
  /** The same key for node:crypto. */
  keyObject: KeyObject;
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export async function signJwt(
  key: JwtSigningKey,
  typ: 'JWT' | 'at+jwt',
  claims: Record<string, unknown>,
): Promise<string> {
  if (key.alg === 'RS256') {
    return new SignJWT(claims).setProtectedHeader({ alg: key.alg, typ, kid: key.kid }).sign(key.privateKey);
  }
  const input = `${base64url({ alg: key.alg, typ, kid: key.kid })}.${base64url(claims)}`;
  const signature =
    key.alg === 'ES256'
      ? // JWS wants the raw r||s pair (RFC 7518 §3.4), not DER.
        sign('sha256', Buffer.from(input), { key: key.keyObject, dsaEncoding: 'ieee-p1363' })
      : sign(null, Buffer.from(input), key.keyObject); // Ed25519 hashes internally
  return `${input}.${signature.toString('base64url')}`;
}
