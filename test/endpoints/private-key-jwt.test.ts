// private_key_jwt client authentication (RFC 7523 §2.2, OIDC Core §9; issue 16): a client registers public
// keys and proves itself with a signed assertion instead of a secret. oauth4webapi runs a whole flow with it;
// around that, every way an assertion must fail (another key, another audience, no jti, a lifetime too long,
// HMAC, iss differing from sub), and replay: the same assertion sent 12 times at once authenticates exactly
// once, on SQLite and on PostgreSQL (the jti is remembered in the database, shared by every instance).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import { JWT_BEARER_ASSERTION } from '../../src/oauth/client-auth.ts';
import type { Client } from '../../src/storage/storage.ts';
import { Browserish, signInAndConsent } from '../e2e/browserish.ts';
import { type LoopbackServer, startLoopbackServer } from '../e2e/loopback.ts';
import { onEachDatabase } from '../helpers/postgres.ts';
import { buildTestServer, ISSUER, type TestServer } from '../helpers/server.ts';

const insecure = { [oauth.allowInsecureRequests]: true } as const;
const REDIRECT = 'https://rp.example/cb';

async function keyPair(alg: 'ES256' | 'RS256' = 'ES256') {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: randomUUID(), alg, use: 'sig' };
  return { privateKey, jwk };
}

describe('private_key_jwt with oauth4webapi (loopback)', () => {
  let loopback: LoopbackServer;
  before(async () => {
    loopback = await startLoopbackServer();
  });
  after(() => loopback?.close());

  it('registers with jwks (no secret issued) and runs the code flow authenticating by assertion', async () => {
    const issuer = new URL(loopback.issuer);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
    assert.ok(as.token_endpoint_auth_methods_supported?.includes('private_key_jwt'));
    assert.ok(as.token_endpoint_auth_signing_alg_values_supported?.includes('ES256'));
    const { privateKey, jwk } = await keyPair();
    const registered = await fetch(as.registration_endpoint!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'Signed RP',
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [jwk] },
      }),
    });
    assert.equal(registered.status, 201);
    const metadata = (await registered.json()) as Record<string, unknown>;
    assert.equal(metadata.client_secret, undefined, 'a private_key_jwt client gets no secret');
    assert.deepEqual((metadata.jwks as { keys: unknown[] }).keys, [jwk]);
    const client: oauth.Client = { client_id: String(metadata.client_id) };
    const auth = oauth.PrivateKeyJwt({ key: privateKey, kid: jwk.kid });

    const user = await loopback.server.addUser();
    const verifier = oauth.generateRandomCodeVerifier();
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({
      client_id: client.client_id,
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'st',
    }).toString();
    const { callback } = await signInAndConsent(new Browserish(loopback.issuer), url, REDIRECT, user);
    const params = oauth.validateAuthResponse(as, client, callback, 'st');
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, auth, params, REDIRECT, verifier, insecure),
    );
    assert.equal(oauth.getValidatedIdTokenClaims(tokens)?.sub, user.id);
    // The same client authenticates by assertion at introspection too (a new jti each time).
    const introspected = await oauth.processIntrospectionResponse(
      as,
      client,
      await oauth.introspectionRequest(as, client, auth, tokens.access_token, insecure),
    );
    assert.equal(introspected.active, true);
  });
});

await onEachDatabase('private_key_jwt', (database, databaseUrl) => {
  describe(`private_key_jwt assertions on ${database}`, () => {
    let server: TestServer;
    let client: Client;
    let signer: Awaited<ReturnType<typeof keyPair>>;

    before(async () => {
      server = await buildTestServer({}, { databaseUrl: await databaseUrl() });
      signer = await keyPair();
      ({ client } = await server.addClient({
        tokenEndpointAuthMethod: 'private_key_jwt',
        grantTypes: ['client_credentials'],
        redirectUris: [],
        metadata: { jwks: { keys: [signer.jwk] } },
      }));
    });
    after(() => server?.close());

    const now = () => Math.floor(server.clock.now() / 1000);
    async function assertion(
      overrides: Record<string, unknown> = {},
      options: { key?: CryptoKey; alg?: string; kid?: string } = {},
    ) {
      return new SignJWT({
        iss: client.id,
        sub: client.id,
        aud: `${ISSUER}/token`,
        jti: randomUUID(),
        iat: now(),
        exp: now() + 60,
        ...overrides,
      })
        .setProtectedHeader({ alg: options.alg ?? 'ES256', kid: options.kid ?? signer.jwk.kid })
        .sign(options.key ?? signer.privateKey);
    }
    const token = (jwt: string, extra: Record<string, string> = {}) =>
      server.app.inject({
        method: 'POST',
        url: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({
          grant_type: 'client_credentials',
          client_assertion_type: JWT_BEARER_ASSERTION,
          client_assertion: jwt,
          ...extra,
        }).toString(),
      });

    it('a valid assertion authenticates (aud the token endpoint or the issuer)', async () => {
      assert.equal((await token(await assertion())).statusCode, 200);
      assert.equal((await token(await assertion({ aud: ISSUER }))).statusCode, 200);
      const named = await token(await assertion(), { client_id: client.id });
      assert.equal(named.statusCode, 200);
    });

    it('the same assertion sent 12 times at once authenticates exactly once', async () => {
      const jwt = await assertion();
      const answers = await Promise.all(Array.from({ length: 12 }, () => token(jwt)));
      assert.deepEqual(answers.map((answer) => answer.statusCode).sort(), [200, ...Array(11).fill(401)]);
      const later = await token(jwt);
      assert.equal(later.json().error, 'invalid_client');
    });

    it('every other assertion is invalid_client (401), never a 5xx', async () => {
      const stranger = await keyPair();
      const hmac = new TextEncoder().encode('x'.repeat(32));
      const cases: [string, Promise<string>][] = [
        ['another key', assertion({}, { key: stranger.privateKey, kid: stranger.jwk.kid })],
        ['another audience', assertion({ aud: 'https://other.example/token' })],
        ['no jti', assertion({ jti: undefined })],
        ['no exp', assertion({ exp: undefined })],
        ['expired', assertion({ exp: now() - 120 })],
        ['lives 20 minutes', assertion({ exp: now() + 1200 })],
        ['iss is not sub', assertion({ sub: 'someone-else' })],
        [
          'HMAC',
          new SignJWT({ iss: client.id, sub: client.id, aud: ISSUER, jti: 'h', exp: now() + 60 })
            .setProtectedHeader({ alg: 'HS256' })
            .sign(hmac),
        ],
        ['garbage', Promise.resolve('not-a-jwt')],
      ];
      for (const [name, made] of cases) {
        const answer = await token(await made);
        assert.equal(answer.statusCode, 401, `${name}: ${answer.body}`);
        assert.equal(answer.json().error, 'invalid_client', name);
      }
      const wrongType = await token(await assertion(), { client_assertion_type: 'urn:other' });
      assert.equal(wrongType.statusCode, 400);
      const secretToo = await token(await assertion(), { client_secret: 'x' });
      assert.equal(secretToo.json().error, 'invalid_request');
    });

    it('registration: keys only, public only; jwks_uri https only and not with jwks; a secret client cannot use assertions', async () => {
      const register = (body: Record<string, unknown>) =>
        server.app.inject({
          method: 'POST',
          url: '/oauth/register',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({ client_name: 'X', redirect_uris: [REDIRECT], ...body }),
        });
      const { privateKey } = await keyPair();
      const privateJwk = await exportJWK(privateKey);
      for (const body of [
        { token_endpoint_auth_method: 'private_key_jwt' },
        { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [privateJwk] } },
        { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'oct', k: 'abc' }] } },
        { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://rp.example/jwks' },
        { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://rp.example/jwks#k' },
        { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://u:p@rp.example/jwks' },
        { token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'https://rp.example/a/../jwks' },
        {
          token_endpoint_auth_method: 'private_key_jwt',
          jwks_uri: 'https://rp.example/jwks',
          jwks: { keys: [signer.jwk] },
        },
        { token_endpoint_auth_method: 'private_key_jwt', jwks: [signer.jwk] },
      ]) {
        const answer = await register(body);
        assert.equal(answer.statusCode, 400, JSON.stringify(body).slice(0, 120));
        assert.equal(answer.json().error, 'invalid_client_metadata');
      }
      const { client: secretClient } = await server.addClient({ grantTypes: ['client_credentials'] });
      const answer = await token(
        await new SignJWT({
          iss: secretClient.id,
          sub: secretClient.id,
          aud: ISSUER,
          jti: 'j',
          exp: now() + 60,
        })
          .setProtectedHeader({ alg: 'ES256', kid: signer.jwk.kid })
          .sign(signer.privateKey),
      );
      assert.equal(answer.statusCode, 401);
    });
  });
});
