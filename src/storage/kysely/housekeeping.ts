import type { HousekeepingStore } from '../storage.ts';
import type { Db } from './rows.ts';

const DAY = 86_400_000;

export function housekeepingStore(db: Db): HousekeepingStore {
  // Each delete removes at most `batchSize` rows picked through an index on the expiry column, so it holds
  // locks briefly and never scans a table.
  async function purge(
    table: 'authorization_codes' | 'interactions' | 'sessions' | 'access_tokens' | 'refresh_tokens',
    key: 'code_hash' | 'id' | 'id_hash' | 'token_hash',
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
    async purgeExpired(now, batchSize) {
      const counts: Record<string, number> = {};
      counts.authorization_codes = await purge('authorization_codes', 'code_hash', now - DAY, batchSize);
      counts.interactions = await purge('interactions', 'id', now, batchSize);
      counts.sessions = await purge('sessions', 'id_hash', now, batchSize);
      counts.access_tokens = await purge('access_tokens', 'id', now, batchSize);
      counts.refresh_tokens = await purge('refresh_tokens', 'token_hash', now, batchSize);
      const throttle = await db
        .deleteFrom('login_throttle')
        .where('blocked_until', '<', now)
        .where('last_failure_at', '<', now - DAY)
        .executeTakeFirst();
      counts.login_throttle = Number(throttle.numDeletedRows);
      return counts;
    },
  };
}
