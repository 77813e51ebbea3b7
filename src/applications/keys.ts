// Rotating the signing keys, for the CLI and the admin API alike: which algs get a new key, how long the old
// ones stay published; rotateSigningKeys records the security event.
import type { Config, SigningAlg } from '../config.ts';
import { rotateSigningKeys } from '../oauth/keys.ts';
import type { Acting } from '../oauth/security-events.ts';
import type { SigningKeyRecord, Storage } from '../storage/storage.ts';

/** Verifiers may cache the JWKS this long; a retired key stays published for it on top of token lifetimes. */
const JWKS_CACHE_MS = 10 * 60_000;

/** How long a rotated-out key stays in the JWKS: until every token it signed has expired, plus caching. */
export function retireAfterMs(config: Pick<Config, 'accessTokenTtl' | 'idTokenTtl'>): number {
  return Math.max(config.accessTokenTtl, config.idTokenTtl) * 1000 + JWKS_CACHE_MS;
}

/**
 * A new key for every alg that signs now (the configured ones and any other with a current key) that signs
 * from `now + activateAfterMs`. Verifiers cache the JWKS: publish first, sign later (docs/security.md R8); 0 is
 * for a compromised key, when a few refused tokens are the lesser evil. Running servers see it within
 * KEY_CHANGE_VISIBLE_WITHIN_MS (oauth/keys.ts): callers that promise "published" wait that long.
 */
export async function rotateKeys(
  storage: Storage,
  config: Pick<Config, 'accessTokenAlg' | 'idTokenAlg' | 'accessTokenTtl' | 'idTokenTtl'>,
  secret: string,
  now: number,
  activateAfterMs: number,
  by: Acting,
): Promise<{ added: SigningKeyRecord[]; retireAfterMs: number }> {
  const current = (await storage.keys.list())
    .filter((key) => key.rotatedAt === null)
    .map((key) => key.alg as SigningAlg);
  const algs = [...new Set([config.accessTokenAlg, config.idTokenAlg, ...current])];
  const retireAfter = retireAfterMs(config);
  // rotateSigningKeys records signing_keys_rotated with who acted.
  const added = await rotateSigningKeys(storage, secret, algs, now, retireAfter, activateAfterMs, by);
  return { added, retireAfterMs: retireAfter };
}
