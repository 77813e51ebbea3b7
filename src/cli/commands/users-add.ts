import { createUser, UserInputError } from '../../accounts/users.ts';
import { randomToken } from '../../util/random.ts';
import { type Command, CommandFailure, printJson, UsageError } from '../command.ts';

export const usersAdd: Command = {
  words: ['users', 'add'],
  summary: 'Create a user (prints a generated password unless --password-stdin is given)',
  arguments: 'EMAIL',
  options: {
    name: { type: 'string', value: 'NAME', description: 'The user’s display name.' },
    'password-stdin': {
      type: 'boolean',
      description: 'Read the password from stdin (one line) instead of generating one.',
    },
    admin: { type: 'boolean', description: 'The user may use the admin console.' },
  },
  details: 'With --json: {"id", "email", "admin", "password"} (password only when generated; shown once).',
  database: 'existing',
  json: true,
  async run({ values, positionals, io, json, config, storage }) {
    const email = positionals[0];
    if (!email || positionals.length > 1) throw new UsageError('Give exactly one EMAIL.');
    const generated = values['password-stdin'] ? undefined : randomToken(12);
    const password = generated ?? (await io.readStdin()).replace(/\r?\n$/, '');
    const settings = config();
    let user: Awaited<ReturnType<typeof createUser>>;
    try {
      user = await createUser(
        await storage(),
        {
          email,
          password,
          name: typeof values.name === 'string' ? values.name : null,
          isAdmin: values.admin === true,
        },
        Date.now(),
        settings.passwordCost,
        { actor: { kind: 'cli' } },
      );
    } catch (error) {
      if (error instanceof UserInputError) throw new CommandFailure(error.message);
      throw error;
    }
    if (json) {
      printJson(io, {
        id: user.id,
        email: user.email,
        admin: user.isAdmin,
        ...(generated ? { password: generated } : {}),
      });
      return 0;
    }
    io.stdout(`Created user ${user.email} (id ${user.id})${user.isAdmin ? ' as an administrator' : ''}.\n`);
    if (generated) io.stdout(`Password (shown once): ${generated}\n`);
    return 0;
  },
};
