// The device authorization grant (RFC 8628) end to end, on SQLite and PostgreSQL: oauth4webapi plays the device
// (discovery, the device authorization request, polling, the token response and ID token checks, userinfo)
// against the real server on loopback, and a real headless Chromium plays the person: it opens
// verification_uri_complete, signs in, sees the code in the field, presses Continue, compares the code on the
// confirmation and allows or denies. Screenshots of both pages go to docs/screenshots/ (npm run screenshots).
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import type { Browser, Page } from 'playwright-core';
import { DEVICE_CODE_GRANT_TYPE } from '../../src/oauth/device-code.ts';
import type { User } from '../../src/storage/storage.ts';
import { browserOrSkipReason, SCREENSHOT_DIR } from '../helpers/browser.ts';
import { onEachDatabase } from '../helpers/postgres.ts';
import { type LoopbackServer, startLoopbackServer } from './loopback.ts';

const insecure = { [oauth.allowInsecureRequests]: true } as const; // http is fine: everything is on loopback

let browser: Browser | undefined;
let skipReason: string | undefined;
before(async () => {
  const launched = await browserOrSkipReason();
  browser = launched.browser;
  skipReason = launched.skipReason;
  await mkdir(SCREENSHOT_DIR, { recursive: true });
});
after(() => browser?.close());

/** The error code oauth4webapi reports for an OAuth error response, or undefined when it succeeded. */
async function errorOf(work: Promise<unknown>): Promise<string | undefined> {
  try {
    await work;
    return undefined;
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError) return error.error;
    throw error;
  }
}

await onEachDatabase('device flow end to end', (database, databaseUrl) => {
  describe(`device flow with oauth4webapi and Chromium on ${database}`, () => {
    let loopback: LoopbackServer;
    let as: oauth.AuthorizationServer;
    let device: oauth.Client;
    let user: User & { email: string; password: string };
    /** Requests the page tried to send anywhere but 127.0.0.1 (aborted). */
    const offLoopback: string[] = [];

    before(async () => {
      loopback = await startLoopbackServer({}, { databaseUrl: await databaseUrl() });
      const issuer = new URL(loopback.issuer);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
      const { client } = await loopback.server.addClient({
        name: 'Gatehouse CLI',
        redirectUris: [],
        tokenEndpointAuthMethod: 'none',
        grantTypes: [DEVICE_CODE_GRANT_TYPE, 'refresh_token'],
        scope: 'openid profile email offline_access',
      });
      device = { client_id: client.id };
      user = await loopback.server.addUser({ name: 'Ada Lovelace', email: 'ada@example.com' });
    });
    after(() => loopback?.close());

    const startDevice = async () =>
      oauth.processDeviceAuthorizationResponse(
        as,
        device,
        await oauth.deviceAuthorizationRequest(
          as,
          device,
          oauth.None(),
          { scope: 'openid profile offline_access' },
          insecure,
        ),
      );
    const pollOnce = async (deviceCode: string) =>
      oauth.processDeviceCodeResponse(
        as,
        device,
        await oauth.deviceCodeGrantRequest(as, device, oauth.None(), deviceCode, insecure),
      );
    /** Waits out the interval on the server's clock (kept within oauth4webapi's 30 s of the real time). */
    const waitInterval = (seconds: number) => loopback.server.clock.advance(seconds * 1000);

    async function personAnswers(url: string, action: 'Allow access' | 'Deny', screenshots = false) {
      assert.ok(browser);
      const context = await browser.newContext({ viewport: { width: 800, height: 640 } });
      context.setDefaultTimeout(15_000);
      await context.route('**/*', (route) => {
        const target = new URL(route.request().url());
        if (target.hostname === '127.0.0.1') return route.continue();
        offLoopback.push(target.href);
        return route.abort();
      });
      const page: Page = await context.newPage();
      try {
        await page.goto(url);
        // Not signed in: the sign-in page first, which comes back here with the code.
        await page.fill('#email', user.email);
        await page.fill('#password', user.password);
        await Promise.all([page.waitForURL(/\/device\?user_code=/), page.click('button[type=submit]')]);
        const typed = await page.inputValue('#user_code');
        if (screenshots) await page.screenshot({ path: `${SCREENSHOT_DIR}device.png`, fullPage: true });
        await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("Continue")')]);
        await page.waitForSelector('[data-testid="confirm-code"]');
        const shown = await page.textContent('[data-testid="confirm-code"]');
        const heading = await page.textContent('h1');
        if (screenshots)
          await page.screenshot({ path: `${SCREENSHOT_DIR}device-consent.png`, fullPage: true });
        await Promise.all([page.waitForURL(/\/device$/), page.click(`button:has-text("${action}")`)]);
        const flash = await page.textContent('[data-testid="flash"]');
        return { typed, shown, heading, flash };
      } finally {
        await context.close();
      }
    }

    it('discovery advertises the device endpoint and grant', () => {
      assert.equal(as.device_authorization_endpoint, `${loopback.issuer}/oauth/device_authorization`);
      assert.ok(as.grant_types_supported?.includes(DEVICE_CODE_GRANT_TYPE));
    });

    it('happy path: pending, slow_down, the person allows in Chromium, one token response', async (t) => {
      if (skipReason) return t.skip(skipReason);
      const started = await startDevice();
      assert.match(started.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
      assert.equal(started.interval, 5);
      assert.equal(await errorOf(pollOnce(started.device_code)), 'authorization_pending');
      assert.equal(await errorOf(pollOnce(started.device_code)), 'slow_down');

      const seen = await personAnswers(started.verification_uri_complete!, 'Allow access', true);
      assert.equal(seen.typed, started.user_code, 'verification_uri_complete fills the field');
      assert.equal(seen.shown, started.user_code, 'the confirmation shows the code to compare');
      assert.match(seen.heading ?? '', /Gatehouse CLI/);
      assert.match(seen.flash ?? '', /Gatehouse CLI is connected/);

      waitInterval(10);
      // Two polls at once: one token response, the other invalid_grant.
      const [first, second] = await Promise.allSettled([
        pollOnce(started.device_code),
        pollOnce(started.device_code),
      ]);
      const won = [first, second].filter((result) => result.status === 'fulfilled');
      assert.equal(won.length, 1, JSON.stringify([first, second].map((result) => result.status)));
      const lost = [first, second].find((result) => result.status === 'rejected');
      assert.ok(lost && lost.status === 'rejected');
      assert.ok(lost.reason instanceof oauth.ResponseBodyError);
      assert.equal(lost.reason.error, 'invalid_grant');

      const tokens = (won[0] as PromiseFulfilledResult<oauth.TokenEndpointResponse>).value;
      assert.equal(tokens.token_type, 'bearer');
      assert.ok(tokens.refresh_token);
      // processDeviceCodeResponse checked the ID token's iss, aud, exp and iat; the signature and userinfo too.
      const claims = oauth.getValidatedIdTokenClaims(tokens);
      assert.equal(claims?.sub, user.id);
      const info = await oauth.processUserInfoResponse(
        as,
        device,
        user.id,
        await oauth.userInfoRequest(as, device, tokens.access_token, insecure),
      );
      assert.equal(info.name, 'Ada Lovelace');
      assert.deepEqual(offLoopback, []);
    });

    it('with a DPoP proof the device gets tokens bound to its key (RFC 9449), refresh included', async (t) => {
      if (skipReason) return t.skip(skipReason);
      const started = await startDevice();
      await personAnswers(started.verification_uri_complete!, 'Allow access');
      waitInterval(10);
      const key = await oauth.generateKeyPair('ES256');
      const dpop = oauth.DPoP(device, key);
      const poll = () =>
        oauth.deviceCodeGrantRequest(as, device, oauth.None(), started.device_code, {
          ...insecure,
          DPoP: dpop,
        });
      // The first proof carries no nonce: the server answers use_dpop_nonce, oauth4webapi retries with it.
      let response = await poll();
      let tokens: oauth.TokenEndpointResponse;
      try {
        tokens = await oauth.processDeviceCodeResponse(as, device, response);
      } catch (error) {
        if (!oauth.isDPoPNonceError(error)) throw error;
        response = await poll();
        tokens = await oauth.processDeviceCodeResponse(as, device, response);
      }
      assert.equal(tokens.token_type, 'dpop');
      assert.ok(tokens.refresh_token);
      // The public client's refresh token is bound too: without a proof by that key it is refused.
      const unbound = await oauth.refreshTokenGrantRequest(
        as,
        device,
        oauth.None(),
        tokens.refresh_token,
        insecure,
      );
      await assert.rejects(oauth.processRefreshTokenResponse(as, device, unbound), (error: unknown) => {
        assert.ok(error instanceof oauth.ResponseBodyError);
        assert.equal(error.error, 'invalid_grant');
        return true;
      });
      const refreshed = await oauth.processRefreshTokenResponse(
        as,
        device,
        await oauth.refreshTokenGrantRequest(as, device, oauth.None(), tokens.refresh_token, {
          ...insecure,
          DPoP: dpop,
        }),
      );
      assert.equal(refreshed.token_type, 'dpop');
    });

    it('denied in Chromium: the device hears access_denied', async (t) => {
      if (skipReason) return t.skip(skipReason);
      const started = await startDevice();
      const seen = await personAnswers(started.verification_uri_complete!, 'Deny');
      assert.match(seen.flash ?? '', /You denied Gatehouse CLI/);
      waitInterval(5);
      assert.equal(await errorOf(pollOnce(started.device_code)), 'access_denied');
    });
  });
});
