// Signing keys and the JWKS (RFC 7517). Private keys are stored AES-256-GCM encrypted under a key derived from
// the server secret. The newest key of each alg signs; rotated keys stay published until every token they
// signed has expired (retireAt), then leave the JWKS.
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  hkdfSync,
  type JsonWebKey,
  randomBytes,
} from 'node:crypto';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose';
import type { SigningAlg } from '../config.ts';
import type { SigningKeyRecord, Storage } from '../storage/storage.ts';
import type { JwtSigningKey } from './jws.ts';
import { type Acting, recordSecurityEvent } from './security-events.ts';

export type SigningKey = JwtSigningKey;

function encryptionKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'gatehouse', 'signing-keys/v1', 32));
}

export function encryptPrivateJwk(jwk: JWK, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', encryptionKey(secret), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(jwk), 'utf8'), cipher.final()]);
  return [
    'v1',
    iv.toString('base64url'),
    body.toString('base64url'),
    cipher.getAuthTag().toString('base64url'),
  ].join('.');
}

/** The server secret does not open a stored private key: GATEHOUSE_SECRET changed or was lost. */
export class SecretMismatchError extends Error {
  override name = 'SecretMismatchError';
  readonly kid: string | undefined;
  constructor(kid?: string) {
    super('cannot decrypt the signing keys: GATEHOUSE_SECRET differs from the one that encrypted them');
    this.kid = kid;
  }
}

export function decryptPrivateJwk(sealed: string, secret: string, kid?: string): JWK {
  const [version, iv, body, tag] = sealed.split('.');
  if (version !== 'v1' || !iv || !body || !tag) throw new Error('unknown signing key encryption format');
  const decipher = createDecipheriv('aes-256-gcm', encryptionKey(secret), Buffer.from(iv, 'base64url'), {
    authTagLength: 16,
  });
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  try {
    const plain = Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as JWK;
  } catch {
    throw new SecretMismatchError(kid);
  }
}

export async function newSigningKeyRecord(
  alg: SigningAlg,
  secret: string,
  now: number,
  activatesAt = now,
): Promise<SigningKeyRecord> {
  const options = alg === 'RS256' ? { extractable: true, modulusLength: 2048 } : { extractable: true };
  const { publicKey, privateKey } = await generateKeyPair(alg, options);
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = await exportJWK(privateKey);
  return {
    kid,
    alg,
    publicJwk: JSON.stringify({ ...publicJwk, kid, alg, use: 'sig' }),
    privateJwkEncrypted: encryptPrivateJwk({ ...privateJwk, kid, alg }, secret),
    createdAt: now,
    activatesAt,
    rotatedAt: null,
    retireAt: null,
  };
}

/**
 * Creates a signing key for each alg that has none. Returns the algs it created keys for. Several servers
 * starting together on an empty database create one key per alg between them (docs/security.md R10): each stores
 * its key only if no other got there first (keys.addFirst), and the others use that one.
 */
export async function ensureSigningKeys(
  storage: Storage,
  secret: string,
  algs: readonly SigningAlg[],
  now: number,
): Promise<SigningAlg[]> {
  const hasCurrent = (keys: SigningKeyRecord[], alg: SigningAlg) =>
    keys.some((key) => key.alg === alg && key.rotatedAt === null);
  const existing = await storage.keys.list();
  const created: SigningAlg[] = [];
  for (const alg of new Set(algs)) {
    if (hasCurrent(existing, alg)) continue;
    const record = await newSigningKeyRecord(alg, secret, now);
    try {
      if (await storage.keys.addFirst(record)) created.push(alg);
    } catch (error) {
      // SQLite refuses a write that races another process's (SQLITE_BUSY): fine if that process added the key.
      if (!hasCurrent(await storage.keys.list(), alg)) throw error;
    }
  }
  return created;
}

/**
 * `gatehouse keys rotate`: a new key per alg signs from now on; the old ones stay published for retireAfterMs.
 * Records a `signing_keys_rotated` security event naming the new keys (`actor`: the CLI, its only caller today).
 */
export async function rotateSigningKeys(
  storage: Storage,
  secret: string,
  algs: readonly SigningAlg[],
  now: number,
  retireAfterMs: number,
  activateAfterMs = 0,
  by: Acting = { actor: { kind: 'cli' } },
): Promise<SigningKeyRecord[]> {
  const added: SigningKeyRecord[] = [];
  for (const alg of new Set(algs)) {
    const record = await newSigningKeyRecord(alg, secret, now, now + activateAfterMs);
    await storage.keys.rotateIn(record, now, retireAfterMs);
    added.push(record);
  }
  await recordSecurityEvent(storage, now, 'signing_keys_rotated', {
    actor: by.actor,
    ip: by.ip,
    detail: {
      keys: added.map((key) => ({ kid: key.kid, alg: key.alg })),
      activates_at: new Date(now + activateAfterMs).toISOString(),
      old_keys_retire_at: new Date(now + activateAfterMs + retireAfterMs).toISOString(),
    },
  });
  return added;
}

/** The stored keys, still published, whose private half this secret cannot decrypt. */
export async function undecryptableKeys(storage: Storage, secret: string, now: number) {
  return (await storage.keys.list()).filter((record) => {
    if (record.retireAt !== null && record.retireAt <= now) return false;
    try {
      decryptPrivateJwk(record.privateJwkEncrypted, secret, record.kid);
      return false;
    } catch (error) {
      if (error instanceof SecretMismatchError) return true;
      throw error;
    }
  });
}

/**
 * `gatehouse keys reset`, after the server secret was lost or changed: the keys this secret cannot decrypt leave
 * the JWKS at once (they can never sign again, and the tokens they signed stop verifying), and each alg left
 * without a key that signs gets a new one, signing at once. Keys it can decrypt are kept as they are.
 */
export async function resetSigningKeys(
  storage: Storage,
  secret: string,
  algs: readonly SigningAlg[],
  now: number,
): Promise<{ retired: SigningKeyRecord[]; added: SigningKeyRecord[] }> {
  const retired = await undecryptableKeys(storage, secret, now);
  if (retired.length > 0)
    await storage.keys.retire(
      retired.map((record) => record.kid),
      now,
    );
  const wanted = new Set([...algs, ...retired.map((record) => record.alg as SigningAlg)]);
  const usable = (await storage.keys.list()).filter(
    (record) => record.rotatedAt === null && (record.retireAt === null || record.retireAt > now),
  );
  const added: SigningKeyRecord[] = [];
  for (const alg of wanted) {
    if (usable.some((record) => record.alg === alg)) continue;
    const record = await newSigningKeyRecord(alg, secret, now);
    // Nothing of this alg is current any more: rotateIn just adds it (retiring nothing else).
    await storage.keys.rotateIn(record, now, 0);
    added.push(record);
  }
  return { retired, added };
}

export interface KeyRing {
  /** The key that signs for `alg` now. */
  signingKey(alg: SigningAlg): SigningKey;
  /** The public JWKS: every key not yet retired. */
  jwks(): { keys: JWK[] };
  /** The algs this server can sign with. */
  algs(): SigningAlg[];
  /** Re-reads the keys from storage (another process may have rotated them). */
  reload(): Promise<void>;
  /**
   * Re-reads the keys if they changed since the last read (storage's key version moved: one primary-key read)
   * or a key's retirement time has come (it leaves the JWKS). Says whether it re-read them.
   */
  reloadIfChanged(): Promise<boolean>;
  /**
   * A token names a kid this ring does not publish: re-reads the keys (another process may have just added
   * it) and says whether the kid is known now. At most one such read per UNKNOWN_KID_RELOAD_MS, shared by
   * concurrent callers, so that made-up kids cannot send every request to the database.
   */
  knows(kid: string): Promise<boolean>;
}

/** How often a token with an unknown kid may make a server re-read its keys. */
export const UNKNOWN_KID_RELOAD_MS = 1000;

/** How often a running server checks whether another process changed the keys (watchKeyChanges). */
export const KEY_CHANGE_CHECK_MS = 1000;

/**
 * How long after a key change every running server publishes and uses it: one check interval, plus time for
 * the check and the re-read. `gatehouse keys rotate` waits this long before it says the keys are published.
 */
export const KEY_CHANGE_VISIBLE_WITHIN_MS = 2 * KEY_CHANGE_CHECK_MS;

export async function loadKeyRing(
  storage: Storage,
  secret: string,
  clock: { now(): number },
): Promise<KeyRing> {
  let records: SigningKeyRecord[] = [];
  let published: { keys: JWK[] } = { keys: [] };
  // The key version the records were read at, and when the next published key retires.
  let version: number | undefined;
  let nextRetirement = Number.POSITIVE_INFINITY;
  // Decrypting and importing happens once per key, at start-up or when a new key appears, never per request.
  const imported = new Map<string, SigningKey>();

  async function reload(): Promise<void> {
    // The version first: a change committed between the two reads makes the next check re-read once more.
    const readVersion = await storage.keys.version();
    const next = await storage.keys.list();
    const now = clock.now();
    for (const record of next) {
      if (imported.has(record.kid) || (record.retireAt !== null && record.retireAt <= now)) continue;
      const alg = record.alg as SigningAlg;
      const jwk = decryptPrivateJwk(record.privateJwkEncrypted, secret, record.kid);
      imported.set(record.kid, {
        kid: record.kid,
        alg,
        privateKey: (await importJWK(jwk, alg)) as CryptoKey,
        keyObject: createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }),
      });
    }
    records = next;
    version = readVersion;
    nextRetirement = Math.min(
      Number.POSITIVE_INFINITY,
      ...next.flatMap((record) =>
        record.retireAt !== null && record.retireAt > now ? [record.retireAt] : [],
      ),
    );
    published = {
      keys: next
        .filter((record) => record.retireAt === null || record.retireAt > now)
        .map((record) => JSON.parse(record.publicJwk) as JWK),
    };
  }

  const publishes = (kid: string) => published.keys.some((key) => key.kid === kid);
  let lastUnknownKidReload = Number.NEGATIVE_INFINITY;
  let unknownKidReload: Promise<void> | undefined;

  await reload();
  return {
    signingKey(alg) {
      // The newest key of the alg whose activation time has come (a few keys at most: no index needed).
      const now = clock.now();
      let best: SigningKeyRecord | undefined;
      for (const record of records) {
        if (record.alg !== alg || record.activatesAt > now || !imported.has(record.kid)) continue;
        if (record.retireAt !== null && record.retireAt <= now) continue;
        if (
          !best ||
          record.activatesAt > best.activatesAt ||
          (record.activatesAt === best.activatesAt && record.createdAt > best.createdAt)
        ) {
          best = record;
        }
      }
      const key = best && imported.get(best.kid);
      if (!key) throw new Error(`no signing key for ${alg}`);
      return key;
    },
    jwks: () => published,
    algs: () => [
      ...new Set(
        records.filter((record) => imported.has(record.kid)).map((record) => record.alg as SigningAlg),
      ),
    ],
    reload,
    async reloadIfChanged() {
      if (clock.now() < nextRetirement && (await storage.keys.version()) === version) return false;
      await reload();
      return true;
    },
    async knows(kid) {
      if (publishes(kid)) return true;
      if (!unknownKidReload) {
        if (clock.now() - lastUnknownKidReload < UNKNOWN_KID_RELOAD_MS) return false;
        lastUnknownKidReload = clock.now();
        unknownKidReload = reload().finally(() => {
          unknownKidReload = undefined;
        });
      }
      await unknownKidReload;
      return publishes(kid);
    },
  };
}

/**
 * Keeps a running server's key ring current (`gatehouse start`): every KEY_CHANGE_CHECK_MS one primary-key read
 * says whether another process changed the keys, so a rotation reaches the JWKS, token signing and ID tokens
 * of every running server within KEY_CHANGE_VISIBLE_WITHIN_MS. A timer rather than a check on requests: the
 * token path stays free of it, and an idle server's JWKS is as current as a busy one's. Checks never overlap;
 * a failing check (storage unreachable) is reported once, not every second. Returns the stop function.
 */
export function watchKeyChanges(keys: KeyRing, onError: (error: unknown) => void): () => void {
  let checking = false;
  let failing = false;
  const timer = setInterval(async () => {
    if (checking) return;
    checking = true;
    try {
      await keys.reloadIfChanged();
      failing = false;
    } catch (error) {
      if (!failing) onError(error);
      failing = true;
    } finally {
      checking = false;
    }
  }, KEY_CHANGE_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
