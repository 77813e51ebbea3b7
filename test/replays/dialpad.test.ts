// Dialpad's "Token Generation via OAuth" (../shared/reference/dialpad.txt), replayed step by step against
// Gatehouse started from examples/dialpad/gatehouse.config.json. The browser steps (sign in, consent, the
// developer form, the admin's approvals) run in headless Chromium; the app's server-side calls are plain HTTP
// with the parameters where the document puts them. Where Gatehouse deliberately differs (expires_in in
// seconds, not the document's absolute-looking sample), the test asserts the standard and the recipe's README
// says why. Where the document shows something Gatehouse cannot express (no response_type, no grant_type or
// redirect_uri at the token endpoint, passthrough parameters on the callback), one test replays the document
// literally and asserts what it shows; the other steps send the standard request so that they still run.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { Client, User } from '../../src/storage/storage.ts';
import { basicAuth } from '../helpers/flow.ts';
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

const RECIPE = 'examples/dialpad/gatehouse.config.json';
const SCOPE = 'recordings_export screen_pop';
const CODE_ERROR = 'The authorization code is invalid, expired or was already used';

type Person = User & { email: string; password: string };

describe('Dialpad: "Token Generation via OAuth", replayed against examples/dialpad', () => {
  let browser: Browser | undefined;
  let skipReason: string | undefined;
  let dialpad: RecipeServer;
  /** The integration's OAuth callback ("the destination for the OAuth flow"), on loopback. */
  let callback: AppCallback;
  let redirectUri: string;
  let app: Client;
  let secret: string;
  let otherApp: Client;
  let otherSecret: string;
  let admin: Person;
  /** What the first "Login with Dialpad" produced, for the steps that follow it in the document. */
  let firstCallback: URL | undefined;
  let firstTokens: Record<string, unknown> | undefined;
  const browsers: AppBrowser[] = [];

  before(async () => {
    ({ browser, skipReason } = await browserOrSkipReason());
    if (skipReason) return;
    dialpad = await startRecipeServer(RECIPE);
    callback = await startAppCallback('/dialpad/oauth/callback');
    redirectUri = callback.redirectUri;
    // "After registering, you will be provided with a client id and client secret": an approved app, as the
    // developer form registers it (client_secret_basic) once an admin has approved it and its scopes. Its
    // callback is on loopback, which Gatehouse allows (plain http) only for native apps: hence the type.
    const added = await dialpad.server.addClient({
      name: 'Acme CRM',
      redirectUris: [redirectUri],
      scope: SCOPE,
      tokenEndpointAuthMethod: 'client_secret_basic',
      applicationType: 'native',
    });
    app = added.client;
    assert.ok(added.secret);
    secret = added.secret;
    const other = await dialpad.server.addClient({
      name: 'Other Integration',
      redirectUris: [redirectUri],
      scope: SCOPE,
      tokenEndpointAuthMethod: 'client_secret_basic',
      applicationType: 'native',
    });
    otherApp = other.client;
    assert.ok(other.secret);
    otherSecret = other.secret;
    admin = await dialpad.server.addUser({
      email: 'admin@company.example',
      name: 'Ada Admin',
      isAdmin: true,
    });
  });

  after(async () => {
    for (const opened of browsers) await opened.context.close().catch(() => {});
    await browser?.close();
    await callback?.close();
    await dialpad?.close();
  });

  async function newBrowser(): Promise<AppBrowser> {
    assert.ok(browser);
    const opened = await openAppBrowser(browser, callback);
    browsers.push(opened);
    return opened;
  }

  function authorizeUrl(params: Record<string, string>): string {
    return `${dialpad.issuer}/authorize?${new URLSearchParams(params)}`;
  }

  /** The standard request (response_type=code added, see the gap test below) for Acme CRM. */
  function loginWithDialpad(state: string, client: Client = app): string {
    return authorizeUrl({
      response_type: 'code',
      client_id: client.id,
      redirect_uri: redirectUri,
      scope: SCOPE,
      state,
    });
  }

  /** A user who is not signed in clicks "Login with Dialpad", signs in and consents. */
  async function firstLogin(opened: AppBrowser, user: Person, url: string): Promise<URL> {
    await opened.page.goto(url);
    await signIn(opened.page, user);
    await consentText(opened.page);
    return pressConsent(opened, 'Allow access');
  }

  /** The same browser again: signed in and consent remembered, so straight back to the app. */
  async function againLogin(opened: AppBrowser, url: string): Promise<URL> {
    const landed = opened.callback.next();
    await opened.page.goto(url);
    return landed;
  }

  function postForm(path: string, params: Record<string, string>, headers: Record<string, string> = {}) {
    return fetch(`${dialpad.issuer}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(params),
    });
  }

  /** The standard code exchange: the document's body plus grant_type and redirect_uri (see the gap test). */
  function exchange(code: string, client: Client = app, clientSecret = secret) {
    return postForm('/token', {
      grant_type: 'authorization_code',
      code,
      client_id: client.id,
      client_secret: clientSecret,
      redirect_uri: redirectUri,
    });
  }

  function usersMe(token: string) {
    return fetch(`${dialpad.issuer}/api/v2/users/me`, { headers: { authorization: `Bearer ${token}` } });
  }

  function codeOf(landed: URL): string {
    assert.equal(landed.searchParams.get('error'), null, landed.href);
    const code = landed.searchParams.get('code');
    assert.ok(code, `no code in ${landed.href}`);
    return code;
  }

  async function tokensFor(landed: URL, client: Client = app, clientSecret = secret) {
    const { status, body } = await jsonOf(await exchange(codeOf(landed), client, clientSecret));
    assert.equal(status, 200, JSON.stringify(body));
    return body as { access_token: string; refresh_token: string } & Record<string, unknown>;
  }

  it('Login with Dialpad: sign in, consent, back at redirect_uri with code and state; the code buys an API key that works as a bearer token at GET /api/v2/users/me', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const alice = await dialpad.server.addUser({ email: 'alice@company.example', name: 'Alice Agent' });
    const opened = await newBrowser();
    // "If the user is not logged in to Dialpad, they will be prompted to login"
    await opened.page.goto(loginWithDialpad('csrf-7f3a'));
    assert.equal(new URL(opened.page.url()).pathname, '/login');
    assert.match(await opened.page.title(), /Sign in/);
    await signIn(opened.page, alice);
    // "After logging in, the user will be presented with a consent screen"
    const consent = await consentText(opened.page);
    assert.match(consent, /Acme CRM/);
    assert.match(consent, /Publish recording URLs in call events/);
    assert.match(consent, /Use the screen pop API/);
    assert.ok(consent.includes(`You will be returned to ${new URL(redirectUri).origin}.`), consent);
    // "After consenting, Dialpad redirects the user to the redirect_uri (your site) and provides an auth code"
    const landed = await pressConsent(opened, 'Allow access');
    firstCallback = landed;
    assert.equal(landed.origin + landed.pathname, redirectUri);
    assert.equal(landed.searchParams.get('state'), 'csrf-7f3a', 'state: "Passthrough OAuth state"');
    const code = codeOf(landed);

    // "make a POST request to convert the temporary authorization code into a Dialpad API key"
    const response = await exchange(code);
    const { status, body } = await jsonOf(response);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.equal(typeof body.access_token, 'string');
    assert.equal(String(body.token_type).toLowerCase(), 'bearer');
    assert.equal(body.expires_in, 600, 'expires_in is the lifetime in seconds (RFC 6749 §5.1)');
    assert.equal(body.scope, SCOPE);
    assert.equal(typeof body.refresh_token, 'string');
    firstTokens = body;

    // "This API key can then be used as a bearer token … the get user API with "me" as the user id"
    const me = await usersMe(String(body.access_token));
    assert.equal(me.status, 200);
    assert.equal(me.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await me.json(), {
      id: alice.id,
      email: 'alice@company.example',
      name: 'Alice Agent',
      is_admin: false,
    });
    // Without the key the API answers 401 with a Bearer challenge in Dialpad's realm.
    const anonymous = await fetch(`${dialpad.issuer}/api/v2/users/me`);
    assert.equal(anonymous.status, 401);
    assert.match(String(anonymous.headers.get('www-authenticate')), /^Bearer realm="Dialpad"/);
    assert.deepEqual(opened.offLoopback, []);
  });

  it('the callback carries the passthrough parameters the document lists: client_id, redirect_uri, response_type, scope', (t) => {
    if (skipReason) return t.skip(skipReason);
    assert.ok(firstCallback, 'the "Login with Dialpad" test did not reach the callback');
    // "When Dialpad redirects to this callback, Dialpad will provide a number of standard OAuth params"
    assert.deepEqual(
      {
        client_id: firstCallback.searchParams.get('client_id'),
        redirect_uri: firstCallback.searchParams.get('redirect_uri'),
        response_type: firstCallback.searchParams.get('response_type'),
        scope: firstCallback.searchParams.get('scope'),
      },
      { client_id: app.id, redirect_uri: redirectUri, response_type: 'code', scope: SCOPE },
      `callback was ${firstCallback.href}`,
    );
  });

  it('the authorization request exactly as documented (client_id, redirect_uri, scope, state; no response_type) leads to sign-in, consent and a code', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const user = await dialpad.server.addUser({ name: 'Literal Larry' });
    const opened = await newBrowser();
    // "URL parameters: (required) client_id, (required) redirect_uri, (optional) scope"; state is echoed back.
    await opened.page.goto(
      authorizeUrl({ client_id: app.id, redirect_uri: redirectUri, scope: SCOPE, state: 'as-documented' }),
    );
    const first = new URL(opened.page.url());
    assert.equal(
      first.pathname,
      '/login',
      `expected the sign-in page, but the browser was sent to ${first.href}`,
    );
    await signIn(opened.page, user);
    await consentText(opened.page);
    const landed = await pressConsent(opened, 'Allow access');
    assert.equal(landed.searchParams.get('state'), 'as-documented');
    codeOf(landed);
  });

  it('the code is valid for 1 minute: redeemed at 59 s it works, at 61 s it is invalid_grant', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const user = await dialpad.server.addUser({ name: 'Minute Mia' });
    const opened = await newBrowser();
    const early = codeOf(await firstLogin(opened, user, loginWithDialpad('early')));
    const late = codeOf(await againLogin(opened, loginWithDialpad('late')));

    dialpad.server.clock.advance(59_000);
    const inTime = await jsonOf(await exchange(early));
    assert.equal(inTime.status, 200, JSON.stringify(inTime.body));

    dialpad.server.clock.advance(2_000);
    const tooLate = await jsonOf(await exchange(late));
    assert.equal(tooLate.status, 400);
    assert.deepEqual(tooLate.body, { error: 'invalid_grant', error_description: CODE_ERROR });
  });

  it('the code exchange exactly as documented: a form body with only code, client_id and client_secret', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const user = await dialpad.server.addUser({ name: 'Literal Lena' });
    const opened = await newBrowser();
    const code = codeOf(await firstLogin(opened, user, loginWithDialpad('literal-exchange')));
    // "POST body (x-www-form-urlencoded): (required) code, (required) client_id, (required) client_secret"
    const { status, body } = await jsonOf(
      await postForm('/token', { code, client_id: app.id, client_secret: secret }),
    );
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(typeof body.access_token, 'string');
    assert.equal((await usersMe(String(body.access_token))).status, 200);
  });

  it('refresh the API key: client credentials in a Basic header (or the body) → new refresh_token, access_token, expires_in in seconds, token_type bearer', async (t) => {
    if (skipReason) return t.skip(skipReason);
    assert.ok(firstTokens, 'the "Login with Dialpad" test did not get tokens');
    // "client_id … can also be provided in a basic authentication header" (the body exchange above used the
    // body; the app registered client_secret_basic: legacy.anySecretMethod accepts both).
    const byHeader = await jsonOf(
      await postForm(
        '/token',
        { grant_type: 'refresh_token', refresh_token: String(firstTokens.refresh_token) },
        { authorization: basicAuth(app.id, secret) },
      ),
    );
    assert.equal(byHeader.status, 200, JSON.stringify(byHeader.body));
    for (const field of ['refresh_token', 'access_token', 'expires_in', 'token_type']) {
      assert.ok(field in byHeader.body, `no ${field} in ${JSON.stringify(byHeader.body)}`);
    }
    assert.notEqual(byHeader.body.refresh_token, firstTokens.refresh_token, 'a new refresh token');
    assert.notEqual(byHeader.body.access_token, firstTokens.access_token, 'a new access token');
    // The document's sample says 1680047149 (a date in 2023): RFC 6749 §5.1 wants the lifetime in seconds.
    assert.equal(byHeader.body.expires_in, 600);
    assert.equal(String(byHeader.body.token_type).toLowerCase(), 'bearer');
    assert.equal((await usersMe(String(byHeader.body.access_token))).status, 200);

    // "client_id: … can also be provided in a basic authentication header": or, as here, in the body.
    const inBody = await jsonOf(
      await postForm('/token', {
        client_id: app.id,
        client_secret: secret,
        grant_type: 'refresh_token',
        refresh_token: String(byHeader.body.refresh_token),
      }),
    );
    assert.equal(inBody.status, 200, JSON.stringify(inBody.body));
    assert.equal(inBody.body.expires_in, 600);

    // expires_in really is seconds: 601 s later the key has expired, and the refresh token gets a new pair.
    dialpad.server.clock.advance(601_000);
    const expired = await usersMe(String(inBody.body.access_token));
    assert.equal(expired.status, 401);
    assert.match(
      String(expired.headers.get('www-authenticate')),
      /error="invalid_token", error_description="The access token expired"/,
    );
    const renewed = await jsonOf(
      await postForm(
        '/token',
        { grant_type: 'refresh_token', refresh_token: String(inBody.body.refresh_token) },
        { authorization: basicAuth(app.id, secret) },
      ),
    );
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    assert.equal((await usersMe(String(renewed.body.access_token))).status, 200);
  });

  it('deauthorize: POST with the bearer token and an empty body revokes every token the app holds for that user, and only those', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const frank = await dialpad.server.addUser({ name: 'Frank Field' });
    const george = await dialpad.server.addUser({ name: 'George Green' });
    const franks = await newBrowser();
    // Two separate grants of Acme CRM for Frank ("all API tokens that were vended to your app").
    const grantOne = await tokensFor(await firstLogin(franks, frank, loginWithDialpad('grant-one')));
    const grantTwo = await tokensFor(await againLogin(franks, loginWithDialpad('grant-two')));
    // Controls: Frank's tokens for another app, and George's for Acme CRM.
    await franks.page.goto(loginWithDialpad('other-app', otherApp));
    await consentText(franks.page);
    const otherAppTokens = await tokensFor(await pressConsent(franks, 'Allow access'), otherApp, otherSecret);
    const georges = await newBrowser();
    const georgeTokens = await tokensFor(await firstLogin(georges, george, loginWithDialpad('george')));

    // "called with the relevant bearer token authorization header an empty request body"
    const response = await fetch(`${dialpad.issuer}/oauth/deauthorize`, {
      method: 'POST',
      headers: { authorization: `Bearer ${grantOne.access_token}` },
    });
    const { status, body } = await jsonOf(response);
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body, { revoked: 2 });

    // "which will revoke all API tokens that were vended to your app on behalf of the associated user"
    for (const [name, tokens] of [
      ['first grant', grantOne],
      ['second grant', grantTwo],
    ] as const) {
      assert.equal((await usersMe(tokens.access_token)).status, 401, `${name}: access token`);
      const refreshed = await jsonOf(
        await postForm(
          '/token',
          { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
          { authorization: basicAuth(app.id, secret) },
        ),
      );
      assert.equal(refreshed.status, 400, `${name}: refresh token`);
      assert.equal(refreshed.body.error, 'invalid_grant');
    }
    assert.equal((await usersMe(otherAppTokens.access_token)).status, 200, "Frank's other app keeps access");
    assert.equal((await usersMe(georgeTokens.access_token)).status, 200, "George's tokens are his own");
    // The consent is forgotten too: the next "Login with Dialpad" asks Frank again.
    await franks.page.goto(loginWithDialpad('after-deauthorize'));
    assert.match(await consentText(franks.page), /Acme CRM/);
    assert.deepEqual([...franks.offLoopback, ...georges.offLoopback], []);
  });

  it('scopes Dialpad must approve: an app registered through the form waits for an admin, then its scopes wait for an admin', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const developer = await dialpad.server.addUser({ email: 'dev@zeta.example', name: 'Dev Eloper' });
    const zetaCallback = 'https://zeta.example/oauth/callback';
    // "To register your application, please submit this form. You will be asked to provide redirect URI(s)
    // for the callback part of the OAuth flow and any scopes you would like to use."
    const devBrowser = await newBrowser();
    const form = devBrowser.page;
    await form.goto(`${dialpad.issuer}/portal/apps/new`);
    await signIn(form, developer);
    await form.waitForURL((url) => url.pathname === '/portal/apps/new');
    const fillForm = async (redirectUri: string) => {
      await form.getByLabel('Application name').fill('Zeta Dialer');
      await form.getByLabel('Redirect URIs (one per line)').fill(redirectUri);
      for (const scope of ['openid', 'profile', 'email'])
        await form.locator(`input[name="scope_${scope}"]`).uncheck();
      for (const scope of ['recordings_export', 'message_content_export'])
        await form.locator(`input[name="scope_${scope}"]`).check();
      await form.getByRole('button', { name: 'Register application' }).click();
    };
    assert.match(
      (await form.locator('label', { hasText: 'recordings_export' }).textContent()) ?? '',
      /needs approval/,
    );
    // "Note that # should not be in the redirect_uri": the form refuses a fragment.
    await fillForm(`${zetaCallback}#section`);
    assert.match((await form.getByRole('alert').textContent()) ?? '', /must not contain a fragment/);
    await fillForm(zetaCallback);
    // "After registering, you will be provided with a client id and client secret."
    const clientId = (await form.getByTestId('client-id').textContent()) ?? '';
    const clientSecret = (await form.getByTestId('client-secret').textContent()) ?? '';
    assert.ok(clientId && clientSecret.startsWith('ghs_'), `${clientId} / ${clientSecret}`);
    assert.match(
      (await form.locator('body').textContent()) ?? '',
      /An administrator must approve this application before it can be used/,
    );
    const zetaRequest = (scope: string, state: string) =>
      fetch(
        authorizeUrl({
          response_type: 'code',
          client_id: clientId,
          redirect_uri: zetaCallback,
          scope,
          state,
        }),
        { redirect: 'manual' },
      );

    // Not yet approved: no sign-in, no token.
    const waiting = await zetaRequest('recordings_export', 'pending');
    assert.equal(waiting.status, 400);
    assert.match(await waiting.text(), /waiting for approval by an administrator/);
    const noToken = await jsonOf(
      await postForm('/token', {
        grant_type: 'authorization_code',
        code: 'not-a-code',
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uri: zetaCallback,
      }),
    );
    assert.equal(noToken.status, 401);
    assert.equal(noToken.body.error, 'invalid_client');

    // An admin approves the app; its scopes still wait ("Scopes must be approved by Dialpad").
    const adminBrowser = await newBrowser();
    const adminPage = adminBrowser.page;
    await adminPage.goto(`${dialpad.issuer}/admin`);
    await signIn(adminPage, admin);
    await adminPage.waitForURL((url) => url.pathname === '/admin');
    await adminPage
      .locator('tr', { hasText: 'Zeta Dialer' })
      .getByRole('button', { name: 'Approve', exact: true })
      .click();
    await adminPage.waitForURL((url) => url.pathname === '/admin');
    const scopeRow = adminPage.locator('tr', { hasText: 'Zeta Dialer' }).filter({
      has: adminPage.getByRole('button', { name: 'Approve scopes' }),
    });
    assert.match((await scopeRow.textContent()) ?? '', /recordings_export\s+message_content_export/);

    const notYet = await zetaRequest('recordings_export', 'scope-pending');
    assert.equal(notYet.status, 303);
    const refused = new URL(String(notYet.headers.get('location')));
    assert.equal(refused.origin + refused.pathname, zetaCallback);
    assert.equal(refused.searchParams.get('error'), 'invalid_scope');
    assert.equal(
      refused.searchParams.get('error_description'),
      'The application may not request some of these scopes',
    );
    assert.equal(refused.searchParams.get('state'), 'scope-pending');
    // A request without the scopes works meanwhile (the scope parameter is optional).
    const basic = await fetch(
      authorizeUrl({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: zetaCallback,
        state: 'basic',
      }),
      { redirect: 'manual' },
    );
    assert.equal(basic.status, 303);
    assert.match(String(basic.headers.get('location')), /^\/login\?interaction=/);

    await scopeRow.getByRole('button', { name: 'Approve scopes' }).click();
    await adminPage.waitForURL((url) => url.pathname === '/admin');
    // Approved: the same request now reaches sign-in, and the consent page asks for the scope. (The browser
    // stops there: the app's https callback is not on this machine, and nothing may leave it.)
    const approved = await zetaRequest('recordings_export', 'approved');
    assert.equal(approved.status, 303);
    assert.match(String(approved.headers.get('location')), /^\/login\?interaction=/);
    await adminPage.goto(
      authorizeUrl({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: zetaCallback,
        scope: 'recordings_export',
        state: 'approved',
      }),
    );
    const consent = await consentText(adminPage);
    assert.match(consent, /Zeta Dialer/);
    assert.match(consent, /Publish recording URLs in call events/);
    const stored = await dialpad.server.deps.storage.clients.find(clientId);
    assert.equal(stored?.scope, 'recordings_export message_content_export');
    assert.equal(stored?.requestedScope, '');
    assert.deepEqual([...devBrowser.offLoopback, ...adminBrowser.offLoopback], []);
  });

  it('an admin using the API for their own company creates an API key instead, and it works as a bearer token', async (t) => {
    if (skipReason) return t.skip(skipReason);
    const run = await dialpad.cli([
      'api-keys',
      'create',
      '--user',
      admin.email,
      '--name',
      'Company reporting',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const { api_key: key } = JSON.parse(run.stdout) as { api_key: string };
    assert.match(key, /^ghk_/);
    const me = await usersMe(key);
    assert.equal(me.status, 200);
    assert.deepEqual(await me.json(), {
      id: admin.id,
      email: 'admin@company.example',
      name: 'Ada Admin',
      is_admin: true,
    });
  });
});
