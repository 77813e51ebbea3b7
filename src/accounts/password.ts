// Password hashing with scrypt (memory-hard, built into Node, runs on the libuv thread pool so the event loop
// keeps serving). Format: scrypt$<log2 N>$<r>$<p>$<salt>$<hash>, so the cost can rise without a migration.
// A user imported with another system's hash (foreign-hashes.ts) is checked with that algorithm until their
// first sign-in replaces it with this format.
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { concurrencyLimit, threadPoolSize } from '../util/limit.ts';
import { HashFormatError, parseForeignHash, verifyForeignHash } from './foreign-hashes.ts';

const KEY_LENGTH = 32;

/**
 * GATEHOUSE_PASSWORD_COST's default: scrypt N = 2^17, r = 8, p = 1, OWASP's minimum for scrypt (Password Storage
 * Cheat Sheet). Measured with bench/password-cost.ts on the 2-core VM the benchmarks run on, CPU time per check
 * (all threads), on a quiet machine (load 1.3): 2^15 0.20 s, 2^16 0.34 s, 2^17 0.69 s; one check takes 0.64 s
 * and a 2-core process does 2.9 checks a second. A sign-in is rare next to token traffic (sessions last hours,
 * refresh tokens avoid it), so the attacker's 4× cost per guess is worth it. Memory: 128 MiB per check in
 * flight, and at most two run at once (`hashing` below): a machine with less to spare sets 16 or 15.
 */
export const DEFAULT_PASSWORD_COST = 17;

/**
 * Password checks may use all but two of libuv's threads (at least one): the rest stay free for fs calls, among
 * them SQLite's fdatasync that every token request's commit waits for (util/limit.ts). With the default pool of
 * 4 that is two checks at once: as many as two cores can run anyway, and 256 MiB at most at N=2^17.
 */
export const hashing = concurrencyLimit(Math.max(1, threadPoolSize() - 2));

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return hashing.run(
    () =>
      new Promise((resolve, reject) => {
        scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (error, key) =>
          error ? reject(error) : resolve(key),
        );
      }),
  );
}

function optionsFor(logN: number, r: number, p: number): ScryptOptions {
  const N = 2 ** logN;
  return { N, r, p, maxmem: 256 * N * r + 1024 * 1024 };
}

/**
 * The stored "hash" of a user who has no password: one created by a first sign-in through an upstream identity
 * provider, or imported with `"password_hash": null`. It is not in any hash format, so verifyPassword matches no password against it, and sign-in checks
 * the dummy hash instead (passwordCheck), so such an account is refused after the same work as a wrong password.
 * An administrator's password reset gives the user a real one.
 */
export const NO_PASSWORD_HASH = '!no-password';

/**
 * Whether a stored hash stands for "no password" rather than a hash: any value starting with `!` (as in
 * /etc/shadow). NO_PASSWORD_HASH is one; the storage layer writes `!external` for a subject the company's own
 * sign-in pages vouch for. No hash format starts with `!`, so none can be mistaken for one.
 */
export function isNoPassword(stored: string): boolean {
  return stored.startsWith('!');
}

export async function hashPassword(password: string, logN = DEFAULT_PASSWORD_COST): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, optionsFor(logN, 8, 1));
  return ['scrypt', logN, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$');
}

const GATEHOUSE_HASH = /^scrypt\$\d{1,2}\$\d{1,3}\$\d{1,3}\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/;

/** Whether `stored` is in Gatehouse's own format (not a foreign hash, not NO_PASSWORD_HASH). */
export function isGatehouseHash(stored: string): boolean {
  return GATEHOUSE_HASH.test(stored);
}

/**
 * Checks a hash that an import brings, in Gatehouse's format or a foreign one, and returns why it cannot be
 * used (a message for the import's per-line error), or undefined when sign-in can check it.
 */
export function passwordHashProblem(stored: string): string | undefined {
  if (isGatehouseHash(stored)) {
    const [, logN, r, p] = stored.split('$').map(Number);
    if (
      logN! < 10 ||
      logN! > 20 ||
      r! < 1 ||
      r! > 32 ||
      p! < 1 ||
      p! > 16 ||
      128 * 2 ** logN! * r! > 2 ** 30
    ) {
      return 'Gatehouse scrypt parameters out of range (log2 N 10–20, r 1–32, p 1–16, at most 1 GiB)';
    }
    return undefined;
  }
  try {
    parseForeignHash(stored);
    return undefined;
  } catch (error) {
    if (error instanceof HashFormatError) return error.message;
    throw error;
  }
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (!isGatehouseHash(stored)) {
    if (isNoPassword(stored)) return false;
    let foreign: ReturnType<typeof parseForeignHash>;
    try {
      foreign = parseForeignHash(stored);
    } catch (error) {
      if (error instanceof HashFormatError) return false;
      throw error;
    }
    return hashing.run(() => verifyForeignHash(password, foreign));
  }
  const [, logN, r, p, salt, hash] = stored.split('$');
  if (!salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await derive(
    password,
    Buffer.from(salt, 'base64url'),
    optionsFor(Number(logN), Number(r), Number(p)),
  );
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** The cost (log2 N) a stored hash was made with; undefined for a hash this module did not make. */
export function hashCost(stored: string): number | undefined {
  return isGatehouseHash(stored) ? Number(stored.split('$')[1]) : undefined;
}

/**
 * Sign-in's password check at the configured cost (GATEHOUSE_PASSWORD_COST). An unknown email is checked
 * against a dummy hash of that same cost, so it takes as long as a real user's check and does not tell which
 * emails exist. A user's hash made at another cost (before the setting changed) would take another time, so
 * the first sign-in with the right password rehashes it at the configured cost (rehash), and users converge.
 */
export function passwordCheck(cost: number) {
  // Random bytes in the hash format, not a computed hash: checking a password against it costs exactly what a
  // real check at this cost does, and making it costs nothing. Computing one at start-up took 128 MiB and most
  // of a second of CPU at N=2^17 on every start (peak RSS 156 → 254 MB in npm run bench).
  const dummyHash = [
    'scrypt',
    cost,
    8,
    1,
    randomBytes(16).toString('base64url'),
    randomBytes(KEY_LENGTH).toString('base64url'),
  ].join('$');
  return {
    /** The dummy an unknown email is checked against, at the configured cost; no password matches it. */
    dummyHash,
    /** Whether `password` matches `stored`; false for no stored hash or NO_PASSWORD_HASH, after the same work. */
    async verify(password: string, stored: string | undefined): Promise<boolean> {
      const usable = stored !== undefined && !isNoPassword(stored);
      const matches = await verifyPassword(password, usable ? stored : dummyHash);
      return usable && matches;
    },
    /**
     * A new hash at the configured cost when `stored` (whose password is `password`) has another cost or is
     * another system's hash (an imported user's first sign-in).
     */
    async rehash(password: string, stored: string): Promise<string | undefined> {
      return hashCost(stored) === cost ? undefined : hashPassword(password, cost);
    },
  };
}

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;
