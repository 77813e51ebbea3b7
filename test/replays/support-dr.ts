// What the Dialpad and Readmill replays add to support.ts: the app's callback on loopback, and a headless
// Chromium whose requests never leave 127.0.0.1 (Playwright cannot intercept redirects, so these apps' redirect
// URIs are loopback ones, registered as native apps with a secret: Gatehouse allows plain http only there).
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Browser, BrowserContext, Page } from 'playwright-core';

// The recipe server, the CLI, the browser and the small helpers are the ones every replay shares.
export {
  browserOrSkipReason,
  type CliRun,
  consentText,
  jsonOf,
  type RecipeServer,
  signIn,
  startRecipeServer,
} from './support.ts';

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

/** Presses a consent button and returns where the browser was sent (the app's redirect URI). */
export async function pressConsent(app: AppBrowser, button: 'Allow access' | 'Deny'): Promise<URL> {
  const landed = app.callback.next();
  await app.page.getByRole('button', { name: button }).click();
  const url = await landed;
  await app.page.waitForURL((current) => current.href.startsWith(app.callback.redirectUri));
  assert.equal(await app.page.locator('body').textContent(), 'Back at the app.');
  return url;
}
