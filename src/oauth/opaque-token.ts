// Opaque credentials (refresh tokens, authorization codes, client secrets) look like `ghr_<43 chars><6 chars>`:
// a type prefix that secret scanners can match, 256 bits of CSPRNG output, and a CRC32 tail so that a mistyped
// or truncated value is refused without a database lookup. Only SHA-256 of the whole string is ever stored.
// Access tokens, refresh tokens and codes, written on every flow, also carry their issue time (9 characters
// before the random part) so that the rows that record them can be keyed in time order.
// The checksum and the access-token and API-key prefixes come from @gatehouse/resource, which checks them in
// every API: one definition for both sides.
import { ACCESS_TOKEN_PREFIX, API_KEY_PREFIX, opaqueTokenChecksum } from '@gatehouse/resource';
import { sha256 } from '../util/hash.ts';
import { randomToken, timePrefix } from '../util/random.ts';

export const TOKEN_PREFIX = {
  refreshToken: 'ghr_',
  accessToken: ACCESS_TOKEN_PREFIX,
  apiKey: API_KEY_PREFIX,
  authorizationCode: 'ghc_',
  /** RFC 8628 device codes: what a device polls the token endpoint with. */
  deviceCode: 'ghd_',
  clientSecret: 'ghs_',
  /** The admin API's keys (`gatehouse admin-keys create`). */
  adminKey: 'ghm_',
  /** The one-time login and consent challenges handed to the company's own pages. */
  interactionChallenge: 'ghi_',
} as const;

/** CRC32 as base64url (6 characters): checked on every token a request presents. */
export const checksum: (value: string) => string = opaqueTokenChecksum;

export function mintOpaqueToken(prefix: string): string {
  return opaqueTokenFrom(prefix, randomToken(32));
}

/** Formats 43 base64url characters (256 bits) as a prefixed, checksummed token. */
export function opaqueTokenFrom(prefix: string, body43: string): string {
  const body = prefix + body43;
  return body + checksum(body);
}

const TIME_LENGTH = 9;

/**
 * Access tokens, refresh tokens and codes, one or more written per request, carry their issue time (see
 * timeOrderedTokenKey).
 */
const TIME_ORDERED: ReadonlySet<string> = new Set([
  TOKEN_PREFIX.accessToken,
  TOKEN_PREFIX.refreshToken,
  TOKEN_PREFIX.authorizationCode,
  TOKEN_PREFIX.deviceCode,
]);

/** `gha_`/`ghr_`/`ghc_` + issue time (9 characters) + 256 random bits (or the given 43 characters) + CRC32. */
export function mintTimeOrderedToken(
  prefix: string,
  issuedAt: number,
  body43: string = randomToken(32),
): string {
  if (!TIME_ORDERED.has(prefix)) throw new Error(`${prefix} tokens do not carry a time`);
  return opaqueTokenFrom(prefix, timePrefix(issuedAt) + body43);
}

/** An opaque access token: `gha_` + issue time (9 characters) + 256 random bits + CRC32. */
export function mintOpaqueAccessToken(now: number): string {
  return mintTimeOrderedToken(TOKEN_PREFIX.accessToken, now);
}

/**
 * The key an access token, refresh token or code is stored and looked up under: its issue time, then SHA-256
 * of the whole token. It sorts by time (see timeOrderedId), and still only a holder of the token can compute it.
 */
export function timeOrderedTokenKey(token: string): string {
  const start = TOKEN_PREFIX.accessToken.length;
  return token.slice(start, start + TIME_LENGTH) + sha256(token);
}

function bodyLength(prefix: string): number {
  return TIME_ORDERED.has(prefix) ? TIME_LENGTH + 43 : 43;
}

/** True when the value has the prefix, the length and a matching checksum (it may still be unknown). */
export function isWellFormedOpaqueToken(value: string, prefix: string): boolean {
  if (!value.startsWith(prefix) || value.length !== prefix.length + bodyLength(prefix) + 6) return false;
  const body = value.slice(0, -6);
  return checksum(body) === value.slice(-6);
}
