import { setTimeout as sleep } from 'node:timers/promises';
import { rotateKeys } from '../../applications/keys.ts';
import { KEY_CHANGE_CHECK_MS, KEY_CHANGE_VISIBLE_WITHIN_MS } from '../../oauth/keys.ts';
import { type Command, UsageError } from '../command.ts';
import { serverSecret } from '../secret.ts';

export const keysRotate: Command = {
  words: ['keys', 'rotate'],
  summary:
    'Add new signing keys that sign from now on; old public keys stay published until their tokens expire',
  options: {
    'activate-in-minutes': {
      type: 'string',
      value: 'N',
      description:
        'Publish the new keys now and sign with them after N minutes (default 10), so that verifiers caching the JWKS know them first.',
    },
    now: {
      type: 'boolean',
      description:
        'Sign with the new keys at once: for a compromised key (a verifier with a stale JWKS rejects tokens until it refetches).',
    },
  },
  details:
    'Needs the server secret (GATEHOUSE_SECRET or the data folder’s secret file) that encrypted the current keys.',
  database: 'existing',
  async run({ values, io, config, storage }) {
    // Verifiers cache the JWKS (ours says max-age=300): publish first, sign later (docs/security.md R8). --now is for
    // a compromised key, when a few rejected tokens are the lesser evil.
    const minutes = values.now
      ? 0
      : values['activate-in-minutes'] === undefined
        ? 10
        : Number(values['activate-in-minutes']);
    if (!Number.isInteger(minutes) || minutes < 0 || minutes > 7 * 24 * 60) {
      throw new UsageError('--activate-in-minutes takes a whole number of minutes (0 to 10080).');
    }
    const settings = config();
    const store = await storage();
    const secret = await serverSecret(settings, store);
    const { added, retireAfterMs } = await rotateKeys(store, settings, secret, Date.now(), minutes * 60_000, {
      actor: { kind: 'cli' },
    });
    for (const key of added) io.stdout(`New ${key.alg} signing key ${key.kid}\n`);
    // Running servers see the change at their next check (src/oauth/keys.ts watchKeyChanges): answer only
    // once they all have, so that whoever fetches the JWKS (or a token, with --now) next gets the new key.
    await sleep(KEY_CHANGE_VISIBLE_WITHIN_MS);
    io.stdout(
      `Running servers check for key changes every ${KEY_CHANGE_CHECK_MS / 1000} s: the new keys are published now and sign ${minutes === 0 ? 'at once' : `in ${minutes} minutes`}; the old keys stay in the JWKS for ${Math.round(retireAfterMs / 60_000)} minutes after that.\n`,
    );
    return 0;
  },
};
