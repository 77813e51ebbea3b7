import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { exchangeCode, runAuthorizationFlow } from '../helpers/flow.ts';
import { buildTestServer, ISSUER, type TestServer } from '../helpers/server.ts';

describe('authorization code flow (inject)', () => {
  let server: TestServer;
  before(async () => {
    server = await buildTestServer();
  });
  after(() => server.close());

  it('signs in, consents, exchanges the code and calls userinfo', async () => {
    const user = await server.addUser({ name: 'Alice' });
    const { client, secret } = await server.addClient();
    const flow = await runAuthorizationFlow(server, client, user, { nonce: 'n-1' });
    assert.equal(flow.state, 'state-123');
    assert.equal(flow.iss, ISSUER);

    const response = await exchangeCode(server, client, secret, flow);
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.headers['cache-control'], 'no-store');
    const body = response.json();
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 600);
    assert.equal(body.scope, 'openid profile email');
    assert.match(body.refresh_token, /^ghr_/);

    assert.equal(decodeProtectedHeader(body.access_token).typ, 'at+jwt');
    const at = decodeJwt(body.access_token);
    assert.equal(at.iss, ISSUER);
    assert.equal(at.sub, user.id);
    assert.equal(at.client_id, client.id);

    const idToken = decodeJwt(body.id_token);
    assert.equal(idToken.aud, client.id);
    assert.equal(idToken.nonce, 'n-1');
    assert.equal(idToken.email, user.email);
    assert.equal(idToken.name, 'Alice');
    assert.equal(decodeProtectedHeader(body.id_token).alg, 'RS256');

    const userinfo = await server.app.inject({
      method: 'GET',
      url: '/userinfo',
      headers: { authorization: `Bearer ${body.access_token}` },
    });
    assert.equal(userinfo.statusCode, 200, userinfo.body);
    assert.deepEqual(userinfo.json(), {
      sub: user.id,
      name: 'Alice',
      email: user.email,
      email_verified: false,
      updated_at: Math.floor(user.updatedAt / 1000),
    });
  });
});
