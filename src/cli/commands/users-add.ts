import { createUser, UserInputError } from '../../accounts/users.ts';
import { configFrom } from '../../config-file.ts';
import { openDeps } from '../../main.ts';
import { randomToken } from '../../util/random.ts';
import { type Command, UsageError } from '../command.ts';

export const usersAdd: Command = {
  words: ['users', 'add'],
  summary: 'Create a user (prints a generated password unless --password-stdin is given)',
  usage: 'gatehouse users add EMAIL [--name NAME] [--password-stdin] [--admin]',
  options: { name: { type: 'string' }, 'password-stdin': { type: 'boolean' }, admin: { type: 'boolean' } },
  async run({ values, positionals }, io) {
    const email = positionals[0];
    if (!email || positionals.length > 1) throw new UsageError('Give exactly one EMAIL.');
    const generated = values['password-stdin'] ? undefined : randomToken(12);
    const password = generated ?? (await io.readStdin()).replace(/\r?\n$/, '');
    const config = configFrom(io.env);
    const deps = await openDeps(config);
    try {
      const user = await createUser(
        deps.storage,
        {
          email,
          password,
          name: typeof values.name === 'string' ? values.name : null,
          isAdmin: values.admin === true,
        },
        deps.clock.now(),
        config.passwordCost,
        { actor: { kind: 'cli' } },
      );
      io.stdout(`Created user ${user.email} (id ${user.id})${user.isAdmin ? ' as an administrator' : ''}.\n`);
      if (generated) io.stdout(`Password (shown once): ${generated}\n`);
      return 0;
    } catch (error) {
      if (error instanceof UserInputError) {
        io.stderr(`${error.message}\n`);
        return 1;
      }
      throw error;
    } finally {
      await deps.storage.close();
    }
  },
};
