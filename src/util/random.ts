import { randomBytes } from 'node:crypto';

/** A URL-safe random string with `bytes` bytes of CSPRNG entropy (32 bytes = 256 bits, 43 characters). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** A random identifier for rows that are not secrets (grant ids, key ids). 128 bits. */
export function randomId(): string {
  return randomBytes(16).toString('base64url');
}
