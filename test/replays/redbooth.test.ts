// Replay of Redbooth's "Authentication & Authorization Guide" (../shared/reference/redbooth.txt) against
// examples/redbooth. 1: the developer registers the app with its callback URL on a page (Gatehouse's developer
// portal) and notes the client id and secret. 2: the user
// is sent to the authorization endpoint by GET or by POST (parameters in the query or in the body), signs in and
// clicks Allow (back with a code) or Deny (back with error and error_description), in headless Chromium.
// 3: the app exchanges the code with client_id and client_secret in the POST body and gets a 7200-second access
// token with its refresh token, and reads the user's account with it. 4: an expired token gets the document's 401
// and WWW-Authenticate text; the refresh request, secret in the body again, returns a new access token with its
// own refresh token. Everything runs against the recipe's server on 127.0.0.1.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  type BrowserProfile,
  browserOrSkipReason,
  consentText,
  getManual,
  jsonOf,
  landFrom,
  openProfile,
  postForm,
  pressAndLand,
  type RecipeServer,
  recipe,
  recipeFile,
  SECOND,
  signIn,
  startRecipeServer,
} from './support.ts';

const CALLBACK = 'https://tasks-sync.example.com/redbooth/callback';
const RECIPE = recipe('redbooth') as { realm: string; lifetimes: { accessToken: number } };
/** "Tokens expire every 7200 seconds, two hours." */
const ACCESS_TOKEN_SECONDS = 7200;
/** Step 4's message for an expired token, as the document prints it. */
const EXPIRED_CHALLENGE =
  'Bearer realm="Doorkeeper", error="invalid_token", error_description="The access token expired"';

describe('Redbooth, steps 1 to 4', () => {
  let browser: Browser | undefined;
  let skipReason: string | undefined;
  let rs: RecipeServer;
  let issuer: string;
  let profile: BrowserProfile;
  let clientId = '';
  let clientSecret = '';
  const ada = { id: '', email: 'ada@redbooth.example', password: 'correct horse battery staple' };
  let accessToken = '';
  let refreshToken = '';

  before(async () => {
    ({ browser, skipReason } = await browserOrSkipReason());
    if (!browser) return;
    rs = await startRecipeServer(recipeFile('redbooth'));
    issuer = rs.issuer;
    ada.id = (await rs.server.addUser({ email: ada.email, password: ada.password, name: 'Ada' })).id;
    profile = await openProfile(browser, [CALLBACK]);
  });

  after(async () => {
    await profile?.close();
    await browser?.close();
    await rs?.close();
  });

  const skipped = (t: TestContext) => {
    if (skipReason) t.skip(skipReason);
    return skipReason !== undefined;
  };
  const authorizeEndpoint = () => `${issuer}/oauth2/authorize`;
  const tokenEndpoint = () => `${issuer}/oauth2/token`;
  /** "If you were, for example, trying to get a user's account info". */
  const me = (token: string) =>
    fetch(`${issuer}/api/3/me`, { headers: { Authorization: `Bearer ${token}` } });
  /** Step 2's parameters, URL-encoded, "in both cases". */
  const authorizeQuery = (params: Record<string, string>) => new URLSearchParams(params).toString();

  it('step 1: the developer registers the application with its callback URL and notes the client id and secret', async (t) => {
    if (skipped(t)) return;
    // "Register your application here": Gatehouse's developer portal, in the developer's own browser.
    const developer = { email: 'dev@tasks-sync.example', password: 'correct horse battery staple' };
    await rs.server.addUser({ ...developer, name: 'Developer' });
    const devProfile = await openProfile(browser!);
    try {
      const { page } = devProfile;
      await page.goto(`${issuer}/portal/apps/new`);
      await page.waitForURL((url) => url.pathname === '/login');
      await page.getByLabel('Email', { exact: true }).fill(developer.email);
      await page.getByLabel('Password', { exact: true }).fill(developer.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL((url) => url.pathname === '/portal/apps/new');
      await page.getByLabel('Application name').fill('Tasks Sync');
      // "Return URI or Callback URL: the URL within your application that will receive the OAuth2 credentials."
      await page.getByLabel('Redirect URIs (one per line)').fill(CALLBACK);
      await page.getByRole('radio', { name: /Confidential/ }).check();
      await page.getByRole('button', { name: 'Register application' }).click();
      await page.getByRole('heading', { name: 'Tasks Sync is registered' }).waitFor();
      // "Make a note of both your Api Key and App secret."
      clientId = ((await page.getByTestId('client-id').textContent()) ?? '').trim();
      clientSecret = ((await page.getByTestId('client-secret').textContent()) ?? '').trim();
      assert.match(clientSecret, /^ghs_/);
      assert.deepEqual(devProfile.offLoopback, []);
    } finally {
      await devProfile.close();
    }
    const client = await rs.server.deps.storage.clients.find(clientId);
    assert.ok(client, 'the portal did not store the client');
    assert.equal(client.status, 'active');
    assert.deepEqual(client.redirectUris, [CALLBACK]);
    // The recipe lists client_secret_post first, so the portal's apps send their secret in the body.
    assert.equal(client.tokenEndpointAuthMethod, 'client_secret_post');
  });

  let code = '';

  it('step 2: GET with the parameters in the query; the user signs in and clicks Allow; back with a code', async (t) => {
    if (skipped(t)) return;
    const { page } = profile;
    await page.goto(
      `${authorizeEndpoint()}?${authorizeQuery({ response_type: 'code', client_id: clientId, redirect_uri: CALLBACK })}`,
    );
    await signIn(page, ada);
    assert.match(await consentText(page), /Tasks Sync/);
    const landed = await pressAndLand(profile, 'Allow');
    assert.equal(landed.origin + landed.pathname, CALLBACK);
    code = landed.searchParams.get('code') ?? '';
    assert.match(code, /^ghc_/);
    assert.equal(landed.searchParams.get('error'), null);
    assert.equal(landed.searchParams.get('iss'), issuer);
    assert.deepEqual(profile.offLoopback, []);
  });

  it('step 3: the code for tokens, client_id and client_secret in the POST body: 7200 s and a refresh token', async (t) => {
    if (skipped(t)) return;
    // The document's body, whose trailing "&" is where the redirect_uri of step 2 goes (RFC 6749 §4.1.3).
    const response = await postForm(
      tokenEndpoint(),
      `client_id=${clientId}&client_secret=${clientSecret}&code=${code}&grant_type=authorization_code&redirect_uri=${encodeURIComponent(CALLBACK)}`,
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.token_type, 'Bearer');
    assert.equal(response.body.expires_in, ACCESS_TOKEN_SECONDS);
    assert.equal(RECIPE.lifetimes.accessToken, ACCESS_TOKEN_SECONDS);
    accessToken = String(response.body.access_token);
    refreshToken = String(response.body.refresh_token);
    assert.match(refreshToken, /^ghr_/, '"Each Access Token comes with its unique Refresh Token."');
    assert.equal(response.headers.get('cache-control'), 'no-store');
  });

  it("step 3: the access token reads the user's account", async (t) => {
    if (skipped(t)) return;
    const response = await jsonOf(await me(accessToken));
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.id, ada.id);
    assert.equal(response.body.email, ada.email);
  });

  it("step 3: the document's body as printed (no redirect_uri, trailing &) works only if step 2 sent none", async (t) => {
    if (skipped(t)) return;
    const literal = (theCode: string) =>
      postForm(
        tokenEndpoint(),
        `client_id=${clientId}&client_secret=${clientSecret}&code=${theCode}&grant_type=authorization_code&`,
      );
    // The app has one callback URL, so step 2 may leave redirect_uri out; then the token request may too.
    const without = await landFrom(
      profile,
      `${authorizeEndpoint()}?${authorizeQuery({ response_type: 'code', client_id: clientId })}`,
    );
    const accepted = await literal(without.searchParams.get('code') ?? '');
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.equal(accepted.body.expires_in, ACCESS_TOKEN_SECONDS);
    // When step 2 named the redirect_uri, the token request must repeat it (RFC 6749 §4.1.3).
    const named = await landFrom(
      profile,
      `${authorizeEndpoint()}?${authorizeQuery({ response_type: 'code', client_id: clientId, redirect_uri: CALLBACK })}`,
    );
    const refused = await literal(named.searchParams.get('code') ?? '');
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error, 'invalid_grant');
  });

  it('step 2: POST with the parameters in the body; sign in, Allow, back with a code', async (t) => {
    if (skipped(t)) return;
    const grace = { email: 'grace@redbooth.example', password: 'correct horse battery staple' };
    await rs.server.addUser({ ...grace, name: 'Grace' });
    const other = await openProfile(browser!, [CALLBACK]);
    try {
      const { page } = other;
      // The app's own page with a form that posts the parameters to the authorization endpoint.
      const fields = {
        response_type: 'code',
        client_id: clientId,
        redirect_uri: CALLBACK,
        state: 'post-state',
      };
      await page.setContent(
        `<form method="post" action="${authorizeEndpoint()}">${Object.entries(fields)
          .map(([name, value]) => `<input type="hidden" name="${name}" value="${value}">`)
          .join('')}<button type="submit">Connect Redbooth</button></form>`,
      );
      const posted = page.waitForRequest((request) => request.url() === authorizeEndpoint());
      await page.getByRole('button', { name: 'Connect Redbooth' }).click();
      const request = await posted;
      assert.equal(request.method(), 'POST');
      assert.equal(request.postData(), authorizeQuery(fields));
      await signIn(page, grace);
      assert.match(await consentText(page), /Tasks Sync/);
      const landed = await pressAndLand(other, 'Allow');
      assert.equal(landed.searchParams.get('state'), 'post-state');
      const postCode = landed.searchParams.get('code') ?? '';
      const tokens = await postForm(
        tokenEndpoint(),
        `client_id=${clientId}&client_secret=${clientSecret}&code=${postCode}&grant_type=authorization_code&redirect_uri=${encodeURIComponent(CALLBACK)}`,
      );
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      assert.deepEqual(other.offLoopback, []);
    } finally {
      await other.close();
    }
  });

  it('step 2: the user clicks Deny; back with error=access_denied, an error_description and the state', async (t) => {
    if (skipped(t)) return;
    const charles = { email: 'charles@redbooth.example', password: 'correct horse battery staple' };
    await rs.server.addUser({ ...charles, name: 'Charles' });
    const other = await openProfile(browser!, [CALLBACK]);
    try {
      const { page } = other;
      await page.goto(
        `${authorizeEndpoint()}?${authorizeQuery({ response_type: 'code', client_id: clientId, redirect_uri: CALLBACK, state: 'deny-state' })}`,
      );
      await signIn(page, charles);
      await consentText(page);
      const landed = await pressAndLand(other, 'Deny');
      assert.equal(landed.origin + landed.pathname, CALLBACK);
      assert.equal(landed.searchParams.get('error'), 'access_denied');
      assert.match(landed.searchParams.get('error_description') ?? '', /\S/);
      assert.equal(landed.searchParams.get('state'), 'deny-state');
      assert.equal(landed.searchParams.get('code'), null);
      assert.deepEqual(other.offLoopback, []);
    } finally {
      await other.close();
    }
  });

  it('step 2: response_type=token (browser and mobile apps) is refused: implicit is gone in OAuth 2.1', async (t) => {
    if (skipped(t)) return;
    const response = await getManual(
      `${authorizeEndpoint()}?${authorizeQuery({ response_type: 'token', client_id: clientId, redirect_uri: CALLBACK, state: 'implicit' })}`,
    );
    // A portal app is self-registered (any account holder registers one; the recipe's policy is not
    // `approval`), so an anonymous visitor gets the error page, not a redirect to its callback (A-09).
    assert.equal(response.status, 400);
    assert.equal(response.headers.get('location'), null);
    assert.match(String(response.headers.get('content-type')), /^text\/html/);
    const page = await response.text();
    assert.match(page, /unsupported_response_type/);
    assert.doesNotMatch(page, /access_token/);
  });

  it('step 2: a redirect_uri with the same host and path but another query, or another path, is refused', async (t) => {
    if (skipped(t)) return;
    for (const variant of [`${CALLBACK}?from=redbooth`, `${CALLBACK}/other`]) {
      const response = await getManual(
        `${authorizeEndpoint()}?${authorizeQuery({ response_type: 'code', client_id: clientId, redirect_uri: variant })}`,
      );
      assert.equal(response.status, 400, variant);
      assert.equal(response.headers.get('location'), null, `${variant}: never redirected`);
      assert.match(await response.text(), /redirect_uri is not registered/);
    }
  });

  it('step 4: a call with an expired access token gets 401 and the WWW-Authenticate text of the document', async (t) => {
    if (skipped(t)) return;
    rs.server.clock.advance((ACCESS_TOKEN_SECONDS - 1) * SECOND);
    assert.equal((await me(accessToken)).status, 200, 'still valid after 7199 seconds');
    rs.server.clock.advance(2 * SECOND);
    const response = await me(accessToken);
    assert.equal(response.status, 401);
    assert.equal(RECIPE.realm, 'Doorkeeper');
    // The document's header, and the RFC 9728 pointer Gatehouse adds for clients that discover metadata.
    assert.equal(
      response.headers.get('www-authenticate'),
      `${EXPIRED_CHALLENGE}, resource_metadata="${issuer}/.well-known/oauth-protected-resource"`,
    );
    assert.deepEqual(await response.json(), {
      error: 'invalid_token',
      error_description: 'The access token expired',
    });
  });

  it('step 4: the refresh request, secret in the body, returns a new access token with its own refresh token', async (t) => {
    if (skipped(t)) return;
    const refresh = (token: string) =>
      postForm(
        tokenEndpoint(),
        `client_id=${clientId}&client_secret=${clientSecret}&refresh_token=${token}&grant_type=refresh_token`,
      );
    const response = await refresh(refreshToken);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.token_type, 'Bearer');
    assert.equal(response.body.expires_in, ACCESS_TOKEN_SECONDS);
    const newAccess = String(response.body.access_token);
    const newRefresh = String(response.body.refresh_token);
    assert.notEqual(newAccess, accessToken);
    assert.match(newRefresh, /^ghr_/);
    assert.notEqual(newRefresh, refreshToken, '"each Access Token has his unique Refresh Token"');
    assert.equal((await me(newAccess)).status, 200);
    // "You will have to update the stored Refresh Token every time": the new one carries on.
    const next = await refresh(newRefresh);
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.notEqual(next.body.refresh_token, newRefresh);
  });
});
