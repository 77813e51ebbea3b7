import { randomBytes } from 'node:crypto';

/** A URL-safe random string with `bytes` bytes of CSPRNG entropy (32 bytes = 256 bits, 43 characters). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** A random identifier for rows that are not secrets (grant ids, key ids). 128 bits. */
export function randomId(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * Milliseconds since the epoch as 9 base32hex characters (0-9a-v), which sort in time order as plain text
 * until the year 3084.
 */
export function timePrefix(now: number): string {
  return now.toString(32).padStart(9, '0');
}

/**
 * An identifier that sorts by creation time, then 128 random bits. Rows keyed by it are appended at the right
 * edge of their B-tree indexes, so a busy server dirties a few pages per commit instead of one page per index
 * per row (random keys made each token's commit write several 4 KB pages to SQLite's WAL).
 */
export function timeOrderedId(now: number = Date.now()): string {
  return timePrefix(now) + randomBytes(16).toString('base64url');
}
