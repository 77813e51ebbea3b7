import type { Storage, User } from '../storage/storage.ts';
import { CommandFailure, UsageError } from './command.ts';

/** The user a command names by email (anything with an @) or by id; exit 1 when there is none. */
export async function namedUser(storage: Storage, positionals: string[]): Promise<User> {
  const named = positionals[0];
  if (!named || positionals.length > 1) throw new UsageError('Give exactly one EMAIL or user id.');
  const user = named.includes('@')
    ? await storage.users.findByEmail(named)
    : await storage.users.findById(named);
  if (!user) throw new CommandFailure(`No user ${named}.`);
  return user;
}
