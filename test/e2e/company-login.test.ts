// The company's own sign-in and consent pages, end to end in a real browser: Gatehouse with GATEHOUSE_LOGIN_URL
// and GATEHOUSE_CONSENT_URL pointing at the example app (examples/company-login/server.ts, started as its README
// says, as its own process with its own users table), and a third-party client written with oauth4webapi
// running the code flow through it. The ID token carries the company's subject and claims; userinfo, refresh and
// revocation work for that subject; a remembered sign-in skips both pages the next time. On SQLite and
// PostgreSQL. Screenshots of the example's pages: company-login.png and company-consent.png.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as oauth from 'oauth4webapi';
import type { Browser } from 'playwright-core';
import { createAdminKey } from '../../src/accounts/admin-keys.ts';
import { browserOrSkipReason, SCREENSHOT_DIR } from '../helpers/browser.ts';
import { freshDatabase, postgresOrSkipReason, type RunningPostgres } from '../helpers/postgres.ts';
import {
  type CallbackServer,
  freePort,
  type LoopbackServer,
  startCallbackServer,
  startLoopbackServer,
} from './loopback.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const insecure = { [oauth.allowInsecureRequests]: true } as const; // everything is on loopback
const DEMO = { email: 'grace@acme.example', password: 'correct horse battery staple' };

const { postgres, skip: postgresSkip } = await postgresOrSkipReason();
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

/** `node examples/company-login/server.ts`, as the README starts it; resolves once it listens. */
async function startCompanyApp(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['examples/company-login/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Acme sign-in pages on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the example app exited (${code}): ${output}`)));
  });
  return { child, output: () => output };
}

function suite(name: string, databaseUrl: () => Promise<string | undefined>, screenshots: boolean) {
  describe(`a third-party client through the company's own pages (examples/company-login) on ${name}`, () => {
    let browser: Browser | undefined;
    let skipReason: string | undefined;
    let loopback: LoopbackServer;
    let callback: CallbackServer;
    let company: { child: ChildProcess; output: () => string } | undefined;
    let companyDir: string;
    let companyOrigin: string;
    let as: oauth.AuthorizationServer;
    let rp: oauth.Client;
    let clientAuth: oauth.ClientAuth;
    const offLoopback: string[] = [];

    before(async () => {
      const launched = await browserOrSkipReason();
      if (!launched.browser) {
        skipReason = launched.skipReason;
        return;
      }
      browser = launched.browser;
      const companyPort = await freePort();
      companyOrigin = `http://127.0.0.1:${companyPort}`;
      loopback = await startLoopbackServer(
        { GATEHOUSE_LOGIN_URL: `${companyOrigin}/login`, GATEHOUSE_CONSENT_URL: `${companyOrigin}/consent` },
        { databaseUrl: await databaseUrl() },
      );
      const { key } = await createAdminKey(
        loopback.server.deps.storage,
        { name: 'company-login', scopes: ['interactions'] },
        Date.now(),
      );
      companyDir = await mkdtemp(path.join(tmpdir(), 'company-login-'));
      company = await startCompanyApp({
        PORT: String(companyPort),
        HOST: '127.0.0.1',
        GATEHOUSE_URL: loopback.issuer,
        GATEHOUSE_ADMIN_KEY: key,
        COMPANY_DB: path.join(companyDir, 'company.db'),
      });
      callback = await startCallbackServer();
      const added = await loopback.server.addClient({
        name: 'Partner Analytics',
        applicationType: 'native',
        tokenEndpointAuthMethod: 'client_secret_basic',
        redirectUris: [callback.redirectUri],
        scope: 'openid profile email offline_access',
        grantTypes: ['authorization_code', 'refresh_token'],
      });
      assert.ok(added.secret);
      rp = { client_id: added.client.id };
      clientAuth = oauth.ClientSecretBasic(added.secret);
      const issuer = new URL(loopback.issuer);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
      await mkdir(SCREENSHOT_DIR, { recursive: true });
    });

    after(async () => {
      await browser?.close();
      if (company && company.child.exitCode === null) {
        const exited = new Promise((resolve) => company!.child.once('exit', resolve));
        company.child.kill('SIGTERM');
        await exited;
      }
      await callback?.close();
      await loopback?.close();
      if (companyDir) await rm(companyDir, { recursive: true, force: true });
    });

    async function authorizationRequest() {
      const codeVerifier = oauth.generateRandomCodeVerifier();
      const nonce = oauth.generateRandomNonce();
      const state = oauth.generateRandomState();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({
        client_id: rp.client_id,
        redirect_uri: callback.redirectUri,
        response_type: 'code',
        scope: 'openid profile email offline_access',
        code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        login_hint: DEMO.email,
        nonce,
        state,
      }).toString();
      return { url, codeVerifier, nonce, state };
    }

    async function exchange(landed: URL, request: Awaited<ReturnType<typeof authorizationRequest>>) {
      const params = oauth.validateAuthResponse(as, rp, landed, request.state);
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        rp,
        clientAuth,
        params,
        callback.redirectUri,
        request.codeVerifier,
        insecure,
      );
      const result = await oauth.processAuthorizationCodeResponse(as, rp, response, {
        expectedNonce: request.nonce,
        requireIdToken: true,
      });
      await oauth.validateApplicationLevelSignature(as, response, insecure);
      return { result, claims: oauth.getValidatedIdTokenClaims(result)! };
    }

    it('signs in on the company’s page, consents there, and the client gets the company’s subject and claims; userinfo, refresh and revocation work; the next time both pages are skipped', async (t) => {
      if (skipReason) return t.skip(skipReason);
      assert.ok(browser);
      const context = await browser.newContext({ viewport: { width: 800, height: 640 } });
      context.setDefaultTimeout(15_000);
      await context.route('**/*', (route) => {
        const url = new URL(route.request().url());
        if (url.hostname === '127.0.0.1') return route.continue();
        offLoopback.push(url.href);
        return route.abort();
      });
      const page = await context.newPage();
      const dialogs: string[] = [];
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      try {
        const first = await authorizationRequest();
        await page.goto(first.url.href);
        await page.waitForURL((url) => url.origin === companyOrigin && url.pathname === '/login');
        assert.match(
          (await page.locator('h1').textContent()) ?? '',
          /Sign in to continue to Partner Analytics/,
        );
        assert.equal(await page.getByLabel('Email').inputValue(), DEMO.email, 'login_hint reached the page');
        await page.getByLabel('Password').fill(DEMO.password);
        await page.getByLabel('Keep me signed in').check();
        if (screenshots)
          await page.screenshot({ path: `${SCREENSHOT_DIR}company-login.png`, fullPage: true });
        await page.getByRole('button', { name: 'Sign in' }).click();

        await page.waitForURL((url) => url.origin === companyOrigin && url.pathname === '/consent');
        const consentText = (await page.locator('main').textContent()) ?? '';
        assert.match(consentText, /Partner Analytics wants to access your Acme account/);
        assert.match(consentText, /See your email address/);
        if (screenshots)
          await page.screenshot({ path: `${SCREENSHOT_DIR}company-consent.png`, fullPage: true });
        const landedFirst = callback.next();
        await page.getByRole('button', { name: 'Allow' }).click();
        const { result, claims } = await exchange(await landedFirst, first);

        const companyUsers = new DatabaseSync(path.join(companyDir, 'company.db'), { readOnly: true });
        const grace = companyUsers.prepare('select id from users where email = ?').get(DEMO.email) as {
          id: string;
        };
        companyUsers.close();
        assert.equal(claims.sub, grace.id, 'the sub is the company’s own user id');
        assert.equal(claims.name, 'Grace Hopper');
        assert.equal(claims.email, DEMO.email);
        assert.equal(claims.email_verified, true);
        assert.equal(claims.preferred_username, 'grace');
        assert.deepEqual(claims.amr, ['pwd']);

        const userinfo = await oauth.processUserInfoResponse(
          as,
          rp,
          claims.sub,
          await oauth.userInfoRequest(as, rp, result.access_token, insecure),
        );
        assert.equal(userinfo.sub, grace.id);
        assert.equal(userinfo.email, DEMO.email);

        assert.ok(result.refresh_token);
        const refreshed = await oauth.processRefreshTokenResponse(
          as,
          rp,
          await oauth.refreshTokenGrantRequest(as, rp, clientAuth, result.refresh_token, insecure),
        );
        assert.notEqual(refreshed.refresh_token, result.refresh_token);
        await oauth.processRevocationResponse(
          await oauth.revocationRequest(as, rp, clientAuth, refreshed.refresh_token!, insecure),
        );
        const afterRevocation = await oauth.userInfoRequest(as, rp, refreshed.access_token, insecure);
        assert.equal(afterRevocation.status, 401, 'revoking the refresh token took its access token too');

        // Remembered sign-in (skip) and remembered consent: straight back to the client, no page shown.
        const second = await authorizationRequest();
        const landedSecond = callback.next();
        await page.goto(second.url.href);
        const again = await exchange(await landedSecond, second);
        assert.equal(again.claims.sub, grace.id);
        assert.equal(again.claims.auth_time, claims.auth_time, 'the same sign-in');
        assert.deepEqual(dialogs, []);
        assert.deepEqual(offLoopback, []);
      } finally {
        await context.close();
      }
    });

    it('“Cancel” on the company’s page returns to the client with access_denied, state and iss', async (t) => {
      if (skipReason) return t.skip(skipReason);
      assert.ok(browser);
      const context = await browser.newContext();
      context.setDefaultTimeout(15_000);
      try {
        const page = await context.newPage();
        const request = await authorizationRequest();
        await page.goto(request.url.href);
        await page.waitForURL((url) => url.origin === companyOrigin && url.pathname === '/login');
        const landed = callback.next();
        await page.getByRole('button', { name: 'Cancel' }).click();
        const url = await landed;
        assert.equal(url.searchParams.get('error'), 'access_denied');
        assert.equal(url.searchParams.get('state'), request.state);
        assert.equal(url.searchParams.get('iss'), loopback.issuer);
        assert.equal(url.searchParams.get('code'), null);
      } finally {
        await context.close();
      }
    });
  });
}

suite('SQLite', async () => undefined, true);
if (postgres) suite('PostgreSQL', () => freshUrl(postgres), false);
else test('the company’s pages in a browser on PostgreSQL', (t) => t.skip(postgresSkip));
