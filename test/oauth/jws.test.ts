// signJwt: every signing algorithm Gatehouse offers produces a JWS that an independent verifier (jose) accepts
// with the right header, and only with the right key.
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, type JsonWebKey, sign, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify } from 'jose';
import type { SigningAlg } from '../../src/config.ts';
import { p1363FromDer, signJwt } from '../../src/oauth/jws.ts';

async function signingKey(alg: SigningAlg) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return {
    key: {
      kid: `kid-${alg}`,
      alg,
      privateKey: (await importJWK(jwk, alg)) as CryptoKey,
      keyObject: createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }),
    },
    publicKey,
  };
}

describe('signJwt', () => {
  for (const alg of ['ES256', 'EdDSA', 'RS256'] as const) {
    it(`${alg}: verifiable by jose, with alg, typ and kid in the header`, async () => {
      const { key, publicKey } = await signingKey(alg);
      const now = Math.floor(Date.now() / 1000);
      const token = await signJwt(key, 'at+jwt', {
        iss: 'https://as.example',
        sub: 'u1',
        iat: now,
        exp: now + 60,
      });
      assert.deepEqual(decodeProtectedHeader(token), { alg, typ: 'at+jwt', kid: key.kid });
      const { payload } = await jwtVerify(token, publicKey, { issuer: 'https://as.example', typ: 'at+jwt' });
      assert.equal(payload.sub, 'u1');
      const other = await signingKey(alg);
      await assert.rejects(jwtVerify(token, other.publicKey), /signature verification failed/);
    });
  }
});

describe('p1363FromDer', () => {
  it('turns OpenSSL DER signatures into r||s that verify, including integers shorter or longer than 32 bytes', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    let short = 0;
    let padded = 0;
    // A DER integer drops its leading zero bytes (about 1 in 128 signatures has a short r or s) and gains one
    // when its top bit is set (about half): keep signing until both shapes have been converted and verified.
    for (let i = 0; i < 20_000 && (short < 3 || padded < 3); i++) {
      const data = Buffer.from(`message ${i}`);
      const der = sign('sha256', data, privateKey);
      const rLength = der[3]!;
      const sLength = der[5 + rLength]!;
      if (rLength < 32 || sLength < 32) short++;
      if (rLength === 33 || sLength === 33) padded++;
      const raw = p1363FromDer(der);
      assert.equal(raw.length, 64);
      assert.ok(verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw), `signature ${i}`);
    }
    assert.ok(short >= 3 && padded >= 3, `saw ${short} short and ${padded} padded integers`);
  });

  it('refuses what is not a P-256 DER signature', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = sign('sha256', Buffer.from('x'), privateKey);
    assert.throws(() => p1363FromDer(der.subarray(0, der.length - 1)), /DER/);
    assert.throws(() => p1363FromDer(Buffer.concat([der, Buffer.from([0])])), /DER/);
    const notSequence = Buffer.from(der);
    notSequence[0] = 0x31;
    assert.throws(() => p1363FromDer(notSequence), /DER/);
    const notInteger = Buffer.from(der);
    notInteger[2] = 0x04;
    assert.throws(() => p1363FromDer(notInteger), /DER/);
    // A 34-byte integer with a non-zero leading byte does not fit a P-256 scalar.
    const long = Buffer.from([0x30, 0x27, 0x02, 0x22, 1, ...new Array(33).fill(7), 0x02, 0x01, 1]);
    assert.throws(() => p1363FromDer(long), /too long/);
  });
});
