import { hash, timingSafeEqual } from 'node:crypto';

/** SHA-256 as base64url: how every token, code and client secret is stored (they are random, so no KDF). */
// crypto.hash is the one-shot form: no Hash object, and a third of createHash().update().digest()'s cost.
export function sha256(value: string): string {
  return hash('sha256', value, 'base64url');
}

/** Constant-time comparison of two strings (lengths are not secret: both sides are fixed-size hashes). */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  if (left.length !== right.length) return false;
  return timingSafeEqual(left, right);
}
