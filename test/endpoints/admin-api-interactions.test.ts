// The company's own sign-in and consent pages (GATEHOUSE_LOGIN_URL / GATEHOUSE_CONSENT_URL) driven over the
// admin API, on SQLite and PostgreSQL: the whole loop down to refresh, userinfo, revocation and connected apps;
// single use under concurrency; the browser binding (docs/security.md G-06); sessions (G-07, G-08); skip,
// prompt and max_age; rejection and expiry ending at the client through authorizationError; the admin
// key (401, 403, revoked); and input that must be refused without a write.
import assert from 'node:assert/strict';
import { after, before, describe, it, test } from 'node:test';
import { decodeJwt } from 'jose';
import { createAdminKey, revokeAdminKey } from '../../src/accounts/admin-keys.ts';
import { mintOpaqueToken, TOKEN_PREFIX } from '../../src/oauth/opaque-token.ts';
import type { Client } from '../../src/storage/storage.ts';
import { sha256 } from '../../src/util/hash.ts';
import { Agent, csrfFrom, localPath, signedInAgent } from '../helpers/agent.ts';
import { authorizeUrl, basicAuth, exchangeCode, pkcePair } from '../helpers/flow.ts';
import { freshDatabase, postgresOrSkipReason, type RunningPostgres } from '../helpers/postgres.ts';
import { buildTestServer, ISSUER, type TestServer } from '../helpers/server.ts';

const LOGIN_URL = 'https://www.acme.example/oauth/login';
const CONSENT_URL = 'https://www.acme.example/oauth/consent';
const REDIRECT_URI = 'https://rp.example/cb';

const { postgres, skip: skipReason } = await postgresOrSkipReason();
const databases: { drop(): Promise<void> }[] = [];
after(async () => {
  await Promise.all(databases.map((database) => database.drop()));
  await postgres?.stop();
});

async function freshUrl(cluster: RunningPostgres): Promise<string> {
  const database = await freshDatabase(cluster.url);
  databases.push(database);
  return database.url;
}

interface Started {
  agent: Agent;
  challenge: string;
  verifier: string;
  location: URL;
}

function suite(name: string, databaseUrl: () => Promise<string | undefined>) {
  describe(`the company's sign-in and consent pages on ${name}`, () => {
    let server: TestServer;
    let key: string;
    let client: Client;
    let secret: string;

    before(async () => {
      server = await buildTestServer(
        { GATEHOUSE_LOGIN_URL: LOGIN_URL, GATEHOUSE_CONSENT_URL: CONSENT_URL },
        { databaseUrl: await databaseUrl() },
      );
      key = (await createAdminKey(server.deps.storage, { name: 'company app', scopes: ['interactions'] }, 0))
        .key;
      const added = await server.addClient({
        name: 'Partner App',
        redirectUris: [REDIRECT_URI],
        scope: 'openid profile email offline_access',
        grantTypes: ['authorization_code', 'refresh_token'],
      });
      client = added.client;
      assert.ok(added.secret);
      secret = added.secret;
    });
    after(() => server?.close());

    function api(method: 'GET' | 'POST', path: string, body?: unknown, bearer: string | null = key) {
      return server.app.inject({
        method,
        url: path,
        headers: {
          ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        payload: body === undefined ? undefined : JSON.stringify(body),
      });
    }
    const loginApi = (action: '' | '/accept' | '/reject', challenge: string, body?: unknown) =>
      api(action === '' ? 'GET' : 'POST', `/api/v1/interactions/login${action}?challenge=${challenge}`, body);
    const consentApi = (action: '' | '/accept' | '/reject', challenge: string, body?: unknown) =>
      api(
        action === '' ? 'GET' : 'POST',
        `/api/v1/interactions/consent${action}?challenge=${challenge}`,
        body,
      );

    /** GET /authorize in a browser; expects the redirect to the company's login page and returns its challenge. */
    async function start(
      extra: Record<string, string> = {},
      agent = new Agent(server.app),
    ): Promise<Started> {
      const { verifier, challenge: pkce } = pkcePair();
      const response = await agent.get(
        authorizeUrl({
          response_type: 'code',
          client_id: client.id,
          redirect_uri: REDIRECT_URI,
          scope: 'openid profile email offline_access',
          state: 'st-42',
          nonce: 'n-42',
          code_challenge: pkce,
          code_challenge_method: 'S256',
          ...extra,
        }),
      );
      assert.equal(response.statusCode, 303, response.body.slice(0, 300));
      const location = new URL(String(response.headers.location));
      assert.equal(`${location.origin}${location.pathname}`, LOGIN_URL);
      const challenge = location.searchParams.get('login_challenge');
      assert.ok(challenge && /^ghi_[\w-]{49}$/.test(challenge), location.href);
      return { agent, challenge, verifier, location };
    }

    /** Follows a redirect_to in the browser and returns where Gatehouse sends it next. */
    async function follow(agent: Agent, redirectTo: string): Promise<URL> {
      assert.ok(redirectTo.startsWith(`${ISSUER}/authorize/resume?interaction=`), redirectTo);
      const response = await agent.get(localPath(redirectTo));
      assert.equal(response.statusCode, 303, response.body.slice(0, 300));
      return new URL(String(response.headers.location), ISSUER);
    }

    const claims = {
      name: 'Grace Hopper',
      given_name: 'Grace',
      email: 'grace@acme.example',
      email_verified: true,
      preferred_username: 'grace',
    };

    /** The whole loop through both company pages; returns the code's redirect. */
    async function signInAndConsent(subject: string, started: Started, accept: Record<string, unknown> = {}) {
      const login = await loginApi('/accept', started.challenge, { subject, claims, ...accept });
      assert.equal(login.statusCode, 200, login.body);
      const toConsent = await follow(started.agent, login.json().redirect_to);
      assert.equal(`${toConsent.origin}${toConsent.pathname}`, CONSENT_URL);
      const consentChallenge = toConsent.searchParams.get('consent_challenge');
      assert.ok(consentChallenge);
      const consent = await consentApi('/accept', consentChallenge, { remember: true });
      assert.equal(consent.statusCode, 200, consent.body);
      return follow(started.agent, consent.json().redirect_to);
    }

    it('the whole loop: the ID token carries the company’s subject, claims, acr and amr; userinfo, refresh and revocation work', async () => {
      const started = await start();
      const subject = `acme|user-${name}-1`;
      const login = await loginApi('', started.challenge);
      assert.equal(login.statusCode, 200, login.body);
      assert.equal(login.headers['cache-control'], 'no-store');
      const request = login.json();
      assert.equal(request.skip, false);
      assert.equal(request.subject, null);
      assert.equal(request.client.client_id, client.id);
      assert.equal(request.client.client_name, 'Partner App');
      assert.deepEqual(request.requested_scope, ['openid', 'profile', 'email', 'offline_access']);

      const accepted = await loginApi('/accept', started.challenge, {
        subject,
        claims,
        acr: 'urn:acme:loa:2',
        amr: ['pwd', 'otp'],
      });
      assert.equal(accepted.statusCode, 200, accepted.body);
      const toConsent = await follow(started.agent, accepted.json().redirect_to);
      const consentChallenge = toConsent.searchParams.get('consent_challenge')!;
      const consent = (await consentApi('', consentChallenge)).json();
      assert.equal(consent.subject, subject);
      assert.equal(consent.scope_descriptions.email, 'See your email address');
      assert.deepEqual(consent.login.amr, ['pwd', 'otp']);
      const allowed = await consentApi('/accept', consentChallenge, {});
      assert.equal(allowed.statusCode, 200, allowed.body);
      const callback = await follow(started.agent, allowed.json().redirect_to);
      assert.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
      assert.equal(callback.searchParams.get('state'), 'st-42');
      assert.equal(callback.searchParams.get('iss'), ISSUER);
      const code = callback.searchParams.get('code');
      assert.ok(code);

      const tokens = await exchangeCode(server, client, secret, {
        code,
        verifier: started.verifier,
        redirectUri: REDIRECT_URI,
      });
      assert.equal(tokens.statusCode, 200, tokens.body);
      const body = tokens.json();
      const idToken = decodeJwt(body.id_token);
      assert.equal(idToken.sub, subject);
      assert.equal(idToken.name, 'Grace Hopper');
      assert.equal(idToken.email, 'grace@acme.example');
      assert.equal(idToken.email_verified, true);
      assert.equal(idToken.preferred_username, 'grace');
      assert.equal(idToken.acr, 'urn:acme:loa:2');
      assert.deepEqual(idToken.amr, ['pwd', 'otp']);
      assert.equal(idToken.nonce, 'n-42');
      assert.equal(decodeJwt(body.access_token).sub, subject);

      const userinfo = await server.app.inject({
        method: 'GET',
        url: '/userinfo',
        headers: { authorization: `Bearer ${body.access_token}` },
      });
      assert.equal(userinfo.statusCode, 200, userinfo.body);
      assert.deepEqual(userinfo.json(), { sub: subject, ...claims });

      const refreshed = await server.app.inject({
        method: 'POST',
        url: '/token',
        headers: {
          authorization: basicAuth(client.id, secret),
          'content-type': 'application/x-www-form-urlencoded',
        },
        payload: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: body.refresh_token,
        }).toString(),
      });
      assert.equal(refreshed.statusCode, 200, refreshed.body);
      assert.equal(decodeJwt(refreshed.json().access_token).sub, subject);

      const revoked = await server.app.inject({
        method: 'POST',
        url: '/revoke',
        headers: {
          authorization: basicAuth(client.id, secret),
          'content-type': 'application/x-www-form-urlencoded',
        },
        payload: new URLSearchParams({ token: refreshed.json().refresh_token }).toString(),
      });
      assert.equal(revoked.statusCode, 200);
      const after = await server.app.inject({
        method: 'GET',
        url: '/userinfo',
        headers: { authorization: `Bearer ${refreshed.json().access_token}` },
      });
      assert.equal(after.statusCode, 401, 'revoking the refresh token took its family');

      // The subject is a users row keyed by the company's subject, with no email and its claims.
      const row = await server.deps.storage.users.findById(subject);
      assert.equal(row?.email, null);
      assert.deepEqual(row?.claims, claims);
      const events = (await server.deps.storage.securityEvents.list(50)).map((event) => event.type);
      assert.ok(events.includes('interaction_login_accepted'), events.join());
      assert.ok(events.includes('interaction_consent_accepted'), events.join());
    });

    it('the login request carries prompt, max_age, login_hint, ui_locales, acr_values and the resource', async () => {
      const { challenge } = await start({
        prompt: 'login',
        max_age: '300',
        login_hint: 'grace@acme.example',
        ui_locales: 'fr-CA en',
        acr_values: 'urn:acme:loa:2',
      });
      const request = (await loginApi('', challenge)).json();
      assert.deepEqual(request.prompt, ['login']);
      assert.equal(request.max_age, 300);
      assert.equal(request.login_hint, 'grace@acme.example');
      assert.deepEqual(request.ui_locales, ['fr-CA', 'en']);
      assert.deepEqual(request.acr_values, ['urn:acme:loa:2']);
      assert.equal(request.requested_resource, null);
      assert.ok(Date.parse(request.expires_at) > server.clock.now());
    });

    it('remember: a session in that browser (new id, HttpOnly, SameSite=Lax), then skip with the subject; prompt=login and max_age=0 turn skip off (G-07, G-08)', async () => {
      const subject = `acme|remember-${name}`;
      const first = await start();
      const before = first.agent.cookies.get('gatehouse_session');
      const login = await loginApi('/accept', first.challenge, {
        subject,
        claims,
        remember: true,
        remember_for: 600,
      });
      const resumed = await first.agent.get(localPath(login.json().redirect_to));
      const setCookie = [resumed.headers['set-cookie']].flat().join('\n');
      assert.match(setCookie, /^gatehouse_session=[\w-]{43}; Max-Age=600; Path=\/; HttpOnly; SameSite=Lax$/m);
      const consentChallenge = new URL(String(resumed.headers.location)).searchParams.get(
        'consent_challenge',
      )!;
      const consented = await consentApi('/accept', consentChallenge, { remember: true });
      await follow(first.agent, consented.json().redirect_to);
      const sessionCookie = first.agent.cookies.get('gatehouse_session');
      assert.ok(sessionCookie && sessionCookie !== before, 'a fresh session id after the company signed in');
      const session = await server.deps.storage.sessions.find(sha256(sessionCookie), server.clock.now());
      assert.equal(session?.userId, subject);
      assert.equal(session!.expiresAt - server.clock.now(), 600_000, 'remember_for bounds the session');

      server.clock.advance(5_000);
      const second = await start({}, first.agent);
      const request = (await loginApi('', second.challenge)).json();
      assert.equal(request.skip, true);
      assert.equal(request.subject, subject);
      const other = await loginApi('/accept', second.challenge, { subject: 'acme|someone-else' });
      assert.equal(other.statusCode, 400, 'skip binds the subject');
      const same = await loginApi('/accept', second.challenge, { subject, claims });
      assert.equal(same.statusCode, 200, same.body);
      // Consent was remembered (confidential client): straight back to the client with a code.
      const callback = await follow(second.agent, same.json().redirect_to);
      assert.ok(callback.searchParams.get('code'), callback.href);
      const code = callback.searchParams.get('code')!;
      const tokens = (
        await exchangeCode(server, client, secret, {
          code,
          verifier: second.verifier,
          redirectUri: REDIRECT_URI,
        })
      ).json();
      assert.equal(
        decodeJwt(tokens.id_token).auth_time,
        Math.floor(session!.authTime / 1000),
        'skip keeps auth_time',
      );

      for (const extra of [{ prompt: 'login' }, { max_age: '0' }] as Record<string, string>[]) {
        const again = await start(extra, first.agent);
        assert.equal((await loginApi('', again.challenge)).json().skip, false, JSON.stringify(extra));
      }
    });

    it('prompt=none: without a session, login_required at the client (no page); with a remembered one, skip', async () => {
      const agent = new Agent(server.app);
      const { challenge: pkce } = pkcePair();
      const response = await agent.get(
        authorizeUrl({
          response_type: 'code',
          client_id: client.id,
          redirect_uri: REDIRECT_URI,
          scope: 'openid',
          state: 'none-1',
          prompt: 'none',
          code_challenge: pkce,
          code_challenge_method: 'S256',
        }),
      );
      assert.equal(response.statusCode, 303);
      const location = new URL(String(response.headers.location));
      assert.equal(`${location.origin}${location.pathname}`, REDIRECT_URI);
      assert.equal(location.searchParams.get('error'), 'login_required');
      assert.equal(location.searchParams.get('state'), 'none-1');
      assert.equal(location.searchParams.get('iss'), ISSUER);

      const remembered = await start();
      await signInAndConsent(`acme|none-${name}`, remembered, { remember: true });
      const silent = await start({ prompt: 'none' }, remembered.agent);
      const request = (await loginApi('', silent.challenge)).json();
      assert.equal(request.skip, true);
      assert.deepEqual(request.prompt, ['none']);
    });

    it('a rejected login or consent ends at the client with the error, state and iss; nothing is issued', async () => {
      const login = await start();
      const rejected = await loginApi('/reject', login.challenge, {
        error: 'login_required',
        error_description: 'Nobody signed in',
      });
      assert.equal(rejected.statusCode, 200, rejected.body);
      const callback = await follow(login.agent, rejected.json().redirect_to);
      assert.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
      assert.equal(callback.searchParams.get('error'), 'login_required');
      assert.equal(callback.searchParams.get('error_description'), 'Nobody signed in');
      assert.equal(callback.searchParams.get('state'), 'st-42');
      assert.equal(callback.searchParams.get('iss'), ISSUER);
      assert.equal(callback.searchParams.get('code'), null);

      const consent = await start();
      const accepted = await loginApi('/accept', consent.challenge, { subject: `acme|deny-${name}` });
      const toConsent = await follow(consent.agent, accepted.json().redirect_to);
      const denied = await consentApi('/reject', toConsent.searchParams.get('consent_challenge')!, {});
      const back = await follow(consent.agent, denied.json().redirect_to);
      assert.equal(back.searchParams.get('error'), 'access_denied');
      assert.equal(back.searchParams.get('code'), null);

      const badError = await loginApi('/reject', (await start()).challenge, { error: 'server_error' });
      assert.equal(badError.statusCode, 400);
      assert.equal(badError.json().error, 'invalid_request');
    });

    it('a challenge is single-use: 12 concurrent accepts → exactly one 200, the rest 404; a second answer after it → 404', async () => {
      const { challenge } = await start();
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          loginApi('/accept', challenge, { subject: `acme|race-${name}-${i}` }),
        ),
      );
      const statuses = answers.map((answer) => answer.statusCode).sort();
      assert.deepEqual(statuses, [200, ...Array(11).fill(404)], JSON.stringify(statuses));
      assert.equal((await loginApi('/reject', challenge, {})).statusCode, 404);
      assert.equal((await loginApi('', challenge)).statusCode, 404);
      const events = await server.deps.storage.securityEvents.list(200);
      const winners = answers.filter((answer) => answer.statusCode === 200).length;
      assert.equal(winners, 1);
      assert.ok(events.filter((event) => event.type === 'interaction_login_accepted').length >= 1);
    });

    it('the challenge continues only in the browser that started it (G-06): redirect_to in another browser gets no code', async () => {
      const started = await start();
      const accepted = await loginApi('/accept', started.challenge, { subject: `acme|bound-${name}` });
      const thief = new Agent(server.app);
      const stolen = await thief.get(localPath(accepted.json().redirect_to));
      assert.equal(stolen.statusCode, 400);
      assert.equal(stolen.headers.location, undefined);
      assert.match(stolen.body, /expired or was already completed/);
      // The real browser still continues.
      const next = await follow(started.agent, accepted.json().redirect_to);
      assert.equal(`${next.origin}${next.pathname}`, CONSENT_URL);
    });

    it('expiry: an answer after GATEHOUSE_INTERACTION_TTL is 410 with redirect_to; the browser then ends at the client with access_denied', async () => {
      const started = await start();
      server.clock.advance((server.config.interactionTtl + 1) * 1000);
      try {
        const late = await loginApi('/accept', started.challenge, { subject: `acme|late-${name}` });
        assert.equal(late.statusCode, 410, late.body);
        assert.equal(late.json().error, 'expired');
        assert.equal((await loginApi('', started.challenge)).statusCode, 410);
        const callback = await follow(started.agent, late.json().redirect_to);
        assert.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
        assert.equal(callback.searchParams.get('error'), 'access_denied');
        assert.equal(callback.searchParams.get('state'), 'st-42');
        assert.equal(callback.searchParams.get('iss'), ISSUER);
        // Once: the flow is over.
        const again = await started.agent.get(localPath(late.json().redirect_to));
        assert.equal(again.statusCode, 400);
        assert.equal(await server.deps.storage.users.findById(`acme|late-${name}`), undefined);
      } finally {
        server.clock.advance(0);
      }
    });

    it('the admin key: none, malformed, unknown or revoked → 401 with WWW-Authenticate; without the interactions scope → 403', async () => {
      const { challenge } = await start();
      const none = await api('GET', `/api/v1/interactions/login?challenge=${challenge}`, undefined, null);
      assert.equal(none.statusCode, 401);
      assert.match(String(none.headers['www-authenticate']), /^Bearer realm="[^"]+", error="invalid_token"/);
      assert.equal(none.json().error, 'invalid_token');
      assert.equal(
        (await api('GET', `/api/v1/interactions/login?challenge=${challenge}`, undefined, 'ghm_nope'))
          .statusCode,
        401,
      );
      const other = await createAdminKey(
        server.deps.storage,
        { name: 'to revoke', scopes: ['interactions'] },
        0,
      );
      assert.equal(
        (await api('GET', `/api/v1/interactions/login?challenge=${challenge}`, undefined, other.key))
          .statusCode,
        200,
      );
      assert.ok(await revokeAdminKey(server.deps.storage, other.record.id, server.clock.now()));
      assert.equal(
        (await api('GET', `/api/v1/interactions/login?challenge=${challenge}`, undefined, other.key))
          .statusCode,
        401,
      );
      // A key with another (future) scope only.
      const narrow = mintOpaqueToken(TOKEN_PREFIX.adminKey);
      await server.deps.storage.adminKeys.create({
        id: `narrow-${name}`,
        keyHash: sha256(narrow),
        name: 'narrow',
        scope: 'clients:read',
        createdAt: 0,
        expiresAt: null,
        revokedAt: null,
      });
      const forbidden = await api(
        'POST',
        `/api/v1/interactions/login/accept?challenge=${challenge}`,
        { subject: 'x' },
        narrow,
      );
      assert.equal(forbidden.statusCode, 403);
      assert.equal(forbidden.json().error, 'insufficient_scope');
      assert.equal((await loginApi('', challenge)).statusCode, 200, 'refused calls used nothing up');
      const events = (await server.deps.storage.securityEvents.list(200)).map((event) => event.type);
      assert.ok(events.includes('admin_key_created') && events.includes('admin_key_revoked'));
    });

    it('bad input is 400 with nothing written: subject, claims, amr, remember_for, JSON, control characters', async () => {
      const { challenge } = await start();
      const bad = [
        {},
        { subject: '' },
        { subject: ' padded' },
        { subject: 'x'.repeat(256) },
        { subject: 'tab\there' },
        { subject: 'ünïcode' },
        { subject: 42 },
        { subject: 'ok', claims: { sub: 'someone-else' } },
        { subject: 'ok', claims: { roles: ['admin'] } },
        { subject: 'ok', claims: { email_verified: 'yes' } },
        { subject: 'ok', claims: { name: 'x'.repeat(9000) } },
        { subject: 'ok', amr: 'pwd' },
        { subject: 'ok', remember: 'yes' },
        { subject: 'ok', remember_for: -1 },
        { subject: 'ok\u0000' },
      ];
      for (const body of bad) {
        const answer = await loginApi('/accept', challenge, body);
        assert.equal(answer.statusCode, 400, `${JSON.stringify(body)}: ${answer.body}`);
        assert.equal(answer.json().error, 'invalid_request');
      }
      const notJson = await server.app.inject({
        method: 'POST',
        url: `/api/v1/interactions/login/accept?challenge=${challenge}`,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: '{"subject":',
      });
      assert.equal(notJson.statusCode, 400);
      assert.equal((await loginApi('', challenge)).statusCode, 200, 'the challenge is still unanswered');
      assert.equal(await server.deps.storage.users.findById('ok'), undefined);
    });

    it('a subject equal to a Gatehouse user’s id is refused; a disabled external subject ends with access_denied', async () => {
      const local = await server.addUser();
      const { challenge } = await start();
      const clash = await loginApi('/accept', challenge, { subject: local.id });
      assert.equal(clash.statusCode, 400);
      assert.equal((await server.deps.storage.users.findById(local.id))?.claims, null);

      const subject = `acme|disabled-${name}`;
      await signInAndConsent(subject, await start());
      const row = (await server.deps.storage.users.findById(subject))!;
      await server.deps.storage.users.update({ ...row, disabledAt: server.clock.now() });
      const again = await start();
      const answer = await loginApi('/accept', again.challenge, { subject });
      assert.equal(answer.statusCode, 200);
      const callback = await follow(again.agent, answer.json().redirect_to);
      assert.equal(callback.searchParams.get('error'), 'access_denied');
    });

    it('the admin console lists an external subject by its subject (escaped), without “Reset password”, and can disable it', async () => {
      const subject = `acme|<b>console-${name}</b>`;
      await signInAndConsent(subject, await start());
      const admin = await server.addUser({ isAdmin: true });
      const agent = await signedInAgent(server.app, admin);
      const page = await agent.get('/admin');
      assert.equal(page.statusCode, 200);
      assert.ok(page.body.includes(`acme|&lt;b&gt;console-${name}&lt;/b&gt;`), 'shown escaped');
      const path = `/admin/users/${encodeURIComponent(subject)}`;
      assert.ok(page.body.includes(`${path}/disable`));
      assert.equal(page.body.includes(`${path}/reset-password`), false);
      const reset = await agent.post(`${path}/reset-password`, {
        _csrf: csrfFrom(page.body),
        confirm: 'yes',
      });
      assert.match(reset.body, /has no password here/);
      const disabled = await agent.post(`${path}/disable`, { _csrf: csrfFrom(page.body), confirm: 'yes' });
      assert.equal(disabled.statusCode, 303);
      assert.notEqual((await server.deps.storage.users.findById(subject))?.disabledAt, null);
    });

    it('connected apps and Remove access work for the remembered subject; its tokens stop at once', async () => {
      const subject = `acme|apps-${name}`;
      const started = await start();
      const callback = await signInAndConsent(subject, started, { remember: true });
      const tokens = (
        await exchangeCode(server, client, secret, {
          code: callback.searchParams.get('code')!,
          verifier: started.verifier,
          redirectUri: REDIRECT_URI,
        })
      ).json();
      const page = await started.agent.get('/account/apps');
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /Partner App/);
      const remove = await started.agent.post(`/account/apps/${encodeURIComponent(client.id)}/remove`, {
        _csrf: csrfFrom(page.body),
        confirm: 'yes',
      });
      assert.equal(remove.statusCode, 303, remove.body.slice(0, 300));
      const userinfo = await server.app.inject({
        method: 'GET',
        url: '/userinfo',
        headers: { authorization: `Bearer ${tokens.access_token}` },
      });
      assert.equal(userinfo.statusCode, 401);
      assert.equal(await server.deps.storage.consents.find(subject, client.id), undefined);
    });
  });
}

suite('SQLite', async () => undefined);
if (postgres) suite('PostgreSQL', () => freshUrl(postgres));
else test('the company’s pages on PostgreSQL', (t) => t.skip(skipReason));

describe('off by default: Gatehouse’s own pages', () => {
  it('without GATEHOUSE_LOGIN_URL, /authorize goes to /login and no challenge is handed out', async () => {
    const server = await buildTestServer();
    try {
      const { client } = await server.addClient();
      const { challenge } = pkcePair();
      const response = await new Agent(server.app).get(
        authorizeUrl({
          response_type: 'code',
          client_id: client.id,
          redirect_uri: REDIRECT_URI,
          scope: 'openid',
          code_challenge: challenge,
          code_challenge_method: 'S256',
        }),
      );
      assert.equal(response.statusCode, 303);
      assert.match(String(response.headers.location), /^\/login\?interaction=/);
    } finally {
      await server.close();
    }
  });
});

describe('GATEHOUSE_CONSENT_URL alone: Gatehouse’s sign-in, the company’s consent page', () => {
  it('the consent request names the signed-in Gatehouse user; remember stores the consent; the code speaks for that user', async () => {
    const server = await buildTestServer({ GATEHOUSE_CONSENT_URL: CONSENT_URL });
    try {
      const key = (
        await createAdminKey(server.deps.storage, { name: 'consent', scopes: ['interactions'] }, 0)
      ).key;
      const { client, secret } = await server.addClient({
        redirectUris: [REDIRECT_URI],
        scope: 'openid email',
      });
      const user = await server.addUser();
      const agent = await signedInAgent(server.app, user);
      const { verifier, challenge: pkce } = pkcePair();
      const authorize = await agent.get(
        authorizeUrl({
          response_type: 'code',
          client_id: client.id,
          redirect_uri: REDIRECT_URI,
          scope: 'openid email',
          code_challenge: pkce,
          code_challenge_method: 'S256',
        }),
      );
      const location = new URL(String(authorize.headers.location));
      assert.equal(`${location.origin}${location.pathname}`, CONSENT_URL);
      const challenge = location.searchParams.get('consent_challenge')!;
      const call = (path: string, body?: unknown) =>
        server.app.inject({
          method: body === undefined ? 'GET' : 'POST',
          url: `/api/v1/interactions/consent${path}?challenge=${challenge}`,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          payload: body === undefined ? undefined : JSON.stringify(body),
        });
      assert.equal((await call('')).json().subject, user.id);
      const accepted = await call('/accept', { remember: true, grant_scope: ['openid'] });
      assert.equal(accepted.statusCode, 200, accepted.body);
      const back = await agent.get(localPath(accepted.json().redirect_to));
      const callback = new URL(String(back.headers.location));
      const code = callback.searchParams.get('code');
      assert.ok(code, callback.href);
      const tokens = await exchangeCode(server, client, secret, {
        code,
        verifier,
        redirectUri: REDIRECT_URI,
      });
      assert.equal(tokens.json().scope, 'openid', 'grant_scope narrowed the grant');
      assert.equal(decodeJwt(tokens.json().id_token).sub, user.id);
      assert.equal((await server.deps.storage.consents.find(user.id, client.id))?.scope, 'openid');
    } finally {
      await server.close();
    }
  });
});
