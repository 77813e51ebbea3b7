// Opaque credentials: prefix + 256 bits of CSPRNG output + CRC32 checksum (docs/security.md C-08, E-13).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import {
  checksum,
  isWellFormedOpaqueToken,
  mintOpaqueAccessToken,
  mintOpaqueToken,
  mintTimeOrderedToken,
  TOKEN_PREFIX,
  timeOrderedTokenKey,
} from '../../src/oauth/opaque-token.ts';
import { sha256 } from '../../src/util/hash.ts';

const FORMAT = /^gh[rcsakmi]_[A-Za-z0-9_-]{43}[A-Za-z0-9_-]{6}$/;

describe('mintOpaqueToken', () => {
  for (const [kind, prefix] of Object.entries(TOKEN_PREFIX)) {
    // Access tokens, refresh tokens, codes and device codes carry their issue time: see the next block.
    const timed: readonly string[] = [
      TOKEN_PREFIX.accessToken,
      TOKEN_PREFIX.refreshToken,
      TOKEN_PREFIX.authorizationCode,
      TOKEN_PREFIX.deviceCode,
    ];
    if (timed.includes(prefix)) continue;
    it(`${kind}: prefix ${prefix}, 43 random characters, 6-character checksum, well-formed`, () => {
      const token = mintOpaqueToken(prefix);
      assert.ok(token.startsWith(prefix));
      assert.equal(token.length, prefix.length + 43 + 6);
      assert.match(token, FORMAT);
      assert.equal(isWellFormedOpaqueToken(token, prefix), true);
    });
  }

  it('the prefixes are distinct, so one kind never passes for another', () => {
    const prefixes = Object.values(TOKEN_PREFIX);
    assert.equal(new Set(prefixes).size, prefixes.length);
    const refresh = mintOpaqueToken(TOKEN_PREFIX.refreshToken);
    assert.equal(isWellFormedOpaqueToken(refresh, TOKEN_PREFIX.authorizationCode), false);
    assert.equal(isWellFormedOpaqueToken(refresh, TOKEN_PREFIX.clientSecret), false);
  });

  it('1,000 values are distinct, each carrying 256 bits, with every 6-bit position varying', () => {
    const bodies = Array.from({ length: 1000 }, () =>
      mintOpaqueToken(TOKEN_PREFIX.clientSecret).slice(TOKEN_PREFIX.clientSecret.length, -6),
    );
    assert.equal(new Set(bodies).size, 1000);
    for (const body of bodies) assert.equal(Buffer.from(body, 'base64url').length, 32);
    assert.equal(new Set(bodies.map((body) => body.slice(0, 8))).size, 1000);
    for (let position = 0; position < 42; position++) {
      const symbols = new Set(bodies.map((body) => body[position])).size;
      assert.ok(symbols >= 50, `position ${position}: ${symbols} symbols`);
    }
  });
});

describe('access and refresh tokens: issue time, then 256 random bits, then the checksum', () => {
  const now = Date.UTC(2026, 10, 22, 12);

  it('gha_ + 9 base32hex characters of the issue time + 43 random characters + 6-character checksum', () => {
    const token = mintOpaqueAccessToken(now);
    assert.match(token, /^gha_[0-9a-v]{9}[A-Za-z0-9_-]{43}[A-Za-z0-9_-]{6}$/);
    assert.equal(Number.parseInt(token.slice(4, 13), 32), now);
    assert.equal(Buffer.from(token.slice(13, -6), 'base64url').length, 32);
    assert.equal(isWellFormedOpaqueToken(token, TOKEN_PREFIX.accessToken), true);
    // A 43-character body (the other kinds' length) is not an access token.
    assert.equal(
      isWellFormedOpaqueToken(mintOpaqueToken(TOKEN_PREFIX.accessToken), TOKEN_PREFIX.accessToken),
      false,
    );
  });

  it('is stored under its issue time and SHA-256, so later tokens sort after earlier ones', () => {
    const earlier = mintOpaqueAccessToken(now);
    const later = mintOpaqueAccessToken(now + 1);
    assert.equal(timeOrderedTokenKey(earlier), earlier.slice(4, 13) + sha256(earlier));
    assert.ok(timeOrderedTokenKey(earlier) < timeOrderedTokenKey(later));
    const refresh = mintTimeOrderedToken(TOKEN_PREFIX.refreshToken, now);
    assert.match(refresh, /^ghr_[0-9a-v]{9}[A-Za-z0-9_-]{43}[A-Za-z0-9_-]{6}$/);
    assert.equal(isWellFormedOpaqueToken(refresh, TOKEN_PREFIX.refreshToken), true);
    assert.ok(
      timeOrderedTokenKey(refresh) <
        timeOrderedTokenKey(mintTimeOrderedToken(TOKEN_PREFIX.refreshToken, now + 1)),
    );
    const deviceCode = mintTimeOrderedToken(TOKEN_PREFIX.deviceCode, now);
    assert.match(deviceCode, /^ghd_[0-9a-v]{9}[A-Za-z0-9_-]{43}[A-Za-z0-9_-]{6}$/);
    assert.equal(isWellFormedOpaqueToken(deviceCode, TOKEN_PREFIX.deviceCode), true);
    assert.equal(isWellFormedOpaqueToken(deviceCode, TOKEN_PREFIX.authorizationCode), false);
    assert.throws(() => mintTimeOrderedToken(TOKEN_PREFIX.clientSecret, now), /do not carry a time/);
    // Two tokens of the same millisecond differ in the random part and in the key.
    assert.notEqual(timeOrderedTokenKey(earlier), timeOrderedTokenKey(mintOpaqueAccessToken(now)));
  });

  it('a changed character anywhere (time part included) breaks the checksum', () => {
    const token = mintOpaqueAccessToken(now);
    for (let index = 4; index < token.length; index++) {
      const char = token[index] === 'A' || token[index] === '1' ? 'B' : token[index] === 'B' ? 'A' : '1';
      const changed = token.slice(0, index) + char + token.slice(index + 1);
      assert.equal(isWellFormedOpaqueToken(changed, TOKEN_PREFIX.accessToken), false, `position ${index}`);
    }
  });
});

describe('isWellFormedOpaqueToken', () => {
  const prefix = TOKEN_PREFIX.authorizationCode;
  const token = mintTimeOrderedToken(prefix, Date.now());

  it('refuses any single changed character', () => {
    for (let index = prefix.length; index < token.length; index++) {
      const char = token[index] === 'A' ? 'B' : 'A';
      const changed = token.slice(0, index) + char + token.slice(index + 1);
      assert.equal(isWellFormedOpaqueToken(changed, prefix), false, `position ${index}`);
    }
  });

  it('refuses truncated, extended, re-prefixed and empty values', () => {
    assert.equal(isWellFormedOpaqueToken(token.slice(0, -1), prefix), false);
    assert.equal(isWellFormedOpaqueToken(`${token}A`, prefix), false);
    assert.equal(isWellFormedOpaqueToken(`x${token}`, prefix), false);
    assert.equal(isWellFormedOpaqueToken(`ghr_${token.slice(prefix.length)}`, prefix), false);
    assert.equal(isWellFormedOpaqueToken('', prefix), false);
    assert.equal(isWellFormedOpaqueToken(prefix, prefix), false);
  });
});

describe('checksum', () => {
  // Tokens already issued carry the checksum as Buffer's base64url of the big-endian CRC32: the spelled-out
  // encoding must give exactly the same six characters, or upgrading would reject every live token.
  const asBuffer = (value: string) => {
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32BE(crc32(value));
    return buffer.toString('base64url');
  };

  it('matches the base64url of the big-endian CRC32 for many values', () => {
    for (let index = 0; index < 20_000; index++) {
      const value = mintOpaqueToken(TOKEN_PREFIX.clientSecret).slice(0, 8 + (index % 40));
      assert.equal(checksum(value), asBuffer(value));
    }
  });

  it('a known value', () => {
    // crc32('') = 0 and crc32('a') = 0xe8b7be43
    assert.equal(checksum(''), 'AAAAAA');
    assert.equal(checksum('a'), Buffer.from([0xe8, 0xb7, 0xbe, 0x43]).toString('base64url'));
    assert.equal(checksum('a'), '6Le-Qw');
  });
});
