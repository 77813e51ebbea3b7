import { sql } from 'kysely';
import type { RateLimitStore } from '../storage.ts';
import type { Db } from './rows.ts';

export function rateLimitStore(db: Db): RateLimitStore {
  return {
    async hit(key, now, windowMs) {
      // One upsert: concurrent hits on one key, from any process, queue on its row and each sees its own count.
      const ended = sql<boolean>`rate_limits.expires_at <= ${now}`;
      const row = await db
        .insertInto('rate_limits')
        .values({ key, hits: 1, expires_at: now + windowMs })
        .onConflict((oc) =>
          oc.column('key').doUpdateSet({
            hits: sql<number>`case when ${ended} then 1 else rate_limits.hits + 1 end`,
            expires_at: sql<number>`case when ${ended} then ${now + windowMs} else rate_limits.expires_at end`,
          }),
        )
        .returning(['hits', 'expires_at'])
        .executeTakeFirstOrThrow();
      return { count: Number(row.hits), resetAt: Number(row.expires_at) };
    },
  };
}
