// Readmill's "OAuth - readmill/API GitHub Wiki" (../shared/reference/readmill.txt), replayed step by step against
// Gatehouse started from examples/readmill/gatehouse.config.json: the allow/deny page in headless Chromium, the
// curl calls as the document writes them (a POST with every parameter in the query string and no body), and the
// access token sent as ?access_token= and as "Authorization: OAuth …". The last test shows that these legacy
// behaviours are the recipe's doing: the default configuration refuses them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { Client, User } from '../../src/storage/storage.ts';
import { buildTestServer } from '../helpers/server.ts';
import {
  type AppBrowser,
  type AppCallback,
  browserOrSkipReason,
  consentText,
  jsonOf,
  openAppBrowser,
  pressConsent,
  type RecipeServer,
  signIn,
  startAppCallback,
  startRecipeServer,
} from './support-dr.ts';

const RECIPE = 'examples/readmill/gatehouse.config.json';
const HUNDRED_YEARS = 3_155_673_599;

type Person = User & { email: string; password: string };

describe('Readmill: "OAuth - readmill/API GitHub Wiki", replayed against examples/readmill', () => {
  let browser: Browser | undefined;
  let skipReason: string | undefined;
  let readmill: RecipeServer;
  /** The app's redirect URL: the document's http://example.com/callback, on loopback. */
  let callback: AppCallback;
  let app: Client;
  let secret: string;
  /** The tokens of the "Access token" step, for the steps that use them. */
  let issued: Record<string, unknown> | undefined;
  let refreshed: Record<string, unknown> | undefined;
  let reader: Person | undefined;
  const browsers: AppBrowser[] = [];

  before(async () => {
    ({ browser, skipReason } = await browserOrSkipReason());
    if (skipReason) return;
    readmill = await startRecipeServer(RECIPE);
    callback = await startAppCallback('/callback');
    // "In order to use it you must have an application registered with us": a confidential app that sends its
    // secret as a parameter (client_secret_post), allowed non-expiring tokens. A loopback redirect URI is plain
    // http only for native apps in Gatehouse, hence the type (the CLI test below registers the https one).
    const added = await readmill.server.addClient({
      name: 'Reading List',
      redirectUris: [callback.redirectUri],
      scope: 'non-expiring',
      tokenEndpointAuthMethod: 'client_secret_post',
      applicationType: 'native',
      nonExpiringTokens: true,
    });
    app = added.client;
    assert.ok(added.secret);
    secret = added.secret;
  });

  after(async () => {
    for (const opened of browsers) await opened.context.close().catch(() => {});
    await browser?.close();
    await callback?.close();
    await readmill?.close();
  });

  async function newBrowser(): Promise<AppBrowser> {
    assert.ok(browser);
    const opened = await openAppBrowser(browser, callback);
    browsers.push(opened);
    return opened;
  }

  /** "Point a browser to: http://readmill.com/oauth/authorize?response_type=code&client_id=…&redirect_uri=…" */
  function authorizeUrl(extra = ''): string {
    return `${readmill.issuer}/oauth/authorize?response_type=code&client_id=${app.id}&redirect_uri=${callback.redirectUri}${extra}`;
  }

  /** `curl -X POST "http://readmill.com/oauth/token?…"`: every parameter in the query string, no body. */
  function curlPost(query: string) {
    return fetch(`${readmill.issuer}/oauth/token?${query}`, { method: 'POST' });
  }

  function exchange(code: string) {
    return curlPost(
      `grant_type=authorization_code&client_id=${app.id}&client_secret=${secret}&redirect_uri=${callback.redirectUri}&code=${code}`,
    );
  }

  function codeOf(landed: URL): string {
    assert.deepEqual([...landed.searchParams.keys()].sort(), ['code', 'iss'], landed.href);
    return landed.searchParams.get('code') ?? '';
  }

  function echo(query: string, headers: Record<string, string> = {}) {
    return fetch(`${readmill.issuer}/oauth/echo${query}`, { headers });
  }

  it('registering an app: the operator command of the README works under the recipe, and refuses a plain-http redirect URI', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const added = await readmill.cli([
      'clients',
      'add',
      '--name',
      'Bookshelf',
      '--redirect-uri',
      'https://example.com/callback',
      '--auth-method',
      'client_secret_post',
      '--scope',
      'non-expiring',
      '--non-expiring',
    ]);
    assert.equal(added.code, 0, added.stderr);
    const output = JSON.parse(added.stdout) as Record<string, unknown>;
    assert.equal(output.token_endpoint_auth_method, 'client_secret_post');
    assert.equal(output.non_expiring_tokens, true);
    assert.equal(output.scope, 'non-expiring');
    assert.match(String(output.client_secret), /^ghs_/);
    // The document's own example, http://example.com/callback: https is required outside loopback.
    const plain = await readmill.cli([
      'clients',
      'add',
      '--name',
      'Plain',
      '--redirect-uri',
      'http://example.com/callback',
      '--auth-method',
      'client_secret_post',
    ]);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /must use https/);
  });

  it('deny: "On deny the user gets redirected to the redirect_uri with an error": ?error=user_denied', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const user = await readmill.server.addUser({ name: 'Dora Declines' });
    const opened = await newBrowser();
    // No scope, no state, no PKCE: the document's URL as it stands.
    await opened.page.goto(authorizeUrl());
    assert.equal(new URL(opened.page.url()).pathname, '/login');
    await signIn(opened.page, user);
    // "This will prompt the user with allow/deny access to account"
    const consent = await consentText(opened.page);
    assert.match(consent, /Reading List/);
    assert.match(consent, /Readmill/);
    const landed = await pressConsent(opened, 'Deny');
    assert.equal(landed.origin + landed.pathname, callback.redirectUri);
    assert.equal(landed.searchParams.get('error'), 'user_denied');
    assert.equal(landed.searchParams.get('code'), null);
    // Gatehouse adds a description and iss (RFC 9207); no state was sent, so none comes back.
    assert.deepEqual([...landed.searchParams.keys()].sort(), ['error', 'error_description', 'iss']);
    assert.equal(landed.searchParams.get('error_description'), 'The user denied the request');
    assert.equal(landed.searchParams.get('iss'), readmill.issuer);
    assert.deepEqual(opened.offLoopback, []);
  });

  it('allow: back at the redirect URL with a code; POST /oauth/token with every parameter in the query string → { access_token, expires_in: 3600, scope: "", refresh_token }', async (t) => {
    if (skipReason) return t.skip(skipReason);
    reader = await readmill.server.addUser({ name: 'Rita Reader', email: 'rita@readmill.example' });
    const opened = await newBrowser();
    await opened.page.goto(authorizeUrl());
    await signIn(opened.page, reader);
    await consentText(opened.page);
    // "on allow it will redirect to the following url: http://example.com/callback?code=acfbd2c5"
    const landed = await pressConsent(opened, 'Allow access');
    assert.equal(landed.origin + landed.pathname, callback.redirectUri);
    const code = codeOf(landed);

    const response = await exchange(code);
    const { status, body } = await jsonOf(response);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(response.headers.get('cache-control'), 'no-store');
    // The document's four fields, plus token_type (RFC 6749 §5.1 makes it REQUIRED).
    assert.deepEqual(Object.keys(body).sort(), [
      'access_token',
      'expires_in',
      'refresh_token',
      'scope',
      'token_type',
    ]);
    assert.equal(body.expires_in, 3600);
    assert.equal(body.scope, '');
    assert.equal(body.token_type, 'Bearer');
    assert.equal(typeof body.access_token, 'string');
    assert.equal(typeof body.refresh_token, 'string');
    issued = body;
    assert.deepEqual(opened.offLoopback, []);
  });

  it('refresh: POST /oauth/token?grant_type=refresh_token&client_id=…&client_secret=…&refresh_token=… → a new access token and a new refresh token', async (t) => {
    if (skipReason) return t.skip(skipReason);
    assert.ok(issued, 'the "allow" test did not get tokens');
    const { status, body } = await jsonOf(
      await curlPost(
        `grant_type=refresh_token&client_id=${app.id}&client_secret=${secret}&refresh_token=${issued.refresh_token}`,
      ),
    );
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(Object.keys(body).sort(), [
      'access_token',
      'expires_in',
      'refresh_token',
      'scope',
      'token_type',
    ]);
    assert.equal(body.expires_in, 3600);
    assert.equal(body.scope, '');
    assert.notEqual(body.access_token, issued.access_token);
    assert.notEqual(body.refresh_token, issued.refresh_token);
    refreshed = body;
  });

  it('authenticated requests: the access token as ?access_token= or as "Authorization: OAuth …" on /oauth/echo', async (t) => {
    if (skipReason) return t.skip(skipReason);
    assert.ok(refreshed && reader, 'the "allow" and "refresh" tests did not get tokens');
    const token = String(refreshed.access_token);
    const expected = { sub: reader.id, client_id: app.id, scopes: [] };
    // "$ curl http://readmill.com/oauth/echo?access_token=abc123"
    const byQuery = await echo(`?access_token=${token}`);
    assert.equal(byQuery.status, 200);
    const queried = (await byQuery.json()) as Record<string, unknown>;
    assert.deepEqual({ sub: queried.sub, client_id: queried.client_id, scopes: queried.scopes }, expected);
    // "or as a header: Authorization: OAuth abc123"
    const byHeader = await echo('', { authorization: `OAuth ${token}` });
    assert.equal(byHeader.status, 200);
    const headed = (await byHeader.json()) as Record<string, unknown>;
    assert.deepEqual({ sub: headed.sub, client_id: headed.client_id, scopes: headed.scopes }, expected);
    // An unknown token is refused with invalid_token.
    const unknown = await echo('', { authorization: 'OAuth gha_not-a-real-token' });
    assert.equal(unknown.status, 401);
    assert.match(
      String(unknown.headers.get('www-authenticate')),
      /^Bearer realm="Readmill", error="invalid_token"/,
    );
    // Without credentials: a bare challenge in Readmill's realm.
    const anonymous = await echo('');
    assert.equal(anonymous.status, 401);
    assert.match(String(anonymous.headers.get('www-authenticate')), /^Bearer realm="Readmill"/);
  });

  it('scope=non-expiring: expires_in 3155673599, scope "non-expiring" and no refresh_token; it outlives an hour-long token', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const user = await readmill.server.addUser({ name: 'Nora Nonexpiring' });
    const opened = await newBrowser();
    // "If you pass in scope=non-expiring, you will get a token that never expires"
    await opened.page.goto(authorizeUrl('&scope=non-expiring'));
    await signIn(opened.page, user);
    assert.match(await consentText(opened.page), /the access never expires/);
    const code = codeOf(await pressConsent(opened, 'Allow access'));
    const { status, body } = await jsonOf(await exchange(code));
    assert.equal(status, 200, JSON.stringify(body));
    // "you will not get a refresh_token and your access_token will never expire"
    assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'scope', 'token_type']);
    assert.equal(body.expires_in, HUNDRED_YEARS);
    assert.equal(body.scope, 'non-expiring');

    // The same user again without the scope (consent remembered): an ordinary, hour-long token.
    const landed = opened.callback.next();
    await opened.page.goto(authorizeUrl());
    const ordinary = await jsonOf(await exchange(codeOf(await landed)));
    assert.equal(ordinary.status, 200, JSON.stringify(ordinary.body));
    assert.equal(ordinary.body.expires_in, 3600);

    readmill.server.clock.advance(3601_000);
    const expired = await echo('', { authorization: `OAuth ${ordinary.body.access_token}` });
    assert.equal(expired.status, 401);
    assert.match(
      String(expired.headers.get('www-authenticate')),
      /error_description="The access token expired"/,
    );
    const lasting = await echo('', { authorization: `OAuth ${body.access_token}` });
    assert.equal(lasting.status, 200);
    const seen = (await lasting.json()) as Record<string, unknown>;
    assert.equal(seen.sub, user.id);
    assert.deepEqual(seen.scopes, ['non-expiring']);
    assert.deepEqual(opened.offLoopback, []);
  });

  it("the legacy behaviours are the recipe's: the default configuration refuses the OAuth scheme, ?access_token= and token parameters in the query", async () => {
    const server = await buildTestServer();
    try {
      const { client, secret: machineSecret } = await server.addClient({
        name: 'Machine',
        redirectUris: [],
        grantTypes: ['client_credentials'],
        tokenEndpointAuthMethod: 'client_secret_post',
        scope: '',
      });
      assert.ok(machineSecret);
      const query = `grant_type=client_credentials&client_id=${client.id}&client_secret=${machineSecret}`;
      const inQuery = await server.app.inject({ method: 'POST', url: `/token?${query}` });
      assert.equal(inQuery.statusCode, 400);
      assert.deepEqual(inQuery.json(), {
        error: 'invalid_request',
        error_description: 'The body must be application/x-www-form-urlencoded',
      });
      const inBody = await server.app.inject({
        method: 'POST',
        url: '/token',
        payload: query,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(inBody.statusCode, 200, inBody.body);
      const token = String(inBody.json().access_token);
      const path = server.config.paths.testToken;

      const bearer = await server.app.inject({ url: path, headers: { authorization: `Bearer ${token}` } });
      assert.equal(bearer.statusCode, 200, 'the same token as Bearer works');
      const oauth = await server.app.inject({ url: path, headers: { authorization: `OAuth ${token}` } });
      assert.equal(oauth.statusCode, 401);
      assert.doesNotMatch(String(oauth.headers['www-authenticate']), /error=/);
      const byQuery = await server.app.inject({ url: `${path}?access_token=${token}` });
      assert.equal(byQuery.statusCode, 401);
    } finally {
      await server.close();
    }
  });
});
