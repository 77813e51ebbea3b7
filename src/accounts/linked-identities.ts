// Which Gatehouse user an upstream identity provider's account signs in as (docs/security.md U-03, U-04). One
// rule set for the sign-in callback, the admin console and the CLI:
//
// - An upstream account that is linked signs in as its user, unless that user is disabled.
// - An unlinked account links to the existing user with its email only when the upstream says the email is
//   verified (email_verified: true, or an operator's trustEmails for that provider). Anything else can never
//   take over an existing account: an unverified or missing email is refused outright, before any lookup.
// - A user has at most one account per provider: a second upstream account with the same verified email is
//   refused (the storage's unique index decides, so concurrent attempts cannot both link).
// - Nobody has that email: `create` makes the user just in time (no password; the email counts as verified);
//   `link-only` refuses.
import { StorageUnavailableError } from '../errors.ts';
import { type Actor, recordSecurityEvent } from '../oauth/security-events.ts';
import type { LinkedIdentity, Storage, User } from '../storage/storage.ts';
import { randomId } from '../util/random.ts';
import { NO_PASSWORD_HASH } from './password.ts';

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

/** What an upstream said about the person, after the provider's claim mapping. */
export interface UpstreamIdentity {
  providerId: string;
  subject: string;
  email: string | undefined;
  emailVerified: boolean;
  name: string | undefined;
}

export interface LinkPolicy {
  accounts: 'create' | 'link-only';
  trustEmails: boolean;
}

export type RefusalReason =
  /** The linked (or same-email) user is disabled. */
  | 'disabled'
  /** The upstream sent no usable email for an account that is not linked yet. */
  | 'no_email'
  /** The upstream did not say the email is verified. */
  | 'unverified_email'
  /** `link-only` and nobody has that email. */
  | 'no_account'
  /** The user with that email already has another account at this provider. */
  | 'already_linked';

export type FederatedSignIn =
  | { ok: true; user: User; created: boolean; linked: boolean }
  | { ok: false; reason: RefusalReason; userId?: string };

/** Where a sign-in came from, for its security events. */
interface SignInContext {
  /** The browser's address (request.ip). */
  ip?: string | null;
}

async function record(
  storage: Storage,
  now: number,
  type: string,
  userId: string | null,
  detail: Record<string, unknown>,
  context: SignInContext & { actor?: Actor } = {},
) {
  await recordSecurityEvent(storage, now, type, { userId, detail, ip: context.ip, actor: context.actor });
}

async function attempt(
  storage: Storage,
  policy: LinkPolicy,
  identity: UpstreamIdentity,
  now: number,
  context: SignInContext,
): Promise<FederatedSignIn> {
  const { providerId, subject } = identity;
  const link = await storage.linkedIdentities.find(providerId, subject);
  if (link) {
    const user = await storage.users.findById(link.userId);
    if (!user || user.disabledAt !== null) return { ok: false, reason: 'disabled', userId: link.userId };
    await storage.linkedIdentities.markUsed(providerId, subject, now);
    return { ok: true, user, created: false, linked: false };
  }

  const email = identity.email?.trim().toLowerCase();
  if (!email || email.length > 320 || !EMAIL.test(email)) return { ok: false, reason: 'no_email' };
  if (!identity.emailVerified && !policy.trustEmails) return { ok: false, reason: 'unverified_email' };

  const newLink: LinkedIdentity = { providerId, subject, userId: '', email, createdAt: now, lastUsedAt: now };
  const existing = await storage.users.findByEmail(email);
  if (existing) {
    if (existing.disabledAt !== null) return { ok: false, reason: 'disabled', userId: existing.id };
    if (!(await storage.linkedIdentities.create({ ...newLink, userId: existing.id }))) {
      return { ok: false, reason: 'already_linked', userId: existing.id };
    }
    await record(
      storage,
      now,
      'identity_linked',
      existing.id,
      { provider: providerId, by: 'verified_email' },
      { ...context, actor: { kind: 'user', id: existing.id } },
    );
    return { ok: true, user: existing, created: false, linked: true };
  }

  if (policy.accounts !== 'create') return { ok: false, reason: 'no_account' };
  const user: User = {
    id: randomId(),
    email,
    name: identity.name?.trim().slice(0, 200) || null,
    passwordHash: NO_PASSWORD_HASH,
    claims: null,
    phoneNumber: null,
    phoneNumberVerified: false,
    address: null,
    isAdmin: false,
    // The upstream verified it (or the operator vouches for the upstream's emails): nothing else reaches here.
    emailVerified: true,
    createdAt: now,
    updatedAt: now,
    disabledAt: null,
  };
  // The user and the link in one transaction: a user without the link that made them never exists.
  await storage.transaction(async (tx) => {
    await tx.users.create(user);
    if (!(await tx.linkedIdentities.create({ ...newLink, userId: user.id }))) {
      throw new Error('the upstream account was linked meanwhile');
    }
    await record(
      tx,
      now,
      'user_created_by_upstream',
      user.id,
      { provider: providerId },
      { ...context, actor: { kind: 'user', id: user.id } },
    );
  });
  return { ok: true, user, created: true, linked: true };
}

/**
 * The user an upstream account signs in as, applying the rules above; a refusal says why (for the page and the
 * security event log, which records every refusal). Two first sign-ins at once for one email or one account:
 * the loser's write fails on a unique constraint, and one more attempt finds what the winner wrote.
 */
export async function resolveUpstreamUser(
  storage: Storage,
  policy: LinkPolicy,
  identity: UpstreamIdentity,
  now: number,
  context: SignInContext = {},
): Promise<FederatedSignIn> {
  let result: FederatedSignIn;
  try {
    result = await attempt(storage, policy, identity, now, context);
  } catch (error) {
    // An outage is not a race: let it answer 503.
    if (error instanceof StorageUnavailableError) throw error;
    result = await attempt(storage, policy, identity, now, context);
  }
  if (!result.ok) {
    await record(
      storage,
      now,
      'upstream_sign_in_refused',
      result.userId ?? null,
      { provider: identity.providerId, reason: result.reason },
      context,
    );
  }
  return result;
}

/**
 * Removes one of the user's links (admin console, CLI); records who did it (`by`: the administrator's user id,
 * or 'cli'). False when there was no such link.
 */
export async function unlinkIdentity(
  storage: Storage,
  userId: string,
  providerId: string,
  subject: string,
  now: number,
  by: string,
): Promise<boolean> {
  const removed = await storage.linkedIdentities.delete(providerId, subject, userId);
  if (removed) {
    const actor: Actor = by === 'cli' ? { kind: 'cli' } : { kind: 'user', id: by };
    await record(storage, now, 'identity_unlinked', userId, { provider: providerId }, { actor });
  }
  return removed;
}
