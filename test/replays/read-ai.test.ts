// Replay of Read AI's "Authentication" guide (../shared/reference/read-ai.txt) against examples/read-ai: the
// document's five steps, literally. Step 1 is its registration body, sent as is; step 2 runs in headless Chromium
// on the built-in playground at /oauth/ui (client ID and secret, Start OAuth Flow, sign in, Allow Access, the
// code screen with the command to copy); step 3 is its token request (Basic header, form body); step 4 its
// GET /oauth/test-token-with-scopes; step 5 its `curl -u CLIENT_ID:CLIENT_SECRET` refresh, with rotation and a
// short grace period. Everything runs against the recipe's server on 127.0.0.1; the browser reaches nothing else.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser } from 'playwright-core';
import { Agent, csrfFrom } from '../helpers/agent.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';
import {
  type BrowserProfile,
  browserOrSkipReason,
  challengeParams,
  consentText,
  curlBasic,
  curlData,
  curlFields,
  jsonOf,
  keysOf,
  openProfile,
  parseCurl,
  postForm,
  type RecipeServer,
  recipe,
  recipeFile,
  SECOND,
  scopeSet,
  signIn,
  startRecipeServer,
} from './support.ts';

// Step 1's request body, byte for byte as the document prints it.
const DOCUMENT_REGISTRATION_BODY = `{
"client_name": "My Analytics Dashboard",
"redirect_uris": ["https://api.read.ai/oauth/ui"],
"grant_types": ["authorization_code", "refresh_token"],
"response_types": ["code"],
"scope": "openid email offline_access profile meeting:read mcp:execute",
"token_endpoint_auth_method": "client_secret_basic"
}`;
// Step 1's example response: every field it shows.
const DOCUMENT_REGISTRATION_FIELDS = [
  'client_id',
  'client_name',
  'client_secret',
  'redirect_uris',
  'token_endpoint_auth_method',
  'allowed_cors_origins',
  'grant_types',
  'scope',
  'audience',
  'registration_client_uri',
  'registration_access_token',
];
const DOCUMENT_GRANTED_SCOPE = 'openid email meeting:read offline_access profile mcp:execute';
const DOCUMENT_AUDIENCE = ['https://api.read.ai/v1/meetings', 'https://api.read.ai/mcp'];
// Step 3's example response.
const DOCUMENT_TOKEN_FIELDS = [
  'access_token',
  'expires_in',
  'id_token',
  'refresh_token',
  'scope',
  'token_type',
];
const DOCUMENT_TOKEN_SCOPE = 'openid profile email meeting:read mcp:execute offline_access';

const RECIPE = recipe('read-ai') as { lifetimes: { accessToken: number; refreshGrace: number } };
/** "Access tokens expire after 10 minutes." */
const ACCESS_TOKEN_SECONDS = 600;

describe('Read AI step 1, verbatim, on a deployment at https://api.read.ai', () => {
  // The document's redirect URI is its own playground, https://api.read.ai/oauth/ui: with the issuer set to
  // https://api.read.ai the body works unmodified, as the document demands ("all other details should be left
  // unmodified"). Over app.inject, since nothing here may leave 127.0.0.1.
  const ISSUER = 'https://api.read.ai';
  let server: TestServer;
  let registered: Record<string, unknown>;

  before(async () => {
    server = await buildTestServer({ GATEHOUSE_ISSUER: ISSUER }, { configFile: recipeFile('read-ai') });
  });
  after(() => server.close());

  it('POST /oauth/register with the document body answers with every field of the example response', async () => {
    const response = await server.app.inject({
      method: 'POST',
      url: '/oauth/register',
      headers: { 'content-type': 'application/json' },
      payload: DOCUMENT_REGISTRATION_BODY,
    });
    assert.equal(response.statusCode, 201, response.body);
    registered = response.json();
    for (const field of DOCUMENT_REGISTRATION_FIELDS) assert.ok(field in registered, `no "${field}"`);
    assert.equal(typeof registered.client_id, 'string');
    assert.match(String(registered.client_secret), /^ghs_/);
    assert.equal(registered.client_name, 'My Analytics Dashboard');
    assert.deepEqual(registered.redirect_uris, ['https://api.read.ai/oauth/ui']);
    assert.equal(registered.token_endpoint_auth_method, 'client_secret_basic');
    assert.deepEqual(registered.allowed_cors_origins, []);
    assert.deepEqual(registered.grant_types, ['authorization_code', 'refresh_token']);
    assert.deepEqual(scopeSet(registered.scope), scopeSet(DOCUMENT_GRANTED_SCOPE));
    // The document's two API audiences; Gatehouse lists its own endpoints (userinfo, the test endpoint) first.
    assert.deepEqual(registered.audience, [ISSUER, ...DOCUMENT_AUDIENCE]);
    assert.equal(
      registered.registration_client_uri,
      `${ISSUER}/oauth/register/${encodeURIComponent(String(registered.client_id))}`,
    );
    assert.equal(typeof registered.registration_access_token, 'string');
    assert.equal(response.headers['cache-control'], 'no-store');
  });

  it('the playground at /oauth/ui has https://api.read.ai/oauth/ui filled in and runs the flow for that client', async () => {
    const user = await server.addUser({ email: 'grace@read.example' });
    const agent = new Agent(server.app);
    const form = await agent.get('/oauth/ui');
    assert.equal(form.statusCode, 200);
    // "The redirect URI should already be filled in correctly as https://api.read.ai/oauth/ui."
    assert.match(
      form.body,
      /id="redirect_uri" type="text" value="https:\/\/api\.read\.ai\/oauth\/ui" readonly/,
    );
    const scopeField = /id="scope" name="scope" type="text" value="([^"]*)"/.exec(form.body)?.[1];
    assert.ok(scopeField !== undefined, 'no scope field');
    let response = await agent.post('/oauth/ui/start', {
      _csrf: csrfFrom(form.body),
      client_id: String(registered.client_id),
      client_secret: String(registered.client_secret),
      scope: scopeField,
    });
    // A browser: follow 303s on this server, sign in, press Allow; the flow ends back on the playground.
    for (let step = 0; step < 8; step++) {
      assert.equal(
        response.statusCode,
        303,
        `step ${step}: ${response.statusCode} ${response.body.slice(0, 200)}`,
      );
      const location = new URL(String(response.headers.location), ISSUER);
      assert.equal(location.origin, ISSUER, `sent off the deployment: ${location.href}`);
      const target = location.pathname + location.search;
      const interaction = location.searchParams.get('interaction') ?? '';
      if (location.pathname === '/oauth/ui') {
        assert.ok(location.searchParams.get('code'), `no code in ${location.href}`);
        const codeScreen = await agent.get(target);
        assert.equal(codeScreen.statusCode, 200);
        assert.match(codeScreen.body, /You have an authorization code/);
        assert.match(codeScreen.body, /redirect_uri=https:\/\/api\.read\.ai\/oauth\/ui/);
        return;
      }
      const page = await agent.get(target);
      if (location.pathname === '/login') {
        response = await agent.post('/login', {
          _csrf: csrfFrom(page.body),
          email: user.email,
          password: user.password,
          interaction,
        });
      } else if (location.pathname === '/consent') {
        response = await agent.post('/consent', { _csrf: csrfFrom(page.body), interaction, action: 'allow' });
      } else {
        response = page;
      }
    }
    assert.fail('the playground flow did not come back to /oauth/ui');
  });
});

describe('Read AI, steps 1 to 5, in Chromium and over HTTP', () => {
  let browser: Browser | undefined;
  let skipReason: string | undefined;
  let rs: RecipeServer;
  let issuer: string;
  let profile: BrowserProfile;
  const user = { id: '', email: 'ada@read.example', password: 'correct horse battery staple' };
  let clientId = '';
  let clientSecret = '';
  /** What the code screen shows to copy, and what it says. */
  let copied = '';
  let code = '';
  let codeVerifier = '';
  let accessToken = '';
  let refreshToken = '';
  let tokenScope = '';

  before(async () => {
    ({ browser, skipReason } = await browserOrSkipReason());
    if (!browser) return;
    rs = await startRecipeServer(recipeFile('read-ai'));
    issuer = rs.issuer;
    user.id = (await rs.server.addUser({ email: user.email, password: user.password, name: 'Ada' })).id;
    profile = await openProfile(browser);
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
  const testToken = (token: string) =>
    fetch(`${issuer}/oauth/test-token-with-scopes`, { headers: { Authorization: `Bearer ${token}` } });
  const tokenEndpoint = () => `${issuer}/oauth2/token`;

  it('step 1: POST /oauth/register with the document body registers a confidential client', async (t) => {
    if (skipped(t)) return;
    // The only changes to the body: the redirect URI is this deployment's playground, and a plain-http loopback
    // redirect URI is only accepted from a native application (RFC 8252 §7.3); the test has no TLS.
    const body = {
      ...JSON.parse(DOCUMENT_REGISTRATION_BODY),
      redirect_uris: [`${issuer}/oauth/ui`],
      application_type: 'native',
    };
    const response = await jsonOf(
      await fetch(`${issuer}/oauth/register`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      }),
    );
    assert.equal(response.status, 201, JSON.stringify(response.body));
    for (const field of DOCUMENT_REGISTRATION_FIELDS) assert.ok(field in response.body, `no "${field}"`);
    assert.equal(response.body.token_endpoint_auth_method, 'client_secret_basic');
    assert.deepEqual(scopeSet(response.body.scope), scopeSet(DOCUMENT_GRANTED_SCOPE));
    clientId = String(response.body.client_id);
    clientSecret = String(response.body.client_secret);
    assert.match(clientSecret, /^ghs_/);
  });

  it('step 2: a first visit to /oauth/ui — client ID and secret, Start OAuth Flow — reaches the sign-in page', async (t) => {
    if (skipped(t)) return;
    // A browser that has never been here: no cookies at all, as the document's developer arrives.
    const first = await openProfile(browser!);
    try {
      const { page } = first;
      await page.goto(`${issuer}/oauth/ui`);
      await page.getByLabel('Client ID').fill(clientId);
      await page.getByLabel(/Client secret/).fill(clientSecret);
      await page.getByRole('button', { name: 'Start OAuth Flow' }).click();
      await page.waitForURL((url) => url.pathname === '/login' || url.pathname === '/oauth/ui/start');
      const shown = `${await page.locator('h1').textContent()} ${await page.locator('main p').first().textContent()}`;
      assert.equal(new URL(page.url()).pathname, '/login', `Start OAuth Flow was refused: ${shown}`);
      assert.deepEqual(first.offLoopback, []);
    } finally {
      await first.close();
    }
  });

  it('step 2: the playground — client ID and secret, Start OAuth Flow, sign in, Allow Access, the code', async (t) => {
    if (skipped(t)) return;
    const { page } = profile;
    await page.goto(`${issuer}/oauth/ui`);
    // "The redirect URI should already be filled in correctly."
    assert.equal(await page.getByLabel('Redirect URI').inputValue(), `${issuer}/oauth/ui`);
    await page.getByLabel('Client ID').fill(clientId);
    await page.getByLabel(/Client secret/).fill(clientSecret);
    await page.getByRole('button', { name: 'Start OAuth Flow' }).click();
    // "You will then get sent to the Read AI sign in page."
    await signIn(page, user);
    const consent = await consentText(page);
    assert.match(consent, /My Analytics Dashboard/);
    await page.getByRole('button', { name: 'Allow Access' }).click();
    // "At this point, you have received your authorization code!"
    await page.waitForURL((url) => url.pathname === '/oauth/ui' && url.searchParams.has('code'));
    assert.match((await page.locator('h1').textContent()) ?? '', /authorization code/);
    code = ((await page.getByTestId('code').textContent()) ?? '').trim();
    assert.match(code, /^ghc_/);
    copied = ((await page.getByTestId('curl').textContent()) ?? '').trim();
    const fields = curlFields(parseCurl(copied));
    assert.equal(fields.code, code);
    codeVerifier = fields.code_verifier ?? '';
    assert.match(codeVerifier, /^[A-Za-z0-9\-._~]{43,128}$/);
    assert.deepEqual(profile.offLoopback, []);
  });

  it('step 2: "Copy Command" puts the command on the clipboard', async (t) => {
    if (skipped(t)) return;
    const { page, context } = profile;
    const button = page.getByRole('button', { name: 'Copy Command' });
    assert.equal(
      await button.count(),
      1,
      'the code screen has no "Copy Command" button: the command is only shown in a <pre> to select by hand',
    );
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: issuer });
    await button.click();
    assert.equal((await page.evaluate(() => navigator.clipboard.readText())).trim(), copied);
  });

  it('step 3: the copied command is the token request — POST /oauth2/token, Basic, code, redirect_uri, code_verifier', async (t) => {
    if (skipped(t)) return;
    const command = parseCurl(copied);
    assert.equal(command.method, 'POST');
    assert.equal(command.user, `${clientId}:${clientSecret}`, 'the client authenticates with Basic (-u)');
    assert.deepEqual(curlFields(command), {
      grant_type: 'authorization_code',
      code,
      redirect_uri: `${issuer}/oauth/ui`,
      code_verifier: codeVerifier,
    });
    assert.equal(command.url, tokenEndpoint(), 'the command must name the deployment’s token endpoint');
  });

  it('step 3: the exchange as the Example Request shows it (Basic header, form body)', async (t) => {
    if (skipped(t)) return;
    const response = await postForm(
      tokenEndpoint(),
      curlData(
        'grant_type=authorization_code',
        `code=${code}`,
        `redirect_uri=${issuer}/oauth/ui`,
        `code_verifier=${codeVerifier}`,
      ),
      {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: curlBasic(clientId, clientSecret),
      },
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const tokens = response.body;
    accessToken = String(tokens.access_token);
    refreshToken = String(tokens.refresh_token);
    tokenScope = String(tokens.scope);
    assert.deepEqual(keysOf(tokens), DOCUMENT_TOKEN_FIELDS);
    // The example shows 599: the ten minutes as Read AI's server counted them a second later.
    assert.equal(tokens.expires_in, ACCESS_TOKEN_SECONDS);
    assert.equal(RECIPE.lifetimes.accessToken, ACCESS_TOKEN_SECONDS);
    // The example shows "bearer"; the value is case-insensitive (RFC 6749 §5.1), Gatehouse writes "Bearer".
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(String(tokens.token_type).toLowerCase(), 'bearer');
    assert.match(refreshToken, /^ghr_/);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const { payload } = await jwtVerify(
      String(tokens.id_token),
      createRemoteJWKSet(new URL(`${issuer}/jwks`)),
      {
        issuer,
        audience: clientId,
      },
    );
    assert.equal(payload.sub, user.id);
  });

  it('step 3: the tokens carry every scope the client registered, as the Example Response shows', async (t) => {
    if (skipped(t)) return;
    assert.deepEqual(
      scopeSet(tokenScope),
      scopeSet(DOCUMENT_TOKEN_SCOPE),
      'the playground, left as it comes (the document only enters the client ID and secret), asked for fewer scopes',
    );
  });

  it('step 4: GET /oauth/test-token-with-scopes with the Bearer token', async (t) => {
    if (skipped(t)) return;
    const response = await jsonOf(await testToken(accessToken));
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.body.sub, user.id);
    assert.equal(response.body.client_id, clientId);
    assert.deepEqual(response.body.scopes, tokenScope.split(' '));
  });

  it('step 2, note: restarting at /oauth/ui skips the sign-in step once signed in', async (t) => {
    if (skipped(t)) return;
    const { page } = profile;
    const visited: string[] = [];
    const record = (request: { url(): string }) => visited.push(new URL(request.url()).pathname);
    page.on('request', record);
    try {
      await page.goto(`${issuer}/oauth/ui`);
      await page.getByLabel('Client ID').fill(clientId);
      await page.getByLabel(/Client secret/).fill(clientSecret);
      await page.getByRole('button', { name: 'Start OAuth Flow' }).click();
      await page.waitForURL((url) => url.pathname === '/oauth/ui' && url.searchParams.has('code'));
    } finally {
      page.off('request', record);
    }
    assert.ok(!visited.includes('/login'), `went through sign-in again: ${visited.join(' ')}`);
  });

  it('step 5: the access token expires after 10 minutes', async (t) => {
    if (skipped(t)) return;
    rs.server.clock.advance((ACCESS_TOKEN_SECONDS - 1) * SECOND);
    assert.equal((await testToken(accessToken)).status, 200);
    rs.server.clock.advance(2 * SECOND);
    const response = await testToken(accessToken);
    const body = await jsonOf(response);
    assert.equal(response.status, 401);
    assert.deepEqual(body.body, { error: 'invalid_token', error_description: 'The access token expired' });
    const challenge = challengeParams(response.headers.get('www-authenticate'));
    assert.equal(challenge.scheme, 'Bearer');
    assert.deepEqual(challenge.params.slice(0, 3), [
      ['realm', 'Read AI'],
      ['error', 'invalid_token'],
      ['error_description', 'The access token expired'],
    ]);
  });

  let rotated = '';
  let latestAccessToken = '';

  it('step 5: curl -u CLIENT_ID:CLIENT_SECRET with grant_type=refresh_token returns a new refresh token', async (t) => {
    if (skipped(t)) return;
    const response = await postForm(
      tokenEndpoint(),
      curlData('grant_type=refresh_token', `refresh_token=${refreshToken}`),
      {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: curlBasic(clientId, clientSecret),
      },
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));
    // The document shows no refresh answer; with openid granted it has step 3's fields, an ID token included
    // (OIDC Core §12.2, as Read AI's own server, Hydra, answers).
    assert.deepEqual(keysOf(response.body), DOCUMENT_TOKEN_FIELDS);
    assert.equal(response.body.expires_in, ACCESS_TOKEN_SECONDS);
    assert.equal(response.body.token_type, 'Bearer');
    rotated = String(response.body.refresh_token);
    assert.match(rotated, /^ghr_/);
    assert.notEqual(rotated, refreshToken, 'refresh tokens are rotated on every use');
    latestAccessToken = String(response.body.access_token);
    assert.equal((await testToken(latestAccessToken)).status, 200);
  });

  it('step 5: the previous refresh token within the grace period gets the same new one; after it, reuse', async (t) => {
    if (skipped(t)) return;
    const refresh = (token: string) =>
      postForm(tokenEndpoint(), curlData('grant_type=refresh_token', `refresh_token=${token}`), {
        Authorization: curlBasic(clientId, clientSecret),
      });
    // A retry (a lost response, a second tab) inside the grace period: the same successor, no second family.
    const retry = await refresh(refreshToken);
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    assert.equal(retry.body.refresh_token, rotated);
    latestAccessToken = String(retry.body.access_token);
    assert.equal((await testToken(latestAccessToken)).status, 200);

    rs.server.clock.advance((RECIPE.lifetimes.refreshGrace + 1) * SECOND);
    const reuse = await refresh(refreshToken);
    assert.equal(reuse.status, 400);
    assert.deepEqual(reuse.body, {
      error: 'invalid_grant',
      error_description: 'The refresh token is invalid, expired or revoked',
    });
    // Reuse after the grace period is taken as theft (RFC 9700 §4.14.2): the whole family is revoked.
    const successor = await refresh(rotated);
    assert.equal(successor.status, 400);
    assert.equal(successor.body.error, 'invalid_grant');
    assert.equal((await testToken(latestAccessToken)).status, 401);
    assert.deepEqual(profile.offLoopback, []);
  });
});
