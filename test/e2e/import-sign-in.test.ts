// An imported user's first sign-in in a real headless Chromium (issue 13): a user imported with a bcrypt hash
// made by bcryptjs signs in through the real login page on loopback; the stored hash becomes Gatehouse's scrypt,
// and the old password still works in a fresh browser afterwards.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { importUsers } from '../../src/accounts/import.ts';
import { browserOrSkipReason } from '../helpers/browser.ts';
import { type LoopbackServer, startLoopbackServer } from './loopback.ts';

const bcrypt = (
  JSON.parse(readFileSync(new URL('../fixtures/password-hashes.json', import.meta.url), 'utf8')) as {
    made_by: string;
    password: string;
    hash: string;
  }[]
).find((fixture) => fixture.made_by.startsWith('bcryptjs'))!;

describe('an imported bcrypt user in a real browser', () => {
  let browser: Browser | undefined;
  let skipReason: string | undefined;
  let loopback: LoopbackServer;
  const offLoopback: string[] = [];

  before(async () => {
    const launched = await browserOrSkipReason();
    if (!launched.browser) {
      skipReason = launched.skipReason;
      return;
    }
    browser = launched.browser;
    loopback = await startLoopbackServer();
  });

  after(async () => {
    await browser?.close();
    await loopback?.close();
  });

  async function signInInFreshBrowser(email: string, password: string): Promise<string> {
    assert.ok(browser);
    const context = await browser.newContext();
    context.setDefaultTimeout(15_000);
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1') return route.continue();
      offLoopback.push(url.href);
      return route.abort();
    });
    try {
      const page = await context.newPage();
      await page.goto(new URL('/login', loopback.issuer).href);
      await page.getByLabel('Email', { exact: true }).fill(email);
      await page.getByLabel('Password', { exact: true }).fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForLoadState('load');
      return (await page.textContent('main')) ?? (await page.content());
    } finally {
      await context.close();
    }
  }

  it('signs in with the old password, is rehashed to scrypt, and the old password still works', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const storage = loopback.server.deps.storage;
    const id = 'auth0|browser-user';
    const errors: string[] = [];
    await importUsers(
      storage,
      (async function* () {
        yield JSON.stringify({ external_id: id, email: 'ada@example.com', password_hash: bcrypt.hash });
      })(),
      { now: () => Date.now(), onLineError: (_, message) => errors.push(message) },
    );
    assert.deepEqual(errors, []);

    assert.match(
      await signInInFreshBrowser('ada@example.com', 'not the password'),
      /Incorrect email or password/,
    );
    assert.equal((await storage.users.findById(id))?.passwordHash, bcrypt.hash);

    assert.match(await signInInFreshBrowser('ada@example.com', bcrypt.password), /You are signed in/);
    const rehashed = (await storage.users.findById(id))!.passwordHash;
    assert.match(rehashed, /^scrypt\$10\$8\$1\$/, 'the bcrypt hash was replaced by Gatehouse’s scrypt');

    assert.match(await signInInFreshBrowser('ada@example.com', bcrypt.password), /You are signed in/);
    assert.equal((await storage.users.findById(id))!.passwordHash, rehashed);
    assert.deepEqual(offLoopback, []);
  });
});
