// OpenID Connect RP-Initiated Logout 1.0 (issue 16): the end_session_endpoint in discovery (read by
// oauth4webapi), post_logout_redirect_uris registered like redirect URIs, the browser sent back only to an
// exactly registered URI with its state, an expired ID token accepted as the hint, and a confirmation page
// (with CSRF) whenever the hint does not name the person signed in. On SQLite and on PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import type { Client } from '../../src/storage/storage.ts';
import { Agent, csrfFrom } from '../helpers/agent.ts';
import { exchangeCode, runAuthorizationFlow } from '../helpers/flow.ts';
import { onEachDatabase } from '../helpers/postgres.ts';
import { buildTestServer, ISSUER, type TestServer } from '../helpers/server.ts';

const BACK = 'https://rp.example/signed-out';

await onEachDatabase('RP-initiated logout', (database, databaseUrl) => {
  describe(`RP-initiated logout on ${database}`, () => {
    let server: TestServer;
    let client: Client;
    let secret: string;

    before(async () => {
      server = await buildTestServer({}, { databaseUrl: await databaseUrl() });
      const added = await server.addClient({ metadata: { post_logout_redirect_uris: [BACK] } });
      client = added.client;
      secret = added.secret!;
    });
    after(() => server?.close());

    /** A signed-in browser and the ID token its flow gave the client. */
    async function signedIn(user?: Awaited<ReturnType<TestServer['addUser']>>) {
      const person = user ?? (await server.addUser());
      const flow = await runAuthorizationFlow(server, client, person, { scope: 'openid' });
      const tokens = await exchangeCode(server, client, secret, flow);
      assert.equal(tokens.statusCode, 200, tokens.body);
      return { agent: flow.agent, idToken: tokens.json().id_token as string, person };
    }

    const logoutUrl = (params: Record<string, string>) => `/oauth/logout?${new URLSearchParams(params)}`;
    const isSignedIn = async (agent: Agent) => /You are signed in/.test((await agent.get('/')).body);

    it('discovery (read by oauth4webapi) names the end_session_endpoint', async () => {
      const response = await server.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
      const metadata = await oauth.processDiscoveryResponse(
        new URL(ISSUER),
        new Response(response.body, { headers: { 'content-type': 'application/json' } }),
      );
      assert.equal(metadata.end_session_endpoint, `${ISSUER}/oauth/logout`);
    });

    it('with a hint for the person signed in: signed out at once, back to the registered URI with state', async () => {
      const { agent, idToken } = await signedIn();
      assert.equal(await isSignedIn(agent), true);
      const response = await agent.get(
        logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: BACK, state: 'af0ifjsldkj' }),
      );
      assert.equal(response.statusCode, 303, response.body.slice(0, 300));
      assert.equal(response.headers.location, `${BACK}?state=af0ifjsldkj`);
      assert.equal(await isSignedIn(agent), false);
    });

    it('an expired ID token is still a hint (§2); the session it names ends', async () => {
      const { agent, idToken } = await signedIn();
      server.clock.advance(3 * 3_600_000);
      const response = await agent.get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: BACK }));
      assert.equal(response.statusCode, 303);
      assert.equal(response.headers.location, BACK);
    });

    it('an unregistered post_logout_redirect_uri is an error page, not a redirect; the session stays', async () => {
      const { agent, idToken } = await signedIn();
      for (const uri of [
        'https://evil.example/',
        `${BACK}/more`,
        `${BACK}?x=1`,
        'HTTPS://rp.example/signed-out',
      ]) {
        const response = await agent.get(
          logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: uri }),
        );
        assert.equal(response.statusCode, 400, uri);
        assert.equal(response.headers.location, undefined);
        assert.match(response.body, /not registered/);
      }
      // Without a client to look it up in, a post_logout_redirect_uri is refused too.
      const anonymous = await agent.get(logoutUrl({ post_logout_redirect_uri: BACK }));
      assert.equal(anonymous.statusCode, 400);
      assert.equal(await isSignedIn(agent), true);
    });

    it('a hint this server did not sign, or a client_id it does not name, is refused', async () => {
      const { agent, idToken } = await signedIn();
      const [header, payload] = idToken.split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
      const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${idToken.split('.')[2]}`;
      for (const params of [
        { id_token_hint: forged } as Record<string, string>,
        { id_token_hint: 'not.a.jwt' },
        { id_token_hint: idToken, client_id: 'another-client' },
      ]) {
        const response = await agent.get(logoutUrl(params));
        assert.equal(response.statusCode, 400, JSON.stringify(params));
      }
      assert.equal(await isSignedIn(agent), true);
    });

    it('without a hint, a page asks first; the confirmation needs its CSRF token, then returns with state', async () => {
      const { agent } = await signedIn();
      const asked = await agent.get(
        logoutUrl({ client_id: client.id, post_logout_redirect_uri: BACK, state: 's1' }),
      );
      assert.equal(asked.statusCode, 200);
      assert.match(asked.body, /Sign out\?/);
      assert.equal(await isSignedIn(agent), true, 'a link alone signs nobody out');

      const forgedPost = await agent.post('/oauth/logout/confirm', {
        client_id: client.id,
        post_logout_redirect_uri: BACK,
        state: 's1',
      });
      assert.equal(forgedPost.statusCode, 403);
      assert.equal(await isSignedIn(agent), true);

      const confirmed = await agent.post('/oauth/logout/confirm', {
        _csrf: csrfFrom(asked.body),
        client_id: client.id,
        post_logout_redirect_uri: BACK,
        state: 's1',
      });
      assert.equal(confirmed.statusCode, 303);
      assert.equal(confirmed.headers.location, `${BACK}?state=s1`);
      assert.equal(await isSignedIn(agent), false);
    });

    it('a changed hidden field in the confirmation is checked again', async () => {
      const { agent } = await signedIn();
      const asked = await agent.get(logoutUrl({ client_id: client.id, post_logout_redirect_uri: BACK }));
      const response = await agent.post('/oauth/logout/confirm', {
        _csrf: csrfFrom(asked.body),
        client_id: client.id,
        post_logout_redirect_uri: 'https://evil.example/',
      });
      assert.equal(response.statusCode, 400);
      assert.equal(await isSignedIn(agent), true);
    });

    it('a hint for someone else than the person signed in asks first', async () => {
      const other = await signedIn();
      const { agent } = await signedIn();
      const response = await agent.get(
        logoutUrl({ id_token_hint: other.idToken, post_logout_redirect_uri: BACK }),
      );
      assert.equal(response.statusCode, 200);
      assert.match(response.body, /Sign out\?/);
      assert.equal(await isSignedIn(agent), true);
    });

    it('nobody signed in: a "signed out" page, or the registered URI', async () => {
      const browser = new Agent(server.app);
      const page = await browser.get('/oauth/logout');
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /You are signed out/);
      assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
      const back = await browser.get(logoutUrl({ client_id: client.id, post_logout_redirect_uri: BACK }));
      assert.equal(back.headers.location, BACK);
    });

    it('registration: post_logout_redirect_uris follow the redirect URI rules and are echoed', async () => {
      const register = (uris: string[]) =>
        server.app.inject({
          method: 'POST',
          url: '/oauth/register',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({
            client_name: 'RP',
            redirect_uris: ['https://rp2.example/cb'],
            post_logout_redirect_uris: uris,
          }),
        });
      const good = await register(['https://rp2.example/bye']);
      assert.equal(good.statusCode, 201, good.body);
      assert.deepEqual(good.json().post_logout_redirect_uris, ['https://rp2.example/bye']);
      for (const uri of ['http://rp2.example/bye', 'javascript:alert(1)', 'https://rp2.example/#frag']) {
        const bad = await register([uri]);
        assert.equal(bad.statusCode, 400, uri);
        assert.equal(bad.json().error, 'invalid_redirect_uri');
      }
    });
  });
});

describe('RFC 8414 §3.1: an issuer with a path', () => {
  let server: TestServer;
  before(async () => {
    server = await buildTestServer({ GATEHOUSE_ISSUER: 'http://localhost:3000/tenant-a' });
  });
  after(() => server?.close());

  it('serves its metadata with the well-known segment inserted before the path', async () => {
    for (const url of [
      '/.well-known/oauth-authorization-server/tenant-a',
      '/.well-known/openid-configuration/tenant-a',
      '/.well-known/openid-configuration',
    ]) {
      const response = await server.app.inject({ method: 'GET', url });
      assert.equal(response.statusCode, 200, url);
      assert.equal(response.json().issuer, 'http://localhost:3000/tenant-a');
    }
    const metadata = await oauth.processDiscoveryResponse(
      new URL('http://localhost:3000/tenant-a'),
      new Response(
        (await server.app.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server/tenant-a' }))
          .body,
        { headers: { 'content-type': 'application/json' } },
      ),
    );
    assert.equal(metadata.end_session_endpoint, 'http://localhost:3000/tenant-a/oauth/logout');
  });
});
