// Opaque credentials (refresh tokens, authorization codes, client secrets) look like `ghr_<43 chars><6 chars>`:
// a type prefix that secret scanners can match, 256 bits of CSPRNG output, and a CRC32 tail so that a mistyped
// or truncated value is refused without a database lookup. Only SHA-256 of the whole string is ever stored.
import { crc32 } from 'node:zlib';
import { randomToken } from '../util/random.ts';

export const TOKEN_PREFIX = {
  refreshToken: 'ghr_',
  accessToken: 'gha_',
  apiKey: 'ghk_',
  authorizationCode: 'ghc_',
  clientSecret: 'ghs_',
} as const;

function checksum(value: string): string {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(crc32(value));
  return buffer.toString('base64url');
}

export function mintOpaqueToken(prefix: string): string {
  return opaqueTokenFrom(prefix, randomToken(32));
}

/** Formats 43 base64url characters (256 bits) as a prefixed, checksummed token. */
export function opaqueTokenFrom(prefix: string, body43: string): string {
  const body = prefix + body43;
  return body + checksum(body);
}

/** True when the value has the prefix, the length and a matching checksum (it may still be unknown). */
export function isWellFormedOpaqueToken(value: string, prefix: string): boolean {
  if (!value.startsWith(prefix) || value.length !== prefix.length + 43 + 6) return false;
  const body = value.slice(0, -6);
  return checksum(body) === value.slice(-6);
}
