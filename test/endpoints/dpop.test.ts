// DPoP (RFC 9449; issue 16) at Gatehouse's own endpoints, with proofs made by hand (jose), on SQLite and on
// PostgreSQL: the token endpoint binds tokens to the proof's key (cnf.jkt in the JWT, token_type DPoP,
// introspection's cnf), refuses every malformed proof (htm, htu, iat, typ, alg, private jwk, signature) and every
// replay (the same proof sent 10 times at once is accepted once: the database remembers it), asks for its nonce
// (use_dpop_nonce with DPoP-Nonce), binds codes (dpop_jkt) and public clients' refresh tokens, and enforces the
// policies (GATEHOUSE_DPOP=required, dpop_bound_access_tokens). Userinfo takes a bound token only with the DPoP
// scheme and a proof for it (ath), once; the same token as Bearer is refused.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import type { Client } from '../../src/storage/storage.ts';
import { basicAuth, runAuthorizationFlow } from '../helpers/flow.ts';
import { onEachDatabase } from '../helpers/postgres.ts';
import { buildTestServer, ISSUER, type TestServer } from '../helpers/server.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

interface DpopKey {
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

async function dpopKey(alg: 'ES256' | 'RS256' | 'EdDSA' = 'ES256'): Promise<DpopKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

await onEachDatabase('DPoP at the token endpoint and userinfo', (database, databaseUrl) => {
  describe(`DPoP at Gatehouse's endpoints (${database})`, () => {
    let server: TestServer;
    let required: TestServer;
    let machine: { client: Client; secret: string };
    let key: DpopKey;
    let sqliteDir: string | undefined;
    before(async () => {
      // Two servers share one database: on SQLite a file (each :memory: database would be its own).
      let url = await databaseUrl();
      if (url === undefined) {
        sqliteDir = await mkdtemp(path.join(tmpdir(), 'gatehouse-dpop-'));
        url = `sqlite:${path.join(sqliteDir, 'gatehouse.db')}`;
      }
      server = await buildTestServer({}, { databaseUrl: url });
      // A second server on the same database: opaque tokens for its own endpoints, DPoP required of everyone.
      required = await buildTestServer(
        { GATEHOUSE_DPOP: 'required', GATEHOUSE_ACCESS_TOKEN_FORMAT: 'opaque' },
        { databaseUrl: url },
      );
      assert.equal(required.clock.now(), server.clock.now(), 'both test servers start at the same instant');
      const added = await server.addClient({
        grantTypes: ['client_credentials'],
        redirectUris: [],
        scope: 'reports:read',
      });
      machine = { client: added.client, secret: added.secret! };
      key = await dpopKey();
    });
    after(async () => {
      await required?.close();
      await server?.close();
      if (sqliteDir) await rm(sqliteDir, { recursive: true, force: true });
    });

    const nowSeconds = (on: TestServer = server) => Math.floor(on.clock.now() / 1000);
    async function proof(
      claims: Record<string, unknown> = {},
      options: { signer?: DpopKey; header?: Record<string, unknown>; on?: TestServer } = {},
    ): Promise<string> {
      const signer = options.signer ?? key;
      const payload: Record<string, unknown> = {
        htm: 'POST',
        htu: `${ISSUER}/token`,
        iat: nowSeconds(options.on),
        jti: randomUUID(),
        ...claims,
      };
      for (const name of Object.keys(payload)) if (payload[name] === undefined) delete payload[name];
      return new SignJWT(payload)
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: signer.jwk, ...options.header })
        .sign(signer.privateKey);
    }
    const clientCredentials = (dpop: string | string[] | undefined, on: TestServer = server) =>
      on.app.inject({
        method: 'POST',
        url: '/token',
        headers: {
          ...FORM,
          authorization: basicAuth(machine.client.id, machine.secret),
          ...(dpop === undefined ? {} : { dpop }),
        },
        payload: 'grant_type=client_credentials',
      });
    /** The nonce the server hands out, learned as a client does: from a use_dpop_nonce answer. */
    async function serverNonce(on: TestServer = server): Promise<string> {
      const answer = await clientCredentials(await proof({}, { on }), on);
      assert.equal(answer.statusCode, 400, answer.body);
      assert.equal(answer.json().error, 'use_dpop_nonce');
      const nonce = answer.headers['dpop-nonce'];
      assert.equal(typeof nonce, 'string');
      return String(nonce);
    }

    it('a proof without the nonce is use_dpop_nonce with DPoP-Nonce; with it, a DPoP-bound token', async () => {
      const nonce = await serverNonce();
      const answer = await clientCredentials(await proof({ nonce }));
      assert.equal(answer.statusCode, 200, answer.body);
      const body = answer.json();
      assert.equal(body.token_type, 'DPoP');
      assert.deepEqual(decodeJwt(body.access_token).cnf, { jkt: key.jkt });
      assert.equal(typeof answer.headers['dpop-nonce'], 'string', 'every answer carries the current nonce');
      // Introspection says what the token is bound to (RFC 9449 §6.2).
      const introspected = await server.app.inject({
        method: 'POST',
        url: '/introspect',
        headers: { ...FORM, authorization: basicAuth(machine.client.id, machine.secret) },
        payload: new URLSearchParams({ token: body.access_token }).toString(),
      });
      assert.equal(introspected.json().active, true);
      assert.equal(introspected.json().token_type, 'DPoP');
      assert.deepEqual(introspected.json().cnf, { jkt: key.jkt });
      // Without a proof, the same client still gets a bearer token (GATEHOUSE_DPOP=allowed).
      const plain = await clientCredentials(undefined);
      assert.equal(plain.json().token_type, 'Bearer');
      assert.equal(decodeJwt(plain.json().access_token).cnf, undefined);
    });

    it('a forged or expired nonce is use_dpop_nonce with a fresh one', async () => {
      const nonce = await serverNonce();
      const forged = await clientCredentials(
        await proof({ nonce: `${nonce.split('.')[0]}.AAAAAAAAAAAAAAAAAAAAAA` }),
      );
      assert.equal(forged.json().error, 'use_dpop_nonce');
      server.clock.advance(16 * 60_000);
      required.clock.advance(16 * 60_000);
      const stale = await clientCredentials(await proof({ nonce }));
      assert.equal(stale.statusCode, 400);
      assert.equal(stale.json().error, 'use_dpop_nonce');
      assert.notEqual(stale.headers['dpop-nonce'], nonce);
      const fresh = await clientCredentials(await proof({ nonce: String(stale.headers['dpop-nonce']) }));
      assert.equal(fresh.statusCode, 200, fresh.body);
    });

    it('every malformed proof is 400 invalid_dpop_proof, never a token and never a 5xx', async () => {
      const nonce = await serverNonce();
      const stranger = await dpopKey();
      const privateJwk = await exportJWK(key.privateKey);
      const hmacProof = await new SignJWT({
        htm: 'POST',
        htu: `${ISSUER}/token`,
        iat: nowSeconds(),
        jti: randomUUID(),
        nonce,
      })
        .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.jwk })
        .sign(new TextEncoder().encode('x'.repeat(32)));
      const cases: [string, string | string[]][] = [
        ['htm GET', await proof({ nonce, htm: 'GET' })],
        ['htu another endpoint', await proof({ nonce, htu: `${ISSUER}/introspect` })],
        [
          'htu another host (the Host header is not trusted)',
          await proof({ nonce, htu: 'http://evil.example/token' }),
        ],
        ['iat too old', await proof({ nonce, iat: nowSeconds() - 301 })],
        ['iat in the future', await proof({ nonce, iat: nowSeconds() + 120 })],
        ['no jti', await proof({ nonce, jti: undefined })],
        ['no iat', await proof({ nonce, iat: undefined })],
        ['typ JWT', await proof({ nonce }, { header: { typ: 'JWT' } })],
        ['a private jwk', await proof({ nonce }, { header: { jwk: privateJwk } })],
        [
          'signed by another key than its jwk',
          await proof({ nonce }, { signer: stranger, header: { jwk: key.jwk } }),
        ],
        ['HMAC (symmetric alg)', hmacProof],
        ['two DPoP headers', [await proof({ nonce }), await proof({ nonce })]],
        ['not a JWS', 'not-a-proof'],
      ];
      for (const [name, dpop] of cases) {
        const answer = await clientCredentials(dpop);
        assert.equal(answer.statusCode, 400, `${name}: ${answer.body}`);
        assert.equal(answer.json().error, 'invalid_dpop_proof', name);
      }
      // Clocks differ: iat 10 s either side is fine.
      for (const skew of [-10, 10]) {
        const skewed = await clientCredentials(await proof({ nonce, iat: nowSeconds() + skew }));
        assert.equal(skewed.statusCode, 200, `iat ${skew} s: ${skewed.body}`);
      }
      // Scheme and host compare case-insensitively (the URL parser normalises them).
      const upper = await clientCredentials(await proof({ nonce, htu: 'HTTP://LOCALHOST:3000/token' }));
      assert.equal(upper.statusCode, 200, upper.body);
      // htu is compared without query and fragment (RFC 9449 §4.3 item 9).
      const withQuery = await clientCredentials(await proof({ nonce, htu: `${ISSUER}/token?x=1#f` }));
      assert.equal(withQuery.statusCode, 200, withQuery.body);
      // Other asymmetric algs are accepted (the list discovery publishes).
      for (const alg of ['RS256', 'EdDSA'] as const) {
        const other = await dpopKey(alg);
        const signed = await new SignJWT({
          htm: 'POST',
          htu: `${ISSUER}/token`,
          iat: nowSeconds(),
          jti: randomUUID(),
          nonce,
        })
          .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: other.jwk })
          .sign(other.privateKey);
        const answer = await clientCredentials(signed);
        assert.equal(answer.statusCode, 200, `${alg}: ${answer.body}`);
        assert.deepEqual(decodeJwt(answer.json().access_token).cnf, { jkt: other.jkt });
      }
    });

    it('the same proof sent 10 times at once is accepted exactly once (replay, shared database)', async () => {
      const nonce = await serverNonce();
      const dpop = await proof({ nonce });
      // Two server instances on one database: the replay cache is the database, not a process.
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) => clientCredentials(dpop, i % 2 === 0 ? server : required)),
      );
      const statuses = answers.map((answer) => answer.statusCode).sort();
      assert.deepEqual(statuses, [200, ...Array(9).fill(400)], answers.map((a) => a.body).join('\n'));
      for (const answer of answers.filter((a) => a.statusCode === 400)) {
        assert.equal(answer.json().error, 'invalid_dpop_proof');
      }
      const later = await clientCredentials(dpop);
      assert.equal(later.json().error, 'invalid_dpop_proof');
    });

    it('C-10: a proof, or its jti, presented as a code is invalid_grant', async () => {
      const { client, secret } = await server.addClient();
      const dpop = await proof({});
      const jti = String(decodeJwt(dpop).jti);
      for (const code of [dpop, jti]) {
        const answer = await server.app.inject({
          method: 'POST',
          url: '/token',
          headers: { ...FORM, authorization: basicAuth(client.id, secret!) },
          payload: new URLSearchParams({
            grant_type: 'authorization_code',
            code,
            redirect_uri: 'https://rp.example/cb',
          }).toString(),
        });
        assert.equal(answer.json().error, 'invalid_grant');
      }
    });

    it('GATEHOUSE_DPOP=required, or a client registered with dpop_bound_access_tokens, needs a proof', async () => {
      const refused = await clientCredentials(undefined, required);
      assert.equal(refused.statusCode, 400);
      assert.equal(refused.json().error, 'invalid_dpop_proof');
      assert.equal(typeof refused.headers['dpop-nonce'], 'string', 'the nonce comes with the refusal');
      const nonce = String(refused.headers['dpop-nonce']);
      const bound = await clientCredentials(await proof({ nonce }, { on: required }), required);
      assert.equal(bound.statusCode, 200, bound.body);
      assert.equal(bound.json().token_type, 'DPoP');
      assert.match(bound.json().access_token, /^gha_/, 'an opaque token');
      const introspected = await required.app.inject({
        method: 'POST',
        url: '/introspect',
        headers: { ...FORM, authorization: basicAuth(machine.client.id, machine.secret) },
        payload: new URLSearchParams({ token: bound.json().access_token }).toString(),
      });
      assert.deepEqual(introspected.json().cnf, { jkt: key.jkt }, 'an opaque token is bound in its row');

      // Registration takes the client's own policy (RFC 9449 §5.2).
      const registered = await server.app.inject({
        method: 'POST',
        url: '/oauth/register',
        headers: { 'content-type': 'application/json' },
        payload: { redirect_uris: ['https://rp.example/cb'], dpop_bound_access_tokens: true },
      });
      assert.equal(registered.statusCode, 201, registered.body);
      const stored = await server.deps.storage.clients.find(registered.json().client_id);
      assert.equal(stored?.metadata.dpop_bound_access_tokens, true);
      const badType = await server.app.inject({
        method: 'POST',
        url: '/oauth/register',
        headers: { 'content-type': 'application/json' },
        payload: { redirect_uris: ['https://rp.example/cb'], dpop_bound_access_tokens: 'yes' },
      });
      assert.equal(badType.json().error, 'invalid_client_metadata');
      const strict = await server.addClient({
        grantTypes: ['client_credentials'],
        redirectUris: [],
        scope: 'reports:read',
        metadata: { dpop_bound_access_tokens: true },
      });
      const noProof = await server.app.inject({
        method: 'POST',
        url: '/token',
        headers: { ...FORM, authorization: basicAuth(strict.client.id, strict.secret!) },
        payload: 'grant_type=client_credentials',
      });
      assert.equal(noProof.json().error, 'invalid_dpop_proof');
    });

    describe('code flow of a public client: dpop_jkt, bound refresh tokens, userinfo', () => {
      let pub: Client;
      before(async () => {
        pub = (
          await server.addClient({
            redirectUris: ['http://127.0.0.1/cb'],
            tokenEndpointAuthMethod: 'none',
            grantTypes: ['authorization_code', 'refresh_token'],
          })
        ).client;
      });
      const tokenRequest = (form: Record<string, string>, dpop?: string) =>
        server.app.inject({
          method: 'POST',
          url: '/token',
          headers: { ...FORM, ...(dpop === undefined ? {} : { dpop }) },
          payload: new URLSearchParams({ client_id: pub.id, ...form }).toString(),
        });

      it('a code bound with dpop_jkt is redeemed only with that key, and is not burnt by another', async () => {
        const user = await server.addUser();
        const nonce = await serverNonce();
        const flow = await runAuthorizationFlow(server, pub, user, { extra: { dpop_jkt: key.jkt } });
        const form = {
          grant_type: 'authorization_code',
          code: flow.code,
          redirect_uri: flow.redirectUri,
          code_verifier: flow.verifier,
        };
        const other = await dpopKey();
        const wrongKey = await tokenRequest(form, await proof({ nonce }, { signer: other }));
        assert.equal(wrongKey.statusCode, 400);
        assert.equal(wrongKey.json().error, 'invalid_grant');
        const noProof = await tokenRequest(form);
        assert.equal(noProof.json().error, 'invalid_grant');
        const right = await tokenRequest(form, await proof({ nonce }));
        assert.equal(right.statusCode, 200, right.body);
        assert.equal(right.json().token_type, 'DPoP');

        const malformed = await server.app.inject({
          method: 'GET',
          url: `/authorize?${new URLSearchParams({
            response_type: 'code',
            client_id: pub.id,
            redirect_uri: 'http://127.0.0.1/cb',
            code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
            code_challenge_method: 'S256',
            dpop_jkt: 'short',
          })}`,
        });
        assert.match(String(malformed.headers.location), /error=invalid_request/);
      });

      it("a public client's refresh token needs a proof by the same key; userinfo needs DPoP + ath", async () => {
        const user = await server.addUser();
        const nonce = await serverNonce();
        const flow = await runAuthorizationFlow(server, pub, user, { scope: 'openid profile' });
        const first = await tokenRequest(
          {
            grant_type: 'authorization_code',
            code: flow.code,
            redirect_uri: flow.redirectUri,
            code_verifier: flow.verifier,
          },
          await proof({ nonce }),
        );
        assert.equal(first.statusCode, 200, first.body);
        const { access_token: accessToken, refresh_token: refreshToken } = first.json();
        assert.ok(refreshToken);

        const other = await dpopKey();
        const refresh = (dpop?: string) =>
          tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken }, dpop);
        assert.equal((await refresh()).json().error, 'invalid_grant', 'no proof');
        assert.equal(
          (await refresh(await proof({ nonce }, { signer: other }))).json().error,
          'invalid_grant',
        );
        const refreshed = await refresh(await proof({ nonce }));
        assert.equal(refreshed.statusCode, 200, refreshed.body);
        assert.equal(refreshed.json().token_type, 'DPoP');
        // The successor is bound too.
        const successor = refreshed.json().refresh_token;
        const unproven = await tokenRequest({ grant_type: 'refresh_token', refresh_token: successor });
        assert.equal(unproven.json().error, 'invalid_grant');

        const userinfo = (authorization: string, dpop?: string) =>
          server.app.inject({
            method: 'GET',
            url: '/userinfo',
            headers: { authorization, ...(dpop === undefined ? {} : { dpop }) },
          });
        const userinfoProof = (claims: Record<string, unknown> = {}, signer?: DpopKey) =>
          proof({ htm: 'GET', htu: `${ISSUER}/userinfo`, ath: ath(accessToken), ...claims }, { signer });
        const good = await userinfoProof();
        const ok = await userinfo(`DPoP ${accessToken}`, good);
        assert.equal(ok.statusCode, 200, ok.body);
        assert.equal(ok.json().sub, user.id);

        // The bearer downgrade: the bound token without its proof.
        const downgrade = await userinfo(`Bearer ${accessToken}`);
        assert.equal(downgrade.statusCode, 401);
        assert.match(String(downgrade.headers['www-authenticate']), /^DPoP .*error="invalid_token"/);
        assert.match(String(downgrade.headers['www-authenticate']), /algs="[^"]*ES256/);

        const refusals: [string, Promise<string> | undefined][] = [
          ['no proof', undefined],
          ['the proof used before', Promise.resolve(good)],
          ['no ath', userinfoProof({ ath: undefined })],
          ['ath of another token', userinfoProof({ ath: ath('gha_other') })],
          ['htm POST', userinfoProof({ htm: 'POST' })],
          ['htu the token endpoint', userinfoProof({ htu: `${ISSUER}/token` })],
          ['another key', userinfoProof({}, other)],
          ['too old', userinfoProof({ iat: nowSeconds() - 301 })],
        ];
        for (const [name, pending] of refusals) {
          const answer = await userinfo(
            `DPoP ${accessToken}`,
            pending === undefined ? undefined : await pending,
          );
          assert.equal(answer.statusCode, 401, `${name}: ${answer.body}`);
          assert.equal(answer.json().error, 'invalid_dpop_proof', name);
          assert.match(
            String(answer.headers['www-authenticate']),
            /^DPoP .*error="invalid_dpop_proof"/,
            name,
          );
        }

        // One proof sent 8 times at once: one answer.
        const once = await userinfoProof();
        const answers = await Promise.all(
          Array.from({ length: 8 }, () => userinfo(`DPoP ${accessToken}`, once)),
        );
        assert.deepEqual(answers.map((a) => a.statusCode).sort(), [200, ...Array(7).fill(401)]);

        // A bearer token sent with the DPoP scheme is refused too (it is bound to no key).
        const plain = await clientCredentials(undefined);
        const unbound = await userinfo(`DPoP ${plain.json().access_token}`, await userinfoProof());
        assert.equal(unbound.statusCode, 401);
      });

      it('a confidential client: its refresh token stays unbound, each access token is bound per request', async () => {
        const { client, secret } = await server.addClient({
          grantTypes: ['authorization_code', 'refresh_token'],
        });
        const user = await server.addUser();
        const nonce = await serverNonce();
        const flow = await runAuthorizationFlow(server, client, user);
        const post = (form: Record<string, string>, dpop?: string) =>
          server.app.inject({
            method: 'POST',
            url: '/token',
            headers: { ...FORM, authorization: basicAuth(client.id, secret!), ...(dpop ? { dpop } : {}) },
            payload: new URLSearchParams(form).toString(),
          });
        const first = await post(
          {
            grant_type: 'authorization_code',
            code: flow.code,
            redirect_uri: flow.redirectUri,
            code_verifier: flow.verifier,
          },
          await proof({ nonce }),
        );
        assert.equal(first.json().token_type, 'DPoP');
        const refreshed = await post({
          grant_type: 'refresh_token',
          refresh_token: first.json().refresh_token,
        });
        assert.equal(refreshed.statusCode, 200, refreshed.body);
        assert.equal(refreshed.json().token_type, 'Bearer');
      });
    });

    it('discovery and the protected resource metadata list the DPoP algs', async () => {
      const discovery = (await server.app.inject('/.well-known/openid-configuration')).json();
      assert.ok(discovery.dpop_signing_alg_values_supported.includes('ES256'));
      assert.ok(!discovery.dpop_signing_alg_values_supported.some((alg: string) => /^(HS|none)/.test(alg)));
      const metadata = (await server.app.inject('/.well-known/oauth-protected-resource')).json();
      assert.deepEqual(
        metadata.dpop_signing_alg_values_supported,
        discovery.dpop_signing_alg_values_supported,
      );
    });
  });
});
