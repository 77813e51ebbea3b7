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
): Promise<User & { email: string }> {
  checkNewUser(input);
  const email = input.email.trim().toLowerCase();
  if (await storage.users.findByEmail(email))
    throw new UserInputError('A user with that email already exists.');
  const user: User & { email: string } = {
    id: randomId(),
    email,
    name: input.name?.trim() || null,
    passwordHash: await hashPassword(input.password, cost),
    isAdmin: input.isAdmin ?? false,
    emailVerified: false,
    createdAt: now,
    updatedAt: now,
    disabledAt: null,
    claims: null,
  };
  await storage.users.create(user);
  return user;
}

export interface PasswordChange {
  /** Who changed it: the administrator's user id, or the user's own id for a self-service change. */
  changedBy: string;
  cost?: number;
}

/**
 * Gives the user a new password and ends everything the old one let anyone obtain. RFC 9700 §4.14.2: refresh
 * tokens are revoked when the password changes (docs/security.md E-07; a reset answers "someone may know it"). In one
 * transaction with the new hash: every grant of the user is revoked, so every access token (opaque or a JWT's
 * jti) and refresh token issued under them stops at once (each check joins its grant), every session ends,
 * and a `password_changed` security event records it. Returns how many grants were revoked.
 */
export async function changePassword(
  storage: Storage,
  userId: string,
  password: string,
  now: number,
  change: PasswordChange,
): Promise<number> {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new UserInputError(`The password must have at least ${MIN_PASSWORD_LENGTH} characters.`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) throw new UserInputError('The password is too long.');
  // Hashed before the transaction: scrypt takes tens of milliseconds, a transaction should not wait for it.
  const passwordHash = await hashPassword(password, change.cost);
  return storage.transaction(async (tx) => {
    // Re-read inside the transaction: the update replaces the row, and must not undo a concurrent change.
    const user = await tx.users.findById(userId);
    if (!user) throw new UserInputError('No such user.');
    await tx.users.update({ ...user, passwordHash, updatedAt: now });
    const revokedGrants = await tx.grants.revokeForUser(userId, now);
    await tx.sessions.deleteForUser(userId);
    await tx.securityEvents.record({
      id: crypto.randomUUID(),
      type: 'password_changed',
      clientId: null,
      userId,
      grantId: null,
      detail: { changed_by: change.changedBy, revoked_grants: revokedGrants },
      createdAt: now,
    });
    return revokedGrants;
  });
}
