// RFC 8628 §3.2 and §6.1: the two codes of a device authorization. The device code is an opaque token like
// every other (opaque-token.ts, 256 bits, stored as its SHA-256). The user code is what a person reads off a
// TV and types on a phone: 8 letters from BCDFGHJKLMNPQRSTVWXZ (§6.1's example alphabet: no vowels, so no
// words; no digits, so no 0/O or 1/I), shown as XXXX-XXXX, typed in any case, with or without the dash.
// 20^8 ≈ 2^34.6 codes: guessing is stopped by the entry throttle (interaction/device.ts, §5.1), not by size.
import { createHmac, type KeyObject, randomInt } from 'node:crypto';

export const DEVICE_CODE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:device_code';
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const USER_CODE_LENGTH = 8;
/** expires_in of both codes: long enough to find a phone and sign in, short for a guesser (§5.1). */
export const DEVICE_CODE_TTL_S = 600;
/** §3.2: "If no value is provided, clients MUST use 5 as the default." We say it anyway. */
export const POLL_INTERVAL_S = 5;

const VALID = new RegExp(`^[${USER_CODE_ALPHABET}]{${USER_CODE_LENGTH}}$`);

/** A fresh user code, normalized (8 letters, no dash); randomInt draws each letter without bias. */
export function mintUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

/** How a user code is shown: XXXX-XXXX. */
export function formatUserCode(normalized: string): string {
  return `${normalized.slice(0, 4)}-${normalized.slice(4)}`;
}

/**
 * What a person typed, as a normalized code: upper case, dashes and spaces dropped (§6.1: "the server should
 * ignore any characters like punctuation that are not in the character set"). Undefined unless that leaves
 * exactly 8 letters of the alphabet.
 */
export function normalizeUserCode(input: string | undefined): string | undefined {
  if (input === undefined || input.length > 64) return undefined;
  const code = input.toUpperCase().replace(/[\s\-‐‑–—]/g, '');
  return VALID.test(code) ? code : undefined;
}

/**
 * The key a user code is stored and looked up under: an HMAC under the server's derivation key, so that a copy
 * of the table does not give the codes back (a plain SHA-256 of 2^34.6 values is reversed in minutes).
 */
export function userCodeKey(key: KeyObject, normalized: string): string {
  return createHmac('sha256', key).update(`device-user-code:${normalized}`).digest('base64url');
}
