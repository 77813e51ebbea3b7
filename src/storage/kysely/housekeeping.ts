import type { HousekeepingStore } from '../storage.ts';
import type { Db } from './rows.ts';

const DAY = 86_400_000;

export function housekeepingStore(db: Db): HousekeepingStore {
  // Each delete removes at most `batchSize` rows picked through an index on the expiry column, so it holds
  // locks briefly and never scans a table.
  async function purge(
    table:
      | 'authorization_codes'
      | 'device_authorizations'
      | 'interactions'
      | 'sessions'
      | 'access_tokens'
      | 'rate_limits',
    key: 'code_hash' | 'device_code_hash' | 'id' | 'id_hash' | 'key',
    before: number,
    batchSize: number,
  ): Promise<number> {
    const result = await db
      .deleteFrom(table)
      .where(key as never, 'in', (eb) =>
        eb
          .selectFrom(table)
          .select(key as never)
          .where('expires_at' as never, '<', before as never)
          .limit(batchSize),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  return {
    async purgeExpired(now, batchSize, refreshTokenLifetimeMs, eventsBefore) {
      const counts: Record<string, number> = {};
      counts.authorization_codes = await purge('authorization_codes', 'code_hash', now - DAY, batchSize);
      // Kept a day past expiry like codes, so that a late poll still hears expired_token (RFC 8628 §3.5).
      counts.device_authorizations = await purge(
        'device_authorizations',
        'device_code_hash',
        now - DAY,
        batchSize,
      );
      counts.interactions = await purge('interactions', 'id', now, batchSize);
      counts.sessions = await purge('sessions', 'id_hash', now, batchSize);
      counts.access_tokens = await purge('access_tokens', 'id', now, batchSize);
      // Through the created_at index (rows are appended in that order); the expiry columns decide.
      const refresh = await db
        .deleteFrom('refresh_tokens')
        .where('token_hash', 'in', (eb) =>
          eb
            .selectFrom('refresh_tokens')
            .select('token_hash')
            .where('created_at', '<', now - refreshTokenLifetimeMs)
            .where((row) => row.or([row('expires_at', '<=', now), row('idle_expires_at', '<=', now)]))
            .limit(batchSize),
        )
        .executeTakeFirst();
      counts.refresh_tokens = Number(refresh.numDeletedRows);
      const throttle = await db
        .deleteFrom('login_throttle')
        .where('key', 'in', (eb) =>
          eb
            .selectFrom('login_throttle')
            .select('key')
            .where('last_failure_at', '<', now - DAY)
            .where('blocked_until', '<', now)
            .limit(batchSize),
        )
        .executeTakeFirst();
      counts.login_throttle = Number(throttle.numDeletedRows);
      counts.rate_limits = await purge('rate_limits', 'key', now, batchSize);
      if (eventsBefore !== undefined) {
        // Oldest first through security_events_created_at (created_at, id).
        const events = await db
          .deleteFrom('security_events')
          .where('id', 'in', (eb) =>
            eb
              .selectFrom('security_events')
              .select('id')
              .where('created_at', '<', eventsBefore)
              .orderBy('created_at')
              .limit(batchSize),
          )
          .executeTakeFirst();
        counts.security_events = Number(events.numDeletedRows);
      }
      return counts;
    },
  };
}
