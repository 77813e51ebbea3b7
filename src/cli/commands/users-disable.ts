import { disableUser, enableUser } from '../../accounts/users.ts';
import type { Command } from '../command.ts';
import { reportOutcome } from '../outcome.ts';
import { namedUser } from '../users-find.ts';

// Disable and its undo: the same operations as the admin console's buttons (accounts/users.ts), same events.
export const usersDisable: Command = {
  words: ['users', 'disable'],
  summary: 'Disable a user: they cannot sign in, their sessions end and their tokens stop working at once',
  arguments: 'EMAIL|ID',
  options: {},
  database: 'existing',
  async run({ positionals, io, storage }) {
    const store = await storage();
    const user = await namedUser(store, positionals);
    const outcome = await disableUser(store, Date.now(), user.id, { actor: { kind: 'cli' } });
    reportOutcome(io, outcome, 'such user', {
      done: `Disabled ${user.email ?? user.id}.`,
      unchanged: `${user.email ?? user.id} was already disabled.`,
    });
    return 0;
  },
};

export const usersEnable: Command = {
  words: ['users', 'enable'],
  summary: 'Enable a disabled user: they can sign in again, and tokens that have not expired work again',
  arguments: 'EMAIL|ID',
  options: {},
  database: 'existing',
  async run({ positionals, io, storage }) {
    const store = await storage();
    const user = await namedUser(store, positionals);
    const outcome = await enableUser(store, Date.now(), user.id, { actor: { kind: 'cli' } });
    reportOutcome(io, outcome, 'such user', {
      done: `Enabled ${user.email ?? user.id}.`,
      unchanged: `${user.email ?? user.id} was not disabled.`,
    });
    return 0;
  },
};
