import { UserInputError } from '../../accounts/users.ts';
import { issueRegistrationToken, REGISTRATION_TOKEN_LIMITS } from '../../applications/registration-tokens.ts';
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
    const hours =
      values['expires-in-hours'] === undefined
        ? REGISTRATION_TOKEN_LIMITS.defaultHours
        : Number(values['expires-in-hours']);
    let issued: Awaited<ReturnType<typeof issueRegistrationToken>>;
    try {
      issued = await issueRegistrationToken(
        await storage(),
        Date.now(),
        { uses, hours },
        { actor: { kind: 'cli' } },
      );
    } catch (error) {
      if (error instanceof UserInputError) throw new UsageError(error.message);
      throw error;
    }
    const { token, expiresAt } = issued;
    if (json) printJson(io, { token, uses, expires_at: new Date(expiresAt).toISOString() });
    else io.stdout(`${token}\n`);
    io.stderr(
      `Shown once. Valid for ${uses} registration${uses === 1 ? '' : 's'} within ${hours} hours: send it as "Authorization: Bearer <token>" to POST /oauth/register.\n`,
    );
    return 0;
  },
};
