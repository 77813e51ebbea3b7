import { configFrom } from '../../config-file.ts';
import { openStorage } from '../../storage/open.ts';
import { sha256 } from '../../util/hash.ts';
import { randomToken } from '../../util/random.ts';
import { type Command, UsageError } from '../command.ts';

export const registrationTokensCreate: Command = {
  words: ['registration-tokens', 'create'],
  summary: 'Create an initial access token for dynamic registration (GATEHOUSE_REGISTRATION=token)',
  usage: 'gatehouse registration-tokens create [--uses N] [--expires-in-hours H]',
  options: { uses: { type: 'string' }, 'expires-in-hours': { type: 'string' } },
  async run({ values }, io) {
    const uses = values.uses === undefined ? 1 : Number(values.uses);
    const hours = values['expires-in-hours'] === undefined ? 24 : Number(values['expires-in-hours']);
    if (!Number.isInteger(uses) || uses < 1 || uses > 10_000)
      throw new UsageError('--uses takes 1 to 10000.');
    if (!Number.isInteger(hours) || hours < 1 || hours > 24 * 365)
      throw new UsageError('--expires-in-hours takes 1 to 8760.');
    const { storage } = await openStorage(configFrom(io.env).databaseUrl);
    try {
      const token = randomToken(32);
      const now = Date.now();
      await storage.initialAccessTokens.create(sha256(token), uses, now, now + hours * 3_600_000);
      io.stdout(`${token}\n`);
      io.stderr(
        `Shown once. Valid for ${uses} registration${uses === 1 ? '' : 's'} within ${hours} hours: send it as "Authorization: Bearer <token>" to POST /oauth/register.\n`,
      );
      return 0;
    } finally {
      await storage.close();
    }
  },
};
