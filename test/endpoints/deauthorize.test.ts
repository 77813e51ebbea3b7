// Gatehouse's own protected endpoints: Dialpad's POST /oauth/deauthorize (every token an app holds for a user
// dies, the consent is forgotten, a security event is left), Read AI's GET /oauth/test-token-with-scopes
// (RFC 6750 answers with Redbooth's "The access token expired" text), GATEHOUSE_REALM, and the RFC 9728
// protected resource metadata they point to.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { protectedResourceMetadataUrl } from '@gatehouse/resource';
import type { LightMyRequestResponse } from 'fastify';
import type { Client, User } from '../../src/storage/storage.ts';
import { Agent } from '../helpers/agent.ts';
import { authorizeUrl, basicAuth, exchangeCode, pkcePair, runAuthorizationFlow } from '../helpers/flow.ts';
import { buildTestServer, ISSUER, type TestServer } from '../helpers/server.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const METADATA_URL = `${ISSUER}/.well-known/oauth-protected-resource`;

type TestUser = User & { password: string };
interface Tokens {
  access_token: string;
  refresh_token: string;
  scope: string;
}
interface App {
  client: Client;
  secret: string;
}

function post(
  server: TestServer,
  url: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return server.app.inject({
    method: 'POST',
    url,
    payload: new URLSearchParams(form).toString(),
    headers: { ...FORM, ...headers },
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** POST /oauth/deauthorize exactly as Dialpad documents it: the bearer token and an empty body. */
function deauthorize(server: TestServer, token?: string) {
  return server.app.inject({
    method: 'POST',
    url: '/oauth/deauthorize',
    headers: token === undefined ? {} : bearer(token),
  });
}

const userinfo = (server: TestServer, token: string) =>
  server.app.inject({ method: 'GET', url: '/userinfo', headers: bearer(token) });

const testToken = (server: TestServer, token?: string) =>
  server.app.inject({
    method: 'GET',
    url: '/oauth/test-token-with-scopes',
    headers: token === undefined ? {} : bearer(token),
  });

const refresh = (server: TestServer, app: App, refreshToken: string) =>
  post(
    server,
    '/token',
    { grant_type: 'refresh_token', refresh_token: refreshToken },
    { authorization: basicAuth(app.client.id, app.secret) },
  );

async function introspectActive(server: TestServer, rs: App, token: string) {
  const response = await post(
    server,
    '/introspect',
    { token },
    { authorization: basicAuth(rs.client.id, rs.secret) },
  );
  assert.equal(response.statusCode, 200, response.body);
  return (response.json() as { active: boolean }).active;
}

async function newApp(server: TestServer, input: Parameters<TestServer['addClient']>[0] = {}): Promise<App> {
  const { client, secret } = await server.addClient(input);
  assert.ok(secret);
  return { client, secret };
}

async function tokensFor(
  server: TestServer,
  app: App,
  user: TestUser,
  options: Parameters<typeof runAuthorizationFlow>[3] = {},
): Promise<Tokens> {
  const flow = await runAuthorizationFlow(server, app.client, user, options);
  const response = await exchangeCode(server, app.client, app.secret, flow);
  assert.equal(response.statusCode, 200, response.body);
  return response.json() as Tokens;
}

function assertRefused(response: LightMyRequestResponse, what: string) {
  assert.equal(response.statusCode, 401, `${what}: ${response.body}`);
  assert.match(String(response.headers['www-authenticate']), /^Bearer .*error="invalid_token"/, what);
}

/** RFC 6750 §3.1: a request without credentials gets a challenge with no error code. */
function assertBareChallenge(response: LightMyRequestResponse, realm = 'Gatehouse') {
  assert.equal(response.statusCode, 401, response.body);
  const challenge = String(response.headers['www-authenticate']);
  assert.ok(challenge.startsWith(`Bearer realm="${realm}"`), challenge);
  assert.doesNotMatch(challenge, /error=/);
  assert.equal(response.headers['cache-control'], 'no-store');
}

describe('POST /oauth/deauthorize (Dialpad)', () => {
  let server: TestServer;
  let rs: App;

  before(async () => {
    server = await buildTestServer();
    rs = await newApp(server, {
      grantTypes: ['client_credentials'],
      redirectUris: [],
      scope: 'reports:read',
      // RFC 7662 §4: it introspects other clients' tokens.
      resourceServer: true,
    });
  });
  after(() => server.close());

  it("revokes every token of that app for that user (both grants), forgets the consent, records an event; other apps' and users' tokens live", async () => {
    const user = await server.addUser();
    const otherUser = await server.addUser();
    const appA = await newApp(server, { name: 'App A' });
    const appB = await newApp(server, { name: 'App B' });
    const agent = new Agent(server.app);

    const grant1 = await tokensFor(server, appA, user, { agent });
    // The consent is remembered: the second authorization of the confidential app skips the consent page.
    const grant2 = await tokensFor(server, appA, user, { agent, expectNoConsent: true });
    const other = await tokensFor(server, appB, user, { agent });
    const otherUsers = await tokensFor(server, appA, otherUser);
    assert.ok(grant1.refresh_token && grant2.refresh_token && other.refresh_token);
    for (const tokens of [grant1, grant2, other, otherUsers]) {
      assert.equal((await userinfo(server, tokens.access_token)).statusCode, 200);
    }

    const response = await deauthorize(server, grant1.access_token);
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json(), { revoked: 2 });
    assert.equal(response.headers['cache-control'], 'no-store');

    // Every token of App A for this user is dead, from both grants.
    for (const [what, tokens] of [
      ['grant 1', grant1],
      ['grant 2', grant2],
    ] as const) {
      assertRefused(await userinfo(server, tokens.access_token), `${what} access token`);
      assert.equal(await introspectActive(server, rs, tokens.access_token), false, `${what} access token`);
      const refreshed = await refresh(server, appA, tokens.refresh_token);
      assert.equal(refreshed.statusCode, 400, `${what} refresh token: ${refreshed.body}`);
      assert.equal(refreshed.json().error, 'invalid_grant');
    }

    // App B's tokens for the same user, and App A's tokens for another user, still work.
    assert.equal((await userinfo(server, other.access_token)).statusCode, 200);
    assert.equal((await refresh(server, appB, other.refresh_token)).statusCode, 200);
    assert.equal((await userinfo(server, otherUsers.access_token)).statusCode, 200);
    assert.equal((await refresh(server, appA, otherUsers.refresh_token)).statusCode, 200);

    // The consent is forgotten: the signed-in user is asked again by App A (and only by App A).
    const { challenge } = pkcePair();
    const again = await agent.get(
      authorizeUrl({
        response_type: 'code',
        client_id: appA.client.id,
        redirect_uri: appA.client.redirectUris[0],
        scope: 'openid profile email',
        state: 's',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
    );
    assert.equal(again.statusCode, 303, again.body);
    assert.match(String(again.headers.location), /^\/consent\?/);
    await tokensFor(server, appB, user, { agent, expectNoConsent: true });

    const events = await server.deps.storage.securityEvents.list(1000);
    const event = events.find((candidate) => candidate.type === 'deauthorized');
    assert.ok(event, 'a deauthorized security event exists');
    assert.equal(event.clientId, appA.client.id);
    assert.equal(event.userId, user.id);
    assert.deepEqual(event.detail, { grants: 2 });

    // The token that asked is dead too: asking again is refused.
    assertRefused(await deauthorize(server, grant1.access_token), 'deauthorize with the revoked token');
  });

  it('no token → 401 with a bare Bearer challenge, and nothing revoked', async () => {
    const user = await server.addUser();
    const app = await newApp(server);
    const tokens = await tokensFor(server, app, user);
    assertBareChallenge(await deauthorize(server));
    assert.equal((await userinfo(server, tokens.access_token)).statusCode, 200);
  });

  it('a refresh token is not a bearer token: 401, nothing revoked', async () => {
    const user = await server.addUser();
    const app = await newApp(server);
    const tokens = await tokensFor(server, app, user);
    assertRefused(await deauthorize(server, tokens.refresh_token), 'refresh token as bearer');
    assert.equal((await userinfo(server, tokens.access_token)).statusCode, 200);
  });

  it('a client_credentials token speaks for no user: 200 with nothing revoked', async () => {
    const machine = await newApp(server, {
      grantTypes: ['client_credentials'],
      redirectUris: [],
      scope: 'reports:read',
    });
    const issued = await post(
      server,
      '/token',
      { grant_type: 'client_credentials' },
      { authorization: basicAuth(machine.client.id, machine.secret) },
    );
    assert.equal(issued.statusCode, 200, issued.body);
    const response = await deauthorize(server, issued.json().access_token);
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json(), { revoked: 0 });
  });

  it('an empty body works whatever its Content-Type says; a body that is not a form is still refused', async () => {
    const user = await server.addUser();
    const app = await newApp(server);
    for (const contentType of [
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
    ]) {
      const tokens = await tokensFor(server, app, user);
      const response = await server.app.inject({
        method: 'POST',
        url: '/oauth/deauthorize',
        headers: { ...bearer(tokens.access_token), 'content-type': contentType },
      });
      assert.equal(response.statusCode, 200, `${contentType}: ${response.body}`);
      assert.deepEqual(response.json(), { revoked: 1 }, contentType);
      assertRefused(await userinfo(server, tokens.access_token), contentType);
    }
    const tokens = await tokensFor(server, app, user);
    const withJson = await server.app.inject({
      method: 'POST',
      url: '/oauth/deauthorize',
      headers: { ...bearer(tokens.access_token), 'content-type': 'application/json' },
      payload: '{"all":true}',
    });
    assert.equal(withJson.statusCode, 400, withJson.body);
    assert.equal(withJson.json().error, 'invalid_request');
    assert.equal((await userinfo(server, tokens.access_token)).statusCode, 200, 'nothing was revoked');
  });

  it('only deauthorize gains the empty-body rule: an empty JSON body at /token or /revoke is still refused', async () => {
    for (const url of ['/token', '/revoke']) {
      const response = await server.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json', authorization: basicAuth(rs.client.id, rs.secret) },
      });
      assert.equal(response.statusCode, 400, `${url}: ${response.body}`);
      assert.equal(response.json().error, 'invalid_request', url);
    }
  });
});

describe('GET /oauth/test-token-with-scopes (Read AI)', () => {
  for (const format of ['jwt', 'opaque'] as const) {
    describe(`${format} access tokens`, () => {
      let server: TestServer;
      let app: App;
      let user: TestUser;

      before(async () => {
        server = await buildTestServer({ GATEHOUSE_ACCESS_TOKEN_FORMAT: format });
        app = await newApp(server);
        user = await server.addUser();
      });
      after(() => server.close());

      it('a valid token → 200 with sub, client_id and scopes', async () => {
        const tokens = await tokensFor(server, app, user, { scope: 'openid email' });
        const response = await testToken(server, tokens.access_token);
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.headers['cache-control'], 'no-store');
        const body = response.json();
        assert.equal(body.sub, user.id);
        assert.equal(body.client_id, app.client.id);
        assert.deepEqual([...body.scopes].sort(), ['email', 'openid']);
        assert.equal(body.expires_at, Math.floor(server.clock.now() / 1000) + 600);
      });

      it('an expired token (the clock past 600 s) → 401 invalid_token, "The access token expired"', async () => {
        const tokens = await tokensFor(server, app, user);
        assert.equal((await testToken(server, tokens.access_token)).statusCode, 200);
        server.clock.advance(601_000);
        const response = await testToken(server, tokens.access_token);
        assert.equal(response.statusCode, 401, response.body);
        const challenge = String(response.headers['www-authenticate']);
        assert.ok(
          challenge.startsWith(
            'Bearer realm="Gatehouse", error="invalid_token", error_description="The access token expired"',
          ),
          challenge,
        );
        assert.deepEqual(response.json(), {
          error: 'invalid_token',
          error_description: 'The access token expired',
        });
      });

      it('no token → 401 with a bare challenge that names the resource metadata (RFC 9728 §5.1)', async () => {
        const response = await testToken(server);
        assertBareChallenge(response);
        assert.equal(
          response.headers['www-authenticate'],
          `Bearer realm="Gatehouse", resource_metadata="${METADATA_URL}"`,
        );
      });

      it('a malformed Authorization header → 400 invalid_request', async () => {
        const response = await testToken(server, 'a b');
        assert.equal(response.statusCode, 400, response.body);
        assert.match(String(response.headers['www-authenticate']), /error="invalid_request"/);
      });
    });
  }

  it('GATEHOUSE_REALM sets the realm of every Bearer challenge', async () => {
    const server = await buildTestServer({ GATEHOUSE_REALM: 'Acme Meetings API' });
    try {
      assertBareChallenge(await testToken(server), 'Acme Meetings API');
      const app = await newApp(server);
      const tokens = await tokensFor(server, app, await server.addUser());
      server.clock.advance(601_000);
      const expired = await testToken(server, tokens.access_token);
      assert.equal(expired.statusCode, 401, expired.body);
      assert.match(
        String(expired.headers['www-authenticate']),
        /^Bearer realm="Acme Meetings API", error="invalid_token"/,
      );
      const info = await userinfo(server, tokens.access_token);
      assert.match(String(info.headers['www-authenticate']), /^Bearer realm="Acme Meetings API", /);
    } finally {
      await server.close();
    }
  });
});

describe('GET /.well-known/oauth-protected-resource (RFC 9728)', () => {
  let server: TestServer;
  before(async () => {
    server = await buildTestServer();
  });
  after(() => server.close());

  it('serves metadata whose resource is the issuer and whose authorization_servers is [issuer]', async () => {
    const response = await server.app.inject('/.well-known/oauth-protected-resource');
    assert.equal(response.statusCode, 200, response.body);
    assert.match(String(response.headers['content-type']), /^application\/json\b/);
    const metadata = response.json();
    assert.equal(metadata.resource, ISSUER);
    assert.deepEqual(metadata.authorization_servers, [ISSUER]);
    assert.deepEqual(metadata.bearer_methods_supported, ['header']);
    assert.ok(Array.isArray(metadata.scopes_supported) && metadata.scopes_supported.includes('openid'));
    assert.equal(metadata.resource_name, 'Gatehouse');
  });

  it('is where the resource_metadata of a challenge points, and where RFC 9728 §3.1 puts it', async () => {
    assert.equal(protectedResourceMetadataUrl(ISSUER), METADATA_URL);
    const challenge = String((await testToken(server)).headers['www-authenticate']);
    const pointer = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    assert.equal(pointer, METADATA_URL);
    const url = new URL(pointer);
    const response = await server.app.inject(url.pathname);
    assert.equal(response.statusCode, 200);
    // RFC 9728 §3.3: the resource in the metadata is the one the client was talking to.
    assert.equal(response.json().resource, ISSUER);
  });
});
