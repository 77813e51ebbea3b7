// Initial access tokens (RFC 7591 §3): an operator hands one to a developer, who may then register clients
// under GATEHOUSE_REGISTRATION=token. One place for their bounds, for the console, the admin API and the CLI.
import { UserInputError } from '../accounts/users.ts';
import { type Acting, recordSecurityEvent } from '../oauth/security-events.ts';
import type { Storage } from '../storage/storage.ts';
import { sha256 } from '../util/hash.ts';
import { randomToken } from '../util/random.ts';

export const REGISTRATION_TOKEN_LIMITS = {
  maxUses: 10_000,
  maxHours: 24 * 365,
  defaultHours: 24,
} as const;

export interface IssuedRegistrationToken {
  /** Shown once; only its SHA-256 is stored. */
  token: string;
  uses: number;
  expiresAt: number;
}

export async function issueRegistrationToken(
  storage: Storage,
  now: number,
  request: { uses: number; hours?: number },
  by: Acting,
): Promise<IssuedRegistrationToken> {
  const { uses } = request;
  const hours = request.hours ?? REGISTRATION_TOKEN_LIMITS.defaultHours;
  if (!Number.isInteger(uses) || uses < 1 || uses > REGISTRATION_TOKEN_LIMITS.maxUses) {
    throw new UserInputError(
      `Registrations must be a whole number from 1 to ${REGISTRATION_TOKEN_LIMITS.maxUses}.`,
    );
  }
  if (!Number.isInteger(hours) || hours < 1 || hours > REGISTRATION_TOKEN_LIMITS.maxHours) {
    throw new UserInputError(
      `The lifetime must be a whole number of hours from 1 to ${REGISTRATION_TOKEN_LIMITS.maxHours}.`,
    );
  }
  const token = randomToken(32);
  const tokenHash = sha256(token);
  const expiresAt = now + hours * 3_600_000;
  await storage.transaction(async (tx) => {
    await tx.initialAccessTokens.create(tokenHash, uses, now, expiresAt);
    await recordSecurityEvent(tx, now, 'registration_token_issued', {
      actor: by.actor,
      ip: by.ip,
      // The hash's first characters name the token in the log without making it usable.
      detail: {
        uses,
        expires_at: new Date(expiresAt).toISOString(),
        token_hash_prefix: tokenHash.slice(0, 8),
      },
    });
  });
  return { token, uses, expiresAt };
}
