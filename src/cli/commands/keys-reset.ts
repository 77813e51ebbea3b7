// Recovery after the server secret was lost or changed (docs/operations.md, "Recovery"): the stored signing keys
// can no longer be decrypted, so the server cannot start. This retires them and makes new ones under the current
// secret. What else the secret keys is listed in src/secret.ts: none of it needs resetting.
import { resetSigningKeys, undecryptableKeys } from '../../oauth/keys.ts';
import { resolveSecret, secretFile, secretSource } from '../../secret.ts';
import { type Command, printJson } from '../command.ts';

export const keysReset: Command = {
  words: ['keys', 'reset'],
  summary:
    'After the server secret was lost or changed: retire the signing keys it cannot decrypt and make new ones',
  options: {
    yes: {
      type: 'boolean',
      description: 'Do it. Without --yes the command only says what it would retire and exits 2.',
    },
  },
  details: [
    'The keys the current secret (GATEHOUSE_SECRET, or the data folder’s secret file, generated with --yes if',
    'there is none) cannot decrypt leave the JWKS at once: JWT access tokens and ID tokens they signed stop',
    'verifying (clients get new ones with their refresh tokens or by signing in again). Opaque access tokens,',
    'refresh tokens, API and admin keys, sessions, users, clients and consents are stored as hashes and keep',
    'working. Keys the secret can decrypt are kept. Stop every server first and start them all with the new',
    'secret afterwards: a server still running with the old secret cannot read the new keys.',
  ].join('\n'),
  database: 'existing',
  json: true,
  async run({ values, io, json, config, storage }) {
    const settings = config();
    const store = await storage();
    const confirmed = values.yes === true;
    const existing = resolveSecret(settings, { generate: false });
    const now = Date.now();
    if (!confirmed) {
      const doomed = existing
        ? await undecryptableKeys(store, existing.secret, now)
        : await store.keys.list();
      const what = doomed.map((key) => `${key.alg} ${key.kid}`).join(', ') || 'none';
      io.stderr(
        existing
          ? `With the secret from ${secretSource(settings)}, keys reset would retire: ${what}.\n`
          : `There is no server secret (GATEHOUSE_SECRET unset, no ${secretFile(settings)}): keys reset would generate one there and retire every key: ${what}.\n`,
      );
      io.stderr('Nothing was changed. Run again with --yes to do it.\n');
      return 2;
    }
    const { secret, generatedAt } = resolveSecret(settings);
    if (generatedAt) io.stderr(`Generated a new server secret in ${generatedAt}: keep it, and back it up.\n`);
    const { retired, added } = await resetSigningKeys(
      store,
      secret,
      [settings.accessTokenAlg, settings.idTokenAlg],
      now,
    );
    if (json) {
      printJson(io, {
        retired: retired.map((key) => ({ kid: key.kid, alg: key.alg })),
        added: added.map((key) => ({ kid: key.kid, alg: key.alg })),
      });
    } else if (retired.length === 0 && added.length === 0) {
      io.stdout(
        'Every signing key opens with this secret: nothing to reset. (To replace keys anyway: gatehouse keys rotate.)\n',
      );
    } else {
      for (const key of retired) io.stdout(`Retired ${key.alg} signing key ${key.kid}\n`);
      for (const key of added) io.stdout(`New ${key.alg} signing key ${key.kid}\n`);
      io.stdout(
        'Start the servers with this secret. JWTs the retired keys signed no longer verify; opaque tokens, refresh tokens, sessions and keys are unaffected.\n',
      );
    }
    return 0;
  },
};
