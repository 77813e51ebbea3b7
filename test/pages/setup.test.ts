// The one-time setup link (pages/setup/route.ts): shows the form, creates the first administrator, signs them
// in, and then stops working. Wrong links answer 404. Also G-01/G-02 headers on the setup page.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { issueSetupToken } from '../../src/pages/setup/route.ts';
import { Agent, csrfFrom, hiddenField } from '../helpers/agent.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';
import { assertPageHeaders, cookieNamed } from './support.ts';

describe('setup link', () => {
  let server: TestServer;
  let token: string;
  const admin = { name: 'First Admin', email: 'Admin@Example.com', password: 'a long enough password' };

  before(async () => {
    server = await buildTestServer();
    const issued = await issueSetupToken(server.deps);
    assert.ok(issued, 'a token is issued while no user exists');
    token = issued;
  });
  after(() => server.close());

  const setupUrl = (value: string) => `/setup?token=${encodeURIComponent(value)}`;

  it('a wrong or missing token answers 404 and shows no form', async () => {
    const agent = new Agent(server.app);
    for (const url of [
      '/setup',
      setupUrl('wrong'),
      setupUrl(''),
      setupUrl(`${token}x`),
      setupUrl(token.slice(1)),
    ]) {
      const response = await agent.get(url);
      assert.equal(response.statusCode, 404, url);
      assert.doesNotMatch(response.body, /<form/, url);
      assert.match(response.body, /Setup link not valid/);
      assertPageHeaders(response, `setup 404 ${url}`);
    }
  });

  it('the link shows the form, with framing and referrer protection', async () => {
    const agent = new Agent(server.app);
    const page = await agent.get(setupUrl(token));
    assert.equal(page.statusCode, 200);
    assertPageHeaders(page, 'setup page');
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.match(page.body, /Create the administrator account/);
    assert.equal(hiddenField(page.body, 'token'), token);
    assert.ok(csrfFrom(page.body));
  });

  it('a POST with a wrong token, without the CSRF token or from a foreign origin creates nobody', async () => {
    const agent = new Agent(server.app);
    const csrf = csrfFrom((await agent.get(setupUrl(token))).body);
    const wrongToken = await agent.post('/setup', { _csrf: csrf, token: 'wrong', ...admin });
    assert.equal(wrongToken.statusCode, 404);
    const noCsrf = await agent.post('/setup', { token, ...admin });
    assert.equal(noCsrf.statusCode, 403);
    const foreign = await agent.post(
      '/setup',
      { _csrf: csrf, token, ...admin },
      { origin: 'https://evil.example' },
    );
    assert.equal(foreign.statusCode, 403);
    const crossSite = await agent.post(
      '/setup',
      { _csrf: csrf, token, ...admin },
      { 'sec-fetch-site': 'cross-site' },
    );
    assert.equal(crossSite.statusCode, 403);
    assert.equal(await server.deps.storage.users.exists(), false);
    assert.equal((await agent.get(setupUrl(token))).statusCode, 200, 'the link still works');
  });

  it('invalid input shows the form again and keeps the link usable', async () => {
    const agent = new Agent(server.app);
    const csrf = csrfFrom((await agent.get(setupUrl(token))).body);
    const response = await agent.post('/setup', { _csrf: csrf, token, ...admin, password: 'short' });
    assert.equal(response.statusCode, 400);
    assert.match(response.body, /at least \d+ characters/);
    assert.equal(hiddenField(response.body, 'token'), token);
    assert.equal(await server.deps.storage.users.exists(), false);
  });

  it('POST creates the administrator, signs them in, and the link then answers 404', async () => {
    const agent = new Agent(server.app);
    const csrf = csrfFrom((await agent.get(setupUrl(token))).body);
    const response = await agent.post('/setup', { _csrf: csrf, token, ...admin });
    assert.equal(response.statusCode, 303, response.body);
    assert.equal(response.headers.location, '/');
    const session = cookieNamed(response, 'gatehouse_session');
    assert.ok(session, 'signed in right away');
    assert.ok(session.attributes.has('httponly'));

    const user = await server.deps.storage.users.findByEmail('admin@example.com');
    assert.ok(user);
    assert.equal(user.isAdmin, true);
    assert.equal(user.name, 'First Admin');
    assert.equal(await server.deps.storage.users.exists(), true);

    const home = await agent.get('/');
    assert.match(home.body, /You are signed in/);
    assert.match(home.body, /admin@example\.com/);

    // The link is spent.
    assert.equal((await agent.get(setupUrl(token))).statusCode, 404);
    const again = await agent.post('/setup', {
      _csrf: csrfFrom(home.body),
      token,
      ...admin,
      email: 'second@example.com',
    });
    assert.equal(again.statusCode, 404);
    assert.equal(await server.deps.storage.users.findByEmail('second@example.com'), undefined);
    // And no new link is handed out once someone exists.
    assert.equal(await issueSetupToken(server.deps), undefined);
  });
});

describe('setup link after an account was created another way', () => {
  let server: TestServer;
  before(async () => {
    server = await buildTestServer();
  });
  after(() => server.close());

  it('stops working once any account exists (for example one added with the CLI)', async () => {
    const token = await issueSetupToken(server.deps);
    assert.ok(token);
    // The operator ignores the printed link and runs `gatehouse users add --admin` instead.
    await server.addUser({ isAdmin: true });
    const agent = new Agent(server.app);
    const page = await agent.get(`/setup?token=${encodeURIComponent(token)}`);
    assert.equal(
      page.statusCode,
      404,
      'a leftover setup link must not offer to create another administrator',
    );
    const csrf = csrfFrom((await agent.get('/login')).body);
    const response = await agent.post('/setup', {
      _csrf: csrf,
      token,
      email: 'intruder@example.com',
      password: 'a long enough password',
      name: 'Intruder',
    });
    assert.equal(response.statusCode, 404);
    assert.equal(await server.deps.storage.users.findByEmail('intruder@example.com'), undefined);
  });
});
