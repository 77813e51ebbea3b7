// @gatehouse/resource and DPoP (RFC 9449 §7; issue 16), as functions and through the web adapter, with tokens
// signed here (the live server is in test/e2e/dpop.test.ts): a bound token (cnf.jkt in a JWT, or cnf in an
// introspection answer) is accepted only with the DPoP scheme and a proof by its key for this request, once; as
// Bearer, or through verifyToken, it is refused with a DPoP challenge. The replay cache is pluggable: two
// verifiers sharing one refuse each other's replays, a failing cache is a 503. `required` refuses bearer tokens.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import {
  BearerError,
  bearerAnswer,
  createVerifier,
  type DpopReplayCache,
  extractToken,
  memoryReplayCache,
  protectedResourceMetadata,
  type VerifierOptions,
} from '@gatehouse/resource';
import { checkRequest } from '@gatehouse/resource/web';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  type JWK,
  SignJWT,
} from 'jose';

const ISSUER = 'https://id.example';
const API = 'https://api.example';

interface Key {
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

async function newKey(): Promise<Key> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

const ath = (token: string) => createHash('sha256').update(token).digest('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('@gatehouse/resource: DPoP-bound tokens', () => {
  let issuerKey: Key;
  let client: Key;
  let options: VerifierOptions;
  let boundToken: string;
  let bearerToken: string;

  async function accessToken(claims: Record<string, unknown> = {}): Promise<string> {
    return new SignJWT({ client_id: 'c1', scope: 'notes:read', ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience(API)
      .setSubject('user-1')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(issuerKey.privateKey);
  }
  async function proof(
    token: string,
    claims: Record<string, unknown> = {},
    signer: Key = client,
  ): Promise<string> {
    return new SignJWT({
      htm: 'GET',
      htu: `${API}/notes`,
      iat: nowSeconds(),
      jti: randomUUID(),
      ath: ath(token),
      ...claims,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: signer.jwk })
      .sign(signer.privateKey);
  }
  const request = (authorization: string, dpop?: string, url = '/notes?page=2', method = 'GET') => ({
    headers: { authorization, ...(dpop === undefined ? {} : { dpop }) },
    url,
    method,
  });
  async function refusal(promise: Promise<unknown>): Promise<BearerError> {
    try {
      await promise;
    } catch (error) {
      assert.ok(error instanceof BearerError, String(error));
      return error;
    }
    assert.fail('expected a refusal');
  }

  before(async () => {
    issuerKey = await newKey();
    client = await newKey();
    options = {
      issuer: ISSUER,
      audience: API,
      jwks: createLocalJWKSet({ keys: [{ ...issuerKey.jwk, kid: 'k1', alg: 'ES256' }] }),
    };
    boundToken = await accessToken({ cnf: { jkt: client.jkt } });
    bearerToken = await accessToken();
  });

  it('the DPoP scheme with a proof by the bound key → the token, with dpopJkt (htu without the query)', async () => {
    const verifier = createVerifier(options);
    const token = await verifier.verifyRequest(request(`DPoP ${boundToken}`, await proof(boundToken)));
    assert.equal(token.subject, 'user-1');
    assert.equal(token.dpopJkt, client.jkt);
    // Bearer tokens work as before, and carry no dpopJkt.
    const plain = await verifier.verifyRequest(request(`Bearer ${bearerToken}`));
    assert.equal(plain.dpopJkt, undefined);
  });

  it('the bearer downgrade is refused: as Bearer, or through verifyToken; and an unbound token as DPoP', async () => {
    const verifier = createVerifier(options);
    const asBearer = await refusal(verifier.verifyRequest(request(`Bearer ${boundToken}`)));
    assert.equal(asBearer.code, 'invalid_token');
    const answer = bearerAnswer(asBearer, verifier.options);
    assert.equal(answer.status, 401);
    assert.match(
      answer.headers['www-authenticate'] ?? '',
      /^DPoP error="invalid_token", error_description="[^"]+", algs="ES256 /,
    );
    assert.equal((await refusal(verifier.verifyToken(boundToken))).code, 'invalid_token');
    const unbound = await refusal(
      verifier.verifyRequest(request(`DPoP ${bearerToken}`, await proof(bearerToken))),
    );
    assert.equal(unbound.code, 'invalid_token');
    assert.equal(unbound.scheme, 'DPoP');
    // extractToken stays the RFC 6750 extractor: a DPoP request has no bearer token.
    assert.throws(
      () => extractToken(request(`DPoP ${boundToken}`), {}),
      (error) => error instanceof BearerError && error.code === undefined,
    );
  });

  it('every wrong proof is 401 invalid_dpop_proof with a DPoP challenge', async () => {
    const verifier = createVerifier(options);
    const stranger = await newKey();
    const cases: [string, string | undefined][] = [
      ['no proof', undefined],
      ['another key', await proof(boundToken, {}, stranger)],
      ['ath of another token', await proof(boundToken, { ath: ath(bearerToken) })],
      ['no ath', await proof(boundToken, { ath: undefined })],
      ['htm POST', await proof(boundToken, { htm: 'POST' })],
      ['htu another API', await proof(boundToken, { htu: 'https://other.example/notes' })],
      ['too old', await proof(boundToken, { iat: nowSeconds() - 400 })],
      ['two proofs', `${await proof(boundToken)}, ${await proof(boundToken)}`],
    ];
    for (const [name, dpop] of cases) {
      const error = await refusal(verifier.verifyRequest(request(`DPoP ${boundToken}`, dpop)));
      assert.equal(error.code, 'invalid_dpop_proof', name);
      const answer = bearerAnswer(error, verifier.options);
      assert.equal(answer.status, 401, name);
      assert.match(answer.headers['www-authenticate'] ?? '', /^DPoP error="invalid_dpop_proof"/, name);
    }
  });

  it('a proof is accepted once: replays, also concurrent ones, are refused', async () => {
    const verifier = createVerifier(options);
    const once = await proof(boundToken);
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => verifier.verifyRequest(request(`DPoP ${boundToken}`, once))),
    );
    assert.equal(results.filter((result) => result.status === 'fulfilled').length, 1);
    for (const result of results) {
      if (result.status === 'rejected')
        assert.equal((result.reason as BearerError).code, 'invalid_dpop_proof');
    }
  });

  it('the replay cache is pluggable: two verifiers sharing one refuse each other’s replays; a failing one is 503', async () => {
    const shared = memoryReplayCache();
    const first = createVerifier({ ...options, dpop: { replayCache: shared } });
    const second = createVerifier({ ...options, dpop: { replayCache: shared } });
    const dpop = await proof(boundToken);
    await first.verifyRequest(request(`DPoP ${boundToken}`, dpop));
    assert.equal(
      (await refusal(second.verifyRequest(request(`DPoP ${boundToken}`, dpop)))).code,
      'invalid_dpop_proof',
    );
    // The default, a cache per verifier, is per process: what the README warns about.
    const alone = createVerifier(options);
    await alone.verifyRequest(request(`DPoP ${boundToken}`, dpop));

    const broken: DpopReplayCache = {
      remember: () => Promise.reject(new Error('cache down')),
    };
    const failing = createVerifier({ ...options, dpop: { replayCache: broken } });
    const error = await refusal(
      failing.verifyRequest(request(`DPoP ${boundToken}`, await proof(boundToken))),
    );
    assert.equal(error.code, 'temporarily_unavailable');
    assert.equal(error.status, 503);
  });

  it('memoryReplayCache keeps at most maxEntries and forgets expired proofs', () => {
    let now = 1_000;
    const cache = memoryReplayCache({ maxEntries: 3, now: () => now });
    assert.equal(cache.remember('a', 2_000), true);
    assert.equal(cache.remember('a', 2_000), false);
    assert.equal(cache.remember('b', 2_000), true);
    assert.equal(cache.remember('c', 2_000), true);
    assert.equal(cache.remember('d', 2_000), true, 'full: the oldest goes');
    assert.equal(cache.remember('a', 2_000), true, 'a was pushed out');
    now = 3_000;
    assert.equal(cache.remember('b', 4_000), true, 'expired entries are forgotten');
  });

  it('dpop.required refuses bearer tokens and challenges with DPoP; metadata says so', async () => {
    const verifier = createVerifier({ ...options, dpop: { required: true } });
    const bearer = await refusal(verifier.verifyRequest(request(`Bearer ${bearerToken}`)));
    assert.equal(bearer.code, 'invalid_token');
    assert.equal(bearer.scheme, 'DPoP');
    const bare = await refusal(verifier.verifyRequest({ headers: {}, url: '/notes' }));
    assert.equal(bare.code, undefined);
    assert.match(bearerAnswer(bare, verifier.options).headers['www-authenticate'] ?? '', /^DPoP algs="/);
    await verifier.verifyRequest(request(`DPoP ${boundToken}`, await proof(boundToken)));
    assert.deepEqual(
      protectedResourceMetadata({
        resource: API,
        authorizationServers: [ISSUER],
        dpopSigningAlgorithms: ['ES256'],
        dpopBoundAccessTokensRequired: true,
      }),
      {
        resource: API,
        authorization_servers: [ISSUER],
        bearer_methods_supported: ['header'],
        dpop_signing_alg_values_supported: ['ES256'],
        dpop_bound_access_tokens_required: true,
      },
    );
  });

  it('an introspected token is bound by the answer’s cnf (token_type DPoP)', async () => {
    const verifier = createVerifier({
      issuer: ISSUER,
      audience: API,
      introspectEverything: true,
      introspection: async () => ({
        active: true,
        sub: 'user-2',
        client_id: 'c1',
        scope: 'notes:read',
        aud: API,
        iss: ISSUER,
        exp: nowSeconds() + 60,
        token_type: 'DPoP',
        cnf: { jkt: client.jkt },
      }),
    });
    const token = await verifier.verifyRequest(request(`DPoP ${boundToken}`, await proof(boundToken)));
    assert.equal(token.dpopJkt, client.jkt);
    assert.equal(token.subject, 'user-2');
    assert.equal((await refusal(verifier.verifyRequest(request(`Bearer ${boundToken}`)))).scheme, 'DPoP');
  });

  it('the web adapter passes the method and the DPoP header', async () => {
    const verifier = createVerifier(options);
    const dpop = await proof(boundToken, { htm: 'POST' });
    const { token, response } = await checkRequest(
      verifier,
      new Request(`${API}/notes`, { method: 'POST', headers: { authorization: `DPoP ${boundToken}`, dpop } }),
      'notes:read',
    );
    assert.equal(response, undefined);
    assert.equal(token?.dpopJkt, client.jkt);
    const downgrade = await checkRequest(
      verifier,
      new Request(`${API}/notes`, { headers: { authorization: `Bearer ${boundToken}` } }),
    );
    assert.equal(downgrade.response?.status, 401);
    assert.match(String(downgrade.response?.headers.get('www-authenticate')), /^DPoP /);
  });
});
