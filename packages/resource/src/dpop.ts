// RFC 9449 (DPoP): checking a proof JWT, the one definition Gatehouse's token endpoint and every API share.
//
// A proof is a JWS with `typ: dpop+jwt`, an asymmetric alg and the signer's public key in its `jwk` header; its
// claims name the request it goes with (`htm`, `htu` without query and fragment), when it was made (`iat`), a
// unique id (`jti`), and, with an access token, the token's SHA-256 (`ath`). This module checks all of that and
// returns the key's RFC 7638 thumbprint (`jkt`); remembering `jti` (replay) and server nonces are the caller's,
// because only the caller knows where "seen before" is stored (a database, a shared cache, this process).
//
// Web-standard APIs only (WebCrypto through jose, TextEncoder), like the rest of the package.
import {
  base64url,
  calculateJwkThumbprint,
  decodeProtectedHeader,
  EmbeddedJWK,
  type JWK,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { BearerError } from './errors.ts';

/** The asymmetric JWS algs a proof may use (RFC 9449 §4.3 item 5: no `none`, no MAC). */
export const DPOP_ALGORITHMS: readonly string[] = [
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
  'EdDSA',
  'Ed25519',
];

/** How old a proof's `iat` may be (seconds) unless the caller says otherwise. */
export const DPOP_DEFAULT_MAX_AGE_SECONDS = 300;
/** How far in the future a proof's `iat` may be (seconds): the client's clock may run ahead. */
export const DPOP_FUTURE_TOLERANCE_SECONDS = 60;

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_PROOF_LENGTH = 8192;
const MAX_JTI_LENGTH = 256;
// JWK members that only a private key has (RSA, EC, OKP); their presence means the client published its key.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

export interface DpopProofInput {
  /** The DPoP request header as the framework gives it (a string; an array or a comma means several headers). */
  header: string | string[] | undefined;
  /** The request's method, compared with `htm`. */
  method: string;
  /**
   * The URL the client called, as the client sees it (a public URL, not one rebuilt from a Host header a proxy or
   * an attacker chose). Its query and fragment are ignored, as `htu`'s are.
   */
  url: string;
  /** The access token sent with the proof: `ath` must be its SHA-256. Absent at the token endpoint. */
  accessToken?: string | undefined;
  /** Epoch milliseconds. */
  now: number;
  /** The algs accepted (default DPOP_ALGORITHMS). */
  algorithms?: readonly string[] | undefined;
  /** Seconds a proof stays acceptable after its `iat` (default 300). */
  maxAgeSeconds?: number | undefined;
}

export interface DpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key: what a bound token's `cnf.jkt` names. */
  jkt: string;
  jti: string;
  /** Epoch seconds. */
  iat: number;
  /** The server nonce the proof carries, if any (the caller checks it). */
  nonce: string | undefined;
  /** Epoch milliseconds after which the proof is refused anyway: how long its jti must be remembered. */
  acceptableUntil: number;
}

function invalidProof(description: string): BearerError {
  return new BearerError('invalid_dpop_proof', description).withScheme('DPoP');
}

/** The request URL as `htu` is compared: without query and fragment, normalised by the URL parser. */
export function htuOf(url: string): string | undefined {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) return undefined;
  parsed.search = '';
  parsed.hash = '';
  parsed.username = '';
  parsed.password = '';
  return parsed.href;
}

/** base64url(SHA-256(token)): the `ath` claim (RFC 9449 §4.2). */
export async function accessTokenHash(token: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token));
  return base64url.encode(new Uint8Array(digest));
}

/**
 * Checks one proof (RFC 9449 §4.3) and returns its key thumbprint and jti. Throws BearerError
 * `invalid_dpop_proof` (scheme DPoP) for anything wrong with it. Does not remember the jti and does not check a
 * nonce: the caller does both.
 */
export async function verifyDpopProof(input: DpopProofInput): Promise<DpopProof> {
  const { header } = input;
  if (header === undefined) throw invalidProof('The request has no DPoP proof');
  // §4.3 item 1: exactly one DPoP header. Node joins repeated headers with ", " (a JWS has no comma).
  if (Array.isArray(header) || header.includes(',')) throw invalidProof('Send one DPoP header');
  const proof = header.trim();
  if (proof.length > MAX_PROOF_LENGTH || !JWT_SHAPE.test(proof)) {
    throw invalidProof('The DPoP proof is not a JWS');
  }
  let jwk: JWK | undefined;
  try {
    jwk = decodeProtectedHeader(proof).jwk;
  } catch {
    throw invalidProof('The DPoP proof header is malformed');
  }
  if (!jwk || typeof jwk !== 'object') throw invalidProof('The DPoP proof has no jwk header');
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) {
    throw invalidProof('The DPoP proof jwk must be a public key');
  }
  const algorithms = [...(input.algorithms ?? DPOP_ALGORITHMS)];
  let payload: Record<string, unknown>;
  try {
    // typ, alg (asymmetric, from the list) and the signature by the embedded public key.
    ({ payload } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms }));
  } catch (error) {
    if (error instanceof joseErrors.JOSEAlgNotAllowed) {
      throw invalidProof(`The DPoP proof alg must be one of ${algorithms.join(' ')}`);
    }
    if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'typ') {
      throw invalidProof('The DPoP proof typ must be dpop+jwt');
    }
    throw invalidProof('The DPoP proof signature or key is invalid');
  }
  const { jti, htm, htu, iat, ath, nonce } = payload;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    throw invalidProof('The DPoP proof jti is missing or malformed');
  }
  if (htm !== input.method) throw invalidProof('The DPoP proof htm does not match the request method');
  const expected = htuOf(input.url);
  if (expected === undefined || typeof htu !== 'string' || htuOf(htu) !== expected) {
    throw invalidProof('The DPoP proof htu does not match the request URL');
  }
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalidProof('The DPoP proof has no iat');
  const nowSeconds = input.now / 1000;
  const maxAge = input.maxAgeSeconds ?? DPOP_DEFAULT_MAX_AGE_SECONDS;
  if (iat > nowSeconds + DPOP_FUTURE_TOLERANCE_SECONDS)
    throw invalidProof('The DPoP proof iat is in the future');
  if (iat < nowSeconds - maxAge) throw invalidProof('The DPoP proof is too old (iat)');
  if (nonce !== undefined && (typeof nonce !== 'string' || nonce.length === 0 || nonce.length > 512)) {
    throw invalidProof('The DPoP proof nonce is malformed');
  }
  if (input.accessToken !== undefined) {
    if (typeof ath !== 'string' || ath !== (await accessTokenHash(input.accessToken))) {
      throw invalidProof('The DPoP proof ath does not match the access token');
    }
  }
  let jkt: string;
  try {
    jkt = await calculateJwkThumbprint(jwk, 'sha256');
  } catch {
    throw invalidProof('The DPoP proof jwk is malformed');
  }
  return {
    jkt,
    jti,
    iat,
    nonce,
    acceptableUntil: (iat + maxAge) * 1000,
  };
}

/**
 * Where a resource server remembers the proofs it accepted, so that each is accepted once (RFC 9449 §11.1).
 * `remember` must be atomic: of concurrent calls with one key, exactly one resolves true.
 */
export interface DpopReplayCache {
  /** Records `key` until `expiresAt` (epoch ms); resolves false when it is already recorded (a replay). */
  remember(key: string, expiresAt: number): boolean | Promise<boolean>;
}

/**
 * The default replay cache: this process's memory, at most `maxEntries` proofs (default 100,000). Enough for one
 * process; an API run as several processes or instances must plug in a shared one (Redis `SET key 1 NX PX …`, a
 * database unique key), or a proof accepted by one could be replayed at another. When full, the oldest entry
 * goes: a flood of valid proofs could push an unexpired one out early, a bounded-memory trade
 * a shared cache does not make.
 */
export function memoryReplayCache(
  options: { maxEntries?: number; now?: () => number } = {},
): DpopReplayCache {
  const maxEntries = options.maxEntries ?? 100_000;
  const now = options.now ?? Date.now;
  const seen = new Map<string, number>();
  return {
    remember(key, expiresAt) {
      const at = now();
      const until = seen.get(key);
      if (until !== undefined && until > at) return false;
      // Entries go in roughly in expiry order (every proof lives maxAge after its iat): drop expired ones from
      // the oldest end until the first live one, so each call does a bounded amount of work.
      for (const [entry, entryUntil] of seen) {
        if (entryUntil > at) break;
        seen.delete(entry);
      }
      while (seen.size >= maxEntries) seen.delete(seen.keys().next().value as string);
      seen.delete(key);
      seen.set(key, expiresAt);
      return true;
    },
  };
}
