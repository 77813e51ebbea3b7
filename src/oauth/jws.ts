// Signing a JWT (compact JWS, RFC 7515 §7.1). ES256 and EdDSA are signed with node:crypto on the calling
// thread; RS256 goes through jose (WebCrypto, libuv's thread pool). jose's WebCrypto path hands every
// signature to another thread: for a 25 µs ES256 signature that hop cost more than the signature. An RS256
// signature takes about 0.9 ms, long enough to stall every other request if it ran on the event loop, so it
// stays off it. jose still does all verification and key import.
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
  typ: 'JWT' | 'at+jwt' | 'logout+jwt',
  claims: Record<string, unknown>,
): Promise<string> {
  if (key.alg === 'RS256') {
    return new SignJWT(claims).setProtectedHeader({ alg: key.alg, typ, kid: key.kid }).sign(key.privateKey);
  }
  const input = `${base64url({ alg: key.alg, typ, kid: key.kid })}.${base64url(claims)}`;
  // The KeyObject is passed bare, never as `{ key, dsaEncoding: 'ieee-p1363' }`: node:crypto tells an options
  // object from a key by asking whether it is a KeyObject and then a CryptoKey, and each "no" is an exception
  // whose stack trace is captured under the whole request's stack. Measured on the token endpoint: an ES256
  // signature cost 86-94 µs there against 25 µs alone; with the bare key and the conversion below, 32 µs.
  const signature =
    key.alg === 'ES256'
      ? p1363FromDer(sign('sha256', Buffer.from(input), key.keyObject))
      : sign(null, Buffer.from(input), key.keyObject); // Ed25519 hashes internally
  return `${input}.${signature.toString('base64url')}`;
}

const P256_SCALAR_BYTES = 32;

/**
 * JWS wants an ECDSA signature as the raw r||s pair (RFC 7518 §3.4); OpenSSL gives DER, SEQUENCE { INTEGER r,
 * INTEGER s }. A P-256 signature is at most 72 bytes, so every DER length here is one byte; each integer is
 * big-endian with a leading zero byte when its top bit is set, and shorter when its leading bytes are zero.
 */
export function p1363FromDer(der: Buffer): Buffer {
  if (der[0] !== 0x30 || der[1] !== der.length - 2) throw new Error('Not a DER ECDSA signature');
  const out = Buffer.alloc(2 * P256_SCALAR_BYTES);
  let offset = 2;
  for (let part = 0; part < 2; part++) {
    const length = der[offset + 1]!;
    if (der[offset] !== 0x02 || length < 1 || offset + 2 + length > der.length) {
      throw new Error('Not a DER ECDSA signature');
    }
    let start = offset + 2;
    let size = length;
    while (size > P256_SCALAR_BYTES) {
      if (der[start] !== 0) throw new Error('ECDSA integer too long for P-256');
      start++;
      size--;
    }
    der.copy(out, (part + 1) * P256_SCALAR_BYTES - size, start, start + size);
    offset += 2 + length;
  }
  if (offset !== der.length) throw new Error('Not a DER ECDSA signature');
  return out;
}
