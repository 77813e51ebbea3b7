// The developer portal, the admin console, the OAuth playground and connected apps in a real headless Chromium,
// against the real server on a loopback port (the issuer is that address). A developer registers a
// confidential app, an administrator approves it and its scope request, the developer runs the playground
// end to end and then removes the app's access. Screenshots of each main page go to docs/screenshots/.
// Every request the browser tries to send anywhere but 127.0.0.1 is refused and fails the test.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { User } from '../../src/storage/storage.ts';
import { browserOrSkipReason, SCREENSHOT_DIR } from '../helpers/browser.ts';
import { type LoopbackServer, startLoopbackServer } from './loopback.ts';

const SCREENSHOTS = SCREENSHOT_DIR;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const APP_NAME = 'Switchboard Analytics';
const SCOPES = JSON.stringify([
  { name: 'screen_pop', description: 'Pop up caller details on your screen', requires_approval: true },
  { name: 'calls:read', description: 'See your call history' },
]);

type TestUser = User & { email: string; password: string };

describe('portal, admin console, playground and connected apps in a real browser', () => {
  let browser: Browser | undefined;
  let skipReason: string | undefined;
  let loopback: LoopbackServer;
  let developer: TestUser;
  let admin: TestUser;
  /** Requests a page tried to send anywhere but 127.0.0.1 (aborted). */
  const offLoopback: string[] = [];
  /** JavaScript dialogs (G-04: none may open) and console errors (CSP violations among them). */
  const dialogs: string[] = [];
  const consoleErrors: string[] = [];

  before(async () => {
    const launched = await browserOrSkipReason();
    if (!launched.browser) {
      skipReason = launched.skipReason;
      return;
    }
    browser = launched.browser;
    loopback = await startLoopbackServer({
      GATEHOUSE_REGISTRATION: 'approval',
      GATEHOUSE_SCOPES: SCOPES,
    });
    developer = await loopback.server.addUser({ name: 'Dana Developer', email: 'dana@example.com' });
    admin = await loopback.server.addUser({ name: 'Ada Admin', email: 'admin@example.com', isAdmin: true });
    await mkdir(SCREENSHOTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await loopback?.close();
  });

  async function newContext(): Promise<{ context: BrowserContext; page: Page }> {
    assert.ok(browser);
    const context = await browser.newContext({ viewport: DESKTOP });
    context.setDefaultTimeout(15_000);
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1') return route.continue();
      offLoopback.push(url.href);
      return route.abort();
    });
    const page = await context.newPage();
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(`${page.url()}: ${message.text()}`);
    });
    return { context, page };
  }

  const screenshot = (page: Page, name: string) =>
    page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });

  /** What the user reads: rendered text, block elements apart (textContent would glue <dt> to <dd>). */
  const bodyText = async (page: Page) =>
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point here
    (await page.locator('body').innerText()).replace(/\s+/g, ' ');

  const onPath = (page: Page, path: string) => page.waitForURL((url) => url.pathname === path);

  async function signIn(page: Page, user: TestUser) {
    await page.getByLabel('Email', { exact: true }).fill(user.email);
    await page.getByLabel('Password', { exact: true }).fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname !== '/login');
  }

  /** The JSON shown as the response of a playground step. */
  async function shownResponse(page: Page): Promise<Record<string, unknown>> {
    return JSON.parse((await page.getByTestId('response').textContent()) ?? '') as Record<string, unknown>;
  }

  it('register an app, approve it, run the playground end to end, remove its access', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const { issuer } = loopback;
    const playgroundUri = `${issuer}/playground`;
    const dev = await newContext();
    const adm = await newContext();
    try {
      const page = dev.page;

      // ---- The developer signs in and opens the portal by its link.
      await page.goto(`${issuer}/login`);
      await signIn(page, developer);
      await onPath(page, '/');
      await page.getByRole('main').getByRole('link', { name: 'Developer portal' }).click();
      await onPath(page, '/portal');
      await page.getByText('You have not registered an application yet.').waitFor();

      // ---- Registers a confidential app by its labels.
      await page.getByRole('link', { name: 'Register an application' }).click();
      await onPath(page, '/portal/apps/new');
      await page.getByLabel('Application name').fill(APP_NAME);
      await page.getByLabel('Redirect URIs (one per line)').fill(playgroundUri);
      await page.getByRole('radio', { name: /Confidential/ }).check();
      for (const scope of ['openid', 'profile', 'email']) {
        assert.ok(await page.getByRole('checkbox', { name: new RegExp(`^${scope} `) }).isChecked(), scope);
      }
      await page.getByRole('checkbox', { name: /^offline_access / }).check();
      await page.getByRole('checkbox', { name: /^calls:read / }).check();
      const approvalScope = page.getByRole('checkbox', { name: /^screen_pop / });
      assert.match((await approvalScope.locator('..').textContent()) ?? '', /needs approval/);
      await approvalScope.check();
      await screenshot(page, 'portal-new');
      await page.getByRole('button', { name: 'Register application' }).click();
      // Post/redirect/get: the browser lands on the app's own page, the secret shown there once.
      await page.waitForURL(
        (url) => /^\/portal\/apps\/[\w-]+$/.test(url.pathname) && url.pathname !== '/portal/apps/new',
      );
      const refused = page.getByRole('alert');
      if ((await refused.count()) > 0)
        assert.fail(`the portal refused the app: ${await refused.textContent()}`);

      // ---- The credentials: the client id and the secret, once, each with a Copy button (copy.js).
      await page.getByRole('heading', { name: `${APP_NAME} is registered` }).waitFor();
      const clientId = (await page.getByTestId('new-client-id').textContent()) ?? '';
      const secret = (await page.getByTestId('client-secret').textContent()) ?? '';
      assert.match(clientId, /^[\w-]{16,}$/);
      assert.match(secret, /^ghs_[\w-]+$/);
      assert.ok(!page.url().includes(secret), 'the secret is in the URL');
      assert.match(await bodyText(page), /shown only once/);
      assert.match(await bodyText(page), /An administrator must approve this application/);
      await dev.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: issuer });
      await page.getByRole('button', { name: 'Copy Client secret' }).click();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
      await screenshot(page, 'portal-credentials');

      // ---- A reload: the app's page, pending approval, the scope waiting, never the secret again.
      await page.reload();
      await onPath(page, `/portal/apps/${clientId}`);
      assert.equal(await page.getByTestId('status').textContent(), 'pending approval');
      let detail = await bodyText(page);
      assert.ok(detail.includes(clientId));
      assert.ok(!detail.includes(secret), 'the secret is shown again');
      assert.match(detail, /Waiting for approval screen_pop/);
      assert.equal(await page.getByLabel('Redirect URIs (one per line)').inputValue(), playgroundUri);
      await screenshot(page, 'portal-app');

      // ---- The portal list.
      await page.getByRole('navigation').getByRole('link', { name: 'Developer portal' }).click();
      await onPath(page, '/portal');
      const row = page.getByRole('row', { name: new RegExp(APP_NAME) });
      assert.match((await row.textContent()) ?? '', /pending approval/);
      assert.match((await row.textContent()) ?? '', /confidential/);
      await screenshot(page, 'portal');

      // ---- An administrator, in another browser, approves the app and then its scope request.
      const adminPage = adm.page;
      await adminPage.goto(`${issuer}/admin`);
      await adminPage.waitForURL(
        (url) => url.pathname === '/login' && url.searchParams.get('next') === '/admin',
      );
      await signIn(adminPage, admin);
      await onPath(adminPage, '/admin');
      await adminPage.getByRole('heading', { name: 'Admin console' }).waitFor();
      const pendingRow = adminPage.getByRole('row', { name: new RegExp(clientId) }).filter({
        has: adminPage.getByRole('button', { name: 'Approve', exact: true }),
      });
      assert.ok(
        (await pendingRow.textContent())?.includes(playgroundUri),
        'redirect URI not shown for review',
      );
      await pendingRow.getByRole('button', { name: 'Approve', exact: true }).click();
      await onPath(adminPage, '/admin');
      const scopeRow = adminPage.getByRole('row', { name: new RegExp(clientId) }).filter({
        has: adminPage.getByRole('button', { name: 'Approve scopes' }),
      });
      assert.match((await scopeRow.textContent()) ?? '', /screen_pop/);
      await screenshot(adminPage, 'admin');

      // ---- On a phone (375 px): no sideways scrolling, and the row actions are on screen and work.
      await adminPage.setViewportSize({ width: 375, height: 812 });
      const overflow = await adminPage.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      assert.ok(overflow <= 0, `the console scrolls sideways by ${overflow}px on a phone`);
      const approveScopes = adminPage.getByRole('button', { name: 'Approve scopes' });
      await approveScopes.scrollIntoViewIfNeeded();
      const box = await approveScopes.boundingBox();
      assert.ok(
        box && box.x >= 0 && box.x + box.width <= 375,
        `Approve scopes is off screen: ${JSON.stringify(box)}`,
      );
      const disableLink = adminPage.getByRole('link', { name: 'Disable…' }).first();
      const disableBox = await disableLink.boundingBox();
      assert.ok(
        disableBox && disableBox.x >= 0 && disableBox.x + disableBox.width <= 375,
        `Disable is off screen: ${JSON.stringify(disableBox)}`,
      );
      await screenshot(adminPage, 'admin-phone');
      await adminPage.setViewportSize(DESKTOP);
      await scopeRow.getByRole('button', { name: 'Approve scopes' }).click();
      await onPath(adminPage, '/admin');
      await adminPage.getByRole('button', { name: 'Approve scopes' }).waitFor({ state: 'detached' });
      assert.match(await bodyText(adminPage), /App scopes approved/);

      // ---- The developer sees the app approved, with the scope.
      await page.getByRole('link', { name: APP_NAME }).click();
      await onPath(page, `/portal/apps/${clientId}`);
      assert.equal(await page.getByTestId('status').textContent(), 'active');
      detail = await bodyText(page);
      assert.doesNotMatch(detail, /Waiting for approval/);
      assert.match(detail, /Scopes openid profile email offline_access calls:read screen_pop/);

      // ---- The playground: client id, secret, scopes; start the flow.
      await page.getByRole('navigation').getByRole('link', { name: 'Playground' }).click();
      await onPath(page, '/playground');
      assert.equal(await page.getByLabel('Redirect URI').inputValue(), playgroundUri);
      await page.getByLabel('Client ID').fill(clientId);
      await page.getByLabel(/^Client secret/).fill(secret);
      await page.getByLabel('Scopes').fill('openid profile email offline_access calls:read screen_pop');
      await screenshot(page, 'playground');
      await page.getByRole('button', { name: 'Start OAuth flow' }).click();

      // ---- Consent (the developer is signed in): every scope, the approved one included.
      await page.waitForURL((url) => url.pathname === '/consent' && url.searchParams.has('interaction'));
      const consent = await bodyText(page);
      assert.ok(consent.includes(`${APP_NAME} wants to access your account`), consent);
      assert.ok(consent.includes('Pop up caller details on your screen screen_pop'), consent);
      assert.ok(consent.includes('See your call history calls:read'), consent);
      assert.ok(consent.includes(`You will be returned to ${issuer}.`), consent);
      assert.equal(await page.getByTestId('unverified').count(), 0, 'an approved app is marked unverified');
      await page.setViewportSize(PHONE);
      await screenshot(page, 'consent-phone');
      await page.setViewportSize(DESKTOP);
      await page.getByRole('button', { name: 'Allow access' }).click();

      // ---- Back in the playground with the code and the curl command.
      await page.waitForURL((url) => url.pathname === '/playground' && url.searchParams.has('code'));
      const landed = new URL(page.url());
      assert.equal(landed.searchParams.get('iss'), issuer);
      await page.getByRole('heading', { name: 'You have an authorization code' }).waitFor();
      const code = landed.searchParams.get('code') ?? '';
      assert.equal(await page.getByTestId('code').textContent(), code);
      const curl = (await page.getByTestId('curl').textContent()) ?? '';
      assert.ok(curl.startsWith(`curl -X POST '${issuer}/token' \\\n`), curl);
      assert.ok(curl.includes(`-u '${clientId}:${secret}'`), curl);
      assert.ok(curl.includes(`-d 'code=${code}'`), curl);
      assert.ok(curl.includes(`-d 'redirect_uri=${playgroundUri}'`), curl);
      assert.match(curl, /-d 'code_verifier=[\w-]{43}'/);

      // ---- "Run this request": the token response and the decoded tokens.
      await page.getByRole('button', { name: 'Run this request' }).click();
      await page.getByRole('heading', { name: 'Token response' }).waitFor();
      assert.equal(await page.getByRole('heading', { name: /^Response/ }).textContent(), 'Response 200');
      assert.equal(await page.getByTestId('curl').textContent(), curl, 'the page ran another request');
      const tokens = await shownResponse(page);
      assert.equal(tokens.token_type, 'Bearer');
      assert.equal(tokens.scope, 'openid profile email offline_access calls:read screen_pop');
      for (const name of ['access_token', 'refresh_token', 'id_token']) {
        assert.equal(typeof tokens[name], 'string', `${name} missing`);
      }
      await page.getByRole('heading', { name: 'Access token, decoded' }).waitFor();
      await page.getByRole('heading', { name: 'ID token, decoded' }).waitFor();
      const claims = await bodyText(page);
      assert.ok(claims.includes(`"client_id": "${clientId}"`), 'no client_id claim');
      assert.ok(claims.includes(`"sub": "${developer.id}"`), 'no sub claim');
      assert.ok(claims.includes(`"iss": "${issuer}"`), 'no iss claim');
      assert.ok(claims.includes(`"aud": "${clientId}"`), 'no ID token audience');
      assert.ok(claims.includes('"typ": "at+jwt"'), 'no access token header');
      await screenshot(page, 'playground-result');

      // ---- Refresh, Introspect, Revoke.
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.getByRole('heading', { name: 'Refreshed' }).waitFor();
      assert.equal(await page.getByRole('heading', { name: /^Response/ }).textContent(), 'Response 200');
      const refreshed = await shownResponse(page);
      assert.equal(typeof refreshed.access_token, 'string');
      assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'the refresh token did not rotate');

      await page.getByRole('button', { name: 'Introspect' }).click();
      await page.getByRole('heading', { name: 'Introspection' }).waitFor();
      const introspection = await shownResponse(page);
      assert.equal(introspection.active, true);
      assert.equal(introspection.client_id, clientId);
      assert.equal(introspection.sub, developer.id);
      assert.match((await page.getByTestId('response').textContent()) ?? '', /"active": true/);

      await page.getByRole('button', { name: 'Revoke' }).click();
      await page.getByRole('heading', { name: 'Revoked' }).waitFor();
      assert.equal(await page.getByRole('heading', { name: /^Response/ }).textContent(), 'Response 200');
      assert.ok(
        ((await page.getByTestId('curl').textContent()) ?? '').includes(
          `-d 'token=${refreshed.refresh_token}'`,
        ),
      );
      for (const button of ['Refresh', 'Introspect', 'Revoke']) {
        assert.equal(await page.getByRole('button', { name: button, exact: true }).count(), 0, button);
      }

      // ---- Once more (Revoke ended that grant), so that the app holds access to remove.
      await page.getByRole('link', { name: 'Start over' }).click();
      await onPath(page, '/playground');
      await page.getByLabel('Client ID').fill(clientId);
      await page.getByLabel(/^Client secret/).fill(secret);
      await page.getByLabel('Scopes').fill('openid profile email offline_access calls:read screen_pop');
      await page.getByRole('button', { name: 'Start OAuth flow' }).click();
      await page.waitForURL(
        (url) =>
          url.pathname === '/consent' || (url.pathname === '/playground' && url.searchParams.has('code')),
      );
      if (new URL(page.url()).pathname === '/consent')
        await page.getByRole('button', { name: 'Allow access' }).click();
      await page.getByRole('heading', { name: 'You have an authorization code' }).waitFor();
      await page.getByRole('button', { name: 'Run this request' }).click();
      await page.getByRole('heading', { name: 'Token response' }).waitFor();
      const second = await shownResponse(page);
      assert.equal(typeof second.access_token, 'string');
      const userinfo = await fetch(`${issuer}/userinfo`, {
        headers: { authorization: `Bearer ${second.access_token}` },
      });
      assert.equal(userinfo.status, 200);

      // ---- Connected apps: the app and its scopes; "Remove access".
      await page.getByRole('navigation').getByRole('link', { name: 'Connected apps' }).click();
      await onPath(page, '/account/apps');
      const entry = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: APP_NAME }) });
      const listed = ((await entry.textContent()) ?? '').replace(/\s+/g, ' ');
      for (const scope of ['openid', 'profile', 'email', 'offline_access', 'calls:read', 'screen_pop']) {
        assert.ok(listed.includes(scope), `scope ${scope} not listed: ${listed}`);
      }
      assert.ok(listed.includes('Pop up caller details on your screen'), listed);
      await screenshot(page, 'connected-apps');
      await entry.getByRole('link', { name: 'Remove access…' }).click();
      await page.getByRole('heading', { name: `Remove ${APP_NAME}'s access?` }).waitFor();
      await page.getByRole('button', { name: 'Remove access' }).click();
      await onPath(page, '/account/apps');
      await page.getByText('No application has access to your account.').waitFor();
      assert.equal(await page.getByRole('heading', { name: APP_NAME }).count(), 0);
      const afterRemoval = await fetch(`${issuer}/userinfo`, {
        headers: { authorization: `Bearer ${second.access_token}` },
      });
      assert.equal(afterRemoval.status, 401, 'the removed app still has access');

      assert.deepEqual(offLoopback, [], 'the browser tried to leave 127.0.0.1');
      assert.deepEqual(dialogs, [], 'a dialog opened');
      assert.deepEqual(consoleErrors, [], 'console errors (CSP violations?)');
    } finally {
      await dev.context.close();
      await adm.context.close();
    }
  });
});
