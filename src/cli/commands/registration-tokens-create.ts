import { sha256 } from '../../util/hash.ts';
import { randomToken } from '../../util/random.ts';
import { type Command, printJson, UsageError } from '../command.ts';

export const registrationTokensCreate: Command = {
  words: ['registration-tokens', 'create'],
  summary: 'Create an initial access token for dynamic registration (GATEHOUSE_REGISTRATION=token)',
  options: {
    uses: {
      type: 'string',
      value: 'N',
      description: 'How many registrations it allows (1 to 10000, default 1).',
    },
    'expires-in-hours': {
      type: 'string',
      value: 'H',
      description: 'It stops working after H hours (1 to 8760, default 24).',
    },
  },
  details:
    'Prints the token (shown once; only its SHA-256 is stored), or with --json {"token", "uses", "expires_at"}.',
  database: 'existing',
  json: true,
  async run({ values, io, json, storage }) {
    const uses = values.uses === undefined ? 1 : Number(values.uses);
    const hours = values['expires-in-hours'] === undefined ? 24 : Number(values['expires-in-hours']);
    if (!Number.isInteger(uses) || uses < 1 || uses > 10_000)
      throw new UsageError('--uses takes 1 to 10000.');
    if (!Number.isInteger(hours) || hours < 1 || hours > 24 * 365)
      throw new UsageError('--expires-in-hours takes 1 to 8760.');
    const token = randomToken(32);
    const now = Date.now();
    const expiresAt = now + hours * 3_600_000;
    await (await storage()).initialAccessTokens.create(sha256(token), uses, now, expiresAt);
    if (json) printJson(io, { token, uses, expires_at: new Date(expiresAt).toISOString() });
    else io.stdout(`${token}\n`);
    io.stderr(
      `Shown once. Valid for ${uses} registration${uses === 1 ? '' : 's'} within ${hours} hours: send it as "Authorization: Bearer <token>" to POST /oauth/register.\n`,
    );
    return 0;
  },
};
