// RFC 9126 (pushed authorization requests): the request a client pushed, handed back as a request_uri that
// the browser then carries to /authorize. Nothing is stored: the request_uri is the request itself, sealed
// (AES-256-GCM under a key derived from the server secret, util/seal.ts) with its client and expiry, so every
// instance can open it and none needs a table or a cleanup. The browser can carry it but neither read nor
// change it.
//
// RFC 9126 §4 says a request_uri SHOULD be used once, and MAY be reused (a reload). A sealed one can be reused
// until it expires (PUSHED_REQUEST_TTL_S, 60 s); what a replay could obtain is bound to the pushed PKCE challenge,
// whose verifier only the client holds, and to the client's own redirect URI.
import type { KeyObject } from 'node:crypto';
import { seal, unseal } from '../util/seal.ts';

export const REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:';
/** RFC 9126 §2.2: "a short time"; the example says 60 s, enough to open a browser. */
export const PUSHED_REQUEST_TTL_S = 60;
const PURPOSE = 'pushed-authorization-request/v1';

/** Client authentication travels to the PAR endpoint only; it never goes into the request_uri. */
const NOT_PUSHED = new Set(['client_secret', 'client_assertion', 'client_assertion_type']);

interface Sealed {
  /** client_id */
  c: string;
  /** expiry, epoch ms */
  e: number;
  /** the authorization request's parameters, as a query string */
  p: string;
}

/**
 * The authorization request a client pushed, as /authorize reads one: the form's parameters without client
 * authentication, `resource` repeated again (http/form-body.ts joins its values with spaces), and the
 * authenticated client's id.
 */
export function pushedQuery(clientId: string, params: Record<string, string>): URLSearchParams {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (NOT_PUSHED.has(name)) continue;
    if (name === 'resource') for (const resource of value.split(' ')) query.append(name, resource);
    else query.append(name, value);
  }
  query.set('client_id', clientId);
  return query;
}

/** The request_uri for a validated pushed request (pushedQuery). */
export function pushRequest(
  key: KeyObject,
  clientId: string,
  query: URLSearchParams,
  now: number,
): { requestUri: string; expiresIn: number } {
  const sealed: Sealed = { c: clientId, e: now + PUSHED_REQUEST_TTL_S * 1000, p: query.toString() };
  return {
    requestUri: `${REQUEST_URI_PREFIX}${seal(sealed, key, PURPOSE)}`,
    expiresIn: PUSHED_REQUEST_TTL_S,
  };
}

/**
 * The pushed request's parameters, if `requestUri` is one this server made, for `clientId`, not expired; RFC
 * 9126 §4: only those parameters count, whatever else the authorization request carries.
 */
export function pushedParameters(
  key: KeyObject,
  requestUri: string,
  clientId: string | null,
  now: number,
): URLSearchParams | undefined {
  if (!requestUri.startsWith(REQUEST_URI_PREFIX) || requestUri.length > 96 * 1024) return undefined;
  const sealed = unseal<Sealed>(requestUri.slice(REQUEST_URI_PREFIX.length), key, PURPOSE);
  if (!sealed || sealed.c !== clientId || now >= sealed.e) return undefined;
  return new URLSearchParams(sealed.p);
}
