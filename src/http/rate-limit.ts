// Per-client-IP limits on requests that use a shared resource (dynamic registration stores a client per call),
// counted in the database (Storage.rateLimits): every process and instance shares one count, and a restart does
// not reset it. In process memory the limit multiplied with --workers and started afresh on every restart.
import type { onRequestAsyncHookHandler } from 'fastify';
import { tooManyRequests } from '../errors.ts';
import type { Storage } from '../storage/storage.ts';

export interface IpRateLimit {
  /** Names the counter (keys are "<name>:<client IP>"). */
  name: string;
  /** Requests allowed per client IP per window. */
  max: number;
  windowMs: number;
}

/**
 * An onRequest hook that counts the request against its client IP (one atomic upsert) before the body is read,
 * and refuses it past the limit with 429 temporarily_unavailable and Retry-After (RFC 6585 §4) in the JSON error
 * shape. A database outage refuses it with 503, like every storage failure.
 */
export function ipRateLimit(
  storage: Storage,
  now: () => number,
  limit: IpRateLimit,
): onRequestAsyncHookHandler {
  return async (request) => {
    const at = now();
    const { count, resetAt } = await storage.rateLimits.hit(
      `${limit.name}:${request.ip}`,
      at,
      limit.windowMs,
    );
    if (count > limit.max) {
      throw tooManyRequests((resetAt - at) / 1000);
    }
  };
}
