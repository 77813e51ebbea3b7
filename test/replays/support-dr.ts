// Shared by the Dialpad and Readmill replays: a recipe's server on a real loopback socket (on a temporary SQLite
// file, so that the `gatehouse` CLI works on the same database, as an operator's would), the CLI itself, the
// app's callback on loopback, and a headless Chromium whose requests never leave 127.0.0.1 (Playwright cannot
// intercept redirects, so the apps' redirect URIs are loopback ones, registered as native apps with a secret:
// Gatehouse allows plain http only there).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { runCli } from '../../src/cli/main.ts';
import { freePort } from '../e2e/loopback.ts';
import { BrowserUnavailableError, launchBrowser } from '../helpers/browser.ts';
import { buildTestServer, TEST_SECRET, type TestServer } from '../helpers/server.ts';

export interface CliRun {
  code: number | undefined;
  stdout: string;
  stderr: string;
}

export interface RecipeServer {
  server: TestServer;
  /** http://127.0.0.1:<port>: the issuer, and the only origin anything talks to. */
  issuer: string;
  /** `gatehouse …` with GATEHOUSE_CONFIG set to the recipe, on the server's database. */
  cli(argv: string[]): Promise<CliRun>;
  close(): Promise<void>;
}

/** The recipe's server as `GATEHOUSE_CONFIG=<configFile> npm start` would build it, listening on 127.0.0.1. */
export async function startRecipeServer(configFile: string): Promise<RecipeServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-replay-'));
  const databaseUrl = `sqlite:${path.join(dir, 'gatehouse.db')}`;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const server = await buildTestServer({ GATEHOUSE_ISSUER: issuer }, { configFile, databaseUrl });
    // The browser checks cookie lifetimes against its own clock: let the server's clock show the real time.
    server.clock.advance(Date.now() - server.clock.now());
    try {
      await server.app.listen({ port, host: '127.0.0.1' });
    } catch (error) {
      await server.close();
      if ((error as { code?: string }).code !== 'EADDRINUSE' || attempt >= 3) throw error;
      continue;
    }
    const env: Record<string, string> = {
      GATEHOUSE_CONFIG: configFile,
      GATEHOUSE_ISSUER: issuer,
      DATABASE_URL: databaseUrl,
      GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
      GATEHOUSE_SECRET: TEST_SECRET,
      GATEHOUSE_PASSWORD_COST: '10',
      LOG_LEVEL: 'silent',
    };
    return {
      server,
      issuer,
      async cli(argv) {
        let stdout = '';
        let stderr = '';
        const code = await runCli(argv, {
          stdout: (text) => {
            stdout += text;
          },
          stderr: (text) => {
            stderr += text;
          },
          readStdin: async () => {
            throw new Error('the replay gives the CLI no stdin');
          },
          env,
        });
        return { code, stdout, stderr };
      },
      async close() {
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

/** Chromium, or a reason to skip (only outside CI: under CI=true a missing browser is a failure). */
export async function browserOrSkipReason(): Promise<{ browser?: Browser; skipReason?: string }> {
  try {
    return { browser: await launchBrowser() };
  } catch (error) {
    if (!(error instanceof BrowserUnavailableError) || process.env.CI === 'true') throw error;
    return { skipReason: error.message };
  }
}

export interface AppCallback {
  /** http://127.0.0.1:<port><path>: the app's redirect URI. */
  redirectUri: string;
  /** The next request to the redirect URI from now on (earlier ones, say from a failed test, are ignored). */
  next(): Promise<URL>;
  close(): Promise<void>;
}

/** The app's OAuth callback, on loopback: it answers "Back at the app." and reports each query it receives. */
export async function startAppCallback(pathname: string): Promise<AppCallback> {
  const waiting: ((url: URL) => void)[] = [];
  let origin = '';
  const server: Server = createServer((request: IncomingMessage, response) => {
    const url = new URL(request.url ?? '/', origin);
    const hit = url.pathname === pathname;
    if (hit) for (const waiter of waiting.splice(0)) waiter(url);
    response.writeHead(hit ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    response.end('<!doctype html><title>Callback</title><p>Back at the app.</p>');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('callback server has no address');
  origin = `http://127.0.0.1:${address.port}`;
  return {
    redirectUri: `${origin}${pathname}`,
    next: () => new Promise((resolve) => waiting.push(resolve)),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface AppBrowser {
  context: BrowserContext;
  page: Page;
  callback: AppCallback;
  /** Requests the page tried to send anywhere but 127.0.0.1 (all aborted). */
  offLoopback: string[];
}

/** A fresh browser profile (no cookies: a user who is not signed in) that never leaves 127.0.0.1. */
export async function openAppBrowser(browser: Browser, callback: AppCallback): Promise<AppBrowser> {
  const offLoopback: string[] = [];
  const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
  context.setDefaultTimeout(15_000);
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') return route.continue();
    offLoopback.push(url.href);
    return route.abort();
  });
  return { context, page: await context.newPage(), callback, offLoopback };
}

/** On the sign-in page (Gatehouse's /login), signs in and waits to leave it. */
export async function signIn(page: Page, user: { email: string; password: string }): Promise<void> {
  await page.waitForURL((url) => url.pathname === '/login');
  await page.getByLabel('Email', { exact: true }).fill(user.email);
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname !== '/login');
}

/** Waits for the consent page and returns its text. */
export async function consentText(page: Page): Promise<string> {
  await page.waitForURL((url) => url.pathname === '/consent' && url.searchParams.has('interaction'));
  await page.getByRole('button', { name: 'Allow access' }).waitFor();
  return (await page.locator('body').textContent()) ?? '';
}

/** Presses a consent button and returns where the browser was sent (the app's redirect URI). */
export async function pressConsent(app: AppBrowser, button: 'Allow access' | 'Deny'): Promise<URL> {
  const landed = app.callback.next();
  await app.page.getByRole('button', { name: button }).click();
  const url = await landed;
  await app.page.waitForURL((current) => current.href.startsWith(app.callback.redirectUri));
  assert.equal(await app.page.locator('body').textContent(), 'Back at the app.');
  return url;
}

/** The JSON body of a response, with the status and body in the message when an assertion on it fails. */
export async function jsonOf(response: Response): Promise<{ status: number; body: Record<string, unknown> }> {
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    assert.fail(`expected JSON, got ${response.status}: ${text.slice(0, 300)}`);
  }
  return { status: response.status, body };
}
