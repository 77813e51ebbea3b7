// Documents a client names and Gatehouse fetches: a Client ID Metadata Document (its client_id is the URL) and
// a private_key_jwt client's key set (jwks_uri). One fetch-and-cache for both (docs/security.md H-03, H-07, H-08, H-11):
//
// - Every fetch goes through the SSRF guard (http/outbound.ts) with the operator's host lists and the per-host
//   rate limit, no redirects, a size cap and a deadline. Any failure is a ClientDocumentError whose message is
//   safe to show the client; callers turn it into invalid_client / invalid_request, never a 5xx.
// - HTTP caching (RFC 9111 §4.2): Cache-Control max-age (less Age) is the freshness; no-store, no-cache and
//   max-age=0 count as 0; without Cache-Control a document stays DEFAULT_FRESHNESS_S. The operator's floor and
//   ceiling clamp it: the floor is what keeps a client from costing an outbound request on each of its own
//   requests (so a no-store document is still kept for the floor), the ceiling is how long a change, a removed
//   redirect URI or a revoked key, can take to be seen.
// - Bounded: at most `maxEntries` documents (least recently used go first) of at most `maxBytes` each, so the
//   cache holds at most maxEntries × maxBytes. Concurrent requests for one URL share one fetch.
// - The cache is keyed by the exact URL asked for, and an entry holds only what that URL answered: a response
//   can never fill another URL's entry (cache poisoning), and the CIMD check that the document's client_id is
//   its own URL is made by the caller on every fetch.
import {
  type HostPolicy,
  type HostRateLimiter,
  OutboundRefusedError,
  outboundFetch,
} from '../http/outbound.ts';

/** Why a document could not be had; the message names the problem, never a secret, and is safe to return. */
export class ClientDocumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClientDocumentError';
  }
}

export interface ClientDocumentCacheOptions {
  /** Freshness floor and ceiling, seconds. */
  minSeconds: number;
  maxSeconds: number;
  maxEntries: number;
  maxBytes: number;
  hostPolicy: HostPolicy;
  rateLimiter: HostRateLimiter;
  timeoutMs?: number;
  now?: () => number;
  /**
   * Test-only: admit a loopback target over plain http (http/outbound.ts `allowPrivateNetwork`). No
   * configuration key sets it: a client-supplied URL must never reach an internal network.
   */
  allowPrivateNetwork?: boolean;
  /** Test-only: the certificate of a test's https server (http/outbound.ts `ca`). */
  ca?: string;
}

export interface CachedDocument {
  url: string;
  /** The parsed JSON object. */
  body: Record<string, unknown>;
  fetchedAt: number;
  expiresAt: number;
}

/** Freshness of a response without Cache-Control. */
const DEFAULT_FRESHNESS_S = 300;
const JSON_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;

/** Seconds a response may be used for, from its Cache-Control and Age headers (before the operator's clamp). */
export function freshnessSeconds(headers: Headers): number {
  const cacheControl = headers.get('cache-control');
  if (cacheControl === null) return DEFAULT_FRESHNESS_S;
  const directives = cacheControl
    .toLowerCase()
    .split(',')
    .map((part) => part.trim());
  if (directives.some((d) => d === 'no-store' || d === 'no-cache' || d === 'private')) return 0;
  const maxAge = directives.map((d) => /^max-age\s*=\s*"?(\d{1,10})"?$/.exec(d)?.[1]).find(Boolean);
  if (maxAge === undefined) return DEFAULT_FRESHNESS_S;
  const age = Number(headers.get('age') ?? 0);
  return Math.max(0, Number(maxAge) - (Number.isFinite(age) ? age : 0));
}

export class ClientDocumentCache {
  readonly #options: ClientDocumentCacheOptions;
  readonly #entries = new Map<string, CachedDocument>();
  readonly #inFlight = new Map<string, Promise<CachedDocument>>();
  readonly #fetch: ReturnType<typeof outboundFetch>;
  readonly #now: () => number;

  constructor(options: ClientDocumentCacheOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#fetch = outboundFetch({
      allowPrivateNetwork: options.allowPrivateNetwork ?? false,
      timeoutMs: options.timeoutMs ?? 5000,
      maxResponseBytes: options.maxBytes,
      hostPolicy: options.hostPolicy,
      rateLimiter: options.rateLimiter,
      ca: options.ca,
    });
  }

  /** How many documents are held (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  /** The cached document if it is still fresh, without fetching. */
  peek(url: string): CachedDocument | undefined {
    const entry = this.#entries.get(url);
    return entry && entry.expiresAt > this.#now() ? entry : undefined;
  }

  /**
   * The document at `url`: the cached one while fresh, else fetched. With `refreshOlderThanMs`, a fresh entry
   * fetched longer ago than that is fetched again (a key set asked for a kid it lacks: once, then the entry is
   * new and the next miss waits for the interval).
   */
  async get(url: string, options: { refreshOlderThanMs?: number } = {}): Promise<CachedDocument> {
    const now = this.#now();
    const entry = this.#entries.get(url);
    const tooOld =
      entry !== undefined &&
      options.refreshOlderThanMs !== undefined &&
      now - entry.fetchedAt > options.refreshOlderThanMs;
    if (entry && entry.expiresAt > now && !tooOld) {
      // Least recently used goes first: a hit moves the entry to the end.
      this.#entries.delete(url);
      this.#entries.set(url, entry);
      return entry;
    }
    const pending = this.#inFlight.get(url);
    if (pending) return pending;
    const fetching = this.#load(url).finally(() => this.#inFlight.delete(url));
    this.#inFlight.set(url, fetching);
    return fetching;
  }

  /** Forgets a document (a client deleted, a test). */
  forget(url: string): void {
    this.#entries.delete(url);
  }

  async #load(url: string): Promise<CachedDocument> {
    let response: Response;
    try {
      response = await this.#fetch(url, { headers: { accept: 'application/json' } });
    } catch (error) {
      // The guard's refusals say what was refused; a network error says only that the host could not be reached
      // (its message could name internal details of the resolver).
      throw new ClientDocumentError(
        error instanceof OutboundRefusedError
          ? `${url} was not fetched: ${error.message}`
          : `${url} could not be reached`,
      );
    }
    if (response.status !== 200) throw new ClientDocumentError(`${url} answered HTTP ${response.status}`);
    const type = response.headers.get('content-type') ?? '';
    if (!JSON_TYPE.test(type)) throw new ClientDocumentError(`${url} is not application/json`);
    let body: unknown;
    try {
      body = JSON.parse(await response.text());
    } catch {
      throw new ClientDocumentError(`${url} is not valid JSON`);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ClientDocumentError(`${url} is not a JSON object`);
    }
    const { minSeconds, maxSeconds, maxEntries } = this.#options;
    const seconds = Math.min(maxSeconds, Math.max(minSeconds, freshnessSeconds(response.headers)));
    const fetchedAt = this.#now();
    const entry: CachedDocument = {
      url,
      body: body as Record<string, unknown>,
      fetchedAt,
      expiresAt: fetchedAt + seconds * 1000,
    };
    this.#entries.delete(url);
    this.#entries.set(url, entry);
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= maxEntries) break;
      this.#entries.delete(key);
    }
    return entry;
  }
}
