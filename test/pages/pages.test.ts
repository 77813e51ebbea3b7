// Black-box tests of the HTML pages (login, consent, error page, account page) over app.inject: docs/security.md rows
// G-01 (clickjacking), G-02 (Referrer-Policy), G-03 (303 after POST), G-04 (escaping), G-06 (CSRF and Origin),
// G-07 (session fixation and logout), G-08 (cookie attributes).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { escapeHtml } from '../../src/pages/html.ts';
import type { Client } from '../../src/storage/storage.ts';
import { Agent, csrfFrom, hiddenField, localPath } from '../helpers/agent.ts';
import { authorizeUrl, pkcePair, runAuthorizationFlow } from '../helpers/flow.ts';
import { buildTestServer, ISSUER, type TestServer } from '../helpers/server.ts';
import {
  assertPageHeaders,
  cookieNamed,
  interactionOf,
  reachConsent,
  setCookies,
  startAuthorization,
  submitLogin,
} from './support.ts';

const PAYLOAD = '"><svg onload=alert(1)>';
const ESCAPED = escapeHtml(PAYLOAD);

/** G-04: the payload appears in the page only HTML-escaped (every occurrence of its text is the escaped one). */
function assertOnlyEscaped(body: string, payload: string, what: string) {
  assert.ok(!body.includes(payload), `${what}: raw payload in the page`);
  assert.doesNotMatch(body, /<svg|<img|<script/i, `${what}: injected element`);
  const core = payload.replace(/^"></, '').replace(/>$/, '');
  const escaped = escapeHtml(payload);
  const occurrences = body.split(core).length - 1;
  const escapedOccurrences = body.split(escaped).length - 1;
  assert.equal(occurrences, escapedOccurrences, `${what}: ${core} appears unescaped`);
}

/** A Location header must never carry characters that would break out of an attribute or header. */
function assertCleanLocation(response: LightMyRequestResponse) {
  const location = String(response.headers.location ?? '');
  assert.doesNotMatch(location, /[<>"'\s]/, `unencoded characters in Location: ${location}`);
}

describe('pages', () => {
  let server: TestServer;
  let c1: Client;

  before(async () => {
    server = await buildTestServer();
    ({ client: c1 } = await server.addClient({ name: 'C1' }));
  });
  after(() => server.close());

  const request = (client: Client, overrides: Record<string, string | undefined> = {}) =>
    authorizeUrl({
      response_type: 'code',
      client_id: client.id,
      redirect_uri: client.redirectUris[0],
      scope: 'openid profile',
      state: 'S',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
      ...overrides,
    });

  /** A browser signed in for `c1` and sitting on its consent page; returns the consent page path. */
  async function onConsentPage(client: Client = c1, overrides: Record<string, string | undefined> = {}) {
    const user = await server.addUser();
    const agent = new Agent(server.app);
    const loginPath = await startAuthorization(agent, request(client, overrides));
    const consentPath = await reachConsent(agent, await submitLogin(agent, loginPath, user));
    return { agent, user, consentPath, interaction: interactionOf(consentPath) };
  }

  describe('G-01 / G-02 framing and referrer headers on every HTML page', () => {
    it('error page, login, consent, account, CSRF failure and expired interaction', async () => {
      const anonymous = new Agent(server.app);
      const pages: Array<[string, LightMyRequestResponse]> = [];
      pages.push(['error page', await anonymous.get(request(c1, { client_id: 'unknown' }))]);
      pages.push(['login page', await anonymous.get('/login')]);
      const loginPath = await startAuthorization(anonymous, request(c1));
      pages.push(['login page for a request', await anonymous.get(loginPath)]);
      pages.push([
        'login failure',
        await anonymous.post('/login', {
          _csrf: csrfFrom((await anonymous.get('/login')).body),
          email: 'nobody@example.com',
          password: 'wrong password!',
        }),
      ]);
      pages.push(['CSRF failure', await anonymous.post('/login', { email: 'a@b.c', password: 'x' })]);
      pages.push(['expired interaction', await anonymous.get('/authorize/resume?interaction=nope')]);
      pages.push(['account page', await anonymous.get('/')]);
      pages.push(['setup link not valid', await anonymous.get('/setup?token=wrong')]);
      const { agent, consentPath } = await onConsentPage();
      pages.push(['consent page', await agent.get(consentPath)]);

      const expected = [400, 200, 200, 401, 403, 400, 200, 404, 200];
      assert.deepEqual(
        pages.map(([, response]) => response.statusCode),
        expected,
      );
      for (const [what, response] of pages) assertPageHeaders(response, what);
    });

    it('redirects from /authorize and the pages carry Referrer-Policy: no-referrer', async () => {
      const agent = new Agent(server.app);
      const responses = [
        await agent.get(request(c1)),
        await agent.get(request(c1, { scope: 'nope' })),
        await agent.get('/authorize/resume'),
      ];
      for (const response of responses) {
        assert.equal(response.headers['referrer-policy'], 'no-referrer');
        assert.equal(response.headers['x-frame-options'], 'DENY');
      }
    });

    it('pages also ask for no referrer in the markup', async () => {
      const page = await new Agent(server.app).get('/login');
      assert.match(page.body, /<meta name="referrer" content="no-referrer">/);
    });
  });

  describe('G-03 POSTs are answered with 303', () => {
    it('POST /login, POST /consent (allow and deny), POST /logout and POST /authorize', async () => {
      const statuses: Array<[string, number]> = [];

      const user = await server.addUser();
      const agent = new Agent(server.app);
      const loginPath = await startAuthorization(agent, request(c1));
      const login = await submitLogin(agent, loginPath, user);
      statuses.push(['POST /login (authorization request)', login.statusCode]);
      const consentPath = await reachConsent(agent, login);
      const consent = await agent.post('/consent', {
        _csrf: csrfFrom((await agent.get(consentPath)).body),
        interaction: interactionOf(consentPath),
        action: 'allow',
      });
      statuses.push(['POST /consent allow', consent.statusCode]);
      const done = await agent.get(localPath(String(consent.headers.location)));
      statuses.push(['GET /authorize/resume → client', done.statusCode]);
      assert.match(String(done.headers.location), /^https:\/\/rp\.example\/cb\?code=/);

      const denier = await onConsentPage();
      const deny = await denier.agent.post('/consent', {
        _csrf: csrfFrom((await denier.agent.get(denier.consentPath)).body),
        interaction: denier.interaction,
        action: 'deny',
      });
      statuses.push(['POST /consent deny', deny.statusCode]);

      const plain = new Agent(server.app);
      const direct = await plain.post('/login', {
        _csrf: csrfFrom((await plain.get('/login')).body),
        email: user.email,
        password: user.password,
      });
      statuses.push(['POST /login (direct)', direct.statusCode]);
      const logout = await plain.post('/logout', { _csrf: csrfFrom((await plain.get('/')).body) });
      statuses.push(['POST /logout', logout.statusCode]);

      const authorize = await server.app.inject({
        method: 'POST',
        url: '/authorize',
        payload: request(c1).split('?')[1],
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      statuses.push(['POST /authorize', authorize.statusCode]);

      assert.deepEqual(
        statuses,
        statuses.map(([what]) => [what, 303]),
      );
    });
  });

  describe('G-04 hostile input is only ever shown HTML-escaped', () => {
    it('client_id: error page', async () => {
      const response = await new Agent(server.app).get(request(c1, { client_id: PAYLOAD }));
      assert.equal(response.statusCode, 400);
      assertOnlyEscaped(response.body, PAYLOAD, 'client_id');
    });

    it('redirect_uri: error page', async () => {
      const response = await new Agent(server.app).get(
        request(c1, { redirect_uri: `https://rp.example/cb${PAYLOAD}` }),
      );
      assert.equal(response.statusCode, 400);
      assertOnlyEscaped(response.body, PAYLOAD, 'redirect_uri');
    });

    it('state: never on a page, URL-encoded in every redirect, byte-exact at the client', async () => {
      const user = await server.addUser();
      const agent = new Agent(server.app);
      const first = await agent.get(request(c1, { state: PAYLOAD }));
      assertCleanLocation(first);
      const loginPath = localPath(String(first.headers.location));
      const loginPage = await agent.get(loginPath);
      assertOnlyEscaped(loginPage.body, PAYLOAD, 'state on the login page');
      const consentPath = await reachConsent(agent, await submitLogin(agent, loginPath, user));
      const consentPage = await agent.get(consentPath);
      assertOnlyEscaped(consentPage.body, PAYLOAD, 'state on the consent page');
      const allowed = await agent.post('/consent', {
        _csrf: csrfFrom(consentPage.body),
        interaction: interactionOf(consentPath),
        action: 'allow',
      });
      const final = await agent.get(localPath(String(allowed.headers.location)));
      assertCleanLocation(final);
      assert.equal(new URL(String(final.headers.location)).searchParams.get('state'), PAYLOAD);

      const error = await agent.get(request(c1, { state: PAYLOAD, scope: 'nope' }));
      assertCleanLocation(error);
      assert.equal(new URL(String(error.headers.location)).searchParams.get('state'), PAYLOAD);
    });

    it('scope: malformed scope goes back URL-encoded; a registered odd scope is escaped on the consent page', async () => {
      const response = await new Agent(server.app).get(request(c1, { scope: `openid ${PAYLOAD}` }));
      assert.equal(response.statusCode, 303);
      assertCleanLocation(response);
      assert.equal(new URL(String(response.headers.location)).searchParams.get('error'), 'invalid_scope');

      // A scope token may legally contain < > / = ( ): it must be escaped where it is shown.
      const scopePayload = '<svg/onload=alert(1)>';
      const { client } = await server.addClient({ scope: `openid ${scopePayload}` });
      const { agent, consentPath } = await onConsentPage(client, { scope: `openid ${scopePayload}` });
      const page = await agent.get(consentPath);
      assert.equal(page.statusCode, 200);
      assert.ok(!page.body.includes(scopePayload), 'raw scope on the consent page');
      assert.ok(page.body.includes(escapeHtml(scopePayload)), 'the scope is listed, escaped');
      assert.doesNotMatch(page.body, /<svg/i);
    });

    it('client name: login and consent pages', async () => {
      const { client } = await server.addClient({ name: PAYLOAD });
      const anonymous = new Agent(server.app);
      const loginPath = await startAuthorization(anonymous, request(client));
      const loginPage = await anonymous.get(loginPath);
      assert.ok(loginPage.body.includes(ESCAPED), 'the client name is shown on the login page');
      assertOnlyEscaped(loginPage.body, PAYLOAD, 'client name on the login page');

      const { agent, consentPath } = await onConsentPage(client);
      const consentPage = await agent.get(consentPath);
      assert.ok(consentPage.body.includes(ESCAPED), 'the client name is shown on the consent page');
      assertOnlyEscaped(consentPage.body, PAYLOAD, 'client name on the consent page');
    });

    it('email: the re-rendered login form and the signed-in header', async () => {
      const agent = new Agent(server.app);
      const page = await agent.get('/login');
      const failed = await agent.post('/login', {
        _csrf: csrfFrom(page.body),
        email: PAYLOAD,
        password: 'x',
      });
      assert.equal(failed.statusCode, 401);
      assertOnlyEscaped(failed.body, PAYLOAD, 'email on the login form');

      // No whitespace, so it is a syntactically valid email address.
      const emailPayload = '"><img/src=x/onerror=alert(1)>@example.com';
      const user = await server.addUser({ email: emailPayload });
      const browser = new Agent(server.app);
      const loginPath = await startAuthorization(browser, request(c1));
      const consentPath = await reachConsent(browser, await submitLogin(browser, loginPath, user));
      const consentPage = await browser.get(consentPath);
      assert.ok(!consentPage.body.includes(emailPayload.toLowerCase()), 'raw email on the consent page');
      assert.ok(consentPage.body.includes(escapeHtml(emailPayload.toLowerCase())));
      assert.doesNotMatch(consentPage.body, /<img/i);
    });
  });

  describe('G-06 CSRF tokens and Origin checks on page forms', () => {
    it('POST /login without the CSRF token, with another browser token or cross-site is 403', async () => {
      const user = await server.addUser();
      const agent = new Agent(server.app);
      const loginPath = await startAuthorization(agent, request(c1));
      const token = csrfFrom((await agent.get(loginPath)).body);
      const form = { email: user.email, password: user.password, interaction: interactionOf(loginPath) };
      const foreignToken = csrfFrom((await new Agent(server.app).get('/login')).body);

      const refused = [
        await agent.post('/login', form),
        await agent.post('/login', { ...form, _csrf: '' }),
        await agent.post('/login', { ...form, _csrf: `${token}x` }),
        await agent.post('/login', { ...form, _csrf: foreignToken }),
        await agent.post('/login', { ...form, _csrf: token }, { origin: 'https://evil.example' }),
        await agent.post('/login', { ...form, _csrf: token }, { origin: 'http://localhost:3001' }),
        await agent.post('/login', { ...form, _csrf: token }, { 'sec-fetch-site': 'cross-site' }),
        await agent.post('/login', { ...form, _csrf: token }, { 'sec-fetch-site': 'same-site' }),
        // Fetch Metadata wins over a matching Origin header.
        await agent.post(
          '/login',
          { ...form, _csrf: token },
          { origin: ISSUER, 'sec-fetch-site': 'cross-site' },
        ),
        // Browsers send Origin: null under Referrer-Policy: no-referrer, so the CSRF token decides.
        await agent.post('/login', form, { origin: 'null' }),
      ];
      for (const response of refused) {
        assert.equal(response.statusCode, 403, response.body);
        assert.equal(response.headers.location, undefined);
        assert.equal(
          cookieNamed(response, 'gatehouse_session'),
          undefined,
          'no session on a refused sign-in',
        );
        assertPageHeaders(response, 'CSRF refusal');
      }
      assert.equal(agent.cookies.has('gatehouse_session'), false);

      // The same form from the server's own origin works.
      const ok = await agent.post('/login', { ...form, _csrf: token }, { origin: ISSUER });
      assert.equal(ok.statusCode, 303, ok.body);
      assert.ok(cookieNamed(ok, 'gatehouse_session'));
      const sameOrigin = await agent.post(
        '/login',
        { ...form, _csrf: token },
        { origin: 'null', 'sec-fetch-site': 'same-origin' },
      );
      assert.equal(sameOrigin.statusCode, 303, sameOrigin.body);
    });

    it('POST /consent without the CSRF token or cross-site is 403 and issues no code', async () => {
      const { agent, consentPath, interaction } = await onConsentPage();
      const token = csrfFrom((await agent.get(consentPath)).body);
      const refused = [
        await agent.post('/consent', { interaction, action: 'allow' }),
        await agent.post('/consent', { interaction, action: 'allow', _csrf: 'forged' }),
        await agent.post(
          '/consent',
          { interaction, action: 'allow', _csrf: token },
          { origin: 'https://evil.example' },
        ),
        await agent.post(
          '/consent',
          { interaction, action: 'allow', _csrf: token },
          { 'sec-fetch-site': 'cross-site' },
        ),
        await agent.post('/consent', { interaction, action: 'allow' }, { origin: 'null' }),
      ];
      for (const response of refused) {
        assert.equal(response.statusCode, 403, response.body);
        assert.equal(response.headers.location, undefined);
        assert.doesNotMatch(response.body, /code=/);
      }
      // Still waiting for consent: resuming goes back to the consent page, not to the client with a code.
      const resumed = await agent.get(`/authorize/resume?interaction=${encodeURIComponent(interaction)}`);
      assert.equal(resumed.statusCode, 303);
      assert.equal(resumed.headers.location, consentPath);

      // A genuine submission still completes.
      const allowed = await agent.post('/consent', { interaction, action: 'allow', _csrf: token });
      assert.equal(allowed.statusCode, 303);
      const final = await agent.get(localPath(String(allowed.headers.location)));
      assert.match(String(final.headers.location), /^https:\/\/rp\.example\/cb\?code=/);
    });

    it('POST /logout without the CSRF token is 403 and keeps the session', async () => {
      const user = await server.addUser();
      const agent = new Agent(server.app);
      await runAuthorizationFlow(server, c1, user, { agent });
      const refused = await agent.post('/logout', {});
      assert.equal(refused.statusCode, 403);
      const home = await agent.get('/');
      assert.match(home.body, /You are signed in/);
    });

    it('a foreign browser cannot continue an interaction it did not start', async () => {
      const user = await server.addUser();
      const victim = new Agent(server.app);
      const loginPath = await startAuthorization(victim, request(c1));
      const attacker = new Agent(server.app);
      const page = await attacker.get(loginPath);
      assert.equal(hiddenField(page.body, 'interaction'), undefined, 'interaction bound to its browser');
      const login = await attacker.post('/login', {
        _csrf: csrfFrom(page.body),
        email: user.email,
        password: user.password,
        interaction: interactionOf(loginPath),
      });
      assert.equal(login.statusCode, 303);
      assert.equal(login.headers.location, '/');
    });
  });

  describe('G-07 session identifiers', () => {
    it('a session id planted before sign-in is replaced and never becomes valid', async () => {
      const user = await server.addUser();
      const agent = new Agent(server.app);
      const planted = 'planted-session-id-planted-session-id-000000';
      agent.cookies.set('gatehouse_session', planted);
      const page = await agent.get('/login');
      const response = await agent.post('/login', {
        _csrf: csrfFrom(page.body),
        email: user.email,
        password: user.password,
      });
      assert.equal(response.statusCode, 303);
      const cookie = cookieNamed(response, 'gatehouse_session');
      assert.ok(cookie, 'a session cookie is set at sign-in');
      assert.notEqual(cookie.value, planted);
      assert.match(cookie.value, /^[A-Za-z0-9_-]{43,}$/);

      const attacker = new Agent(server.app);
      attacker.cookies.set('gatehouse_session', planted);
      assert.match((await attacker.get('/')).body, /You are not signed in/);
    });

    it('signing in again issues a new id and retires the old one', async () => {
      const user = await server.addUser();
      const agent = new Agent(server.app);
      await runAuthorizationFlow(server, c1, user, { agent });
      const first = agent.cookies.get('gatehouse_session');
      assert.ok(first);
      await runAuthorizationFlow(server, c1, user, {
        agent,
        extra: { prompt: 'login' },
        expectNoConsent: true,
      });
      const second = agent.cookies.get('gatehouse_session');
      assert.ok(second);
      assert.notEqual(second, first);

      const old = new Agent(server.app);
      old.cookies.set('gatehouse_session', first);
      assert.match((await old.get('/')).body, /You are not signed in/);
      assert.match((await agent.get('/')).body, /You are signed in/);
    });

    it('logout ends the session on the server, not only in the browser', async () => {
      const user = await server.addUser();
      const agent = new Agent(server.app);
      await runAuthorizationFlow(server, c1, user, { agent });
      const value = agent.cookies.get('gatehouse_session');
      assert.ok(value);

      const home = await agent.get('/');
      assert.match(home.body, /Sign out/);
      const logout = await agent.post('/logout', { _csrf: csrfFrom(home.body) });
      assert.equal(logout.statusCode, 303);
      assert.equal(logout.headers.location, '/');
      const cleared = cookieNamed(logout, 'gatehouse_session');
      assert.ok(cleared, 'the session cookie is cleared');
      assert.ok(
        cleared.value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(cleared.line),
        cleared.line,
      );

      // Replaying the old cookie value does not bring the session back.
      const replay = new Agent(server.app);
      replay.cookies.set('gatehouse_session', value);
      assert.match((await replay.get('/')).body, /You are not signed in/);
      const silent = await replay.get(request(c1, { prompt: 'none' }));
      assert.equal(silent.statusCode, 303);
      assert.equal(new URL(String(silent.headers.location)).searchParams.get('error'), 'login_required');
    });
  });

  describe('G-08 cookie attributes (http://localhost issuer)', () => {
    it('session, browser-binding and CSRF cookies are HttpOnly, SameSite=Lax, Path=/', async () => {
      const user = await server.addUser();
      const agent = new Agent(server.app);
      const start = await agent.get(request(c1));
      const loginPath = localPath(String(start.headers.location));
      const loginPage = await agent.get(loginPath);
      const login = await agent.post('/login', {
        _csrf: csrfFrom(loginPage.body),
        email: user.email,
        password: user.password,
        interaction: interactionOf(loginPath),
      });
      const cookies = [
        cookieNamed(start, 'gatehouse_browser'),
        cookieNamed(loginPage, 'gatehouse_csrf'),
        cookieNamed(login, 'gatehouse_session'),
      ];
      for (const cookie of cookies) {
        assert.ok(cookie, 'cookie was set');
        assert.ok(cookie.attributes.has('httponly'), `${cookie.line}: HttpOnly`);
        assert.equal(cookie.attributes.get('samesite')?.toLowerCase(), 'lax', `${cookie.line}: SameSite`);
        assert.equal(cookie.attributes.get('path'), '/', `${cookie.line}: Path`);
        assert.equal(cookie.attributes.has('domain'), false, `${cookie.line}: Domain`);
      }
    });
  });
});

describe('pages on an https issuer', () => {
  let server: TestServer;
  let client: Client;

  before(async () => {
    server = await buildTestServer({ GATEHOUSE_ISSUER: 'https://as.example' });
    ({ client } = await server.addClient());
  });
  after(() => server.close());

  it('G-08 cookies are Secure, HttpOnly, SameSite=Lax and carry the __Host- prefix', async () => {
    const user = await server.addUser();
    const agent = new Agent(server.app);
    const responses: LightMyRequestResponse[] = [];
    let response = await agent.get(
      authorizeUrl({
        response_type: 'code',
        client_id: client.id,
        redirect_uri: 'https://rp.example/cb',
        scope: 'openid',
        state: 'S',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
      }),
    );
    for (let step = 0; step < 8 && String(response.headers.location ?? '').startsWith('/'); step++) {
      responses.push(response);
      const path = String(response.headers.location);
      const page = await agent.get(path);
      responses.push(page);
      if (path.startsWith('/login')) {
        response = await agent.post('/login', {
          _csrf: csrfFrom(page.body),
          email: user.email,
          password: user.password,
          interaction: interactionOf(path),
        });
      } else if (path.startsWith('/consent')) {
        response = await agent.post('/consent', {
          _csrf: csrfFrom(page.body),
          interaction: interactionOf(path),
          action: 'allow',
        });
      } else {
        response = page;
      }
    }
    responses.push(response);
    assert.match(
      String(response.headers.location),
      /^https:\/\/rp\.example\/cb\?code=.*&iss=https%3A%2F%2Fas\.example$/,
    );

    const cookies = responses.flatMap(setCookies);
    const names = new Set(cookies.map((cookie) => cookie.name));
    assert.deepEqual(
      [...names].sort(),
      ['__Host-gatehouse_browser', '__Host-gatehouse_csrf', '__Host-gatehouse_session'],
      'every cookie carries the __Host- prefix',
    );
    for (const cookie of cookies) {
      assert.ok(cookie.attributes.has('secure'), `${cookie.line}: Secure`);
      assert.ok(cookie.attributes.has('httponly'), `${cookie.line}: HttpOnly`);
      assert.equal(cookie.attributes.get('samesite')?.toLowerCase(), 'lax', `${cookie.line}: SameSite`);
      assert.equal(cookie.attributes.get('path'), '/', `${cookie.line}: Path (required by __Host-)`);
      assert.equal(cookie.attributes.has('domain'), false, `${cookie.line}: no Domain (required by __Host-)`);
    }
  });

  it('G-08 the logout cookie clearing keeps the __Host- attributes', async () => {
    const user = await server.addUser();
    const agent = new Agent(server.app);
    const page = await agent.get('/login');
    await agent.post('/login', { _csrf: csrfFrom(page.body), email: user.email, password: user.password });
    const home = await agent.get('/');
    assert.match(home.body, /You are signed in/);
    const logout = await agent.post('/logout', { _csrf: csrfFrom(home.body) });
    assert.equal(logout.statusCode, 303);
    const cleared = cookieNamed(logout, '__Host-gatehouse_session');
    assert.ok(cleared);
    assert.ok(cleared.attributes.has('secure') && cleared.attributes.get('path') === '/', cleared.line);
  });

  it('G-01 / G-02 headers, plus HSTS, on the https pages', async () => {
    const agent = new Agent(server.app);
    const login = await agent.get('/login');
    assertPageHeaders(login, 'login page (https)');
    assert.match(String(login.headers['strict-transport-security']), /max-age=\d+/);
    assertPageHeaders(await agent.get('/authorize?client_id=nope'), 'error page (https)');
  });

  it('G-06 the https origin is the only accepted Origin for page forms', async () => {
    const user = await server.addUser();
    const agent = new Agent(server.app);
    const token = csrfFrom((await agent.get('/login')).body);
    const form = { _csrf: token, email: user.email, password: user.password };
    assert.equal((await agent.post('/login', form, { origin: 'http://as.example' })).statusCode, 403);
    assert.equal((await agent.post('/login', form, { origin: 'https://as.example:8443' })).statusCode, 403);
    assert.equal((await agent.post('/login', form, { origin: 'https://as.example' })).statusCode, 303);
  });
});
