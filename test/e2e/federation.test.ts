// "Continue with …" in a real headless Chromium, on SQLite and PostgreSQL: Gatehouse and two real upstreams
// (node-oidc-provider, a GitHub-style OAuth 2.0 server) on 127.0.0.1, a client's callback server, and the
// browser following every redirect itself with real cookies. Covers the whole way to the client's code and
// the ID token, and the failure paths a person sees: cancelling at the upstream, an unverified email, a
// disabled user, a callback opened in another browser (G-06). The sign-in page with its "Continue with …"
// buttons is saved as docs/screenshots/login-upstream.png by `npm run screenshots`.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Client } from '../../src/storage/storage.ts';
import { browserOrSkipReason, SCREENSHOT_DIR } from '../helpers/browser.ts';
import { basicAuth, pkcePair } from '../helpers/flow.ts';
import { freshDatabase, postgresOrSkipReason } from '../helpers/postgres.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';
import {
  type RunningUpstream,
  startOauth2Upstream,
  startOidcUpstream,
  UPSTREAM_ACR,
  UPSTREAM_AMR,
  upstreamEnvironment,
} from '../helpers/upstream-idp.ts';
import { type CallbackServer, freePort, startCallbackServer } from './loopback.ts';

const { postgres, skip: postgresSkip } = await postgresOrSkipReason();

let browser: Browser | undefined;
let browserSkip: string | undefined;
before(async () => {
  const launched = await browserOrSkipReason();
  browserSkip = launched.skipReason;
  if (launched.browser) browser = launched.browser;
});
after(async () => {
  await browser?.close();
  await postgres?.stop();
});

for (const database of [
  { name: 'SQLite', skip: undefined as string | undefined },
  { name: 'PostgreSQL', skip: postgresSkip },
]) {
  describe(`"Continue with …" in a real browser (${database.name})`, { skip: database.skip }, () => {
    let server: TestServer;
    let issuer: string;
    let oidc: RunningUpstream;
    let github: RunningUpstream;
    let callback: CallbackServer;
    let client: Client;
    let secret: string;
    let dropDatabase: (() => Promise<void>) | undefined;
    /** Requests a page tried to send anywhere but 127.0.0.1 (aborted). */
    const offLoopback: string[] = [];

    before(async () => {
      if (browserSkip) return;
      // Gatehouse's address first: the upstreams register its callback as their redirect URI.
      const port = await freePort();
      issuer = `http://127.0.0.1:${port}`;
      const redirectUri = `${issuer}/login/federated/callback`;
      oidc = await startOidcUpstream(redirectUri, {
        ada: { email: 'ada@example.com', email_verified: true, name: 'Ada Lovelace' },
        mallory: { email: 'grace@example.com', email_verified: false, name: 'Mallory' },
        dora: { email: 'dora@example.com', email_verified: true, name: 'Dora Disabled' },
        thief: { email: 'thief@example.com', email_verified: true },
      });
      github = await startOauth2Upstream(redirectUri, {
        '583231': { email: 'octo@example.com', name: 'Octo Cat' },
      });
      callback = await startCallbackServer();
      let databaseUrl: string | undefined;
      if (database.name === 'PostgreSQL' && postgres) {
        const fresh = await freshDatabase(postgres.url);
        databaseUrl = fresh.url;
        dropDatabase = fresh.drop;
      }
      server = await buildTestServer(
        { GATEHOUSE_ISSUER: issuer, ...upstreamEnvironment(oidc, github) },
        { databaseUrl },
      );
      server.clock.advance(Date.now() - server.clock.now());
      await server.app.listen({ port, host: '127.0.0.1' });
      const added = await server.addClient({
        name: 'Analytical Engine',
        applicationType: 'native',
        tokenEndpointAuthMethod: 'client_secret_basic',
        redirectUris: [callback.redirectUri],
        scope: 'openid profile email',
      });
      client = added.client;
      assert.ok(added.secret);
      secret = added.secret;
      await mkdir(SCREENSHOT_DIR, { recursive: true });
    });

    after(async () => {
      await server?.close();
      await oidc?.close();
      await github?.close();
      await callback?.close();
      await dropDatabase?.();
    });

    async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
      assert.ok(browser);
      const context = await browser.newContext({ viewport: { width: 800, height: 720 } });
      context.setDefaultTimeout(15_000);
      await context.route('**/*', (route) => {
        const url = new URL(route.request().url());
        if (url.hostname === '127.0.0.1') return route.continue();
        offLoopback.push(url.href);
        return route.abort();
      });
      return { context, page: await context.newPage() };
    }

    function authorizationUrl(challenge: string, state: string): string {
      const url = new URL('/authorize', issuer);
      url.search = new URLSearchParams({
        response_type: 'code',
        client_id: client.id,
        redirect_uri: callback.redirectUri,
        scope: 'openid profile email',
        state,
        nonce: `${state}-nonce`,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }).toString();
      return url.href;
    }

    /** At the upstream's own sign-in page: type the account and press a button. */
    async function atUpstream(page: Page, account: string, button: 'Sign in upstream' | 'Cancel') {
      await page.waitForURL((url) => url.origin === oidc.issuer || url.origin === github.issuer);
      await page.getByLabel('Account').fill(account);
      await page.getByRole('button', { name: button }).click();
    }

    it('a new person continues with the OIDC upstream, is created, consents, and the client gets an ID token with the upstream amr and acr', async (t) => {
      if (browserSkip) return t.skip(browserSkip);
      const { context, page } = await newPage();
      try {
        const { verifier, challenge } = pkcePair();
        await page.goto(authorizationUrl(challenge, 'federated-state'));
        await page.waitForURL((url) => url.pathname === '/login' && url.searchParams.has('interaction'));
        await page.getByRole('button', { name: 'Continue with Test IdP', exact: true }).waitFor();
        await page.getByRole('button', { name: 'Continue with GitHub' }).waitFor();
        if (database.name === 'SQLite') {
          await page.screenshot({ path: `${SCREENSHOT_DIR}login-upstream.png`, fullPage: true });
        }
        await page.getByRole('button', { name: 'Continue with Test IdP', exact: true }).click();
        await atUpstream(page, 'ada', 'Sign in upstream');
        await page.waitForURL((url) => url.origin === issuer && url.pathname === '/consent');
        const landed = callback.next();
        await page.getByRole('button', { name: 'Allow access' }).click();
        const redirect = await landed;
        assert.equal(redirect.searchParams.get('state'), 'federated-state');
        assert.equal(redirect.searchParams.get('iss'), issuer);
        const code = redirect.searchParams.get('code');
        assert.ok(code);

        const tokenResponse = await fetch(`${issuer}/token`, {
          method: 'POST',
          headers: {
            authorization: basicAuth(client.id, secret),
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            code,
            redirect_uri: callback.redirectUri,
            code_verifier: verifier,
          }),
        });
        const tokens = await tokenResponse.json();
        assert.equal(tokenResponse.status, 200, JSON.stringify(tokens));
        const { payload } = await jwtVerify(tokens.id_token, createRemoteJWKSet(new URL(`${issuer}/jwks`)), {
          issuer,
          audience: client.id,
        });
        const ada = await server.deps.storage.users.findByEmail('ada@example.com');
        assert.ok(ada);
        assert.equal(payload.sub, ada.id);
        assert.equal(payload.email, 'ada@example.com');
        assert.equal(payload.email_verified, true);
        assert.equal(payload.name, 'Ada Lovelace');
        assert.deepEqual(payload.amr, UPSTREAM_AMR);
        assert.equal(payload.acr, UPSTREAM_ACR);
        assert.equal(payload.nonce, 'federated-state-nonce');
        assert.deepEqual(offLoopback, []);
      } finally {
        await context.close();
      }
    });

    it('GitHub-style: continues with a plain OAuth 2.0 upstream and lands on the account page', async (t) => {
      if (browserSkip) return t.skip(browserSkip);
      const { context, page } = await newPage();
      try {
        await page.goto(`${issuer}/login`);
        await page.getByRole('button', { name: 'Continue with GitHub' }).click();
        await atUpstream(page, '583231', 'Sign in upstream');
        await page.waitForURL(`${issuer}/`);
        assert.match((await page.locator('body').textContent()) ?? '', /Signed in as octo@example.com/);
      } finally {
        await context.close();
      }
    });

    it('cancelling at the upstream brings the person back to the sign-in page with the reason, the request still parked', async (t) => {
      if (browserSkip) return t.skip(browserSkip);
      const { context, page } = await newPage();
      try {
        const { challenge } = pkcePair();
        await page.goto(authorizationUrl(challenge, 'cancel-state'));
        await page.waitForURL((url) => url.pathname === '/login');
        await page.getByRole('button', { name: 'Continue with Test IdP', exact: true }).click();
        await atUpstream(page, '', 'Cancel');
        await page.getByText('Signing in with Test IdP was cancelled.').waitFor();
        assert.equal(new URL(page.url()).pathname, '/login/federated/callback');
        // The password form still continues the same request.
        const user = await server.addUser({ email: 'fallback@example.com' });
        await page.getByLabel('Email', { exact: true }).fill(user.email);
        await page.getByLabel('Password', { exact: true }).fill(user.password);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.waitForURL((url) => url.pathname === '/consent');
      } finally {
        await context.close();
      }
    });

    it('an upstream account with an unverified email cannot take over the account with that email', async (t) => {
      if (browserSkip) return t.skip(browserSkip);
      const grace = await server.addUser({ email: 'grace@example.com' });
      const { context, page } = await newPage();
      try {
        await page.goto(`${issuer}/login`);
        await page.getByRole('button', { name: 'Continue with Test IdP', exact: true }).click();
        await atUpstream(page, 'mallory', 'Sign in upstream');
        await page.getByText(/has not verified the email address/).waitFor();
        await page.goto(`${issuer}/`);
        assert.match((await page.locator('body').textContent()) ?? '', /You are not signed in/);
        assert.deepEqual(await server.deps.storage.linkedIdentities.listForUser(grace.id), []);
      } finally {
        await context.close();
      }
    });

    it('a disabled user is refused although their upstream account is linked; an administrator sees and unlinks it', async (t) => {
      if (browserSkip) return t.skip(browserSkip);
      const first = await newPage();
      try {
        await first.page.goto(`${issuer}/login`);
        await first.page.getByRole('button', { name: 'Continue with Test IdP', exact: true }).click();
        await atUpstream(first.page, 'dora', 'Sign in upstream');
        await first.page.waitForURL(`${issuer}/`);
      } finally {
        await first.context.close();
      }
      const dora = await server.deps.storage.users.findByEmail('dora@example.com');
      assert.ok(dora);
      await server.deps.storage.users.update({ ...dora, disabledAt: server.clock.now() });
      const again = await newPage();
      try {
        await again.page.goto(`${issuer}/login`);
        await again.page.getByRole('button', { name: 'Continue with Test IdP', exact: true }).click();
        await atUpstream(again.page, 'dora', 'Sign in upstream');
        await again.page.getByText('This account is disabled.').waitFor();
      } finally {
        await again.context.close();
      }

      const admin = await server.addUser({
        email: `admin-${database.name.toLowerCase()}@example.com`,
        isAdmin: true,
      });
      const console = await newPage();
      try {
        const { page } = console;
        await page.goto(`${issuer}/login`);
        await page.getByLabel('Email', { exact: true }).fill(admin.email);
        await page.getByLabel('Password', { exact: true }).fill(admin.password);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.waitForURL(`${issuer}/`);
        await page.goto(`${issuer}/admin/users/${dora.id}/identities`);
        await page.getByText('Test IdP', { exact: true }).waitFor();
        await page.getByText('dora@example.com').first().waitFor();
        // Unlinking is confirmed on a page of its own (works with JavaScript off).
        await page.getByRole('link', { name: 'Unlink…' }).click();
        await page.getByRole('button', { name: 'Unlink', exact: true }).click();
        await page.getByText('None.').waitFor();
        assert.deepEqual(await server.deps.storage.linkedIdentities.listForUser(dora.id), []);
      } finally {
        await console.context.close();
      }
    });

    it('G-06: a callback carrying the state minted for another browser is refused there', async (t) => {
      if (browserSkip) return t.skip(browserSkip);
      // The attacker signs in at the upstream in their own browser and notes the callback URL it is sent to (a
      // route cannot stop a request inside a redirect chain; the attacker's own sign-in is irrelevant here).
      const attacker = await newPage();
      const victim = await newPage();
      try {
        let captured: string | undefined;
        attacker.context.on('request', (request) => {
          if (request.url().startsWith(`${issuer}/login/federated/callback?`)) captured = request.url();
        });
        await attacker.page.goto(`${issuer}/login`);
        await attacker.page.getByRole('button', { name: 'Continue with Test IdP', exact: true }).click();
        await atUpstream(attacker.page, 'thief', 'Sign in upstream');
        await attacker.page.waitForURL(`${issuer}/`);
        assert.ok(captured, 'the attacker saw the callback URL');
        // The victim opens it (a link, an image, a redirect the attacker controls).
        await victim.page.goto(captured);
        await victim.page.getByText('This sign-in was started in another browser').waitFor();
        await victim.page.goto(`${issuer}/`);
        assert.match((await victim.page.locator('body').textContent()) ?? '', /You are not signed in/);
      } finally {
        await attacker.context.close();
        await victim.context.close();
      }
    });
  });
}
