// Replay of Credal's "OAuth Setup" (../shared/reference/credal.txt) against examples/credal: the confidential-
// client variant, step by step. 1: an administrator creates the client (the `gatehouse` CLI; nobody registers
// themselves). 2: the user signs in and approves in headless Chromium, and comes back with a short-lived code.
// 3: the app exchanges it server-side, without PKCE (the secret binds the code); the code lives 10 minutes, works
// once, and needs the exact redirect_uri. 4: the access token calls the API (Gatehouse's own UserInfo stands in
// for Credal's). 5: after 1 hour the access token is refused; the refresh token rotates, the previous one is dead
// at once (no grace period), and after 30 days the user goes through the browser again. PKCE is optional for this
// client and enforced when it is used. Everything runs against the recipe's server on 127.0.0.1.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Browser } from 'playwright-core';
import {
  type BrowserProfile,
  browserOrSkipReason,
  challengeParams,
  consentText,
  curlBasic,
  curlData,
  DAY,
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

const REDIRECT_URI = 'https://integration.example.com/credal/callback';
const SCOPE = 'openid profile email offline_access';
const RECIPE = recipe('credal') as {
  lifetimes: { code: number; accessToken: number; refreshToken: number; refreshGrace: number };
};
/** "The authorization code expires in 10 minutes." */
const CODE_SECONDS = 600;
/** "Access tokens expire after 1 hour." */
const ACCESS_TOKEN_SECONDS = 3600;
/** "Refresh tokens are valid for 30 days." */
const REFRESH_TOKEN_DAYS = 30;

describe('Credal, confidential client, steps 1 to 5', () => {
  let browser: Browser | undefined;
  let skipReason: string | undefined;
  let rs: RecipeServer;
  let issuer: string;
  let profile: BrowserProfile;
  const user = { id: '', email: 'lin@credal.example', password: 'correct horse battery staple' };
  let clientId = '';
  let clientSecret = '';
  let accessToken = '';
  let stateCounter = 0;

  before(async () => {
    ({ browser, skipReason } = await browserOrSkipReason());
    if (!browser) return;
    rs = await startRecipeServer(recipeFile('credal'));
    issuer = rs.issuer;
    user.id = (await rs.server.addUser({ email: user.email, password: user.password, name: 'Lin' })).id;
    profile = await openProfile(browser, [REDIRECT_URI]);
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

  function authorizationUrl(extra: Record<string, string> = {}, state = `state-${++stateCounter}`): string {
    const url = new URL('/authorize', issuer);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
      scope: SCOPE,
      state,
      ...extra,
    }).toString();
    return url.href;
  }

  /** A new code for the signed-in user (consent is remembered for this confidential client). */
  async function newCode(extra: Record<string, string> = {}): Promise<string> {
    const state = `state-${++stateCounter}`;
    const landed = await landFrom(profile, authorizationUrl(extra, state));
    assert.equal(landed.searchParams.get('state'), state);
    const code = landed.searchParams.get('code');
    assert.ok(code, `no code in ${landed.href}`);
    return code;
  }

  /** Step 3: the server-side POST to the token endpoint, the secret in the Basic header. */
  function exchange(code: string, fields: string[] = [`redirect_uri=${REDIRECT_URI}`]) {
    return postForm(`${issuer}/token`, curlData('grant_type=authorization_code', `code=${code}`, ...fields), {
      Authorization: curlBasic(clientId, clientSecret),
    });
  }

  /** Step 5: the refresh request. */
  function refresh(refreshToken: string) {
    return postForm(
      `${issuer}/token`,
      curlData('grant_type=refresh_token', `refresh_token=${refreshToken}`),
      {
        Authorization: curlBasic(clientId, clientSecret),
      },
    );
  }

  /** Step 4: calling the API with the access token. */
  function callApi(token: string) {
    return fetch(`${issuer}/userinfo`, { headers: { Authorization: `Bearer ${token}` } });
  }

  function assertInvalidGrant(response: { status: number; body: Record<string, unknown> }, what: string) {
    assert.equal(response.status, 400, `${what}: ${JSON.stringify(response.body)}`);
    assert.equal(response.body.error, 'invalid_grant', what);
    assert.equal(typeof response.body.error_description, 'string', what);
  }

  it('step 1: the admin creates the confidential client; nobody can register one over HTTP', async (t) => {
    if (skipped(t)) return;
    const run = await rs.cli(['clients', 'add', '--name', 'Acme Analytics', '--redirect-uri', REDIRECT_URI]);
    assert.equal(run.code, 0, run.stderr);
    const created = JSON.parse(run.stdout) as Record<string, unknown>;
    clientId = String(created.client_id);
    clientSecret = String(created.client_secret);
    assert.match(clientSecret, /^ghs_/);
    assert.equal(created.token_endpoint_auth_method, 'client_secret_basic');
    assert.deepEqual(created.redirect_uris, [REDIRECT_URI]);
    // "Creating an OAuth client requires approval from your organization's admin."
    const selfService = await jsonOf(
      await fetch(`${issuer}/oauth/register`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ client_name: 'Shadow IT', redirect_uris: [REDIRECT_URI] }),
      }),
    );
    // Under registration.policy "approval" a self-registered client exists but waits for the administrator.
    assert.equal(selfService.status, 201);
    assert.equal(selfService.body.approval_status, 'pending');
    const shadow = await rs.server.deps.storage.clients.find(String(selfService.body.client_id));
    assert.equal(shadow?.status, 'pending', 'not usable until an administrator approves it');
  });

  let firstCode = '';

  it('step 2: the user signs in and approves the scopes; Credal redirects with a code', async (t) => {
    if (skipped(t)) return;
    const { page } = profile;
    await page.goto(authorizationUrl({}, 'first-state'));
    // "They'll be asked to sign in (if not already) and approve the requested scopes."
    await signIn(page, user);
    const consent = await consentText(page);
    assert.match(consent, /Acme Analytics/);
    assert.match(consent, /offline_access/);
    const landed = await pressAndLand(profile, 'Allow access');
    assert.equal(landed.origin + landed.pathname, REDIRECT_URI);
    assert.equal(landed.searchParams.get('state'), 'first-state');
    assert.equal(landed.searchParams.get('iss'), issuer);
    firstCode = landed.searchParams.get('code') ?? '';
    assert.match(firstCode, /^ghc_/);
    assert.deepEqual(profile.offLoopback, []);
  });

  it('step 3: the server-side exchange, without PKCE: an access token for 1 hour and a refresh token', async (t) => {
    if (skipped(t)) return;
    const response = await exchange(firstCode);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const tokens = response.body;
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(tokens.expires_in, ACCESS_TOKEN_SECONDS);
    assert.equal(RECIPE.lifetimes.accessToken, ACCESS_TOKEN_SECONDS);
    assert.match(String(tokens.access_token), /\S/);
    assert.match(String(tokens.refresh_token), /^ghr_/);
    assert.equal(tokens.scope, SCOPE);
    assert.equal(typeof tokens.id_token, 'string');
    accessToken = String(tokens.access_token);
  });

  it('step 4: the access token calls the API', async (t) => {
    if (skipped(t)) return;
    const response = await jsonOf(await callApi(accessToken));
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.sub, user.id);
    assert.equal(response.body.email, user.email);
  });

  it('step 1: a signed-in user cannot create a client for themselves — the admin has to approve it', async (t) => {
    if (skipped(t)) return;
    // "Creating an OAuth client requires approval from your organization's admin." Lin is signed in (step 2);
    // the developer portal is where a user would try.
    const { page } = profile;
    await page.goto(`${issuer}/portal/apps/new`);
    const register = page.getByRole('button', { name: 'Register application' });
    if ((await register.count()) > 0) {
      await page.getByLabel('Application name').fill('Lin’s Own App');
      await page.getByLabel('Redirect URIs (one per line)').fill(REDIRECT_URI);
      await page.getByRole('radio', { name: /Confidential/ }).check();
      await register.click();
      // Post/redirect/get: registered, the browser lands on the app's page; refused, the form answers in place.
      await page.waitForURL((url) => url.pathname !== '/portal/apps/new');
    }
    const own = await rs.server.deps.storage.clients.listByOwner(user.id);
    const usable = own.filter((client) => client.status === 'active' && client.disabledAt === null);
    assert.deepEqual(
      usable.map((client) => `${client.name} (${client.registeredVia}, ${client.status})`),
      [],
      'under registration.policy "approval" a portal app waits for the administrator',
    );
  });

  it('step 3: the code is single-use — a second redemption fails', async (t) => {
    if (skipped(t)) return;
    const code = await newCode();
    const first = await exchange(code);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assertInvalidGrant(await exchange(code), 'second redemption');
    // RFC 6749 §4.1.2: what the first redemption issued is revoked as well.
    assert.equal((await callApi(String(first.body.access_token))).status, 401);
    assertInvalidGrant(await refresh(String(first.body.refresh_token)), 'refresh token of a replayed code');
  });

  it('step 3: redirect_uri must match exactly — a trailing slash is another URI', async (t) => {
    if (skipped(t)) return;
    // At the authorization endpoint: an error page, never a redirect to the unregistered URI.
    const { page } = profile;
    const shown = await page.goto(authorizationUrl({ redirect_uri: `${REDIRECT_URI}/` }));
    assert.equal(shown?.status(), 400);
    assert.match((await page.locator('body').textContent()) ?? '', /redirect_uri is not registered/);
    assert.equal(new URL(page.url()).origin, issuer);
    // At the token endpoint: the redirect_uri must be the one used in step 2.
    const code = await newCode();
    assertInvalidGrant(await exchange(code, [`redirect_uri=${REDIRECT_URI}/`]), 'trailing slash');
    assertInvalidGrant(await exchange(code, []), 'no redirect_uri although step 2 sent one');
    const exact = await exchange(code);
    assert.equal(exact.status, 200, JSON.stringify(exact.body));
    assert.deepEqual(profile.offLoopback, []);
  });

  it('PKCE is optional for this confidential client, and enforced once the authorization URL uses it', async (t) => {
    if (skipped(t)) return;
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const code = await newCode({ code_challenge: challenge, code_challenge_method: 'S256' });
    assertInvalidGrant(await exchange(code), 'code_verifier missing');
    assertInvalidGrant(
      await exchange(code, [
        `redirect_uri=${REDIRECT_URI}`,
        `code_verifier=${randomBytes(32).toString('base64url')}`,
      ]),
      'wrong code_verifier',
    );
    const right = await exchange(code, [`redirect_uri=${REDIRECT_URI}`, `code_verifier=${verifier}`]);
    assert.equal(right.status, 200, JSON.stringify(right.body));
    // A verifier for a code that had no challenge is a downgrade attempt (RFC 9700 §4.8.2).
    const plain = await newCode();
    assertInvalidGrant(
      await exchange(plain, [`redirect_uri=${REDIRECT_URI}`, `code_verifier=${verifier}`]),
      'downgrade',
    );

    // The relaxation is for confidential clients only: a public client still has to use PKCE.
    const run = await rs.cli([
      'clients',
      'add',
      '--name',
      'Acme Desktop',
      '--public',
      '--redirect-uri',
      'https://integration.example.com/desktop/callback',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const publicId = String((JSON.parse(run.stdout) as Record<string, unknown>).client_id);
    const refused = await getManual(
      `${issuer}/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: publicId,
        redirect_uri: 'https://integration.example.com/desktop/callback',
        scope: 'openid',
        state: 'public-state',
      })}`,
    );
    assert.equal(refused.status, 303);
    const location = new URL(String(refused.headers.get('location')));
    assert.equal(location.origin + location.pathname, 'https://integration.example.com/desktop/callback');
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.match(location.searchParams.get('error_description') ?? '', /PKCE/);
    assert.equal(location.searchParams.get('state'), 'public-state');
  });

  it('step 3: the code expires after 10 minutes', async (t) => {
    if (skipped(t)) return;
    assert.equal(RECIPE.lifetimes.code, CODE_SECONDS);
    const inTime = await newCode();
    const late = await newCode();
    rs.server.clock.advance((CODE_SECONDS - 1) * SECOND);
    const accepted = await exchange(inTime);
    assert.equal(accepted.status, 200, `a code 9:59 old: ${JSON.stringify(accepted.body)}`);
    rs.server.clock.advance(2 * SECOND);
    assertInvalidGrant(await exchange(late), 'a code 10:01 old');
  });

  it('step 5: after 1 hour the access token is refused; refresh rotates, and the previous refresh token is dead at once', async (t) => {
    if (skipped(t)) return;
    const tokens = await exchange(await newCode());
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    const access = String(tokens.body.access_token);
    const refreshToken = String(tokens.body.refresh_token);

    rs.server.clock.advance((ACCESS_TOKEN_SECONDS - 1) * SECOND);
    assert.equal((await callApi(access)).status, 200);
    rs.server.clock.advance(2 * SECOND);
    const expired = await callApi(access);
    assert.equal(expired.status, 401);
    const challenge = challengeParams(expired.headers.get('www-authenticate'));
    assert.deepEqual(challenge.params.slice(0, 3), [
      ['realm', 'Credal'],
      ['error', 'invalid_token'],
      ['error_description', 'The access token expired'],
    ]);

    const refreshed = await refresh(refreshToken);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.equal(refreshed.body.token_type, 'Bearer');
    assert.equal(refreshed.body.expires_in, ACCESS_TOKEN_SECONDS);
    const rotated = String(refreshed.body.refresh_token);
    assert.match(rotated, /^ghr_/);
    assert.notEqual(rotated, refreshToken, '"each refresh response includes a new refresh_token"');
    const newAccess = String(refreshed.body.access_token);
    assert.equal((await callApi(newAccess)).status, 200);

    // "The previous token is immediately invalidated": no grace period, not even in the same second.
    assert.equal(RECIPE.lifetimes.refreshGrace, 0);
    assertInvalidGrant(await refresh(refreshToken), 'the previous refresh token, at once');
    // Presenting it again is taken as theft (RFC 9700 §4.14.2): the rotated family is revoked too.
    assertInvalidGrant(await refresh(rotated), 'the successor after reuse of its predecessor');
    assert.equal((await callApi(newAccess)).status, 401);
  });

  it('step 5: refresh tokens are valid for 30 days; then the user goes through the browser flow again', async (t) => {
    if (skipped(t)) return;
    assert.equal(RECIPE.lifetimes.refreshToken, (REFRESH_TOKEN_DAYS * DAY) / SECOND);
    const unused = await exchange(await newCode());
    const used = await exchange(await newCode());
    assert.equal(unused.status, 200, JSON.stringify(unused.body));
    assert.equal(used.status, 200, JSON.stringify(used.body));

    // Four weeks later, a refresh token never used since it was issued still works.
    rs.server.clock.advance((REFRESH_TOKEN_DAYS - 2) * DAY);
    const late = await refresh(String(used.body.refresh_token));
    assert.equal(late.status, 200, `a 28-day-old refresh token: ${JSON.stringify(late.body)}`);

    // Past 30 days: expired, and rotating on day 28 did not extend it.
    rs.server.clock.advance(2 * DAY + SECOND);
    assertInvalidGrant(await refresh(String(unused.body.refresh_token)), 'a refresh token past 30 days');
    assertInvalidGrant(await refresh(String(late.body.refresh_token)), 'its rotation, past the 30 days');

    // "The user will need to go through the browser authorization flow again."
    const { page } = profile;
    await page.goto(authorizationUrl({}, 'again-state'));
    await page.waitForURL((url) => url.pathname === '/login');
    await page.getByLabel('Email', { exact: true }).fill(user.email);
    await page.getByLabel('Password', { exact: true }).fill(user.password);
    // Signed in again; the approval is remembered for this confidential client, so it goes straight back.
    const landed = await pressAndLand(profile, 'Sign in');
    assert.equal(landed.searchParams.get('state'), 'again-state');
    const again = await exchange(landed.searchParams.get('code') ?? '');
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual(profile.offLoopback, []);
  });
});
