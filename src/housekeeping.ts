// The periodic purge of expired codes, device authorizations, tokens, sessions and interactions (and
// `gatehouse purge`): bounded batches with a pause between them, so requests keep their share of the database.
// The pause grows with the batch: a batch that took T ms is followed by at least 9·T ms of rest, so the purge
// holds the database (and the event loop) at most a tenth of the time. Measured with the benchmark's large
// store: a 20 ms fixed pause cost 33–38 % of client_credentials and introspection throughput while it ran.
import type { Storage } from './storage/storage.ts';
import type { Clock } from './util/clock.ts';

export interface PurgeOptions {
  /** The longest one refresh token row can be usable (see HousekeepingStore); default 30 days. */
  refreshTokenLifetimeMs?: number;
  /** Security events older than this go too (GATEHOUSE_EVENT_RETENTION_DAYS); absent or 0: all are kept. */
  eventRetentionMs?: number;
  batchSize?: number;
  /** Stop after this many batches per run; the next run continues. */
  maxBatches?: number;
  /** The least pause between batches; the pause is also at least 9 times the last batch's duration. */
  pauseMs?: number;
  /** false: no pause at all (`gatehouse purge --no-rest`, for a backlog while the server is stopped or idle). */
  rest?: boolean;
  /** How to wait (tests watch the pauses). */
  sleep?: (ms: number) => Promise<void>;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function purgeExpired(storage: Storage, clock: Clock, options: PurgeOptions = {}) {
  const batchSize = options.batchSize ?? 500;
  const totals: Record<string, number> = {};
  for (let batch = 0; batch < (options.maxBatches ?? 200); batch++) {
    const began = performance.now();
    const now = clock.now();
    const counts = await storage.housekeeping.purgeExpired(
      now,
      batchSize,
      options.refreshTokenLifetimeMs ?? 30 * 86_400_000,
      options.eventRetentionMs ? now - options.eventRetentionMs : undefined,
    );
    let busiest = 0;
    for (const [table, count] of Object.entries(counts)) {
      totals[table] = (totals[table] ?? 0) + count;
      busiest = Math.max(busiest, count);
    }
    if (busiest < batchSize) break;
    if (options.rest === false) continue;
    const took = performance.now() - began;
    await (options.sleep ?? sleepFor)(Math.max(options.pauseMs ?? 20, 9 * took));
  }
  return totals;
}

/** How long the configuration keeps security events, for PurgeOptions (0: for ever). */
export function eventRetentionMs(config: { eventRetentionDays: number }): number {
  return config.eventRetentionDays * 86_400_000;
}

/** What the configuration allows a refresh token row to live: its idle window, or the absolute lifetime. */
export function refreshTokenLifetimeMs(config: {
  refreshTokenTtl: number;
  refreshTokenIdleTtl: number;
}): number {
  const seconds =
    config.refreshTokenIdleTtl > 0
      ? Math.min(config.refreshTokenIdleTtl, config.refreshTokenTtl)
      : config.refreshTokenTtl;
  return seconds * 1000;
}
