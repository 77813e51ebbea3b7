// Shared by the Read AI, Credal and Redbooth replays: a recipe's server as `GATEHOUSE_CONFIG=<recipe> npm start`
// builds it, listening on 127.0.0.1 (on a temporary SQLite file, so that the `gatehouse` CLI an administrator runs
// works on the same database), the CLI itself, plain HTTP helpers that place every parameter where a document
// places it, and a headless Chromium whose requests never leave 127.0.0.1: the navigation to an app's https
// redirect URI is recorded and refused by a proxy on 127.0.0.1; every other request off 127.0.0.1 is refused and
// recorded, so the tests can assert there was none.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { freePort } from '../e2e/loopback.ts';

export { browserOrSkipReason } from '../helpers/browser.ts';

import { runCliCaptured } from '../helpers/cli.ts';
import { buildTestServer, TEST_SECRET, type TestServer } from '../helpers/server.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The recipe file of a provider, as an absolute path (the tests may run from any folder). */
export function recipeFile(provider: 'read-ai' | 'credal' | 'redbooth'): string {
  return path.join(ROOT, 'examples', provider, 'gatehouse.config.json');
}

/** The recipe as JSON, to read the values the document fixes (realm, lifetimes) from one place. */
export function recipe(provider: 'read-ai' | 'credal' | 'redbooth'): Record<string, unknown> {
  return JSON.parse(readFileSync(recipeFile(provider), 'utf8')) as Record<string, unknown>;
}

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

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

/** The recipe's server on a real loopback socket, its clock at the real time (the browser checks cookies). */
export async function startRecipeServer(configFile: string): Promise<RecipeServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-replay-'));
  const databaseUrl = `sqlite:${path.join(dir, 'gatehouse.db')}`;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const server = await buildTestServer({ GATEHOUSE_ISSUER: issuer }, { configFile, databaseUrl });
    server.clock.advance(Date.now() - server.clock.now());
    try {
      await server.app.listen({ port, host: '127.0.0.1' });
    } catch (error) {
      await server.close();
      if ((error as { code?: string }).code !== 'EADDRINUSE' || attempt >= 3) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
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
      cli: (argv) => runCliCaptured(argv, env),
      async close() {
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

export interface BrowserProfile {
  context: BrowserContext;
  page: Page;
  /** The next navigation to one of the app's redirect URIs (already received ones first). */
  nextCallback(): Promise<URL>;
  /** Requests the browser tried to send anywhere but 127.0.0.1 or an app's redirect URI (none was sent). */
  offLoopback: string[];
  close(): Promise<void>;
}

/**
 * A proxy on 127.0.0.1 that answers every request with 502 and forwards nothing. Chromium does not run
 * redirected requests through Playwright's request interception, so a 303 to an app's https redirect URI would
 * otherwise make the browser resolve the app's host name: with this proxy the browser resolves nothing itself,
 * and the CONNECT it sends here is refused.
 */
async function refusingProxy(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createNetServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () =>
      socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  assert.ok(typeof address === 'object' && address, 'the proxy has no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * A fresh browser profile (no cookies: a user who is not signed in) that talks to 127.0.0.1 only. A navigation
 * to one of the app's redirect URIs (origin and path; any query) is recorded and goes no further (the refusing
 * proxy above); any other request off 127.0.0.1 is aborted, or refused by the proxy, and recorded.
 */
export async function openProfile(browser: Browser, redirectUris: string[] = []): Promise<BrowserProfile> {
  const callbacks = redirectUris.map((uri) => new URL(uri));
  const isCallback = (url: URL) =>
    callbacks.some((callback) => callback.origin === url.origin && callback.pathname === url.pathname);
  const received: URL[] = [];
  const seen = new Set<string>();
  const waiting: ((url: URL) => void)[] = [];
  const offLoopback: string[] = [];
  const proxy = await refusingProxy();
  const context = await browser.newContext({
    viewport: { width: 900, height: 760 },
    proxy: { server: proxy.url, bypass: '127.0.0.1' },
  });
  context.setDefaultTimeout(15_000);
  context.on('request', (request) => {
    const url = new URL(request.url());
    if (url.hostname === '127.0.0.1' && url.protocol === 'http:') return;
    if (!isCallback(url)) {
      offLoopback.push(url.href);
      return;
    }
    if (seen.has(url.href)) return;
    seen.add(url.href);
    const waiter = waiting.shift();
    if (waiter) waiter(url);
    else received.push(url);
  });
  // Requests the page makes itself (not redirects) never get as far as the proxy.
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' && url.protocol === 'http:') return route.continue();
    return route.abort('blockedbyclient');
  });
  return {
    context,
    page: await context.newPage(),
    offLoopback,
    nextCallback() {
      const first = received.shift();
      if (first) return Promise.resolve(first);
      return new Promise((resolve) => waiting.push(resolve));
    },
    async close() {
      await context.close();
      await proxy.close();
    },
  };
}

/** Rejects with `message` when `promise` has not settled within `ms` (a guard against hanging, not a timing check). */
export function within<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** On Gatehouse's sign-in page, signs in and waits to leave it. */
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
  await page.getByRole('button', { name: 'Deny' }).waitFor();
  return (await page.locator('body').textContent()) ?? '';
}

/**
 * The browser, sent to an app's redirect URI it cannot reach, shows its own error page for that navigation: the
 * next navigation must wait for it, or it is interrupted by it. Set up before the navigation starts.
 */
function errorPageShown(profile: BrowserProfile): Promise<unknown> {
  const { page } = profile;
  return page.waitForEvent('framenavigated', {
    predicate: (frame) => frame === page.mainFrame() && frame.url().startsWith('chrome-error:'),
  });
}

/** Presses a button (the document's name for it) and returns where the browser was sent (an app's redirect URI). */
export async function pressAndLand(profile: BrowserProfile, button: string): Promise<URL> {
  const landed = profile.nextCallback();
  const shown = errorPageShown(profile);
  await profile.page.getByRole('button', { name: button }).click();
  const url = await within(
    landed,
    15_000,
    () => `"${button}" did not lead to the app; the page is ${profile.page.url()}`,
  );
  await shown;
  return url;
}

/** Opens an authorization URL that needs no page (signed in, consent remembered) and returns where it led. */
export async function landFrom(profile: BrowserProfile, authorizationUrl: string): Promise<URL> {
  const landed = profile.nextCallback();
  const shown = errorPageShown(profile);
  // The navigation ends at the app's redirect URI, which the browser cannot reach: that error is expected.
  await profile.page.goto(authorizationUrl).catch(() => undefined);
  const url = await within(
    landed,
    15_000,
    () => `${authorizationUrl} did not lead to the app; the page is ${profile.page.url()}`,
  );
  await shown;
  return url;
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** A response's JSON body; the status and the text are in the message when it is not JSON. */
export async function jsonOf(response: Response): Promise<JsonResponse> {
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    assert.fail(`expected JSON, got ${response.status}: ${text.slice(0, 300)}`);
  }
  return { status: response.status, headers: response.headers, body };
}

/** `curl -X POST URL [-H …] -d 'a=b&c=d'`: a form POST whose body is sent byte for byte as given. */
export async function postForm(
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  const sent = new Headers({ 'content-type': 'application/x-www-form-urlencoded' });
  for (const [name, value] of Object.entries(headers)) sent.set(name, value);
  return jsonOf(await fetch(url, { method: 'POST', headers: sent, body, redirect: 'manual' }));
}

/** `curl -u ID:SECRET` and `Authorization: Basic $(echo -n 'ID:SECRET' | base64)`: the raw pair, base64. */
export function curlBasic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;
}

/** `curl -d a -d b`: curl joins the -d values with "&" and sends them without encoding anything. */
export function curlData(...fields: string[]): string {
  return fields.join('&');
}

/** A GET that does not follow redirects: where the server sends the browser. */
export async function getManual(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { redirect: 'manual', headers });
}

/** The parameters of a WWW-Authenticate challenge, in order, e.g. [['realm', 'x'], ['error', 'invalid_token']]. */
export function challengeParams(header: string | null): { scheme: string; params: [string, string][] } {
  assert.ok(header, 'no WWW-Authenticate header');
  const scheme = /^\S+/.exec(header)?.[0] ?? '';
  const params: [string, string][] = [];
  for (const match of header.slice(scheme.length).matchAll(/\s*([A-Za-z_]+)="((?:[^"\\]|\\.)*)"\s*,?/g)) {
    params.push([match[1]!, match[2]!.replace(/\\(.)/g, '$1')]);
  }
  return { scheme, params };
}

export interface CurlCommand {
  method: string;
  url: string;
  /** -u USER:PASSWORD */
  user: string | undefined;
  /** -H values */
  headers: string[];
  /** -d values, in order */
  data: string[];
}

/** Splits a POSIX shell command line (single and double quotes, backslash-newline) into words. */
function shellWords(text: string): string[] {
  const source = text.replace(/\\\r?\n/g, ' ');
  const words: string[] = [];
  let current: string | undefined;
  for (let i = 0; i < source.length; i++) {
    const char = source[i]!;
    if (char === "'") {
      const end = source.indexOf("'", i + 1);
      assert.ok(end > i, `unterminated single quote in: ${text}`);
      current = (current ?? '') + source.slice(i + 1, end);
      i = end;
    } else if (char === '"') {
      let value = '';
      for (i++; i < source.length && source[i] !== '"'; i++) {
        if (source[i] === '\\' && i + 1 < source.length) i++;
        value += source[i];
      }
      current = (current ?? '') + value;
    } else if (/\s/.test(char)) {
      if (current !== undefined) words.push(current);
      current = undefined;
    } else if (char === '\\' && i + 1 < source.length) {
      current = (current ?? '') + source[++i];
    } else {
      current = (current ?? '') + char;
    }
  }
  if (current !== undefined) words.push(current);
  return words;
}

/** Reads a `curl` command the way curl would (the options the playground and the documents use). */
export function parseCurl(text: string): CurlCommand {
  const words = shellWords(text.trim());
  assert.equal(words[0], 'curl', `not a curl command: ${text}`);
  const command: CurlCommand = { method: 'GET', url: '', user: undefined, headers: [], data: [] };
  for (let i = 1; i < words.length; i++) {
    const word = words[i]!;
    if (word === '-X' || word === '--request') command.method = words[++i]!;
    else if (word === '-u' || word === '--user') command.user = words[++i];
    else if (word === '-H' || word === '--header') command.headers.push(words[++i]!);
    else if (word === '-d' || word === '--data') command.data.push(words[++i]!);
    else if (word.startsWith('-')) assert.fail(`curl option the replay does not know: ${word}`);
    else command.url = word;
  }
  if (command.data.length && command.method === 'GET') command.method = 'POST';
  return command;
}

/** The -d fields of a curl command as name → value (curl sends them unencoded; the values here need none). */
export function curlFields(command: CurlCommand): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const item of command.data) {
    const index = item.indexOf('=');
    fields[index < 0 ? item : item.slice(0, index)] = index < 0 ? '' : item.slice(index + 1);
  }
  return fields;
}

/** The names of an object's keys, sorted, for comparing a response's shape with a document's. */
export function keysOf(body: Record<string, unknown>): string[] {
  return Object.keys(body).sort();
}

/** A scope string as a sorted list, for comparing scopes that a document prints in another order. */
export function scopeSet(scope: unknown): string[] {
  assert.equal(typeof scope, 'string', `scope is not a string: ${JSON.stringify(scope)}`);
  return (scope as string).split(' ').filter(Boolean).sort();
}
