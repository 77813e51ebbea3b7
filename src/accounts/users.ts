// Creating users: one rule set for the CLI, the setup page and (later) the admin console.
import type { Storage, User } from '../storage/storage.ts';
import { randomId } from '../util/random.ts';
import { hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './password.ts';

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

export class UserInputError extends Error {}

export interface NewUserInput {
  email: string;
  password: string;
  name?: string | null;
  isAdmin?: boolean;
}

/** Checks the input without touching storage; createUser runs it too. */
export function checkNewUser(input: NewUserInput): void {
  if (!EMAIL.test(input.email.trim().toLowerCase())) throw new UserInputError('Enter a valid email address.');
  if (input.password.length < MIN_PASSWORD_LENGTH) {
    throw new UserInputError(`The password must have at least ${MIN_PASSWORD_LENGTH} characters.`);
  }
  if (input.password.length > MAX_PASSWORD_LENGTH) throw new UserInputError('The password is too long.');
  if ((input.name ?? '').length > 200) throw new UserInputError('The name is too long.');
}

export async function createUser(
  storage: Storage,
  input: NewUserInput,
  now: number,
  cost?: number,
): Promise<User> {
  checkNewUser(input);
  const email = input.email.trim().toLowerCase();
  if (await storage.users.findByEmail(email))
    throw new UserInputError('A user with that email already exists.');
  const user: User = {
    id: randomId(),
    email,
    name: input.name?.trim() || null,
    passwordHash: await hashPassword(input.password, cost),
    isAdmin: input.isAdmin ?? false,
    emailVerified: false,
    createdAt: now,
    updatedAt: now,
    disabledAt: null,
  };
  await storage.users.create(user);
  return user;
}
