// The device authorization grant (RFC 8628) over HTTP (app.inject), on SQLite and PostgreSQL: the device
// authorization endpoint (§3.1–3.2), the token endpoint's answers to polls (§3.4–3.5: authorization_pending,
// slow_down, access_denied, expired_token, one redemption), and the verification page (§3.3, §5.1 user code
// brute forcing, §5.4 remote phishing), with CSRF, framing and escaping (docs/security.md G-01, G-03, G-04, G-06)
// and the operator-only rule for self-registered clients (H-02). The independent-client and browser run is
// test/e2e/device-flow.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { approveClient } from '../../src/applications/clients.ts';
import { DEVICE_CODE_GRANT_TYPE, mintUserCode } from '../../src/oauth/device-code.ts';
import { mintTimeOrderedToken, TOKEN_PREFIX, timeOrderedTokenKey } from '../../src/oauth/opaque-token.ts';
import type { Client } from '../../src/storage/storage.ts';
import { Agent, csrfFrom, signedInAgent } from '../helpers/agent.ts';
import { basicAuth } from '../helpers/flow.ts';
import { onEachDatabase } from '../helpers/postgres.ts';
import { buildTestServer, ISSUER, type TestServer } from '../helpers/server.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const API = 'https://api.example/v1';
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

interface DeviceAnswer {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

await onEachDatabase('device authorization grant', (database, databaseUrl) => {
  describe(`device authorization grant (RFC 8628) on ${database}`, () => {
    let server: TestServer;
    let tv: Client;
    let jwks: ReturnType<typeof createLocalJWKSet>;

    before(async () => {
      server = await buildTestServer(
        { GATEHOUSE_RESOURCES: JSON.stringify([{ uri: API, format: 'jwt', scopes: ['api:read'] }]) },
        { databaseUrl: await databaseUrl() },
      );
      tv = await deviceClient();
      jwks = createLocalJWKSet(
        (await server.app.inject({ method: 'GET', url: '/jwks' })).json() as JSONWebKeySet,
      );
    });
    after(() => server?.close());

    async function deviceClient(input: Parameters<TestServer['addClient']>[0] = {}): Promise<Client> {
      const { client } = await server.addClient({
        name: 'Living room TV',
        redirectUris: [],
        tokenEndpointAuthMethod: 'none',
        grantTypes: [DEVICE_CODE_GRANT_TYPE, 'refresh_token'],
        scope: 'openid profile email offline_access api:read',
        allowedResources: [API],
        ...input,
      });
      return client;
    }

    const post = (url: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
      server.app.inject({
        method: 'POST',
        url,
        payload: new URLSearchParams(form).toString(),
        headers: { ...FORM, ...headers },
      });

    async function start(client: Client = tv, form: Record<string, string> = {}): Promise<DeviceAnswer> {
      const response = await post('/oauth/device_authorization', {
        client_id: client.id,
        scope: 'openid profile offline_access',
        ...form,
      });
      assert.equal(response.statusCode, 200, response.body);
      return response.json() as DeviceAnswer;
    }

    const poll = (deviceCode: string, client: Client = tv) =>
      post('/token', { grant_type: DEVICE_CODE_GRANT_TYPE, client_id: client.id, device_code: deviceCode });

    function oauthError(response: LightMyRequestResponse, code: string) {
      assert.equal(response.statusCode, 400, response.body);
      assert.equal(response.json().error, code, response.body);
    }

    /** Waits out the poll interval on the server's clock. */
    const wait = (seconds: number) => server.clock.advance(seconds * 1000);

    /** A signed-in browser that types `userCode` and presses Continue, then `action` on the confirmation. */
    async function answer(agent: Agent, userCode: string, action: 'allow' | 'deny') {
      const page = await agent.get('/device');
      assert.equal(page.statusCode, 200);
      const confirmation = await agent.post('/device', { _csrf: csrfFrom(page.body), user_code: userCode });
      assert.equal(confirmation.statusCode, 200, confirmation.body);
      assert.match(confirmation.body, /data-testid="confirm-code">[A-Z]{4}-[A-Z]{4}</);
      const decided = await agent.post('/device', {
        _csrf: csrfFrom(confirmation.body),
        user_code: userCode,
        action,
      });
      // G-03: 303 after the POST, never 307/308.
      assert.equal(decided.statusCode, 303, decided.body);
      assert.equal(decided.headers.location, '/device');
      return agent.get('/device');
    }

    describe('the device authorization endpoint (§3.1, §3.2)', () => {
      it('answers codes, the verification URIs, expires_in and interval, with no-store (F-01)', async () => {
        const response = await post('/oauth/device_authorization', { client_id: tv.id, scope: 'openid' });
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.headers['cache-control'], 'no-store');
        assert.equal(response.headers.pragma, 'no-cache');
        const body = response.json() as DeviceAnswer;
        assert.match(body.device_code, /^ghd_/);
        assert.match(body.user_code, USER_CODE);
        assert.equal(body.verification_uri, `${ISSUER}/device`);
        assert.equal(body.verification_uri_complete, `${ISSUER}/device?user_code=${body.user_code}`);
        assert.equal(body.expires_in, 600);
        assert.equal(body.interval, 5);
      });

      it('stores neither code in the clear (only the device code key and the user code HMAC)', async () => {
        const body = await start();
        const text = JSON.stringify(
          await server.deps.storage.deviceAuthorizations.find(timeOrderedTokenKey(body.device_code)),
        );
        assert.ok(text.length > 50, 'the request is stored');
        const bare = body.user_code.replace('-', '');
        for (const secret of [body.device_code, body.device_code.slice(4, 50), body.user_code, bare]) {
          assert.ok(!text.includes(secret), `stored in the clear: ${secret}`);
        }
      });

      it('1,000 user codes are distinct and use only the alphabet', async () => {
        const codes = new Set(Array.from({ length: 1000 }, mintUserCode));
        assert.equal(codes.size, 1000);
        for (const code of codes) assert.match(code, /^[BCDFGHJKLMNPQRSTVWXZ]{8}$/);
      });

      it('authenticates a confidential client as /token does: a wrong secret is invalid_client', async () => {
        const { client, secret } = await server.addClient({
          name: 'CLI with a secret',
          redirectUris: [],
          grantTypes: [DEVICE_CODE_GRANT_TYPE],
          scope: 'openid',
        });
        assert.ok(secret);
        const wrong = await post(
          '/oauth/device_authorization',
          { scope: 'openid' },
          { authorization: basicAuth(client.id, `${secret}x`) },
        );
        assert.equal(wrong.statusCode, 401);
        assert.equal(wrong.json().error, 'invalid_client');
        const none = await post('/oauth/device_authorization', { client_id: client.id });
        assert.equal(none.statusCode, 401);
        const right = await post(
          '/oauth/device_authorization',
          { scope: 'openid' },
          { authorization: basicAuth(client.id, secret) },
        );
        assert.equal(right.statusCode, 200, right.body);
      });

      it('a client not registered for the grant is unauthorized_client, at the endpoint and at /token', async () => {
        const web = await deviceClient({ grantTypes: ['refresh_token'] });
        oauthError(await post('/oauth/device_authorization', { client_id: web.id }), 'unauthorized_client');
        const code = (await start()).device_code;
        oauthError(await poll(code, web), 'unauthorized_client');
      });

      it('H-02: a self-registered client nobody approved is refused, whatever its stored grant types say', async () => {
        const stranger = await deviceClient({ registeredVia: 'dcr' });
        const response = await post('/oauth/device_authorization', { client_id: stranger.id });
        oauthError(response, 'unauthorized_client');
        assert.match(response.json().error_description, /approved by an administrator/);
      });

      it('scope and resource follow the authorization endpoint rules: invalid_scope, invalid_target', async () => {
        oauthError(
          await post('/oauth/device_authorization', { client_id: tv.id, scope: 'openid admin' }),
          'invalid_scope',
        );
        oauthError(
          await post('/oauth/device_authorization', { client_id: tv.id, resource: 'https://evil.example/' }),
          'invalid_target',
        );
        const other = await deviceClient({ allowedResources: [] });
        oauthError(
          await post('/oauth/device_authorization', { client_id: other.id, resource: API }),
          'invalid_target',
        );
      });

      it('takes POST only (GET is 405); a JSON body is invalid_request (F-05)', async () => {
        const get = await server.app.inject({ method: 'GET', url: '/oauth/device_authorization' });
        assert.equal(get.statusCode, 405);
        assert.equal(get.headers.allow, 'POST');
        const json = await server.app.inject({
          method: 'POST',
          url: '/oauth/device_authorization',
          payload: JSON.stringify({ client_id: tv.id }),
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(json.statusCode, 400);
      });

      it('at most 60 requests a minute per client IP, then 429 with Retry-After', async () => {
        const limited = await buildTestServer({}, { databaseUrl: await databaseUrl() });
        try {
          const { client } = await limited.addClient({
            redirectUris: [],
            tokenEndpointAuthMethod: 'none',
            grantTypes: [DEVICE_CODE_GRANT_TYPE],
            scope: 'openid',
          });
          const ask = () =>
            limited.app.inject({
              method: 'POST',
              url: '/oauth/device_authorization',
              payload: `client_id=${client.id}`,
              headers: FORM,
            });
          const statuses = await Promise.all(Array.from({ length: 65 }, ask));
          assert.equal(statuses.filter((response) => response.statusCode === 200).length, 60);
          const refused = statuses.find((response) => response.statusCode === 429);
          assert.ok(refused);
          assert.equal(refused.json().error, 'temporarily_unavailable');
          assert.ok(Number(refused.headers['retry-after']) >= 1);
          limited.clock.advance(60_000);
          assert.equal((await ask()).statusCode, 200, 'a new window');
        } finally {
          await limited.close();
        }
      });

      it('discovery lists the endpoint and the grant type', async () => {
        const metadata = (
          await server.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })
        ).json();
        assert.equal(metadata.device_authorization_endpoint, `${ISSUER}/oauth/device_authorization`);
        assert.ok(metadata.grant_types_supported.includes(DEVICE_CODE_GRANT_TYPE));
      });
    });

    describe('polling (§3.4, §3.5)', () => {
      it('authorization_pending, then slow_down when too fast; the 5 s added stay for later polls', async () => {
        const { device_code: code } = await start();
        oauthError(await poll(code), 'authorization_pending');
        wait(4);
        const slow = await poll(code);
        oauthError(slow, 'slow_down');
        assert.match(slow.json().error_description, /10 seconds/);
        wait(5);
        // The interval is 10 s now: 5 s after the last poll is still too fast.
        oauthError(await poll(code), 'slow_down');
        wait(15);
        // 15 s now; waited 15 s: on time.
        oauthError(await poll(code), 'authorization_pending');
        wait(15);
        oauthError(await poll(code), 'authorization_pending');
      });

      it('C-10: malformed, unknown and other kinds of codes are invalid_grant; a device code is no authorization code', async () => {
        oauthError(await poll('not-a-code'), 'invalid_grant');
        oauthError(
          await poll(mintTimeOrderedToken(TOKEN_PREFIX.deviceCode, server.clock.now())),
          'invalid_grant',
        );
        oauthError(
          await poll(mintTimeOrderedToken(TOKEN_PREFIX.authorizationCode, server.clock.now())),
          'invalid_grant',
        );
        const { device_code: code } = await start();
        const asCode = await post('/token', {
          grant_type: 'authorization_code',
          client_id: tv.id,
          code,
          redirect_uri: 'https://rp.example/cb',
          code_verifier: 'x'.repeat(43),
        });
        assert.equal(asCode.statusCode, 400);
        assert.ok(['invalid_grant', 'unauthorized_client'].includes(asCode.json().error), asCode.body);
        const missing = await post('/token', { grant_type: DEVICE_CODE_GRANT_TYPE, client_id: tv.id });
        oauthError(missing, 'invalid_request');
      });

      it("client B polling client A's code gets invalid_grant and changes nothing for A", async () => {
        const other = await deviceClient({ name: 'Another TV' });
        const { device_code: code, user_code: userCode } = await start();
        wait(5);
        for (let i = 0; i < 3; i++) oauthError(await poll(code, other), 'invalid_grant');
        // A was not slowed down by B's polls: its first poll is on time.
        oauthError(await poll(code), 'authorization_pending');
        const user = await server.addUser();
        await answer(await signedInAgent(server.app, user), userCode, 'allow');
        wait(5);
        oauthError(await poll(code, other), 'invalid_grant');
        const tokens = await poll(code);
        assert.equal(tokens.statusCode, 200, tokens.body);
        assert.equal(tokens.json().token_type, 'Bearer');
      });

      it('access_denied after the person denies, on every later poll', async () => {
        const { device_code: code, user_code: userCode } = await start();
        const user = await server.addUser();
        const done = await answer(await signedInAgent(server.app, user), userCode, 'deny');
        assert.match(done.body, /You denied/);
        oauthError(await poll(code), 'access_denied');
        wait(5);
        oauthError(await poll(code), 'access_denied');
      });

      it('expired_token after expires_in; the page no longer knows the code', async () => {
        const { device_code: code, user_code: userCode } = await start();
        const agent = await signedInAgent(server.app, await server.addUser());
        wait(601);
        oauthError(await poll(code), 'expired_token');
        const page = await agent.get('/device');
        const entered = await agent.post('/device', { _csrf: csrfFrom(page.body), user_code: userCode });
        assert.equal(entered.statusCode, 400);
        assert.match(entered.body, /not valid, has expired or was already used/);
      });

      it('approved: one redemption of five concurrent polls; tokens go through the code grant issue path', async () => {
        const { device_code: code, user_code: userCode } = await start(tv, {
          scope: 'openid profile offline_access api:read',
          resource: API,
        });
        const user = await server.addUser();
        const done = await answer(await signedInAgent(server.app, user), userCode, 'allow');
        assert.match(done.body, /Living room TV is connected/);
        wait(5);
        const polls = await Promise.all(Array.from({ length: 5 }, () => poll(code)));
        const won = polls.filter((response) => response.statusCode === 200);
        assert.equal(won.length, 1, polls.map((response) => response.body).join('\n'));
        for (const response of polls) {
          if (response.statusCode !== 200) oauthError(response, 'invalid_grant');
        }
        const tokens = won[0]!.json();
        assert.equal(won[0]!.headers['cache-control'], 'no-store');
        assert.equal(tokens.scope, 'openid profile offline_access api:read');
        assert.match(tokens.refresh_token, /^ghr_/);
        assert.ok(tokens.id_token);
        // I-07: the access token is for the resource asked for at the device endpoint.
        const { payload } = await jwtVerify(tokens.access_token, jwks, {
          issuer: ISSUER,
          audience: API,
          currentDate: new Date(server.clock.now()),
        });
        assert.equal(payload.sub, user.id);
        assert.equal(payload.client_id, tv.id);
        const id = await jwtVerify(tokens.id_token, jwks, {
          issuer: ISSUER,
          audience: tv.id,
          currentDate: new Date(server.clock.now()),
        });
        assert.equal(id.payload.sub, user.id);
        // The refresh token works like any other.
        const refreshed = await post('/token', {
          grant_type: 'refresh_token',
          client_id: tv.id,
          refresh_token: tokens.refresh_token,
        });
        assert.equal(refreshed.statusCode, 200, refreshed.body);
        // And the device code is spent.
        wait(5);
        oauthError(await poll(code), 'invalid_grant');
        const events = await server.deps.storage.securityEvents.list({ userId: user.id, limit: 10 });
        assert.ok(events.some((event) => event.type === 'device_approved' && event.clientId === tv.id));
      });

      it('a grant revoked between the approval and the poll (a password reset) stops the redemption', async () => {
        const { device_code: code, user_code: userCode } = await start();
        const user = await server.addUser();
        await answer(await signedInAgent(server.app, user), userCode, 'allow');
        await server.deps.storage.grants.revokeForUser(user.id, server.clock.now());
        wait(5);
        oauthError(await poll(code), 'invalid_grant');
      });
    });

    describe('the verification page (§3.3, §5.1, §5.4)', () => {
      it('sends a visitor to sign in and back with the code, which fills the field and approves nothing', async () => {
        const { device_code: code, user_code: userCode } = await start();
        const agent = new Agent(server.app);
        const anonymous = await agent.get(`/device?user_code=${userCode}`);
        assert.equal(anonymous.statusCode, 303);
        const login = anonymous.headers.location as string;
        assert.equal(login, `/login?next=${encodeURIComponent(`/device?user_code=${userCode}`)}`);
        const form = await agent.get(login);
        const user = await server.addUser();
        const signedIn = await agent.post('/login', {
          _csrf: csrfFrom(form.body),
          email: user.email,
          password: user.password,
          next: `/device?user_code=${userCode}`,
        });
        assert.equal(signedIn.statusCode, 303);
        assert.equal(signedIn.headers.location, `/device?user_code=${userCode}`);
        const page = await agent.get(signedIn.headers.location as string);
        assert.equal(page.statusCode, 200);
        assert.match(page.body, new RegExp(`name="user_code"[^>]*value="${userCode}"`));
        // G-01 on the page; nothing was decided by the link.
        assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
        assert.equal(page.headers['x-frame-options'], 'DENY');
        wait(5);
        oauthError(await poll(code), 'authorization_pending');
        // Continue shows the confirmation; still nothing decided.
        const confirmation = await agent.post('/device', { _csrf: csrfFrom(page.body), user_code: userCode });
        assert.match(confirmation.body, /Living room TV/);
        assert.match(confirmation.body, /Check that your device shows this code/);
        wait(5);
        oauthError(await poll(code), 'authorization_pending');
      });

      it('takes the code in any case, with or without the dash or spaces', async () => {
        const { device_code: code, user_code: userCode } = await start();
        const typed = ` ${userCode.slice(0, 4).toLowerCase()} ${userCode.slice(5).toLowerCase()} `;
        await answer(await signedInAgent(server.app, await server.addUser()), typed, 'allow');
        wait(5);
        assert.equal((await poll(code)).statusCode, 200);
      });

      it('a wrong or unknown code is one plain error; the field keeps what was typed, escaped (G-04)', async () => {
        const agent = await signedInAgent(server.app, await server.addUser());
        const page = await agent.get('/device?user_code=%22%3E%3Cscript%3Ealert(1)%3C/script%3E');
        assert.doesNotMatch(page.body, /<script>alert/);
        assert.match(page.body, /&quot;&gt;&lt;script&gt;/);
        for (const typed of ['BCDF-GHJK', 'AAAA-AAAA', '12345678', '']) {
          const response = await agent.post('/device', { _csrf: csrfFrom(page.body), user_code: typed });
          assert.equal(response.statusCode, 400, typed);
          assert.match(response.body, /not valid, has expired or was already used/);
        }
      });

      it('§5.1: wrong codes are throttled per user (429 with Retry-After), the right one too while blocked', async () => {
        const { user_code: userCode } = await start();
        const agent = await signedInAgent(server.app, await server.addUser());
        const page = await agent.get('/device');
        const token = csrfFrom(page.body);
        const statuses: number[] = [];
        for (let i = 0; i < 7; i++) {
          statuses.push((await agent.post('/device', { _csrf: token, user_code: 'BBBB-BBBB' })).statusCode);
        }
        assert.deepEqual(statuses, [400, 400, 400, 400, 400, 429, 429]);
        const blocked = await agent.post('/device', { _csrf: token, user_code: userCode });
        assert.equal(blocked.statusCode, 429);
        assert.ok(Number(blocked.headers['retry-after']) >= 1);
        assert.match(blocked.body, /Too many wrong codes/);
        wait(Number(blocked.headers['retry-after']));
        const later = await agent.post('/device', { _csrf: token, user_code: userCode });
        assert.equal(later.statusCode, 200, later.body.slice(0, 500));
      });

      it('§5.1: per address too: 20 wrong codes from five accounts, then a sixth account is blocked', async () => {
        // A fresh server: the other cases here share 127.0.0.1's allowance.
        const shared = await buildTestServer({}, { databaseUrl: await databaseUrl() });
        try {
          const statuses: number[] = [];
          for (let account = 0; account < 6; account++) {
            const agent = await signedInAgent(shared.app, await shared.addUser());
            const token = csrfFrom((await agent.get('/device')).body);
            for (let i = 0; i < (account < 5 ? 4 : 1); i++) {
              statuses.push(
                (await agent.post('/device', { _csrf: token, user_code: 'DDDD-DDDD' })).statusCode,
              );
            }
          }
          assert.deepEqual(statuses, [...Array(20).fill(400), 429]);
        } finally {
          await shared.close();
        }
      });

      it('§5.1: 20 concurrent wrong codes from one user get at most the free attempts checked', async () => {
        const agent = await signedInAgent(server.app, await server.addUser());
        const token = csrfFrom((await agent.get('/device')).body);
        const responses = await Promise.all(
          Array.from({ length: 20 }, () => agent.post('/device', { _csrf: token, user_code: 'CCCC-CCCC' })),
        );
        const checked = responses.filter((response) => response.statusCode === 400).length;
        assert.equal(checked, 5, responses.map((response) => response.statusCode).join(','));
      });

      it('G-06: a post without the CSRF token, or from another site, decides nothing', async () => {
        const { device_code: code, user_code: userCode } = await start();
        const agent = await signedInAgent(server.app, await server.addUser());
        const page = await agent.get('/device');
        const noToken = await agent.post('/device', { user_code: userCode, action: 'allow' });
        assert.equal(noToken.statusCode, 403);
        const crossSite = await agent.post(
          '/device',
          { _csrf: csrfFrom(page.body), user_code: userCode, action: 'allow' },
          { 'sec-fetch-site': 'cross-site' },
        );
        assert.equal(crossSite.statusCode, 403);
        const forged = await agent.post('/device', {
          _csrf: 'forged-token',
          user_code: userCode,
          action: 'allow',
        });
        assert.equal(forged.statusCode, 403);
        wait(5);
        oauthError(await poll(code), 'authorization_pending');
      });

      it('a decision needs a session: a signed-out post goes to sign in and decides nothing', async () => {
        const { device_code: code, user_code: userCode } = await start();
        const agent = new Agent(server.app);
        const form = await agent.get('/login');
        const response = await agent.post('/device', {
          _csrf: csrfFrom(form.body),
          user_code: userCode,
          action: 'allow',
        });
        assert.equal(response.statusCode, 303);
        assert.match(String(response.headers.location), /^\/login\?next=/);
        wait(5);
        oauthError(await poll(code), 'authorization_pending');
      });

      it('a second answer to an answered code is refused, and the first stands', async () => {
        const { device_code: code, user_code: userCode } = await start();
        await answer(await signedInAgent(server.app, await server.addUser()), userCode, 'deny');
        const other = await signedInAgent(server.app, await server.addUser());
        const page = await other.get('/device');
        const retry = await other.post('/device', {
          _csrf: csrfFrom(page.body),
          user_code: userCode,
          action: 'allow',
        });
        assert.equal(retry.statusCode, 400);
        oauthError(await poll(code), 'access_denied');
      });

      it("G-05: the client's name is escaped on the confirmation", async () => {
        const evil = await deviceClient({ name: '<img src=x onerror=alert(1)>' });
        const { user_code: userCode } = await start(evil, { scope: 'openid' });
        const agent = await signedInAgent(server.app, await server.addUser());
        const page = await agent.get('/device');
        const confirmation = await agent.post('/device', { _csrf: csrfFrom(page.body), user_code: userCode });
        assert.equal(confirmation.statusCode, 200);
        assert.doesNotMatch(confirmation.body, /<img src=x/);
        assert.match(confirmation.body, /&lt;img src=x onerror=alert\(1\)&gt;/);
      });
    });
  });
});

describe('device grant and dynamic registration (H-02)', () => {
  let server: TestServer;
  before(async () => {
    server = await buildTestServer({ GATEHOUSE_REGISTRATION_RATE_LIMIT: '1000' });
  });
  after(() => server?.close());

  const register = (metadata: Record<string, unknown>) =>
    server.app.inject({
      method: 'POST',
      url: '/oauth/register',
      payload: JSON.stringify({
        client_name: 'Totally Official TV',
        token_endpoint_auth_method: 'none',
        ...metadata,
      }),
      headers: { 'content-type': 'application/json' },
    });

  it('an open registration cannot give itself the device grant: dropped, or refused when it is all it asked for', async () => {
    const only = await register({ grant_types: [DEVICE_CODE_GRANT_TYPE] });
    assert.equal(only.statusCode, 400, only.body);
    assert.equal(only.json().error, 'invalid_client_metadata');
    const mixed = await register({
      grant_types: ['authorization_code', DEVICE_CODE_GRANT_TYPE],
      redirect_uris: ['http://127.0.0.1:4000/cb'],
    });
    assert.equal(mixed.statusCode, 201, mixed.body);
    assert.deepEqual(mixed.json().grant_types, ['authorization_code']);
  });

  it('under approval a registration may ask for it; it works only once an administrator approves', async () => {
    const reviewed = await buildTestServer({ GATEHOUSE_REGISTRATION: 'approval' });
    try {
      const response = await reviewed.app.inject({
        method: 'POST',
        url: '/oauth/register',
        payload: JSON.stringify({
          client_name: 'Kitchen display',
          token_endpoint_auth_method: 'none',
          grant_types: [DEVICE_CODE_GRANT_TYPE],
          scope: 'openid',
        }),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(response.statusCode, 201, response.body);
      const clientId = response.json().client_id as string;
      assert.deepEqual(response.json().grant_types, [DEVICE_CODE_GRANT_TYPE]);
      const ask = () =>
        reviewed.app.inject({
          method: 'POST',
          url: '/oauth/device_authorization',
          payload: new URLSearchParams({ client_id: clientId, scope: 'openid' }).toString(),
          headers: FORM,
        });
      assert.equal((await ask()).statusCode, 401, 'a pending client cannot authenticate');
      await approveClient(reviewed.deps.storage, reviewed.clock.now(), clientId, { actor: { kind: 'cli' } });
      const approved = await ask();
      assert.equal(approved.statusCode, 200, approved.body);
    } finally {
      await reviewed.close();
    }
  });
});
