// OpenID Connect Back-Channel Logout 1.0 over real loopback HTTP, on SQLite and PostgreSQL: relying parties
// (openid-client) sign a person in, register a backchannel_logout_uri on a receiver of their own on 127.0.0.1,
// and the receiver verifies each logout token with jose against Gatehouse's published JWKS, as a real RP would
// (§2.6: signature, iss, aud, iat/exp, typ logout+jwt, the event, no nonce). Also: the sign-out answer never
// waits for a receiver; a failed delivery is a security event without the token; delivery goes through the SSRF
// guard (without the test-only loopback allowance, a 127.0.0.1 receiver is refused); registration checks the URI.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { createAdminKey } from '../../src/accounts/admin-keys.ts';
import { BACKCHANNEL_LOGOUT_EVENT } from '../../src/oauth/backchannel-logout.ts';
import type { SecurityEvent } from '../../src/storage/storage.ts';
import { csrfFrom } from '../helpers/agent.ts';
import { onEachDatabase } from '../helpers/postgres.ts';
import { Browserish, signInAndConsent } from './browserish.ts';
import { freePort, type LoopbackServer, startLoopbackServer } from './loopback.ts';

const REDIRECT_URI = 'https://rp.example/cb';

/** The relying parties' back-channel endpoint: /ok answers 200, /slow after 1.5 s, /reject 400. */
async function startReceiver() {
  const received: { path: string; token: string; contentType: string | undefined }[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      const path = request.url ?? '/';
      const token = new URLSearchParams(body).get('logout_token') ?? '';
      received.push({ path, token, contentType: request.headers['content-type'] });
      const answer = (status: number) => {
        response.writeHead(status, { 'cache-control': 'no-store' });
        response.end();
      };
      if (path === '/reject') answer(400);
      else if (path === '/slow') setTimeout(() => answer(200), 1500);
      else answer(200);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    origin,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + 8000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

await onEachDatabase('back-channel logout', (database, databaseUrl) => {
  describe(`back-channel logout on ${database}`, () => {
    let loopback: LoopbackServer;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    let jwks: ReturnType<typeof createRemoteJWKSet>;

    before(async () => {
      loopback = await startLoopbackServer({}, { databaseUrl: await databaseUrl() });
      // Test-only: the receiver is on 127.0.0.1 over plain http (http/outbound.ts allowPrivateNetwork).
      loopback.server.deps.backchannelLogoutLoopback = true;
      receiver = await startReceiver();
      jwks = createRemoteJWKSet(new URL(`${loopback.issuer}/jwks`));
    });
    after(async () => {
      await receiver?.close();
      await loopback?.close();
    });

    /** A relying party whose back channel is `path` on the receiver (or none). */
    async function relyingParty(path: string | undefined, sessionRequired = true) {
      const registered = await loopback.server.addClient({
        name: `RP ${path ?? 'without back channel'}`,
        redirectUris: [REDIRECT_URI],
        tokenEndpointAuthMethod: 'client_secret_basic',
        issuer: loopback.issuer,
        metadata:
          path === undefined
            ? {}
            : {
                backchannel_logout_uri: `${receiver.origin}${path}`,
                backchannel_logout_session_required: sessionRequired,
              },
      });
      const config = await client.discovery(
        new URL(loopback.issuer),
        registered.client.id,
        undefined,
        client.ClientSecretBasic(registered.secret!),
        { execute: [client.allowInsecureRequests] },
      );
      return { id: registered.client.id, config };
    }

    /** Signs in (or reuses the browser's session) at the RP; returns the ID token's claims. */
    async function signIn(
      browser: Browserish,
      rp: Awaited<ReturnType<typeof relyingParty>>,
      user: Awaited<ReturnType<typeof loopback.server.addUser>>,
    ) {
      const verifier = client.randomPKCECodeVerifier();
      const url = client.buildAuthorizationUrl(rp.config, {
        redirect_uri: REDIRECT_URI,
        scope: 'openid email',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 'st',
      });
      const { callback } = await signInAndConsent(browser, url, REDIRECT_URI, user);
      const tokens = await client.authorizationCodeGrant(rp.config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: 'st',
      });
      return { claims: tokens.claims()!, idToken: tokens.id_token! };
    }

    /** What an RP does with a logout token (§2.6), with jose against the published JWKS. */
    async function verifyLogoutToken(token: string, clientId: string): Promise<JWTPayload> {
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer: loopback.issuer,
        audience: clientId,
        typ: 'logout+jwt',
        maxTokenAge: '2 minutes',
      });
      assert.equal(protectedHeader.typ, 'logout+jwt');
      assert.deepEqual(payload.events, { [BACKCHANNEL_LOGOUT_EVENT]: {} });
      assert.equal(payload.nonce, undefined, '§2.4: a logout token has no nonce');
      assert.equal(typeof payload.jti, 'string');
      assert.ok(typeof payload.exp === 'number' && payload.exp > (payload.iat ?? 0));
      return payload;
    }

    async function eventsOf(type: string, clientId: string): Promise<SecurityEvent[]> {
      return (await loopback.server.deps.storage.securityEvents.list({ type, clientId, limit: 10 })).filter(
        (event) => event.clientId === clientId,
      );
    }

    it('discovery advertises back-channel logout with sid', async () => {
      const metadata = (await (
        await fetch(`${loopback.issuer}/.well-known/openid-configuration`)
      ).json()) as Record<string, unknown>;
      assert.equal(metadata.backchannel_logout_supported, true);
      assert.equal(metadata.backchannel_logout_session_supported, true);
    });

    it('RP-initiated logout: each RP of the session gets a verified logout token; the answer never waits', async () => {
      const user = await loopback.server.addUser({ name: 'Logout Person' });
      const slow = await relyingParty('/slow');
      const quick = await relyingParty('/ok');
      const silent = await relyingParty(undefined);
      const browser = new Browserish(loopback.issuer);
      const first = await signIn(browser, slow, user);
      const second = await signIn(browser, quick, user);
      await signIn(browser, silent, user);
      assert.equal(typeof first.claims.sid, 'string');
      assert.equal(second.claims.sid, first.claims.sid, 'one login session, one sid');
      // Another browser's session of the same person is another sid, and is not signed out here.
      const elsewhere = await signIn(new Browserish(loopback.issuer), quick, user);
      assert.notEqual(elsewhere.claims.sid, first.claims.sid);

      const before = receiver.received.length;
      const started = performance.now();
      const logout = await browser.request(
        `${loopback.issuer}/oauth/logout?${new URLSearchParams({ id_token_hint: first.idToken })}`,
      );
      const elapsed = performance.now() - started;
      assert.equal(logout.status, 200);
      assert.match(await logout.text(), /You are signed out/);
      assert.ok(elapsed < 1000, `the sign-out answered in ${Math.round(elapsed)} ms, before the slow RP did`);

      const delivered = await eventually('both deliveries', () => {
        const batch = receiver.received.slice(before);
        return batch.length >= 2 ? batch : undefined;
      });
      // Give a wrong third delivery time to show up.
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(receiver.received.length - before, 2, 'one token per RP of that session, none elsewhere');
      for (const [path, rp] of [
        ['/slow', slow],
        ['/ok', quick],
      ] as const) {
        const delivery = delivered.find((entry) => entry.path === path);
        assert.ok(delivery, path);
        assert.equal(delivery.contentType, 'application/x-www-form-urlencoded');
        const payload = await verifyLogoutToken(delivery.token, rp.id);
        assert.equal(payload.sub, user.id);
        assert.equal(payload.sid, first.claims.sid);
        // A token for one RP is no good at another (aud).
        await assert.rejects(verifyLogoutToken(delivery.token, rp === slow ? quick.id : slow.id));
      }
      assert.deepEqual(await eventsOf('backchannel_logout_failed', quick.id), []);
    });

    it("Gatehouse's own sign-out button notifies the session's RPs too", async () => {
      const user = await loopback.server.addUser();
      const rp = await relyingParty('/ok');
      const browser = new Browserish(loopback.issuer);
      const { claims } = await signIn(browser, rp, user);
      const before = receiver.received.length;
      const page = await browser.request(`${loopback.issuer}/logout`);
      const html = await page.text();
      const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
      assert.ok(csrf, 'the sign-out page has a CSRF token');
      const signedOut = await browser.request(`${loopback.issuer}/logout`, { _csrf: csrf });
      assert.equal(signedOut.status, 303);
      const delivery = await eventually('the logout token', () => receiver.received[before]);
      const payload = await verifyLogoutToken(delivery.token, rp.id);
      assert.equal(payload.sid, claims.sid);
      assert.equal(payload.sub, user.id);
    });

    it('a refused or failed delivery is a security event without the token, and the logout still succeeds', async () => {
      const user = await loopback.server.addUser();
      const rejecting = await relyingParty('/reject');
      const closedPort = await freePort();
      const unreachable = await loopback.server.addClient({
        name: 'RP nobody listens for',
        redirectUris: [REDIRECT_URI],
        tokenEndpointAuthMethod: 'client_secret_basic',
        issuer: loopback.issuer,
        metadata: { backchannel_logout_uri: `http://127.0.0.1:${closedPort}/bc` },
      });
      const browser = new Browserish(loopback.issuer);
      const { idToken } = await signIn(browser, rejecting, user);
      const unreachableConfig = await client.discovery(
        new URL(loopback.issuer),
        unreachable.client.id,
        undefined,
        client.ClientSecretBasic(unreachable.secret!),
        { execute: [client.allowInsecureRequests] },
      );
      await signIn(browser, { id: unreachable.client.id, config: unreachableConfig }, user);
      const before = receiver.received.length;
      const logout = await browser.request(
        `${loopback.issuer}/oauth/logout?${new URLSearchParams({ id_token_hint: idToken })}`,
      );
      assert.equal(logout.status, 200);
      const [rejected] = await eventually('the rejection event', async () => {
        const events = await eventsOf('backchannel_logout_failed', rejecting.id);
        return events.length > 0 ? events : undefined;
      });
      assert.equal(rejected?.userId, user.id);
      assert.equal(rejected?.detail.status, 400);
      assert.equal(rejected?.detail.target, receiver.origin);
      const [refused] = await eventually('the connection failure event', async () => {
        const events = await eventsOf('backchannel_logout_failed', unreachable.client.id);
        return events.length > 0 ? events : undefined;
      });
      assert.match(String(refused?.detail.reason), /ECONNREFUSED/);
      const token = receiver.received[before]?.token;
      assert.ok(token);
      for (const event of [rejected, refused]) {
        assert.ok(!JSON.stringify(event).includes(token.split('.')[2]!), 'no logout token in the event');
      }
    });

    it('without the loopback allowance the SSRF guard refuses a 127.0.0.1 receiver (H-03)', async () => {
      const user = await loopback.server.addUser();
      const rp = await relyingParty('/ok');
      const browser = new Browserish(loopback.issuer);
      const { idToken } = await signIn(browser, rp, user);
      const before = receiver.received.length;
      loopback.server.deps.backchannelLogoutLoopback = false;
      try {
        await browser.request(
          `${loopback.issuer}/oauth/logout?${new URLSearchParams({ id_token_hint: idToken })}`,
        );
        const [event] = await eventually('the refusal event', async () => {
          const events = await eventsOf('backchannel_logout_failed', rp.id);
          return events.length > 0 ? events : undefined;
        });
        assert.match(String(event?.detail.reason), /https only|loopback/);
        assert.equal(receiver.received.length, before, 'nothing reached the receiver');
      } finally {
        loopback.server.deps.backchannelLogoutLoopback = true;
      }
    });

    it('an administrator disabling the user (admin API) notifies every RP the user signed in to', async () => {
      const user = await loopback.server.addUser();
      const rp = await relyingParty('/ok');
      const { claims } = await signIn(new Browserish(loopback.issuer), rp, user);
      const { key } = await createAdminKey(
        loopback.server.deps.storage,
        { name: 'support', scopes: ['users:write'] },
        loopback.server.clock.now(),
      );
      const before = receiver.received.length;
      const disabled = await fetch(`${loopback.issuer}/api/v1/users/${encodeURIComponent(user.id)}/disable`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}` },
      });
      assert.equal(disabled.status, 200);
      const delivery = await eventually('the logout token', () => receiver.received[before]);
      const payload = await verifyLogoutToken(delivery.token, rp.id);
      assert.equal(payload.sub, user.id);
      assert.equal(payload.sid, claims.sid);
    });

    it('an administrator disabling the user in the console notifies every RP the user signed in to', async () => {
      const admin = await loopback.server.addUser({ isAdmin: true });
      const user = await loopback.server.addUser();
      const rp = await relyingParty('/ok');
      const { claims } = await signIn(new Browserish(loopback.issuer), rp, user);
      const console = new Browserish(loopback.issuer);
      const login = await (await console.request(`${loopback.issuer}/login`)).text();
      const signedIn = await console.request(`${loopback.issuer}/login`, {
        _csrf: csrfFrom(login),
        email: admin.email,
        password: admin.password,
      });
      assert.equal(signedIn.status, 303);
      const page = await (await console.request(`${loopback.issuer}/admin`)).text();
      const before = receiver.received.length;
      const disabled = await console.request(
        `${loopback.issuer}/admin/users/${encodeURIComponent(user.id)}/disable`,
        { _csrf: csrfFrom(page), confirm: 'yes' },
      );
      assert.equal(disabled.status, 303);
      assert.equal((await loopback.server.deps.storage.users.findById(user.id))?.disabledAt !== null, true);
      const delivery = await eventually('the logout token', () => receiver.received[before]);
      const payload = await verifyLogoutToken(delivery.token, rp.id);
      assert.equal(payload.sub, user.id);
      assert.equal(payload.sid, claims.sid);
    });

    it('registration: backchannel_logout_uri must be https without a fragment (invalid_client_metadata)', async () => {
      const register = (metadata: Record<string, unknown>) =>
        fetch(`${loopback.issuer}/oauth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ redirect_uris: [REDIRECT_URI], ...metadata }),
        });
      for (const bad of [
        { backchannel_logout_uri: 'http://rp.example/bc' },
        { backchannel_logout_uri: 'https://rp.example/bc#frag' },
        { backchannel_logout_uri: 'https://user:pw@rp.example/bc' },
        { backchannel_logout_uri: 'not a url' },
        { backchannel_logout_uri: 42 },
        { backchannel_logout_uri: 'https://rp.example/bc', backchannel_logout_session_required: 'yes' },
      ]) {
        const response = await register(bad);
        assert.equal(response.status, 400, JSON.stringify(bad));
        assert.equal(((await response.json()) as { error: string }).error, 'invalid_client_metadata');
      }
      const ok = await register({
        backchannel_logout_uri: 'https://rp.example/bc?tenant=1',
        backchannel_logout_session_required: true,
      });
      assert.equal(ok.status, 201);
      const body = (await ok.json()) as Record<string, unknown>;
      assert.equal(body.backchannel_logout_uri, 'https://rp.example/bc?tenant=1');
      assert.equal(body.backchannel_logout_session_required, true);
      // Plain http to loopback only because this issuer is itself a plain-http loopback one (a developer's).
      assert.equal((await register({ backchannel_logout_uri: `${receiver.origin}/ok` })).status, 201);
    });
  });
});
