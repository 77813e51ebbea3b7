// A password reset ends everything the old password let anyone obtain (RFC 9700 §4.14.2, issue item 7): after
// the admin console's "Reset password", the user's refresh tokens no longer refresh (invalid_grant), their
// access tokens (JWT and opaque) no longer answer at /userinfo (401) or introspect (active: false), and their
// sessions no longer sign them in; other users keep theirs, and a security event records it. On SQLite and on
// PostgreSQL (a throwaway cluster or DATABASE_URL_TEST; skipped outside CI on a machine without one).
import assert from 'node:assert/strict';
import { after, before, describe, it, test } from 'node:test';
import type { Client, User } from '../../src/storage/storage.ts';
import { Agent, csrfFrom } from '../helpers/agent.ts';
import { basicAuth, exchangeCode, runAuthorizationFlow } from '../helpers/flow.ts';
import { freshDatabase, postgresOrSkipReason } from '../helpers/postgres.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';

type TestUser = User & { email: string; password: string };
interface Tokens {
  access_token: string;
  refresh_token: string;
}
interface App {
  client: Client;
  secret: string;
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function post(server: TestServer, url: string, form: Record<string, string>, app: App) {
  return server.app.inject({
    method: 'POST',
    url,
    payload: new URLSearchParams(form).toString(),
    headers: { ...FORM, authorization: basicAuth(app.client.id, app.secret) },
  });
}

const refresh = (server: TestServer, app: App, token: string) =>
  post(server, '/token', { grant_type: 'refresh_token', refresh_token: token }, app);

const userinfo = (server: TestServer, token: string) =>
  server.app.inject({ method: 'GET', url: '/userinfo', headers: { authorization: `Bearer ${token}` } });

async function active(server: TestServer, app: App, token: string): Promise<boolean> {
  const response = await post(server, '/introspect', { token }, app);
  assert.equal(response.statusCode, 200, response.body);
  return (response.json() as { active: boolean }).active;
}

async function signIn(server: TestServer, user: { email: string; password: string }) {
  const agent = new Agent(server.app);
  const response = await agent.post('/login', {
    _csrf: csrfFrom((await agent.get('/login')).body),
    email: user.email,
    password: user.password,
  });
  return { agent, response };
}

async function tokensFor(server: TestServer, app: App, user: TestUser, agent: Agent): Promise<Tokens> {
  const flow = await runAuthorizationFlow(server, app.client, user, {
    agent,
    scope: 'openid profile offline_access',
  });
  const response = await exchangeCode(server, app.client, app.secret, flow);
  assert.equal(response.statusCode, 200, response.body);
  const tokens = response.json() as Tokens;
  assert.ok(tokens.refresh_token, 'the flow gave a refresh token');
  return tokens;
}

function resetSuite(database: string, databaseUrl: () => Promise<string | undefined>) {
  for (const format of ['jwt', 'opaque'] as const) {
    describe(`admin "Reset password" on ${database}, ${format} access tokens`, () => {
      let server: TestServer;
      let adminAgent: Agent;
      let admin: TestUser;

      before(async () => {
        server = await buildTestServer(
          { GATEHOUSE_ACCESS_TOKEN_FORMAT: format },
          { databaseUrl: await databaseUrl() },
        );
        admin = await server.addUser({ isAdmin: true });
        adminAgent = (await signIn(server, admin)).agent;
      });
      after(() => server?.close());

      const newApp = async (name: string): Promise<App> => {
        const { client, secret } = await server.addClient({ name });
        assert.ok(secret);
        return { client, secret };
      };

      it("revokes the user's refresh tokens, access tokens and sessions at every client; others keep theirs", async () => {
        const user = await server.addUser();
        const bystander = await server.addUser();
        const [appA, appB] = [await newApp('App A'), await newApp('App B')];
        const browser = new Agent(server.app);
        const atA = await tokensFor(server, appA, user, browser);
        const atB = await tokensFor(server, appB, user, browser);
        const theirs = await tokensFor(server, appA, bystander, new Agent(server.app));
        const bystanderBrowser = (await signIn(server, bystander)).agent;
        assert.equal((await userinfo(server, atA.access_token)).statusCode, 200);
        assert.equal(await active(server, appB, atB.refresh_token), true);
        assert.equal((await browser.get('/portal')).statusCode, 200, 'signed in before the reset');

        const posted = await adminAgent.post(`/admin/users/${user.id}/reset-password`, {
          _csrf: csrfFrom((await adminAgent.get('/admin')).body),
          confirm: 'yes',
        });
        // Post/redirect/get: the new password is on the console the 303 leads to, once.
        assert.equal(posted.statusCode, 303, posted.body.slice(0, 300));
        const reset = await adminAgent.get(String(posted.headers.location));
        assert.equal(reset.statusCode, 200, reset.body.slice(0, 300));
        const password = /data-testid="password">([^<]+)</.exec(reset.body)?.[1];
        assert.ok(password);

        for (const [app, tokens] of [
          [appA, atA],
          [appB, atB],
        ] as const) {
          const refreshed = await refresh(server, app, tokens.refresh_token);
          assert.equal(refreshed.statusCode, 400, refreshed.body);
          assert.equal(refreshed.json().error, 'invalid_grant');
          const info = await userinfo(server, tokens.access_token);
          assert.equal(info.statusCode, 401, info.body);
          assert.match(String(info.headers['www-authenticate']), /error="invalid_token"/);
          assert.equal(await active(server, app, tokens.access_token), false, 'access token introspects');
          assert.equal(await active(server, app, tokens.refresh_token), false, 'refresh token introspects');
        }
        const bounced = await browser.get('/portal');
        assert.equal(bounced.statusCode, 303, 'the old session cookie still signs in');
        assert.match(String(bounced.headers.location), /^\/login/);

        // Another user's tokens and session are untouched.
        assert.equal((await userinfo(server, theirs.access_token)).statusCode, 200);
        assert.equal((await refresh(server, appA, theirs.refresh_token)).statusCode, 200);
        assert.equal((await bystanderBrowser.get('/portal')).statusCode, 200);

        // The security event names the user, who reset it and how many authorizations ended.
        const event = (await server.deps.storage.securityEvents.list(20)).find(
          (e) => e.type === 'password_changed' && e.userId === user.id,
        );
        assert.ok(event, 'no password_changed event');
        assert.equal(event.detail.revoked_grants, 2);
        assert.equal(event.userEmail, user.email);
        assert.deepEqual(event.actor, { kind: 'user', id: admin.id, name: admin.email });

        // The new password signs in and new tokens work.
        const again = await signIn(server, { email: user.email, password });
        assert.equal(again.response.statusCode, 303, again.response.body.slice(0, 300));
        const fresh = await tokensFor(server, appA, { ...user, password }, again.agent);
        assert.equal((await userinfo(server, fresh.access_token)).statusCode, 200);
        assert.equal((await refresh(server, appA, fresh.refresh_token)).statusCode, 200);
      });

      it('a code issued before the reset and redeemed after it is invalid_grant (no ID token for the old sign-in)', async () => {
        const user = await server.addUser();
        const app = await newApp('App C');
        const flow = await runAuthorizationFlow(server, app.client, user, { scope: 'openid profile' });
        const reset = await adminAgent.post(`/admin/users/${user.id}/reset-password`, {
          _csrf: csrfFrom((await adminAgent.get('/admin')).body),
          confirm: 'yes',
        });
        assert.equal(reset.statusCode, 303, reset.body.slice(0, 300));
        const exchanged = await exchangeCode(server, app.client, app.secret, flow);
        assert.equal(exchanged.statusCode, 400, exchanged.body);
        assert.equal(exchanged.json().error, 'invalid_grant');
      });
    });
  }
}

resetSuite('SQLite', async () => undefined);

const { postgres, skip: skipReason } = await postgresOrSkipReason();
if (postgres === undefined) {
  test('password reset on PostgreSQL', (t) => {
    t.skip(skipReason);
  });
} else {
  const cluster = postgres;
  const databases: { drop(): Promise<void> }[] = [];
  after(async () => {
    await Promise.all(databases.map((database) => database.drop()));
    await cluster.stop();
  });
  resetSuite('PostgreSQL', async () => {
    const database = await freshDatabase(cluster.url);
    databases.push(database);
    return database.url;
  });
}
