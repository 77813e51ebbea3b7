// RFC 9700 §2.6 / SECURITY.md A-15: CORS only for origins a client registered, never on /authorize.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestServer, type TestServer } from '../helpers/server.ts';

describe('CORS', () => {
  let server: TestServer;
  before(async () => {
    server = await buildTestServer();
    await server.addClient({ allowedCorsOrigins: ['https://spa.example'], tokenEndpointAuthMethod: 'none' });
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
    const headers = { origin: 'https://spa.example', 'content-type': 'application/x-www-form-urlencoded' };
    const token = await server.app.inject({
      method: 'POST',
      url: '/token',
      headers,
      payload: 'grant_type=x',
    });
    assert.equal(token.headers['access-control-allow-origin'], 'https://spa.example');
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
