// Users and what an operator does to them: create, disable, enable, reset the password, revoke every token,
// delete. One rule set for the CLI, the setup page, the admin console and the admin API; each operation records
// its own security event with who did it.
import { type Acting, recordSecurityEvent } from '../oauth/security-events.ts';
import type { AddressClaim, Storage, User } from '../storage/storage.ts';
import { hasControlCharacter } from '../util/control-characters.ts';
import type { Outcome } from '../util/outcome.ts';
import { randomId, randomToken } from '../util/random.ts';
import { hashPassword, isNoPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './password.ts';

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

/** The OIDC Core §5.1 profile fields an operator may set: absent ones stay as they are, null clears one. */
export interface ContactInput {
  phoneNumber?: string | null;
  phoneNumberVerified?: boolean;
  address?: AddressClaim | null;
}

const ADDRESS_MEMBERS = [
  'formatted',
  'street_address',
  'locality',
  'region',
  'postal_code',
  'country',
] as const;
/** Digits, spaces and the punctuation phone numbers are written with; §5.1 recommends E.164 (+1 555 0100). */
const PHONE_NUMBER = /^\+?[0-9][0-9 ().-]{2,30}(?:;ext=[0-9]{1,10})?$/;

/**
 * Checks phone_number, phone_number_verified and address as JSON gives them (admin API, import) and returns
 * them as a ContactInput; UserInputError says what is wrong.
 */
export function parseContact(fields: Record<string, unknown>): ContactInput {
  const contact: ContactInput = {};
  const phone = fields.phone_number;
  if (phone !== undefined) {
    if (phone !== null && (typeof phone !== 'string' || !PHONE_NUMBER.test(phone))) {
      throw new UserInputError('phone_number must be a phone number such as +1 555 0100, or null.');
    }
    contact.phoneNumber = phone;
  }
  const verified = fields.phone_number_verified;
  if (verified !== undefined) {
    if (typeof verified !== 'boolean')
      throw new UserInputError('phone_number_verified must be true or false.');
    contact.phoneNumberVerified = verified;
  }
  const address = fields.address;
  if (address !== undefined) {
    if (address === null) contact.address = null;
    else {
      if (typeof address !== 'object' || Array.isArray(address)) {
        throw new UserInputError('address must be an object (OIDC Core §5.1.1) or null.');
      }
      const out: AddressClaim = {};
      for (const [name, value] of Object.entries(address as Record<string, unknown>)) {
        if (!(ADDRESS_MEMBERS as readonly string[]).includes(name)) {
          throw new UserInputError(`address: unknown member ${name.slice(0, 40)} (OIDC Core §5.1.1).`);
        }
        // formatted and street_address may span lines (§5.1.1); nothing may carry other control characters.
        const policy = name === 'formatted' || name === 'street_address' ? 'line-breaks' : 'none';
        const bad = typeof value !== 'string' || value.length > 500 || hasControlCharacter(value, policy);
        if (bad) throw new UserInputError(`address.${name} must be a string of at most 500 characters.`);
        out[name as keyof AddressClaim] = value as string;
      }
      contact.address = Object.keys(out).length === 0 ? null : out;
    }
  }
  return contact;
}

/** Creates a user with a password; with `by`, records `user_created` (the setup page records its own event). */
export async function createUser(
  storage: Storage,
  input: NewUserInput,
  now: number,
  cost?: number,
  by?: Acting,
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
    phoneNumber: null,
    phoneNumberVerified: false,
    address: null,
  };
  await storage.users.create(user);
  if (by) {
    await recordSecurityEvent(storage, now, 'user_created', {
      userId: user.id,
      userEmail: user.email,
      actor: by.actor,
      ip: by.ip,
      detail: { is_admin: user.isAdmin },
    });
  }
  return user;
}

export interface PasswordChange {
  /** Who changed it: an administrator, an operator at the CLI, or the user themselves. */
  by: Acting;
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
    await recordSecurityEvent(tx, now, 'password_changed', {
      userId,
      userEmail: user.email,
      actor: change.by.actor,
      ip: change.by.ip,
      detail: { revoked_grants: revokedGrants },
    });
    return revokedGrants;
  });
}

export type UserOutcome<Extra = object> = Outcome<User, Extra>;

/**
 * How a person signs in: `gatehouse` with a password here, `external` on the company's own sign-in page (docs/
 * architecture.md "External sign-in and consent"), or `none` (no password yet: an upstream-only account).
 */
export function signInKind(user: User): 'gatehouse' | 'external' | 'none' {
  if (user.claims !== null) return 'external';
  return isNoPassword(user.passwordHash) ? 'none' : 'gatehouse';
}

/** Finds the user and runs `work` in one transaction, refusing an administrator's action on themselves. */
async function onUser<Extra = object>(
  storage: Storage,
  id: string,
  by: Acting,
  work: (tx: Storage, user: User) => Promise<UserOutcome<Extra>>,
  onSelf?: string,
): Promise<UserOutcome<Extra>> {
  return storage.transaction(async (tx) => {
    const user = await tx.users.findById(id);
    if (!user) return { status: 'not_found' };
    // An administrator who disables or deletes themselves may leave the installation with none.
    if (onSelf && by.actor.kind === 'user' && by.actor.id === user.id) {
      return { status: 'conflict', value: user, reason: onSelf };
    }
    return work(tx, user);
  });
}

function recordOn(tx: Storage, now: number, type: string, user: User, by: Acting, detail = {}) {
  // The email as it was when the operation ran: a deleted user can no longer be looked up.
  return recordSecurityEvent(tx, now, type, {
    userId: user.id,
    userEmail: user.email,
    actor: by.actor,
    ip: by.ip,
    detail,
  });
}

/** The user can no longer sign in; their sessions end and every token issued for them stops being accepted. */
export function disableUser(storage: Storage, now: number, id: string, by: Acting) {
  return onUser(
    storage,
    id,
    by,
    async (tx, user) => {
      if (user.disabledAt !== null) return { status: 'unchanged', value: user };
      const updated = { ...user, disabledAt: now, updatedAt: now };
      await tx.users.update(updated);
      await tx.sessions.deleteForUser(user.id);
      await recordOn(tx, now, 'user_disabled', user, by);
      return { status: 'ok', value: updated };
    },
    'You cannot disable your own account.',
  );
}

/** Undoes disableUser: tokens that have not expired work again (disabling revoked none). */
export function enableUser(storage: Storage, now: number, id: string, by: Acting) {
  return onUser(storage, id, by, async (tx, user) => {
    if (user.disabledAt === null) return { status: 'unchanged', value: user };
    const updated = { ...user, disabledAt: null, updatedAt: now };
    await tx.users.update(updated);
    await recordOn(tx, now, 'user_enabled', user, by);
    return { status: 'ok', value: updated };
  });
}

/**
 * Deletes the user (UserStore.delete: every grant revoked, sessions, consents, linked sign-ins and API keys
 * ended). The security events that name them stay, for the record.
 */
export function deleteUser(storage: Storage, now: number, id: string, by: Acting) {
  return onUser(
    storage,
    id,
    by,
    async (tx, user) => {
      await tx.users.delete(user.id, now);
      await recordOn(tx, now, 'user_deleted', user, by);
      return { status: 'ok', value: user };
    },
    'You cannot delete your own account.',
  );
}

/**
 * Sets the profile fields the `phone` and `address` scopes release (an absent field stays, null clears one).
 * A subject of the company's own sign-in page gets its claims from that page: a conflict.
 */
export function updateContact(storage: Storage, now: number, id: string, contact: ContactInput, by: Acting) {
  return onUser(storage, id, by, async (tx, user) => {
    if (user.claims !== null) {
      return {
        status: 'conflict',
        value: user,
        reason: `${user.id} signs in on your own sign-in page, which gives its claims.`,
      };
    }
    const updated: User = { ...user, ...contact, updatedAt: now };
    await tx.users.update(updated);
    // The claim names, as the admin API and the import file spell them.
    const fields = Object.keys(contact).map((key) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
    await recordOn(tx, now, 'user_updated', user, by, { fields: fields.sort() });
    return { status: 'ok', value: updated };
  });
}

/** Revokes every grant of the user, so every access and refresh token they hold; sessions stay. */
export function revokeUserTokens(storage: Storage, now: number, id: string, by: Acting) {
  return onUser<{ revokedGrants: number }>(storage, id, by, async (tx, user) => {
    const revokedGrants = await tx.grants.revokeForUser(user.id, now);
    await recordOn(tx, now, 'user_tokens_revoked', user, by, { revoked_grants: revokedGrants });
    return { status: 'ok', value: user, revokedGrants };
  });
}

/**
 * Gives the user a generated password, shown once to whoever reset it (changePassword ends everything the old
 * one let anyone obtain). A subject of the company's own sign-in page has no password here: a conflict.
 */
export async function resetPassword(
  storage: Storage,
  now: number,
  id: string,
  by: Acting,
  cost?: number,
): Promise<UserOutcome<{ password: string; revokedGrants: number }>> {
  const user = await storage.users.findById(id);
  if (!user) return { status: 'not_found' };
  // Their own reset would sign them out with a password shown on a page they no longer see.
  if (by.actor.kind === 'user' && by.actor.id === user.id) {
    return { status: 'conflict', value: user, reason: 'You cannot reset your own password here.' };
  }
  if (user.claims !== null) {
    return {
      status: 'conflict',
      value: user,
      reason: `${user.id} signs in on your own sign-in page and has no password here.`,
    };
  }
  const password = randomToken(12);
  const revokedGrants = await changePassword(storage, user.id, password, now, { by, cost });
  return { status: 'ok', value: user, password, revokedGrants };
}
