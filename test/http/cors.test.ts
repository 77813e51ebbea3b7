// RFC 9700 §2.6 / docs/security.md A-15: CORS only for origins a client registered, never on /authorize; and an
// actual response only for an origin of the client it was for (the authenticated client, the token's client).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import type { Client } from '../../src/storage/storage.ts';
import { basicAuth, runAuthorizationFlow } from '../helpers/flow.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('CORS', () => {
  let server: TestServer;
  let spa: Client;
  before(async () => {
    server = await buildTestServer();
    ({ client: spa } = await server.addClient({
      allowedCorsOrigins: ['https://spa.example'],
      tokenEndpointAuthMethod: 'none',
    }));
  });
  after(() => server.close());

  for (const path of ['/token', '/userinfo', '/jwks', '/.well-known/openid-configuration']) {
    it(`answers a preflight for ${path} from a registered origin only`, async () => {
      const ok = await server.app.inject({
        method: 'OPTIONS',
        url: path,
        headers: { origin: 'https://spa.example', 'access-control-request-method': 'POST' },
      });
      assert.equal(ok.statusCode, 204);
      assert.equal(ok.headers['access-control-allow-origin'], 'https://spa.example');
      const evil = await server.app.inject({
        method: 'OPTIONS',
        url: path,
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      });
      assert.equal(evil.headers['access-control-allow-origin'], undefined);
    });
  }

  it('sends ACAO on a JWKS response for a registered origin, not for others or null', async () => {
    const ok = await server.app.inject({ url: '/jwks', headers: { origin: 'https://spa.example' } });
    assert.equal(ok.headers['access-control-allow-origin'], 'https://spa.example');
    const evil = await server.app.inject({ url: '/jwks', headers: { origin: 'https://evil.example' } });
    assert.equal(evil.headers['access-control-allow-origin'], undefined);
    const opaque = await server.app.inject({ method: 'POST', url: '/token', headers: { origin: 'null' } });
    assert.equal(opaque.headers['access-control-allow-origin'], undefined);
  });

  it('sends CORS headers only on the endpoints browsers may call: not on introspection or registration', async () => {
    const headers = { origin: 'https://spa.example', ...FORM };
    // An error for the client that registered the origin is readable by it (an expired code, say).
    const token = await server.app.inject({
      method: 'POST',
      url: '/token',
      headers,
      payload: new URLSearchParams({
        grant_type: 'authorization_code',
        code: 'x',
        client_id: spa.id,
      }).toString(),
    });
    assert.equal(token.statusCode, 400, token.body);
    assert.equal(token.headers['access-control-allow-origin'], 'https://spa.example');
    assert.equal(token.headers['access-control-expose-headers'], 'WWW-Authenticate, DPoP-Nonce');
    assert.equal(token.headers.vary, 'Origin');
    for (const url of ['/introspect', '/register']) {
      const response = await server.app.inject({ method: 'POST', url, headers, payload: 'token=x' });
      assert.ok(response.statusCode >= 400, url);
      assert.equal(response.headers['access-control-allow-origin'], undefined, url);
      const preflight = await server.app.inject({
        method: 'OPTIONS',
        url,
        headers: { origin: 'https://spa.example', 'access-control-request-method': 'POST' },
      });
      assert.equal(preflight.headers['access-control-allow-origin'], undefined, url);
    }
  });

  it('never sends CORS headers on the authorization endpoint', async () => {
    for (const method of ['GET', 'OPTIONS'] as const) {
      const response = await server.app.inject({
        method,
        url: '/authorize?client_id=x',
        headers: { origin: 'https://spa.example', 'access-control-request-method': 'GET' },
      });
      assert.equal(response.headers['access-control-allow-origin'], undefined, method);
    }
  });
});

describe("CORS: an origin opens only its own client's responses (issue 12, item 8)", () => {
  const A_ORIGIN = 'https://a.example';
  let server: TestServer;
  let a: { client: Client; secret: string };
  let b: { client: Client; secret: string };
  let user: Awaited<ReturnType<TestServer['addUser']>>;

  before(async () => {
    server = await buildTestServer();
    const confidential = async (name: string, origins: string[]) => {
      const { client, secret } = await server.addClient({
        name,
        allowedCorsOrigins: origins,
        grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
        scope: 'openid profile email offline_access',
      });
      assert.ok(secret);
      return { client, secret };
    };
    a = await confidential('A', [A_ORIGIN]);
    // B registered no origin at all; anyone may register A's origin too, which must not matter to B.
    b = await confidential('B', []);
    user = await server.addUser();
  });
  after(() => server.close());

  const post = (url: string, form: Record<string, string>, headers: Record<string, string>) =>
    server.app.inject({ method: 'POST', url, payload: new URLSearchParams(form).toString(), headers });

  /** A code exchanged at /token from `origin`, as `app`. */
  async function tokensFrom(app: { client: Client; secret: string }, origin: string) {
    const flow = await runAuthorizationFlow(server, app.client, user);
    return post(
      '/token',
      {
        grant_type: 'authorization_code',
        code: flow.code,
        redirect_uri: flow.redirectUri,
        code_verifier: flow.verifier,
      },
      { ...FORM, origin, authorization: basicAuth(app.client.id, app.secret) },
    );
  }

  const acao = (response: LightMyRequestResponse) => response.headers['access-control-allow-origin'];

  it("the preflight from A's origin is answered (no credentials yet): any active client's origin", async () => {
    for (const url of ['/token', '/userinfo', '/revoke']) {
      const preflight = await server.app.inject({
        method: 'OPTIONS',
        url,
        headers: { origin: A_ORIGIN, 'access-control-request-method': 'POST' },
      });
      assert.equal(preflight.statusCode, 204, url);
      assert.equal(acao(preflight), A_ORIGIN, url);
    }
  });

  it("/token from A's origin: authenticated as B → no ACAO; as A → ACAO", async () => {
    const asB = await tokensFrom(b, A_ORIGIN);
    assert.equal(asB.statusCode, 200, asB.body);
    assert.equal(acao(asB), undefined, "B's tokens are not readable by A's origin");
    assert.equal(asB.headers['access-control-expose-headers'], undefined);
    assert.equal(asB.headers.vary, 'Origin');
    const asA = await tokensFrom(a, A_ORIGIN);
    assert.equal(asA.statusCode, 200, asA.body);
    assert.equal(acao(asA), A_ORIGIN);
    // client_credentials likewise, and B's error answers too.
    const machine = await post(
      '/token',
      { grant_type: 'client_credentials' },
      { ...FORM, origin: A_ORIGIN, authorization: basicAuth(b.client.id, b.secret) },
    );
    assert.equal(machine.statusCode, 200, machine.body);
    assert.equal(acao(machine), undefined);
    const badCode = await post(
      '/token',
      {
        grant_type: 'authorization_code',
        code: 'x',
        redirect_uri: 'https://rp.example/cb',
        code_verifier: 'x',
      },
      { ...FORM, origin: A_ORIGIN, authorization: basicAuth(b.client.id, b.secret) },
    );
    assert.equal(badCode.statusCode, 400, badCode.body);
    assert.equal(acao(badCode), undefined);
    // A failed client authentication names no client: no ACAO, whatever the origin.
    const wrongSecret = await post(
      '/token',
      { grant_type: 'client_credentials' },
      { ...FORM, origin: A_ORIGIN, authorization: basicAuth(a.client.id, `${a.secret}x`) },
    );
    assert.equal(wrongSecret.statusCode, 401, wrongSecret.body);
    assert.equal(acao(wrongSecret), undefined);
  });

  it("/userinfo from A's origin: with B's token → no ACAO; with A's token → ACAO", async () => {
    const bTokens = (await tokensFrom(b, A_ORIGIN)).json() as { access_token: string };
    const aTokens = (await tokensFrom(a, A_ORIGIN)).json() as { access_token: string };
    for (const method of ['GET', 'POST'] as const) {
      const withB = await server.app.inject({
        method,
        url: '/userinfo',
        headers: { origin: A_ORIGIN, authorization: `Bearer ${bTokens.access_token}` },
      });
      assert.equal(withB.statusCode, 200, withB.body);
      assert.equal(acao(withB), undefined, `${method}: B's userinfo is not readable by A's origin`);
      const withA = await server.app.inject({
        method,
        url: '/userinfo',
        headers: { origin: A_ORIGIN, authorization: `Bearer ${aTokens.access_token}` },
      });
      assert.equal(withA.statusCode, 200, withA.body);
      assert.equal(acao(withA), A_ORIGIN, method);
      assert.equal(withA.headers['access-control-expose-headers'], 'WWW-Authenticate, DPoP-Nonce');
      // Another origin, even with A's token: none.
      const elsewhere = await server.app.inject({
        method,
        url: '/userinfo',
        headers: { origin: 'https://evil.example', authorization: `Bearer ${aTokens.access_token}` },
      });
      assert.equal(acao(elsewhere), undefined, method);
    }
  });

  it("/revoke from A's origin: as B → no ACAO; as A → ACAO", async () => {
    const bTokens = (await tokensFrom(b, A_ORIGIN)).json() as { access_token: string };
    const aTokens = (await tokensFrom(a, A_ORIGIN)).json() as { access_token: string };
    const asB = await post(
      '/revoke',
      { token: bTokens.access_token },
      { ...FORM, origin: A_ORIGIN, authorization: basicAuth(b.client.id, b.secret) },
    );
    assert.equal(asB.statusCode, 200, asB.body);
    assert.equal(acao(asB), undefined);
    const asA = await post(
      '/revoke',
      { token: aTokens.access_token },
      { ...FORM, origin: A_ORIGIN, authorization: basicAuth(a.client.id, a.secret) },
    );
    assert.equal(asA.statusCode, 200, asA.body);
    assert.equal(acao(asA), A_ORIGIN);
  });

  it("a self-registered client that lists A's origin opens nothing of A's or B's to its own origin", async () => {
    const registered = await server.app.inject({
      method: 'POST',
      url: '/oauth/register',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({
        client_name: 'Stranger',
        redirect_uris: ['https://evil.example/cb'],
        allowed_cors_origins: ['https://evil.example'],
      }),
    });
    assert.ok(registered.statusCode < 300, registered.body);
    const bTokens = await tokensFrom(b, 'https://evil.example');
    assert.equal(bTokens.statusCode, 200, bTokens.body);
    assert.equal(acao(bTokens), undefined);
    const userinfo = await server.app.inject({
      url: '/userinfo',
      headers: {
        origin: 'https://evil.example',
        authorization: `Bearer ${(bTokens.json() as { access_token: string }).access_token}`,
      },
    });
    assert.equal(userinfo.statusCode, 200, userinfo.body);
    assert.equal(acao(userinfo), undefined);
  });
});
