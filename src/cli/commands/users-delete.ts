import { deleteUser } from '../../accounts/users.ts';
import { type Command, UsageError } from '../command.ts';
import { reportOutcome } from '../outcome.ts';
import { namedUser } from '../users-find.ts';

export const usersDelete: Command = {
  words: ['users', 'delete'],
  summary: 'Delete a user: every token, session, consent, linked sign-in and API key of theirs ends',
  arguments: 'EMAIL|ID',
  options: {
    yes: { type: 'boolean', description: 'Really delete (without it, nothing is done and exit code is 2).' },
  },
  details:
    'The apps they registered in the portal stay, without an owner; the security events that name them stay.',
  database: 'existing',
  async run({ values, positionals, io, storage }) {
    const store = await storage();
    const user = await namedUser(store, positionals);
    if (values.yes !== true) {
      throw new UsageError(`This deletes ${user.email ?? user.id} for good: add --yes to go ahead.`);
    }
    const outcome = await deleteUser(store, Date.now(), user.id, { actor: { kind: 'cli' } });
    reportOutcome(io, outcome, 'such user', { done: `Deleted ${user.email ?? user.id} (id ${user.id}).` });
    return 0;
  },
};
