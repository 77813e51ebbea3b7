// The sign-in and consent pages in a real headless Chromium, against the real server on loopback: the browser
// follows every redirect itself, sends real cookies and a real Origin header, and lands on the client's
// callback. Screenshots of both pages go to docs/screenshots/.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Client, User } from '../../src/storage/storage.ts';
import { browserOrSkipReason, SCREENSHOT_DIR } from '../helpers/browser.ts';
import { basicAuth, pkcePair } from '../helpers/flow.ts';
import {
  type CallbackServer,
  type LoopbackServer,
  startCallbackServer,
  startLoopbackServer,
} from './loopback.ts';

const SCREENSHOTS = SCREENSHOT_DIR;

describe('authorization code flow in a real browser', () => {
  let browser: Browser | undefined;
  let skipReason: string | undefined;
  let loopback: LoopbackServer;
  let callback: CallbackServer;
  let client: Client;
  let secret: string;
  /** Requests the page tried to send anywhere but 127.0.0.1 (aborted). */
  const offLoopback: string[] = [];

  before(async () => {
    const launched = await browserOrSkipReason();
    if (!launched.browser) {
      skipReason = launched.skipReason;
      return;
    }
    browser = launched.browser;
    loopback = await startLoopbackServer();
    callback = await startCallbackServer();
    const added = await loopback.server.addClient({
      name: 'Analytical Engine',
      // Plain-http redirect URIs are only for loopback addresses of native apps (RFC 8252 §7.3); this one
      // still authenticates with a secret.
      applicationType: 'native',
      tokenEndpointAuthMethod: 'client_secret_basic',
      redirectUris: [callback.redirectUri],
      scope: 'openid profile email offline_access',
    });
    client = added.client;
    assert.ok(added.secret);
    secret = added.secret;
    await mkdir(SCREENSHOTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await callback?.close();
    await loopback?.close();
  });

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    assert.ok(browser);
    const context = await browser.newContext({ viewport: { width: 800, height: 640 } });
    context.setDefaultTimeout(15_000);
    // Everything stays on loopback: any other request is recorded and refused.
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1') return route.continue();
      offLoopback.push(url.href);
      return route.abort();
    });
    return { context, page: await context.newPage() };
  }

  function authorizationUrl(challenge: string, state: string, nonce: string): string {
    const url = new URL('/authorize', loopback.issuer);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: client.id,
      redirect_uri: callback.redirectUri,
      scope: 'openid profile email',
      state,
      nonce,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }).toString();
    return url.href;
  }

  /** Signs in on the login page and waits for the consent page (a new user each time: nothing remembered). */
  async function signIn(page: Page, user: User & { email: string; password: string }, screenshot?: string) {
    await page.waitForURL((url) => url.pathname === '/login' && url.searchParams.has('interaction'));
    assert.match(await page.title(), /Sign in/);
    await page.getByLabel('Email', { exact: true }).fill(user.email);
    await page.getByLabel('Password', { exact: true }).fill(user.password);
    if (screenshot) await page.screenshot({ path: `${SCREENSHOTS}${screenshot}`, fullPage: true });
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname === '/consent' && url.searchParams.has('interaction'));
    await page.getByRole('button', { name: 'Allow access' }).waitFor();
    const text = (await page.locator('body').textContent()) ?? '';
    assert.match(text, /Analytical Engine/);
    const origin = new URL(callback.redirectUri).origin;
    assert.ok(text.includes(`You will be returned to ${origin}.`), text);
  }

  it('signs in, allows access, and the client exchanges the code and calls userinfo over HTTP', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const { context, page } = await newPage();
    try {
      const user = await loopback.server.addUser({ name: 'Ada Lovelace', email: 'ada@example.com' });
      const { verifier, challenge } = pkcePair();
      await page.goto(authorizationUrl(challenge, 'browser-state', 'browser-nonce'));
      await signIn(page, user, 'login.png');
      await page.screenshot({ path: `${SCREENSHOTS}consent.png`, fullPage: true });
      const landed = callback.next();
      await page.getByRole('button', { name: 'Allow access' }).click();
      const redirect = await landed;
      await page.waitForURL((url) => url.href.startsWith(callback.redirectUri));
      assert.equal(await page.locator('body').textContent(), 'Back at the client.');

      assert.equal(redirect.searchParams.get('state'), 'browser-state');
      assert.equal(redirect.searchParams.get('iss'), loopback.issuer);
      assert.equal(redirect.searchParams.get('error'), null);
      const code = redirect.searchParams.get('code');
      assert.ok(code, `no code in ${redirect.href}`);

      const tokenResponse = await fetch(`${loopback.issuer}/token`, {
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
      assert.equal(tokenResponse.headers.get('cache-control'), 'no-store');
      assert.equal(tokens.token_type, 'Bearer');
      assert.equal(tokens.scope, 'openid profile email');

      // The ID token verifies against the JWKS fetched over HTTP.
      const jwks = createRemoteJWKSet(new URL(`${loopback.issuer}/jwks`));
      const { payload } = await jwtVerify(tokens.id_token, jwks, {
        issuer: loopback.issuer,
        audience: client.id,
      });
      assert.equal(payload.sub, user.id);
      assert.equal(payload.nonce, 'browser-nonce');

      const userinfo = await fetch(`${loopback.issuer}/userinfo`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      });
      assert.equal(userinfo.status, 200);
      assert.deepEqual(await userinfo.json(), {
        sub: user.id,
        name: 'Ada Lovelace',
        email: 'ada@example.com',
        email_verified: false,
        updated_at: Math.floor(user.updatedAt / 1000),
      });

      // The code works once.
      const replay = await fetch(`${loopback.issuer}/token`, {
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
      assert.equal(replay.status, 400);
      assert.equal((await replay.json()).error, 'invalid_grant');
      assert.deepEqual(offLoopback, []);
    } finally {
      await context.close();
    }
  });

  it('pressing "Deny" returns to the client with error=access_denied, state and iss', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const { context, page } = await newPage();
    try {
      const user = await loopback.server.addUser({ name: 'Charles Babbage' });
      const { challenge } = pkcePair();
      await page.goto(authorizationUrl(challenge, 'deny-state', 'deny-nonce'));
      await signIn(page, user);
      const landed = callback.next();
      await page.getByRole('button', { name: 'Deny' }).click();
      const redirect = await landed;
      await page.waitForURL((url) => url.href.startsWith(callback.redirectUri));
      assert.equal(redirect.searchParams.get('error'), 'access_denied');
      assert.equal(redirect.searchParams.get('state'), 'deny-state');
      assert.equal(redirect.searchParams.get('iss'), loopback.issuer);
      assert.equal(redirect.searchParams.get('code'), null);
      assert.deepEqual(offLoopback, []);
    } finally {
      await context.close();
    }
  });
});
