// What Gatehouse counts, as one small interface on `deps`: call sites say `deps.metrics.tokenIssued(grant)` and
// never see Prometheus. Metrics are off unless GATEHOUSE_METRICS_ADDRESS is set; off, `deps.metrics` is
// `noMetrics`, whose methods are empty functions, and prom-client is never loaded (prometheus.ts is imported
// only when metrics are on: it costs about 50 ms of start-up).
import type { StorageObserver } from '../storage/kysely/index.ts';

/** The route of a request that matched none (a 404): one value whatever the URL, so scanners add no series. */
export const UNMATCHED_ROUTE = 'unmatched';

export type LoginOutcome = 'succeeded' | 'failed' | 'throttled';

export interface Metrics {
  /** False for noMetrics: start-up skips what only metrics need. */
  readonly enabled: boolean;
  /** One answered HTTP request. `route` is the route pattern (`/oauth/register/:clientId`), never the URL. */
  request(method: string, route: string, statusCode: number, seconds: number): void;
  /** The token endpoint answered with tokens. */
  tokenIssued(grantType: string): void;
  /** A rotated refresh token came back: its family was revoked (RFC 9700 §4.14.2). */
  refreshTokenReuse(): void;
  /** A spent authorization code came back: what it issued was revoked (RFC 6749 §4.1.2). */
  authorizationCodeReuse(): void;
  /** A password sign-in on the login page. */
  login(outcome: LoginOutcome): void;
  /** A client registered itself over HTTP (RFC 7591). */
  clientRegistered(): void;
  /** Given to the storage when it opens; undefined when off, so that storage calls are not timed at all. */
  readonly storage: StorageObserver | undefined;
}

const nothing = () => {};

export const noMetrics: Metrics = {
  enabled: false,
  request: nothing,
  tokenIssued: nothing,
  refreshTokenReuse: nothing,
  authorizationCodeReuse: nothing,
  login: nothing,
  clientRegistered: nothing,
  storage: undefined,
};
