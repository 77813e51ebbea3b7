import { signInKind } from '../../accounts/users.ts';
import type { User } from '../../storage/storage.ts';
import { type Command, printJson, printTable, UsageError } from '../command.ts';

function row(user: User) {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    admin: user.isAdmin,
    status: user.disabledAt === null ? 'active' : 'disabled',
    sign_in: signInKind(user),
    created_at: new Date(user.createdAt).toISOString(),
  };
}

export const usersList: Command = {
  words: ['users', 'list'],
  summary: 'List users, newest first (never their password hashes)',
  options: {
    limit: {
      type: 'string',
      value: 'N',
      description: 'At most N users (default 100; the admin API pages through any number).',
    },
  },
  database: 'existing',
  json: true,
  async run({ values, io, json, storage }) {
    const limit = values.limit === undefined ? 100 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new UsageError('--limit takes a whole number from 1 to 10000.');
    }
    const users = (await (await storage()).users.listPage({ limit })).map(row);
    if (json) printJson(io, users);
    else printTable(io, users, 'No users yet.');
    return 0;
  },
};
