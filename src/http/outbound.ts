// THE way Gatehouse makes an outbound HTTP request (docs/security.md H-03, H-07). Every server-side fetch goes
// through outboundFetch(): today the calls to upstream identity providers, later any document a client names.
//
// - https only; plain http only to a loopback address, and only when the operator allowed it for that target.
// - The host is resolved once, in the connect itself (the socket's `lookup`), and every address it resolves to
//   must be public unicast: a name that answers 127.0.0.1 or 169.254.169.254 on the second lookup (DNS
//   rebinding) is refused at connect time, not at a check made before. IP literals are checked the same way.
//   An operator allowance admits loopback and private ranges for one target; cloud metadata addresses,
//   link-local, multicast and unspecified addresses are refused whatever the allowance.
// - No redirects: a 3xx answer is refused (a redirect would be a second, unchecked request).
// - Bounded: one deadline for the whole exchange (default 5 s) and a cap on the body (default 256 KiB).
// - Nothing is added: no cookies, no ambient credentials; only the headers the caller gives.
// - For targets a stranger names (a client's metadata document or key set), two more locks the caller passes:
//   the operator's allow-list and deny-list of host patterns (HostPolicy, docs/security.md H-11), and a per-host rate limit
//   (HostRateLimiter), so that nobody can make Gatehouse hammer a host with requests it did not want.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** An outbound request Gatehouse refused to make or to finish; `message` says why (safe to log). */
export class OutboundRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundRefusedError';
  }
}

export interface OutboundOptions {
  /**
   * The operator vouches for this target on a loopback or private network (an IdP inside the cluster, a test on
   * 127.0.0.1): loopback, private (RFC 1918), carrier-grade NAT and unique-local addresses are admitted, and
   * plain http to a loopback address. Never a value a client or user can choose.
   */
  allowPrivateNetwork?: boolean;
  /** The whole exchange, connect to last byte (default 5000 ms). */
  timeoutMs?: number;
  /** Largest response body accepted (default 256 KiB). */
  maxResponseBytes?: number;
  /** The operator's host patterns: a host the policy refuses is never contacted (checkHostPolicy). */
  hostPolicy?: HostPolicy;
  /** Counts every request per host; past its limit a request is refused before any connection. */
  rateLimiter?: HostRateLimiter;
  /**
   * Certificates to trust instead of the system's (PEM): for a target whose certificate an operator issued,
   * or a test's own https server on 127.0.0.1. Never a value a client or user can choose.
   */
  ca?: string;
}

/**
 * The operator's lists of host patterns for outbound requests a stranger can cause. A pattern is a host name
 * (`app.example.com`, matched exactly) or `*.` and a domain (`*.example.com`: any name under it, not the domain
 * itself). The deny-list wins; an empty allow-list admits every host the address rules admit.
 */
export interface HostPolicy {
  allow: readonly string[];
  deny: readonly string[];
}

/** A host pattern as the configuration may spell it: lower case, `*.` only as a prefix, no port or scheme. */
export function isHostPattern(pattern: string): boolean {
  return /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(pattern);
}

function hostMatches(host: string, pattern: string): boolean {
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return host === pattern;
}

/** Whether the operator's lists let Gatehouse contact `hostname` (any spelling: case, a trailing dot). */
export function checkHostPolicy(hostname: string, policy: HostPolicy): AddressVerdict {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  const denied = policy.deny.find((pattern) => hostMatches(host, pattern));
  if (denied) return { allowed: false, reason: `${host} is on the operator's deny-list (${denied})` };
  if (policy.allow.length > 0 && !policy.allow.some((pattern) => hostMatches(host, pattern))) {
    return { allowed: false, reason: `${host} is not on the operator's allow-list` };
  }
  return { allowed: true };
}

/**
 * At most `perMinute` requests to one host in any one-minute window, in this process (each instance counts its
 * own: the bound on what a host receives is this times the number of instances, still a bound). The table
 * holds at most `maxHosts` hosts; past that the ones whose window ended are dropped first, then the oldest,
 * so a stranger naming a million hosts grows nothing without bound.
 */
export class HostRateLimiter {
  readonly perMinute: number;
  readonly #maxHosts: number;
  readonly #windows = new Map<string, { startedAt: number; count: number }>();

  constructor(perMinute: number, maxHosts = 10_000) {
    this.perMinute = perMinute;
    this.#maxHosts = maxHosts;
  }

  /** Counts a request to `host` at `now`; false when the host has had its share this minute. */
  take(host: string, now: number = Date.now()): boolean {
    const key = host.toLowerCase().replace(/\.$/, '');
    let window = this.#windows.get(key);
    if (!window || now - window.startedAt >= 60_000) {
      this.#windows.delete(key);
      window = { startedAt: now, count: 0 };
      this.#windows.set(key, window);
      this.#bound(now);
    }
    window.count += 1;
    return window.count <= this.perMinute;
  }

  #bound(now: number): void {
    if (this.#windows.size <= this.#maxHosts) return;
    for (const [host, window] of this.#windows) {
      if (now - window.startedAt >= 60_000) this.#windows.delete(host);
    }
    for (const host of this.#windows.keys()) {
      if (this.#windows.size <= this.#maxHosts) break;
      this.#windows.delete(host);
    }
  }
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024;

/**
 * Cloud instance metadata services that live outside the link-local range: refused even with the allowance
 * (AWS's IPv6 IMDS sits in unique-local space, Alibaba's in carrier-grade NAT space).
 */
const METADATA_ADDRESSES = new Set(['fd00:ec2::254', '100.100.100.200']);

/** Ranges an operator allowance admits; everything else that is not public unicast is always refused. */
const PRIVATE_RANGES = new Set(['loopback', 'private', 'uniqueLocal', 'carrierGradeNat']);

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

/**
 * The range an IP address belongs to, as ipaddr.js names them: `unicast` is the public Internet; `loopback`,
 * `private`, `linkLocal`, `uniqueLocal`, `carrierGradeNat`, `unspecified`, `multicast`, `reserved`, … are not.
 * An IPv4-mapped IPv6 address (::ffff:127.0.0.1, ::ffff:7f00:1) is judged as the IPv4 address it carries.
 * Undefined for anything that is not an IP address in its canonical textual form.
 */
export function addressRange(address: string): string | undefined {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  // isIP first: ipaddr.js also parses legacy forms ("0x7f.1", "127.1") that a resolver never returns.
  if (isIP(bare) === 0) return undefined;
  const parsed = ipaddr.process(bare);
  return parsed.range();
}

/** Whether Gatehouse may connect to `address` (an IP address), with or without the operator allowance. */
export function checkAddress(address: string, allowPrivateNetwork = false): AddressVerdict {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const range = addressRange(bare);
  if (range === undefined) return { allowed: false, reason: `"${address}" is not an IP address` };
  const canonical = ipaddr.process(bare).toString();
  if (METADATA_ADDRESSES.has(canonical)) {
    return { allowed: false, reason: `${canonical} is a cloud metadata address` };
  }
  if (range === 'unicast') return { allowed: true };
  if (allowPrivateNetwork && PRIVATE_RANGES.has(range)) return { allowed: true };
  return { allowed: false, reason: `${canonical} is a ${range} address` };
}

/**
 * Checks what can be checked before connecting: the scheme (https; http only with the allowance, and then the
 * connect must land on loopback), no credentials in the URL. Returns the parsed URL.
 */
export function checkOutboundUrl(raw: string | URL, allowPrivateNetwork = false): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundRefusedError('not an absolute URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowPrivateNetwork)) {
    throw new OutboundRefusedError(`${url.protocol} URLs are refused: https only`);
  }
  if (url.username || url.password) throw new OutboundRefusedError('credentials in the URL are refused');
  return url;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * The socket's `lookup`: resolves the name once and refuses the connection unless every address it resolved
 * to may be reached. Checking all of them (not just the one used) keeps a name from mixing a public and a
 * private answer and getting the private one through happy eyeballs.
 */
function guardedLookup(allowPrivateNetwork: boolean, requireLoopback: boolean) {
  return (hostname: string, options: { all?: boolean; family?: number }, callback: LookupCallback) => {
    const answer = (addresses: LookupAddress[]) => {
      if (addresses.length === 0) {
        callback(new OutboundRefusedError(`${hostname} did not resolve`), []);
        return;
      }
      for (const { address } of addresses) {
        const verdict = checkAddress(address, allowPrivateNetwork);
        if (!verdict.allowed) {
          callback(new OutboundRefusedError(`${hostname}: ${verdict.reason}`), []);
          return;
        }
        if (requireLoopback && addressRange(address) !== 'loopback') {
          callback(new OutboundRefusedError(`${hostname}: plain http only to loopback addresses`), []);
          return;
        }
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    };
    if (isIP(hostname) !== 0) {
      answer([{ address: hostname, family: isIP(hostname) }]);
      return;
    }
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (error, addresses) => {
      if (error) callback(error, []);
      else answer(addresses);
    });
  };
}

export interface OutboundInit {
  method?: string;
  headers?: Record<string, string> | Headers | [string, string][];
  body?: string | URLSearchParams | Uint8Array | null;
  signal?: AbortSignal | null;
}

/**
 * A fetch-compatible function for one kind of target (oauth4webapi's `customFetch`). Resolves with a Response
 * holding the whole (bounded) body; rejects with OutboundRefusedError for a refused target, redirect, oversize
 * body or timeout, and with the network error otherwise.
 */
export function outboundFetch(options: OutboundOptions = {}) {
  const allowPrivateNetwork = options.allowPrivateNetwork ?? false;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;

  return (input: string | URL, init: OutboundInit = {}): Promise<Response> => {
    let url: URL;
    try {
      url = checkOutboundUrl(input, allowPrivateNetwork);
    } catch (error) {
      return Promise.reject(error);
    }
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    if (options.hostPolicy) {
      const verdict = checkHostPolicy(hostname, options.hostPolicy);
      if (!verdict.allowed) return Promise.reject(new OutboundRefusedError(verdict.reason));
    }
    // An IP literal never reaches `lookup` (Node connects to it directly): judge it here.
    if (isIP(hostname) !== 0) {
      const verdict = checkAddress(hostname, allowPrivateNetwork);
      if (!verdict.allowed) return Promise.reject(new OutboundRefusedError(verdict.reason));
      if (url.protocol === 'http:' && addressRange(hostname) !== 'loopback') {
        return Promise.reject(new OutboundRefusedError('plain http only to loopback addresses'));
      }
    }
    // Counted last, so that a request refused above costs the host nothing.
    if (options.rateLimiter && !options.rateLimiter.take(hostname)) {
      return Promise.reject(
        new OutboundRefusedError(`too many requests to ${hostname}: try again in a minute`),
      );
    }
    const headers: Record<string, string> = {};
    new Headers(init.headers ?? {}).forEach((value, name) => {
      headers[name] = value;
    });
    const body =
      init.body == null
        ? undefined
        : init.body instanceof Uint8Array
          ? Buffer.from(init.body)
          : Buffer.from(String(init.body), 'utf8');
    if (body) headers['content-length'] = String(body.length);

    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.destroy();
        reject(error);
      };
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const request = send(url, {
        method: init.method ?? 'GET',
        headers,
        lookup: guardedLookup(allowPrivateNetwork, url.protocol === 'http:') as never,
        // A fresh connection each time: a pooled socket would skip the lookup check for the next request.
        agent: false,
        ...(options.ca && url.protocol === 'https:' ? { ca: options.ca } : {}),
      });
      const timer = setTimeout(
        () => fail(new OutboundRefusedError(`no complete answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const signal = init.signal;
      if (signal) {
        if (signal.aborted) fail(new OutboundRefusedError('aborted'));
        signal.addEventListener('abort', () => fail(new OutboundRefusedError('aborted')), { once: true });
      }
      request.on('error', (error) => fail(error));
      request.on('response', (response: IncomingMessage) => {
        const status = response.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          fail(new OutboundRefusedError(`redirects are not followed (HTTP ${status})`));
          return;
        }
        const declared = Number(response.headers['content-length'] ?? 0);
        if (declared > maxBytes) {
          fail(new OutboundRefusedError(`response larger than ${maxBytes} bytes`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) fail(new OutboundRefusedError(`response larger than ${maxBytes} bytes`));
          else chunks.push(chunk);
        });
        response.on('error', (error) => fail(error));
        response.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(response.headers)) {
            if (value === undefined) continue;
            for (const item of Array.isArray(value) ? value : [value]) responseHeaders.append(name, item);
          }
          const empty = status === 204 || status === 205 || status === 304;
          resolve(
            new Response(empty ? null : Buffer.concat(chunks), {
              status,
              statusText: response.statusMessage ?? '',
              headers: responseHeaders,
            }),
          );
        });
      });
      request.end(body);
    });
  };
}
