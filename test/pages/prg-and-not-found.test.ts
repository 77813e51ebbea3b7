// Post/redirect/get and the pages a new operator meets, over app.inject on both databases: registering an app
// or rotating its secret answers 303, the secret is shown once from a sealed flash (never in a URL) and a
// reload neither registers again nor shows it again; the portal's settings edit keeps the input on a refusal
// and says "Saved"; destructive actions need their confirmation; unknown routes are a page for browsers and
// JSON for API clients; the dead setup link says how to make an administrator; consent marks unverified apps.
import assert from 'node:assert/strict';
import { after, describe, it, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { checkRedirectUri } from '../../src/oauth/client-metadata.ts';
import { issueSetupToken } from '../../src/pages/setup/route.ts';
import { Agent, csrfFrom, signedInAgent } from '../helpers/agent.ts';
import { freshDatabase, postgresOrSkipReason } from '../helpers/postgres.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';

const SCOPES = JSON.stringify([
  { name: 'screen_pop', description: 'Pop up callers', requires_approval: true },
]);

function testId(body: string, id: string): string | undefined {
  return new RegExp(`data-testid="${id}">([^<]*)<`).exec(body)?.[1];
}

async function follow(agent: Agent, response: LightMyRequestResponse) {
  assert.equal(response.statusCode, 303, response.body.slice(0, 300));
  return agent.get(String(response.headers.location));
}

function prgSuite(database: string, databaseUrl: () => Promise<string | undefined>) {
  describe(`post/redirect/get in the portal and the console on ${database}`, () => {
    let server: TestServer;
    let developer: Agent;

    const register = async (name: string) => {
      const form = await developer.get('/portal/apps/new');
      return developer.post('/portal/apps', {
        _csrf: csrfFrom(form.body),
        name,
        redirect_uris: 'https://rp.example/cb',
        type: 'confidential',
        scope_openid: '1',
      });
    };

    it('setup', async () => {
      server = await buildTestServer({ GATEHOUSE_SCOPES: SCOPES }, { databaseUrl: await databaseUrl() });
      developer = await signedInAgent(server.app, await server.addUser({ email: 'dev@example.com' }));
    });

    it('registering answers 303 to the app; the secret shows once, and a reload registers nothing', async () => {
      const posted = await register('Reload Me');
      assert.equal(posted.statusCode, 303);
      const location = String(posted.headers.location);
      assert.match(location, /^\/portal\/apps\/[\w-]+$/, 'the secret or id must not ride in a query');
      const flashCookie = String(posted.headers['set-cookie']);
      assert.match(flashCookie, /gatehouse_flash=/);
      assert.match(flashCookie, /HttpOnly/i);
      assert.doesNotMatch(flashCookie, /ghs_/, 'the flash cookie carries the secret in the clear');

      const shown = await developer.get(location);
      const secret = testId(shown.body, 'client-secret');
      assert.match(secret ?? '', /^ghs_/);
      assert.match(shown.body, /Reload Me is registered/);
      assert.equal(shown.headers['cache-control'], 'no-store');

      const reloaded = await developer.get(location);
      assert.equal(reloaded.statusCode, 200);
      assert.ok(!reloaded.body.includes(secret ?? '-'), 'the secret is shown again on reload');
      const owned = await server.deps.storage.clients.listByOwner(
        (await server.deps.storage.users.findByEmail('dev@example.com'))!.id,
      );
      assert.equal(owned.filter((client) => client.name === 'Reload Me').length, 1);
    });

    it('a flash cookie replayed elsewhere or tampered with shows nothing', async () => {
      const posted = await register('Replayed');
      const cookie = /gatehouse_flash=([^;]+)/.exec(String(posted.headers['set-cookie']))?.[1];
      assert.ok(cookie);
      const stranger = await signedInAgent(server.app, await server.addUser());
      stranger.cookies.set('gatehouse_flash', `${cookie.slice(0, -2)}AA`);
      const tampered = await stranger.get('/portal');
      assert.equal(tampered.statusCode, 200);
      assert.doesNotMatch(tampered.body, /data-testid="flash"/);
      // Past its lifetime the sealed flash is refused even by the page it was for.
      server.clock.advance(301_000);
      const late = await developer.get(String(posted.headers.location));
      assert.doesNotMatch(late.body, /data-testid="client-secret"/);
    });

    it('the settings edit keeps the input on a refusal, then saves with "Saved."', async () => {
      const registered = await follow(developer, await register('Editable'));
      const id = testId(registered.body, 'new-client-id');
      assert.ok(id);
      const refused = await developer.post(`/portal/apps/${id}/settings`, {
        _csrf: csrfFrom(registered.body),
        name: 'Renamed',
        redirect_uris: 'http://rp.example/cb',
        logo_uri: 'https://rp.example/logo.png',
        scope_openid: '1',
      });
      assert.equal(refused.statusCode, 400);
      assert.match(
        refused.body,
        /role="alert">Redirect URI &quot;http:\/\/rp.example\/cb&quot; must use https/,
      );
      assert.match(refused.body, /name="name"[^>]*value="Renamed"/);
      assert.match(refused.body, /name="logo_uri"[^>]*value="https:\/\/rp.example\/logo.png"/);
      assert.equal((await server.deps.storage.clients.find(id))?.name, 'Editable');

      const saved = await developer.post(`/portal/apps/${id}/settings`, {
        _csrf: csrfFrom(refused.body),
        name: 'Renamed',
        redirect_uris: 'https://rp.example/cb\nhttps://rp.example/two',
        logo_uri: 'https://rp.example/logo.png',
        policy_uri: 'https://rp.example/privacy',
        scope_openid: '1',
        scope_profile: '1',
        scope_screen_pop: '1',
      });
      const page = await follow(developer, saved);
      assert.match(page.body, /data-testid="flash">Saved\.</);
      const client = await server.deps.storage.clients.find(id);
      assert.equal(client?.name, 'Renamed');
      assert.deepEqual(client?.redirectUris, ['https://rp.example/cb', 'https://rp.example/two']);
      assert.equal(client?.metadata.logo_uri, 'https://rp.example/logo.png');
      assert.equal(client?.scope, 'openid profile');
      assert.equal(client?.requestedScope, 'screen_pop', 'a scope that needs approval waits');
      assert.doesNotMatch((await developer.get(`/portal/apps/${id}`)).body, /Saved\./);
    });

    it('destructive actions: without confirm=yes the POST only leads to the confirmation page', async () => {
      const admin = await signedInAgent(server.app, await server.addUser({ isAdmin: true }));
      const { client } = await server.addClient({ name: 'Keep Me' });
      const console = await admin.get('/admin');
      assert.ok(console.body.includes(`href="/admin/clients/${client.id}/disable"`));
      const posted = await admin.post(`/admin/clients/${client.id}/disable`, {
        _csrf: csrfFrom(console.body),
      });
      assert.equal(posted.headers.location, `/admin/clients/${client.id}/disable`);
      assert.equal((await server.deps.storage.clients.find(client.id))?.disabledAt, null);
      const confirmation = await admin.get(`/admin/clients/${client.id}/disable`);
      assert.match(confirmation.body, /<h1>Disable Keep Me\?<\/h1>/);
      assert.match(confirmation.body, /<a class="button secondary" href="\/admin">Cancel<\/a>/);
      // The console and the portal say a status the same way.
      assert.match(console.body, /data-label="Status">active/);
      assert.match(console.body, /data-label="Registered by">dev@example.com \(developer portal\)/);
      const headers = console.body.match(/<th[ >]/g) ?? [];
      const scoped = console.body.match(/<th scope="col">/g) ?? [];
      assert.equal(scoped.length, headers.length, 'a <th> without scope="col"');
    });

    after(() => server?.close());
  });
}

prgSuite('SQLite', async () => undefined);

const { postgres, skip: skipReason } = await postgresOrSkipReason();
if (postgres === undefined) {
  test('post/redirect/get on PostgreSQL', (t) => {
    t.skip(skipReason);
  });
} else {
  const cluster = postgres;
  const databases: { drop(): Promise<void> }[] = [];
  after(async () => {
    await Promise.all(databases.map((database) => database.drop()));
    await cluster.stop();
  });
  prgSuite('PostgreSQL', async () => {
    const database = await freshDatabase(cluster.url);
    databases.push(database);
    return database.url;
  });
}

describe('unknown routes, sign-out and the dead setup link', () => {
  let server: TestServer;
  after(() => server?.close());

  it('setup', async () => {
    server = await buildTestServer();
  });

  it('an unknown route is a page with a way home for a browser, JSON for an API client', async () => {
    const browser = await server.app.inject({
      method: 'GET',
      url: '/no/such/page',
      headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
    });
    assert.equal(browser.statusCode, 404);
    assert.match(String(browser.headers['content-type']), /^text\/html/);
    assert.match(browser.body, /<h1>Page not found<\/h1>/);
    assert.match(browser.body, /<a href="\/">Go to the home page<\/a>/);
    assert.match(String(browser.headers['content-security-policy']), /frame-ancestors 'none'/);
    for (const accept of [undefined, '*/*', 'application/json', 'application/json, text/html']) {
      const api = await server.app.inject({
        method: 'GET',
        url: '/no/such/page',
        headers: accept ? { accept } : {},
      });
      assert.equal(api.statusCode, 404);
      assert.equal((api.json() as { statusCode: number }).statusCode, 404, String(accept));
    }
  });

  it('GET /logout is a sign-out page (a POST signs out), not a 404', async () => {
    const anonymous = await server.app.inject({
      method: 'GET',
      url: '/logout',
      headers: { accept: 'text/html' },
    });
    assert.equal(anonymous.statusCode, 200);
    assert.match(anonymous.body, /You are signed out/);
    const agent = await signedInAgent(server.app, await server.addUser({ email: 'out@example.com' }));
    const page = await agent.get('/logout');
    assert.match(page.body, /<h1>Sign out\?<\/h1>/);
    const out = await agent.post('/logout', { _csrf: csrfFrom(page.body) });
    assert.equal(out.statusCode, 303);
    assert.equal((await agent.get('/portal')).statusCode, 303, 'still signed in');
  });

  it('the setup link dead after `gatehouse users add` says how to make an administrator', async () => {
    const fresh = await buildTestServer();
    try {
      const token = await issueSetupToken(fresh.deps);
      assert.ok(token);
      await fresh.addUser();
      const dead = await new Agent(fresh.app).get(`/setup?token=${token}`);
      assert.equal(dead.statusCode, 404);
      assert.match(dead.body, /gatehouse users add you@example.com --admin/);
      assert.match(dead.body, /href="\/login\?next=%2Fadmin"/);
    } finally {
      await fresh.close();
    }
  });
});

describe("the issuer's own pages as redirect URIs (A-07)", () => {
  it('on a plain-http loopback issuer, its own origin is accepted for web clients too', () => {
    for (const issuer of ['http://localhost:3000', 'http://127.0.0.1:8080', 'http://[::1]:3000']) {
      assert.doesNotThrow(() => checkRedirectUri(`${issuer}/playground`, 'web', issuer), issuer);
    }
  });
  it('nowhere else: another port or host, an https issuer, a non-loopback http issuer', () => {
    const refused: [string, string][] = [
      ['http://localhost:3001/playground', 'http://localhost:3000'],
      ['http://127.0.0.1:3000/playground', 'http://localhost:3000'],
      ['http://localhost:3000/playground', 'https://auth.example.com'],
      ['http://auth.internal:3000/playground', 'http://auth.internal:3000'],
      ['http://localhost:3000/playground#x', 'http://localhost:3000'],
      ['http://user@localhost:3000/playground', 'http://localhost:3000'],
    ];
    for (const [uri, issuer] of refused) {
      assert.throws(() => checkRedirectUri(uri, 'web', issuer), /invalid_redirect_uri|Redirect URI/, uri);
    }
  });
  it('dynamic registration accepts <issuer>/playground on the default issuer', async () => {
    const server = await buildTestServer();
    try {
      const response = await server.app.inject({
        method: 'POST',
        url: '/oauth/register',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({
          client_name: 'Playground',
          redirect_uris: ['http://localhost:3000/playground'],
        }),
      });
      assert.equal(response.statusCode, 201, response.body);
    } finally {
      await server.close();
    }
  });
});
