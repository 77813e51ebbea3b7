import { UserInputError } from '../../accounts/users.ts';
import { issueRegistrationToken, REGISTRATION_TOKEN_LIMITS } from '../../applications/registration-tokens.ts';
import { configFrom } from '../../config-file.ts';
import { openStorage } from '../../storage/open.ts';
import { type Command, UsageError } from '../command.ts';

export const registrationTokensCreate: Command = {
  words: ['registration-tokens', 'create'],
  summary: 'Create an initial access token for dynamic registration (GATEHOUSE_REGISTRATION=token)',
  usage: 'gatehouse registration-tokens create [--uses N] [--expires-in-hours H]',
  options: { uses: { type: 'string' }, 'expires-in-hours': { type: 'string' } },
  async run({ values }, io) {
    const uses = values.uses === undefined ? 1 : Number(values.uses);
    const hours =
      values['expires-in-hours'] === undefined
        ? REGISTRATION_TOKEN_LIMITS.defaultHours
        : Number(values['expires-in-hours']);
    const { storage } = await openStorage(configFrom(io.env).databaseUrl);
    try {
      let token: string;
      try {
        ({ token } = await issueRegistrationToken(
          storage,
          Date.now(),
          { uses, hours },
          { actor: { kind: 'cli' } },
        ));
      } catch (error) {
        if (error instanceof UserInputError) throw new UsageError(error.message);
        throw error;
      }
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
