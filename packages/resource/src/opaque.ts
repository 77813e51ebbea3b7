// Gatehouse's opaque access tokens (`gha_…`) and API keys (`ghk_…`) end in a CRC32 of the rest, so that a
// mistyped or truncated token is refused here without a call to the authorization server. The server mints
// tokens with the same checksum function (one implementation; see Gatehouse's src/oauth/opaque-token.ts).
//
// CRC32 is spelled out (a 256-entry table) rather than taken from node:zlib: this package also runs where there is
// no node:zlib (Deno, Bun, Cloudflare Workers, browsers' fetch handlers).

/** `gha_`: an opaque access token. */
export const ACCESS_TOKEN_PREFIX = 'gha_';
/** `ghk_`: an API key a user made for their own account. */
export const API_KEY_PREFIX = 'ghk_';

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

const encoder = new TextEncoder();

/** CRC-32 (IEEE 802.3, as zlib computes it) of the UTF-8 bytes of `value`. */
export function crc32(value: string): number {
  let crc = 0xffffffff;
  // Tokens are ASCII: read char codes directly and only encode when something is not.
  let ascii = true;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code > 0x7f) {
      ascii = false;
      break;
    }
    crc = CRC_TABLE[(crc ^ code) & 0xff]! ^ (crc >>> 8);
  }
  if (!ascii) {
    crc = 0xffffffff;
    for (const byte of encoder.encode(value)) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The 6-character tail of a Gatehouse opaque token: CRC32 of everything before it, as base64url. */
export function opaqueTokenChecksum(value: string): string {
  const crc = crc32(value);
  return (
    BASE64URL[crc >>> 26]! +
    BASE64URL[(crc >>> 20) & 63]! +
    BASE64URL[(crc >>> 14) & 63]! +
    BASE64URL[(crc >>> 8) & 63]! +
    BASE64URL[(crc >>> 2) & 63]! +
    BASE64URL[(crc & 3) << 4]!
  );
}

/** Characters between prefix and checksum: access tokens carry a 9-character issue time before 43 random ones. */
const BODY_LENGTH: Record<string, number> = { [ACCESS_TOKEN_PREFIX]: 9 + 43, [API_KEY_PREFIX]: 43 };

/** True when `value` has the prefix, the length and a matching checksum (it may still be unknown or revoked). */
export function isWellFormedOpaqueToken(
  value: string,
  prefix: string,
  bodyLength = BODY_LENGTH[prefix],
): boolean {
  if (bodyLength === undefined) return false;
  if (!value.startsWith(prefix) || value.length !== prefix.length + bodyLength + 6) return false;
  return opaqueTokenChecksum(value.slice(0, -6)) === value.slice(-6);
}
