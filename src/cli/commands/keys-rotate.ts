import { loadConfig } from '../../config.ts';
import { rotateSigningKeys } from '../../oauth/keys.ts';
import { resolveSecret } from '../../secret.ts';
import { openStorage } from '../../storage/open.ts';
import type { Command } from '../command.ts';

// Verifiers may cache the JWKS this long; a retired key stays published for it on top of token lifetimes.
const JWKS_CACHE_MS = 10 * 60_000;

export const keysRotate: Command = {
  words: ['keys', 'rotate'],
  summary:
    'Add new signing keys that sign from now on; old public keys stay published until their tokens expire',
  usage: 'gatehouse keys rotate',
  options: {},
  async run(_args, io) {
    const config = loadConfig(io.env);
    const { secret } = resolveSecret(config);
    const { storage } = await openStorage(config.databaseUrl);
    try {
      const algs = [
        ...new Set([
          config.accessTokenAlg,
          config.idTokenAlg,
          ...(await storage.keys.list())
            .filter((k) => k.rotatedAt === null)
            .map((k) => k.alg as typeof config.accessTokenAlg),
        ]),
      ];
      const retireAfter = Math.max(config.accessTokenTtl, config.idTokenTtl) * 1000 + JWKS_CACHE_MS;
      const added = await rotateSigningKeys(storage, secret, algs, Date.now(), retireAfter);
      for (const key of added) io.stdout(`New ${key.alg} signing key ${key.kid}\n`);
      io.stdout(
        `Old keys stay in the JWKS for ${Math.round(retireAfter / 60_000)} minutes. Running servers switch within a minute.\n`,
      );
      return 0;
    } finally {
      await storage.close();
    }
  },
};
