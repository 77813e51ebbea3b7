// Signing keys at rest (AES-256-GCM under a key derived from GATEHOUSE_SECRET) and the key ring: the newest
// key per alg signs, rotated keys stay published until retireAt. docs/security.md J-02/J-03 at the unit level.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import {
  decryptPrivateJwk,
  encryptPrivateJwk,
  ensureSigningKeys,
  loadKeyRing,
  newSigningKeyRecord,
  rotateSigningKeys,
} from '../../src/oauth/keys.ts';
import { openStorage } from '../../src/storage/open.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { manualClock } from '../../src/util/clock.ts';

const SECRET = 'unit-test-secret-unit-test-secret-0123456789';
const OTHER_SECRET = 'another-secret-another-secret-another-0123';
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

describe('encryptPrivateJwk / decryptPrivateJwk', () => {
  let jwk: JWK;
  before(async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    jwk = { ...(await exportJWK(privateKey)), kid: 'k1', alg: 'ES256' };
  });

  it('round-trips', () => {
    const sealed = encryptPrivateJwk(jwk, SECRET);
    assert.deepEqual(decryptPrivateJwk(sealed, SECRET), jwk);
  });

  it('the sealed form is v1.<iv>.<ciphertext>.<tag> and shows nothing of the key', () => {
    const sealed = encryptPrivateJwk(jwk, SECRET);
    const parts = sealed.split('.');
    assert.equal(parts.length, 4);
    assert.equal(parts[0], 'v1');
    assert.equal(Buffer.from(parts[1]!, 'base64url').length, 12);
    assert.equal(Buffer.from(parts[3]!, 'base64url').length, 16);
    assert.ok(!sealed.includes(String(jwk.d)));
    assert.ok(!sealed.includes('"d"'));
  });

  it('uses a fresh IV every time', () => {
    assert.notEqual(encryptPrivateJwk(jwk, SECRET), encryptPrivateJwk(jwk, SECRET));
  });

  it('a wrong secret fails with a message that names GATEHOUSE_SECRET', () => {
    const sealed = encryptPrivateJwk(jwk, SECRET);
    assert.throws(() => decryptPrivateJwk(sealed, OTHER_SECRET), /GATEHOUSE_SECRET/);
  });

  it('tampering with the ciphertext or tag fails the same way', () => {
    const [version, iv, body, tag] = encryptPrivateJwk(jwk, SECRET).split('.') as [
      string,
      string,
      string,
      string,
    ];
    const flip = (text: string) => `${text[0] === 'A' ? 'B' : 'A'}${text.slice(1)}`;
    assert.throws(
      () => decryptPrivateJwk([version, iv, flip(body), tag].join('.'), SECRET),
      /GATEHOUSE_SECRET/,
    );
    assert.throws(
      () => decryptPrivateJwk([version, iv, body, flip(tag)].join('.'), SECRET),
      /GATEHOUSE_SECRET/,
    );
    assert.throws(
      () => decryptPrivateJwk([version, flip(iv), body, tag].join('.'), SECRET),
      /GATEHOUSE_SECRET/,
    );
  });

  it('an unknown format is reported as such', () => {
    assert.throws(() => decryptPrivateJwk('v2.a.b.c', SECRET), /unknown signing key encryption format/);
    assert.throws(
      () => decryptPrivateJwk('not sealed at all', SECRET),
      /unknown signing key encryption format/,
    );
    assert.throws(() => decryptPrivateJwk('v1.a.b', SECRET), /unknown signing key encryption format/);
  });
});

describe('newSigningKeyRecord', () => {
  for (const alg of ['ES256', 'RS256', 'EdDSA'] as const) {
    it(`${alg}: public JWK without private members, kid/alg/use set, private part sealed`, async () => {
      const record = await newSigningKeyRecord(alg, SECRET, 1000);
      const publicJwk = JSON.parse(record.publicJwk) as JWK;
      for (const member of PRIVATE_MEMBERS) assert.ok(!(member in publicJwk), member);
      assert.equal(publicJwk.kid, record.kid);
      assert.equal(publicJwk.alg, alg);
      assert.equal(publicJwk.use, 'sig');
      assert.equal(record.alg, alg);
      assert.equal(record.createdAt, 1000);
      assert.equal(record.rotatedAt, null);
      assert.equal(record.retireAt, null);
      const privateJwk = decryptPrivateJwk(record.privateJwkEncrypted, SECRET);
      assert.equal(typeof privateJwk.d, 'string');
      assert.equal(privateJwk.kid, record.kid);
      assert.ok(!record.privateJwkEncrypted.includes(String(privateJwk.d)));
    });
  }
});

describe('ensureSigningKeys, rotateSigningKeys and loadKeyRing', () => {
  let storage: Storage;
  const clock = manualClock(Date.UTC(2026, 0, 1));
  before(async () => {
    ({ storage } = await openStorage('sqlite::memory:'));
  });
  after(() => storage.close());

  it('ensureSigningKeys creates one key per missing alg, then nothing', async () => {
    assert.deepEqual(
      (await ensureSigningKeys(storage, SECRET, ['ES256', 'RS256', 'ES256'], clock.now())).sort(),
      ['ES256', 'RS256'],
    );
    assert.deepEqual(await ensureSigningKeys(storage, SECRET, ['ES256', 'RS256'], clock.now()), []);
    assert.equal((await storage.keys.list()).length, 2);
  });

  it('loadKeyRing with another secret fails clearly', async () => {
    await assert.rejects(loadKeyRing(storage, OTHER_SECRET, clock), /GATEHOUSE_SECRET/);
  });

  it('rotation: the new key signs, both are published, the old one leaves after retireAt', async () => {
    const ring = await loadKeyRing(storage, SECRET, clock);
    const oldEs = ring.signingKey('ES256').kid;
    const oldRs = ring.signingKey('RS256').kid;
    assert.deepEqual(ring.algs().sort(), ['ES256', 'RS256']);
    assert.throws(() => ring.signingKey('EdDSA'), /no signing key for EdDSA/);

    clock.advance(1000);
    const [added] = await rotateSigningKeys(storage, SECRET, ['ES256'], clock.now(), 60_000);
    assert.ok(added);
    // Nothing changes until the ring reloads (another process may have rotated).
    assert.equal(ring.signingKey('ES256').kid, oldEs);
    await ring.reload();
    assert.equal(ring.signingKey('ES256').kid, added.kid);
    assert.equal(ring.signingKey('RS256').kid, oldRs);
    const published = ring
      .jwks()
      .keys.map((key) => key.kid)
      .sort();
    assert.deepEqual(published, [oldEs, oldRs, added.kid].sort());
    for (const key of ring.jwks().keys) {
      for (const member of PRIVATE_MEMBERS) assert.ok(!(member in key), member);
    }

    const stored = await storage.keys.list();
    const old = stored.find((key) => key.kid === oldEs);
    assert.equal(old?.rotatedAt, clock.now());
    assert.equal(old?.retireAt, clock.now() + 60_000);

    clock.advance(59_999);
    await ring.reload();
    assert.ok(ring.jwks().keys.some((key) => key.kid === oldEs));
    clock.advance(1);
    await ring.reload();
    assert.deepEqual(
      ring
        .jwks()
        .keys.map((key) => key.kid)
        .sort(),
      [oldRs, added.kid].sort(),
    );
    assert.equal(ring.signingKey('ES256').kid, added.kid);

    // ensureSigningKeys does not add a key when a rotated-in one signs.
    assert.deepEqual(await ensureSigningKeys(storage, SECRET, ['ES256', 'RS256'], clock.now()), []);
  });
});
