// signJwt: every signing algorithm Gatehouse offers produces a JWS that an independent verifier (jose) accepts
// with the right header, and only with the right key.
import assert from 'node:assert/strict';
import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify } from 'jose';
import type { SigningAlg } from '../../src/config.ts';
import { signJwt } from '../../src/oauth/jws.ts';

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
