// Password hashes made by other systems (docs/import.md). An import keeps them as they are; the user's first
// sign-in checks the password with the hash's own algorithm, once, and password.ts replaces it with Gatehouse's
// scrypt. Every parameter is bounded here, when the import reads it: an import file must not be able to make a
// sign-in cost minutes of CPU or gigabytes of memory (docs/security.md D-11).
import { argon2, createHash, pbkdf2, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { Worker } from 'node:worker_threads';

export type Argon2Type = 'argon2id' | 'argon2i' | 'argon2d';
export type Pbkdf2Digest = 'sha1' | 'sha256' | 'sha512';

export type ForeignHash =
  /** `$2a$`, `$2b$`, `$2y$`; Django's `bcrypt_sha256$` checks the hex SHA-256 of the password instead. */
  | { algorithm: 'bcrypt'; hash: string; cost: number; sha256First: boolean }
  | {
      algorithm: 'argon2';
      type: Argon2Type;
      /** KiB. */
      memory: number;
      passes: number;
      parallelism: number;
      salt: Buffer;
      hash: Buffer;
    }
  | { algorithm: 'scrypt'; N: number; r: number; p: number; salt: Buffer; hash: Buffer }
  | { algorithm: 'pbkdf2'; digest: Pbkdf2Digest; iterations: number; salt: Buffer; hash: Buffer };

/**
 * The most one check may cost. Each bound keeps one check under about 5 s of CPU on the 2-core VM the benchmarks
 * run on (bcryptjs cost 12: 0.38 s; PBKDF2-SHA256 at 10^6: 0.24 s; Argon2id m=64 MiB t=3: 0.31 s) and under
 * 1 GiB of memory. Real deployments sit far below: bcrypt 10–13, Django's PBKDF2 600,000–1,000,000, Argon2
 * m=19–64 MiB.
 */
export const FOREIGN_HASH_LIMITS = {
  bcryptCost: { min: 4, max: 15 },
  argon2MemoryKiB: 1024 * 1024,
  argon2Passes: 10,
  /** memory × passes, KiB: 1 GiB × 3 passes. */
  argon2Work: 3 * 1024 * 1024,
  argon2Parallelism: 16,
  /** 128 · N · r, bytes. */
  scryptMemory: 1024 * 1024 * 1024,
  scryptParallelism: 16,
  pbkdf2Iterations: 10_000_000,
} as const;

/** Why a hash cannot be imported; the message is shown on the import's per-line error. */
export class HashFormatError extends Error {}

const BCRYPT = /^\$2([aby])\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const DIGITS = /^[1-9]\d{0,9}$/;

function positive(text: string | undefined, what: string): number {
  if (text === undefined || !DIGITS.test(text))
    throw new HashFormatError(`${what} is not a positive integer`);
  return Number(text);
}

/** PHC strings' B64: standard alphabet, no padding (RFC 4648 §4); padding tolerated. */
function phcBase64(text: string | undefined, what: string): Buffer {
  if (!text || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new HashFormatError(`${what} is not base64`);
  return Buffer.from(text, 'base64');
}

/** passlib's "adapted base64": the standard alphabet with "." for "+", no padding. */
function passlibBase64(text: string | undefined, what: string): Buffer {
  if (!text || !/^[A-Za-z0-9./]+$/.test(text)) throw new HashFormatError(`${what} is not passlib base64`);
  return Buffer.from(text.replaceAll('.', '+'), 'base64');
}

function lengthBetween(bytes: Buffer, min: number, max: number, what: string): Buffer {
  if (bytes.length < min || bytes.length > max) {
    throw new HashFormatError(`${what} must be ${min}–${max} bytes, not ${bytes.length}`);
  }
  return bytes;
}

/** `m=65536,t=3,p=4` → { m: '65536', … }; each name at most once, no others. */
function phcParameters(text: string | undefined, allowed: readonly string[]): Record<string, string> {
  const parameters: Record<string, string> = {};
  for (const pair of (text ?? '').split(',')) {
    const [name, value, extra] = pair.split('=');
    if (
      !name ||
      value === undefined ||
      extra !== undefined ||
      !allowed.includes(name) ||
      name in parameters
    ) {
      throw new HashFormatError(`unexpected parameter "${pair}" (expected ${allowed.join(', ')})`);
    }
    parameters[name] = value;
  }
  return parameters;
}

function bcrypt(hash: string, sha256First: boolean): ForeignHash {
  const match = BCRYPT.exec(hash);
  if (!match)
    throw new HashFormatError('not a bcrypt hash ($2a$, $2b$ or $2y$, a two-digit cost, 53 characters)');
  const cost = Number(match[2]);
  const { min, max } = FOREIGN_HASH_LIMITS.bcryptCost;
  if (cost < min || cost > max) throw new HashFormatError(`bcrypt cost ${cost} is outside ${min}–${max}`);
  return { algorithm: 'bcrypt', hash, cost, sha256First };
}

/** `$argon2id$v=19$m=…,t=…,p=…$salt$hash` (the reference implementation's PHC string). */
function argon2Phc(text: string): ForeignHash {
  const [empty, type, version, parameterText, salt, hash, extra] = text.split('$');
  if (
    empty !== '' ||
    extra !== undefined ||
    (type !== 'argon2id' && type !== 'argon2i' && type !== 'argon2d')
  ) {
    throw new HashFormatError('not an Argon2 PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash)');
  }
  // Node's Argon2 (OpenSSL) computes version 1.3 only; 1.0 (no v=, or v=16) predates 2016.
  if (version !== 'v=19') throw new HashFormatError('only Argon2 version 19 (v=19) is supported');
  const parameters = phcParameters(parameterText, ['m', 't', 'p']);
  const memory = positive(parameters.m, 'argon2 m');
  const passes = positive(parameters.t, 'argon2 t');
  const parallelism = positive(parameters.p, 'argon2 p');
  const limits = FOREIGN_HASH_LIMITS;
  if (memory > limits.argon2MemoryKiB) throw new HashFormatError(`argon2 m=${memory} is over 1 GiB`);
  if (passes > limits.argon2Passes)
    throw new HashFormatError(`argon2 t=${passes} is over ${limits.argon2Passes}`);
  if (memory * passes > limits.argon2Work) throw new HashFormatError('argon2 m × t is over 1 GiB × 3');
  if (parallelism > limits.argon2Parallelism) throw new HashFormatError(`argon2 p=${parallelism} is over 16`);
  if (memory < 8 * parallelism) throw new HashFormatError('argon2 m must be at least 8 × p');
  return {
    algorithm: 'argon2',
    type,
    memory,
    passes,
    parallelism,
    salt: lengthBetween(phcBase64(salt, 'argon2 salt'), 8, 64, 'argon2 salt'),
    hash: lengthBetween(phcBase64(hash, 'argon2 hash'), 4, 128, 'argon2 hash'),
  };
}

function scryptHash(N: number, r: number, p: number, salt: Buffer, hash: Buffer): ForeignHash {
  if (N < 2 || N > 2 ** 30 || (N & (N - 1)) !== 0) throw new HashFormatError('scrypt N must be a power of 2');
  if (128 * N * r > FOREIGN_HASH_LIMITS.scryptMemory)
    throw new HashFormatError('scrypt 128 · N · r is over 1 GiB');
  if (p > FOREIGN_HASH_LIMITS.scryptParallelism) throw new HashFormatError(`scrypt p=${p} is over 16`);
  return {
    algorithm: 'scrypt',
    N,
    r,
    p,
    salt: lengthBetween(salt, 1, 128, 'scrypt salt'),
    hash: lengthBetween(hash, 16, 128, 'scrypt hash'),
  };
}

const PBKDF2_DIGESTS = new Map<string | undefined, Pbkdf2Digest>([
  ['pbkdf2', 'sha1'],
  ['pbkdf2-sha1', 'sha1'],
  ['pbkdf2-sha256', 'sha256'],
  ['pbkdf2-sha512', 'sha512'],
]);

function pbkdf2Hash(digest: Pbkdf2Digest, iterations: number, salt: Buffer, hash: Buffer): ForeignHash {
  const max = FOREIGN_HASH_LIMITS.pbkdf2Iterations;
  if (iterations > max) throw new HashFormatError(`PBKDF2 iterations ${iterations} are over ${max}`);
  return {
    algorithm: 'pbkdf2',
    digest,
    iterations,
    salt: lengthBetween(salt, 1, 128, 'PBKDF2 salt'),
    hash: lengthBetween(hash, 16, 128, 'PBKDF2 hash'),
  };
}

/** `$pbkdf2-sha256$29000$salt$hash` (passlib, adapted base64) or `$pbkdf2-sha256$i=4096,l=32$salt$hash` (PHC). */
function pbkdf2Modular(text: string): ForeignHash {
  const [empty, ident, rounds, salt, hash, extra] = text.split('$');
  const digest = PBKDF2_DIGESTS.get(ident);
  if (empty !== '' || extra !== undefined || !digest) throw new HashFormatError('not a PBKDF2 hash');
  if (rounds?.startsWith('i=')) {
    const parameters = phcParameters(rounds, ['i', 'l']);
    const decoded = phcBase64(hash, 'PBKDF2 hash');
    if (parameters.l !== undefined && positive(parameters.l, 'PBKDF2 l') !== decoded.length) {
      throw new HashFormatError('PBKDF2 l= does not match the hash length');
    }
    return pbkdf2Hash(digest, positive(parameters.i, 'PBKDF2 i'), phcBase64(salt, 'PBKDF2 salt'), decoded);
  }
  return pbkdf2Hash(
    digest,
    positive(rounds, 'PBKDF2 rounds'),
    passlibBase64(salt, 'PBKDF2 salt'),
    passlibBase64(hash, 'PBKDF2 hash'),
  );
}

/** Django's `<algorithm>$…` encodings (django.contrib.auth.hashers). Django uses its salt as text, not decoded. */
function django(text: string): ForeignHash | undefined {
  const dollar = text.indexOf('$');
  const algorithm = text.slice(0, dollar);
  const rest = text.slice(dollar + 1);
  const fields = rest.split('$');
  switch (algorithm) {
    case 'pbkdf2_sha256':
    case 'pbkdf2_sha1': {
      const [iterations, salt, hash, extra] = fields;
      if (!salt || extra !== undefined) throw new HashFormatError(`not a Django ${algorithm} hash`);
      const digest = algorithm === 'pbkdf2_sha256' ? 'sha256' : 'sha1';
      return pbkdf2Hash(
        digest,
        positive(iterations, 'PBKDF2 iterations'),
        Buffer.from(salt, 'utf8'),
        phcBase64(hash, 'PBKDF2 hash'),
      );
    }
    case 'argon2':
      // argon2$argon2id$v=19$…: the PHC string without its leading "$".
      return argon2Phc(`$${rest}`);
    case 'bcrypt':
    case 'bcrypt_sha256':
      // Django stores "bcrypt$" + the bcrypt string, whose own "$2b$…" leaves an empty field.
      return bcrypt(rest, algorithm === 'bcrypt_sha256');
    case 'scrypt': {
      // Django 4.0+: scrypt$<N>$<salt>$<r>$<p>$<base64 hash>; the salt is never all digits (Gatehouse's is r).
      const [N, salt, r, p, hash, extra] = fields;
      if (!salt || extra !== undefined) throw new HashFormatError('not a Django scrypt hash');
      return scryptHash(
        positive(N, 'scrypt N'),
        positive(r, 'scrypt r'),
        positive(p, 'scrypt p'),
        Buffer.from(salt, 'utf8'),
        phcBase64(hash, 'scrypt hash'),
      );
    }
    default:
      return undefined;
  }
}

/**
 * The foreign hash `stored` describes, with its parameters checked; HashFormatError for a format Gatehouse
 * does not know or parameters beyond FOREIGN_HASH_LIMITS. Gatehouse's own `scrypt$<log2 N>$…` is not foreign.
 */
export function parseForeignHash(stored: string): ForeignHash {
  if (stored.startsWith('$2')) return bcrypt(stored, false);
  if (stored.startsWith('$argon2')) return argon2Phc(stored);
  if (stored.startsWith('$pbkdf2')) return pbkdf2Modular(stored);
  if (stored.startsWith('$scrypt$')) {
    // passlib: $scrypt$ln=16,r=8,p=1$<salt>$<hash>, both in PHC base64; the salt is hashed decoded.
    const [, , parameterText, salt, hash, extra] = stored.split('$');
    if (extra !== undefined) throw new HashFormatError('not a $scrypt$ hash');
    const parameters = phcParameters(parameterText, ['ln', 'r', 'p']);
    const logN = positive(parameters.ln, 'scrypt ln');
    if (logN > 30) throw new HashFormatError('scrypt ln is over 30');
    return scryptHash(
      2 ** logN,
      positive(parameters.r, 'scrypt r'),
      positive(parameters.p, 'scrypt p'),
      phcBase64(salt, 'scrypt salt'),
      phcBase64(hash, 'scrypt hash'),
    );
  }
  const djangoHash = /^[a-z0-9_]+\$/.test(stored) ? django(stored) : undefined;
  if (djangoHash) return djangoHash;
  throw new HashFormatError(
    'unknown password hash format (supported: bcrypt, Argon2 PHC, scrypt, PBKDF2 in passlib, PHC or Django form)',
  );
}

/** Whether `password` matches; constant-time comparison. Callers bound concurrency (password.ts `hashing`). */
export async function verifyForeignHash(password: string, hash: ForeignHash): Promise<boolean> {
  switch (hash.algorithm) {
    case 'bcrypt': {
      const secret = hash.sha256First ? createHash('sha256').update(password).digest('hex') : password;
      // Django's bcrypt strings carry their own "$2b$…" after "bcrypt$"; bcryptjs wants the bare string.
      return bcryptMatches(secret, hash.hash);
    }
    case 'argon2': {
      const actual = await new Promise<Buffer>((resolve, reject) =>
        argon2(
          hash.type,
          {
            message: password,
            nonce: hash.salt,
            parallelism: hash.parallelism,
            tagLength: hash.hash.length,
            memory: hash.memory,
            passes: hash.passes,
          },
          (error, key) => (error ? reject(error) : resolve(key)),
        ),
      );
      return timingSafeEqual(actual, hash.hash);
    }
    case 'scrypt': {
      const options: ScryptOptions = {
        N: hash.N,
        r: hash.r,
        p: hash.p,
        maxmem: 128 * hash.N * hash.r + 128 * hash.r * hash.p + 1024 * 1024,
      };
      const actual = await new Promise<Buffer>((resolve, reject) =>
        scrypt(password, hash.salt, hash.hash.length, options, (error, key) =>
          error ? reject(error) : resolve(key),
        ),
      );
      return timingSafeEqual(actual, hash.hash);
    }
    case 'pbkdf2': {
      const actual = await new Promise<Buffer>((resolve, reject) =>
        pbkdf2(password, hash.salt, hash.iterations, hash.hash.length, hash.digest, (error, key) =>
          error ? reject(error) : resolve(key),
        ),
      );
      return timingSafeEqual(actual, hash.hash);
    }
  }
}

// Workers kept between checks (at most as many as run at once, password.ts `hashing`); unreferenced while idle,
// so they never keep a process alive.
const idleWorkers: Worker[] = [];

function bcryptMatches(password: string, hash: string): Promise<boolean> {
  const worker = idleWorkers.pop() ?? new Worker(new URL('./bcrypt-worker.ts', import.meta.url));
  worker.ref();
  return new Promise((resolve, reject) => {
    const settle = () => {
      worker.off('message', answer);
      worker.off('error', fail);
      worker.off('exit', exited);
    };
    const answer = (matches: unknown) => {
      settle();
      worker.unref();
      idleWorkers.push(worker);
      resolve(matches === true);
    };
    const fail = (error: Error) => {
      settle();
      void worker.terminate();
      reject(error);
    };
    const exited = (code: number) => fail(new Error(`the bcrypt worker exited (code ${code})`));
    worker.on('message', answer);
    worker.on('error', fail);
    worker.on('exit', exited);
    worker.postMessage({ password, hash });
  });
}
