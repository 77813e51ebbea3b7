// Discovery, JWKS and signing-key rotation over HTTP (app.inject): docs/security.md rows J-01, J-02, J-03, with B-10,
// F-04 and G-10 as far as they concern the metadata document.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  type JSONWebKeySet,
  type JWK,
  jwtVerify,
  SignJWT,
} from 'jose';
import { rotateSigningKeys } from '../../src/oauth/keys.ts';
import type { TokenEndpointAuthMethod } from '../../src/storage/storage.ts';
import { Agent } from '../helpers/agent.ts';
import { authorizeUrl, basicAuth, exchangeCode, pkcePair, runAuthorizationFlow } from '../helpers/flow.ts';
import { buildTestServer, ISSUER, TEST_SECRET, type TestServer } from '../helpers/server.ts';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

async function getJson(server: TestServer, url: string, headers: Record<string, string> = {}) {
  const response = await server.app.inject({ method: 'GET', url, headers });
  assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
  return response;
}

interface DiscoveryDocument {
  [member: string]: unknown;
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  jwks_uri: string;
  scopes_supported: string[];
  response_types_supported: string[];
  response_modes_supported: string[];
  grant_types_supported: string[];
  subject_types_supported: string[];
  id_token_signing_alg_values_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  code_challenge_methods_supported: string[];
  claims_supported: string[];
  authorization_response_iss_parameter_supported: boolean;
}

async function discovery(server: TestServer): Promise<DiscoveryDocument> {
  return (await getJson(server, '/.well-known/openid-configuration')).json();
}

async function jwks(server: TestServer): Promise<JSONWebKeySet> {
  return (await getJson(server, '/jwks')).json();
}

function kids(set: JSONWebKeySet): string[] {
  return set.keys.map((key) => String(key.kid)).sort();
}

async function tokensFor(server: TestServer, options: { nonce?: string } = {}) {
  const user = await server.addUser();
  const { client, secret } = await server.addClient();
  const flow = await runAuthorizationFlow(server, client, user, options);
  const response = await exchangeCode(server, client, secret, flow);
  assert.equal(response.statusCode, 200, response.body);
  return {
    user,
    client,
    flow,
    body: response.json() as { access_token: string; id_token: string; scope: string },
  };
}

function userinfo(server: TestServer, accessToken: string) {
  return server.app.inject({
    method: 'GET',
    url: '/userinfo',
    headers: { authorization: `Bearer ${accessToken}` },
  });
}

describe('J-01: discovery', () => {
  let server: TestServer;
  before(async () => {
    server = await buildTestServer();
  });
  after(() => server.close());

  it('issuer equals the configured issuer byte for byte', async () => {
    const doc = await discovery(server);
    assert.equal(doc.issuer, ISSUER);
    assert.equal(doc.issuer, server.config.issuer);
  });

  it('both well-known documents are identical JSON', async () => {
    const oidc = await getJson(server, '/.well-known/openid-configuration');
    const oauth = await getJson(server, '/.well-known/oauth-authorization-server');
    assert.equal(oidc.body, oauth.body);
    for (const response of [oidc, oauth]) {
      assert.match(String(response.headers['content-type']), /^application\/json\b/);
    }
  });

  it('has the fields OpenID Connect Discovery and RFC 8414 require, with our values', async () => {
    const doc = await discovery(server);
    assert.equal(doc.authorization_endpoint, `${ISSUER}/authorize`);
    assert.equal(doc.token_endpoint, `${ISSUER}/token`);
    assert.equal(doc.userinfo_endpoint, `${ISSUER}/userinfo`);
    assert.equal(doc.jwks_uri, `${ISSUER}/jwks`);
    assert.deepEqual(doc.response_types_supported, ['code']);
    assert.deepEqual(doc.response_modes_supported, ['query']);
    assert.deepEqual(doc.subject_types_supported, ['public']);
    assert.deepEqual(doc.code_challenge_methods_supported, ['S256']); // B-10
    assert.equal(doc.authorization_response_iss_parameter_supported, true);
    assert.ok(doc.scopes_supported.includes('openid'));
    assert.ok(doc.claims_supported.includes('sub'));
    assert.ok(Array.isArray(doc.id_token_signing_alg_values_supported));
    assert.ok(!doc.id_token_signing_alg_values_supported.includes('none'));
    for (const grant of ['password', 'implicit']) assert.ok(!doc.grant_types_supported.includes(grant)); // F-04
  });

  it('every advertised endpoint is served here', async () => {
    const doc = await discovery(server);
    const path = (url: string) => {
      assert.ok(url.startsWith(`${ISSUER}/`), url);
      return new URL(url).pathname;
    };
    const authorize = await server.app.inject({ method: 'GET', url: path(doc.authorization_endpoint) });
    assert.equal(authorize.statusCode, 400); // an error page for an empty request, not 404
    const token = await server.app.inject({
      method: 'POST',
      url: path(doc.token_endpoint),
      payload: '',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(token.statusCode, 400);
    assert.equal(token.json().error, 'invalid_request');
    const info = await server.app.inject({ method: 'GET', url: path(doc.userinfo_endpoint) });
    assert.equal(info.statusCode, 401);
    const keys = await server.app.inject({ method: 'GET', url: path(doc.jwks_uri) });
    assert.equal(keys.statusCode, 200);
    assert.ok(keys.json().keys.length > 0);
  });

  it('grant_types_supported lists exactly the grants the token endpoint accepts', async () => {
    const doc = await discovery(server);
    const { client, secret } = await server.addClient();
    const candidates = [
      'authorization_code',
      'refresh_token',
      'client_credentials',
      'password',
      'implicit',
      'urn:ietf:params:oauth:grant-type:device_code',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
      'urn:ietf:params:oauth:grant-type:token-exchange',
    ];
    for (const grantType of new Set([...candidates, ...doc.grant_types_supported])) {
      const response = await server.app.inject({
        method: 'POST',
        url: '/token',
        payload: new URLSearchParams({ grant_type: grantType }).toString(),
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basicAuth(client.id, secret!),
        },
      });
      const unsupported = response.json().error === 'unsupported_grant_type';
      assert.equal(
        unsupported,
        !doc.grant_types_supported.includes(grantType),
        `${grantType}: advertised=${doc.grant_types_supported.includes(grantType)}, answer ${response.body}`,
      );
    }
    assert.ok(doc.grant_types_supported.includes('authorization_code'));
  });

  it('every advertised token_endpoint_auth_method works end to end', async () => {
    const doc = await discovery(server);
    assert.deepEqual([...doc.token_endpoint_auth_methods_supported].sort(), [
      'client_secret_basic',
      'client_secret_post',
      'none',
      'private_key_jwt',
    ]);
    const signer = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(signer.publicKey)), kid: 'k1' };
    for (const method of doc.token_endpoint_auth_methods_supported) {
      const user = await server.addUser();
      const isPublic = method === 'none';
      const { client, secret } = await server.addClient({
        tokenEndpointAuthMethod: method as TokenEndpointAuthMethod,
        ...(isPublic ? { applicationType: 'native' as const, redirectUris: ['http://127.0.0.1/cb'] } : {}),
        ...(method === 'private_key_jwt' ? { metadata: { jwks: { keys: [jwk] } } } : {}),
      });
      const flow = await runAuthorizationFlow(server, client, user);
      const assertion = async () =>
        new SignJWT({ iss: client.id, sub: client.id, aud: ISSUER, jti: `${Math.random()}` })
          .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
          .setIssuedAt(Math.floor(server.clock.now() / 1000))
          .setExpirationTime(Math.floor(server.clock.now() / 1000) + 60)
          .sign(signer.privateKey);
      const response =
        method === 'client_secret_basic'
          ? await exchangeCode(server, client, secret, flow)
          : method === 'private_key_jwt'
            ? await exchangeCode(server, client, undefined, flow, {
                client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
                client_assertion: await assertion(),
              })
            : await exchangeCode(server, client, undefined, flow, isPublic ? {} : { client_secret: secret });
      assert.equal(response.statusCode, 200, `${method}: ${response.body}`);
    }
  });

  it('only S256 is accepted at /authorize, as advertised (plain → invalid_request)', async () => {
    const { client } = await server.addClient();
    const { verifier } = pkcePair();
    const response = await new Agent(server.app).get(
      authorizeUrl({
        response_type: 'code',
        client_id: client.id,
        redirect_uri: 'https://rp.example/cb',
        scope: 'openid',
        state: 's',
        code_challenge: verifier,
        code_challenge_method: 'plain',
      }),
    );
    assert.equal(response.statusCode, 303);
    const location = new URL(String(response.headers.location));
    assert.equal(location.origin + location.pathname, 'https://rp.example/cb');
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.equal(location.searchParams.get('iss'), ISSUER);
    assert.equal(location.searchParams.get('code'), null);
  });

  it('every advertised ID token alg has a published key; tokens use the advertised values', async () => {
    const doc = await discovery(server);
    const set = await jwks(server);
    for (const alg of doc.id_token_signing_alg_values_supported) {
      assert.ok(
        set.keys.some((key) => key.alg === alg),
        `no key for ${alg}`,
      );
    }
    const { flow, body } = await tokensFor(server, { nonce: 'n-1' });
    const header = decodeProtectedHeader(body.id_token);
    assert.ok(doc.id_token_signing_alg_values_supported.includes(String(header.alg)));
    const claims = decodeJwt(body.id_token);
    assert.equal(claims.iss, doc.issuer);
    assert.equal(flow.iss, doc.issuer); // RFC 9207 iss in the authorization response
    for (const claim of Object.keys(claims)) {
      assert.ok(doc.claims_supported.includes(claim), `claim ${claim} is not in claims_supported`);
    }
    assert.deepEqual(body.scope.split(' ').sort(), ['email', 'openid', 'profile']);
    for (const scope of body.scope.split(' ')) assert.ok(doc.scopes_supported.includes(scope));
  });

  it('G-10: Host and X-Forwarded-* headers do not change the document', async () => {
    const plain = await getJson(server, '/.well-known/openid-configuration');
    const spoofed = await getJson(server, '/.well-known/openid-configuration', {
      host: 'evil.example',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
    });
    assert.equal(spoofed.body, plain.body);
    assert.ok(!spoofed.body.includes('evil.example'));
  });
});

describe('J-01: issuer normalisation', () => {
  it('a configured trailing slash does not leak into discovery or tokens', async () => {
    const server = await buildTestServer({ GATEHOUSE_ISSUER: `${ISSUER}/` });
    try {
      const doc = await discovery(server);
      assert.equal(doc.issuer, ISSUER);
      assert.equal(doc.token_endpoint, `${ISSUER}/token`);
      const { flow, body } = await tokensFor(server);
      assert.equal(flow.iss, ISSUER);
      assert.equal(decodeJwt(body.id_token).iss, ISSUER);
      assert.equal(decodeJwt(body.access_token).iss, ISSUER);
    } finally {
      await server.close();
    }
  });

  it('an https issuer yields https endpoints only', async () => {
    const server = await buildTestServer({ GATEHOUSE_ISSUER: 'https://as.example' });
    try {
      const doc = await discovery(server);
      assert.equal(doc.issuer, 'https://as.example');
      for (const [name, value] of Object.entries(doc)) {
        if (name.endsWith('_endpoint') || name.endsWith('_uri')) {
          assert.ok(String(value).startsWith('https://as.example/'), `${name}: ${value}`);
        }
      }
    } finally {
      await server.close();
    }
  });
});

describe('J-02: JWKS', () => {
  let server: TestServer;
  before(async () => {
    server = await buildTestServer();
  });
  after(() => server.close());

  it('is served as application/jwk-set+json', async () => {
    const response: LightMyRequestResponse = await getJson(server, '/jwks');
    assert.match(String(response.headers['content-type']), /^application\/jwk-set\+json\b/);
  });

  it('holds public keys only, each with a unique kid, use=sig and an alg', async () => {
    const set = await jwks(server);
    assert.equal(set.keys.length, 2); // the access-token key (ES256) and the ID-token key (RS256)
    assert.equal(new Set(kids(set)).size, set.keys.length);
    for (const key of set.keys) {
      for (const member of PRIVATE_MEMBERS) assert.ok(!(member in key), `key ${key.kid} has "${member}"`);
      assert.equal(typeof key.kid, 'string');
      assert.equal(key.use, 'sig');
      assert.ok(['ES256', 'RS256', 'EdDSA'].includes(String(key.alg)), String(key.alg));
    }
    assert.deepEqual(set.keys.map((key) => key.alg).sort(), ['ES256', 'RS256']);
  });

  it('key types match their algs; RSA keys have at least 2048 bits; kids are RFC 7638 thumbprints', async () => {
    const set = await jwks(server);
    for (const key of set.keys) {
      if (key.alg === 'RS256') {
        assert.equal(key.kty, 'RSA');
        assert.ok(Buffer.from(String(key.n), 'base64url').length >= 256);
      } else if (key.alg === 'ES256') {
        assert.equal(key.kty, 'EC');
        assert.equal(key.crv, 'P-256');
      }
      assert.equal(key.kid, await calculateJwkThumbprint(key as JWK));
    }
  });

  it('the kid of every issued token resolves in the JWKS', async () => {
    const set = await jwks(server);
    const { body } = await tokensFor(server);
    for (const token of [body.access_token, body.id_token]) {
      const header = decodeProtectedHeader(token);
      assert.ok(kids(set).includes(String(header.kid)));
      const key = set.keys.find((candidate) => candidate.kid === header.kid);
      assert.equal(key?.alg, header.alg);
    }
  });
});

describe('J-03: signing-key rotation', () => {
  let server: TestServer;
  before(async () => {
    server = await buildTestServer();
  });
  after(() => server.close());

  it('keeps the old keys published, signs with the new ones, and retires the old ones on schedule', async () => {
    const before = await jwks(server);
    const old = await tokensFor(server);
    const oldKids = {
      access: String(decodeProtectedHeader(old.body.access_token).kid),
      id: String(decodeProtectedHeader(old.body.id_token).kid),
    };
    assert.deepEqual([oldKids.access, oldKids.id].sort(), kids(before));

    server.clock.advance(1000);
    const retireAfterMs = 20 * 60_000;
    const added = await rotateSigningKeys(
      server.deps.storage,
      TEST_SECRET,
      [server.config.accessTokenAlg, server.config.idTokenAlg],
      server.clock.now(),
      retireAfterMs,
    );
    assert.equal(added.length, 2);
    await server.deps.keys.reload();

    // Both generations are published.
    const during = await jwks(server);
    assert.deepEqual(kids(during), [...kids(before), ...added.map((key) => key.kid)].sort());
    for (const key of during.keys) {
      for (const member of PRIVATE_MEMBERS) assert.ok(!(member in key));
    }

    // New tokens carry the new kids and verify against the JWKS.
    const fresh = await tokensFor(server, { nonce: 'after-rotation' });
    const newKidFor = (alg: string) => added.find((key) => key.alg === alg)?.kid;
    assert.equal(decodeProtectedHeader(fresh.body.access_token).kid, newKidFor(server.config.accessTokenAlg));
    assert.equal(decodeProtectedHeader(fresh.body.id_token).kid, newKidFor(server.config.idTokenAlg));
    await jwtVerify(fresh.body.id_token, createLocalJWKSet(during), {
      issuer: ISSUER,
      audience: fresh.client.id,
      currentDate: new Date(server.clock.now()),
    });
    assert.equal((await userinfo(server, fresh.body.access_token)).statusCode, 200);

    // A token signed before the rotation still works, and its ID token still verifies.
    const stillValid = await userinfo(server, old.body.access_token);
    assert.equal(stillValid.statusCode, 200, stillValid.body);
    await jwtVerify(old.body.id_token, createLocalJWKSet(during), {
      issuer: ISSUER,
      audience: old.client.id,
      currentDate: new Date(server.clock.now()),
    });

    // Just before the retire time the old keys are still there.
    server.clock.advance(retireAfterMs - 1000);
    await server.deps.keys.reload();
    assert.deepEqual(kids(await jwks(server)), kids(during));

    // After the retire time they leave the JWKS; the new keys keep signing.
    server.clock.advance(1000);
    await server.deps.keys.reload();
    const afterRetire = await jwks(server);
    assert.deepEqual(kids(afterRetire), added.map((key) => key.kid).sort());
    for (const kid of Object.values(oldKids)) assert.ok(!kids(afterRetire).includes(kid));
    const later = await tokensFor(server);
    assert.equal(decodeProtectedHeader(later.body.access_token).kid, newKidFor(server.config.accessTokenAlg));
    assert.equal((await userinfo(server, later.body.access_token)).statusCode, 200);
  });
});
