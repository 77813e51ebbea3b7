import { randomFillSync } from 'node:crypto';

// CSPRNG output is drawn from a small pool filled in one call: node:crypto's randomBytes costs about 2 µs per
// call (argument checks, a new buffer, a locked call into OpenSSL), and a code flow draws six values. The pool
// holds the same OpenSSL output, is used once front to back, and each value is zeroed as it is taken, so no
// past or future secret lingers in it longer than the next refill. (Node pools randomUUID the same way.)
const POOL_BYTES = 2048;
const pool = Buffer.alloc(POOL_BYTES);
let taken = POOL_BYTES;

/** `bytes` fresh random bytes as base64url. */
function randomBase64url(bytes: number): string {
  if (bytes > POOL_BYTES) throw new RangeError(`at most ${POOL_BYTES} random bytes at once`);
  if (taken + bytes > POOL_BYTES) {
    randomFillSync(pool);
    taken = 0;
  }
  const end = taken + bytes;
  const value = pool.toString('base64url', taken, end);
  pool.fill(0, taken, end);
  taken = end;
  return value;
}

/** A URL-safe random string with `bytes` bytes of CSPRNG entropy (32 bytes = 256 bits, 43 characters). */
export function randomToken(bytes = 32): string {
  return randomBase64url(bytes);
}

/**
 * A random identifier for rows that are not secrets (client, user and API key ids). 128 random bits, redrawn
 * until it starts with a letter or digit: an id that starts with "-" reads as an option on a command line
 * (`gatehouse api-keys revoke -9x…`).
 */
export function randomId(): string {
  for (;;) {
    const id = randomBase64url(16);
    const first = id.charCodeAt(0);
    if (first !== 0x2d && first !== 0x5f) return id; // "-", "_"
  }
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
  return timePrefix(now) + randomBase64url(16);
}
