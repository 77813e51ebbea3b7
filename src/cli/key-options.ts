// What the key commands (`api-keys`, `admin-keys`) share: the --expires-in-days option and how a key's lifetime is
// printed in their JSON.
import { type OptionSpec, UsageError } from './command.ts';

export const EXPIRES_IN_DAYS_OPTION: OptionSpec = {
  type: 'string',
  value: 'N',
  description: 'The key stops working after N days (1 to 3650). Default: it never expires.',
};

/** --expires-in-days: absent, or a whole number of days from 1 to 3650. */
export function expiresInDays(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1 || days > 3650) {
    throw new UsageError('--expires-in-days takes a whole number from 1 to 3650.');
  }
  return days;
}

/** A key's dates and status as the listings print them. */
export function lifetime(
  key: { createdAt: number; expiresAt: number | null; revokedAt: number | null },
  now: number,
) {
  return {
    created_at: new Date(key.createdAt).toISOString(),
    expires_at: key.expiresAt === null ? null : new Date(key.expiresAt).toISOString(),
    status:
      key.revokedAt !== null
        ? 'revoked'
        : key.expiresAt !== null && key.expiresAt <= now
          ? 'expired'
          : 'active',
  };
}
