// Dynamic client registration (RFC 7591) and its management (RFC 7592) over app.inject: Read AI's registration
// exactly as its document shows it and the whole flow with that client, the scope policy, public clients, and
// docs/security.md rows A-07/H-01 (redirect URI rules), H-02 and F-09 (privileged metadata, server-chosen ids),
// H-05/G-05 (display URIs: https only, never fetched, shown escaped), H-09 (error and read hygiene), H-10
// (registration access token rotation, update, delete), F-07 (body size and nesting), the four registration
// policies, the per-IP rate limit, and A-09 (self-registered clients: no redirect to an anonymous visitor).
// H-11 (host lists) applies to fetched documents, not registration: test/http/outbound.test.ts.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { decodeJwt } from 'jose';
import { isWellFormedOpaqueToken, TOKEN_PREFIX } from '../../src/oauth/opaque-token.ts';
import { escapeHtml } from '../../src/pages/html.ts';
import type { Client, User } from '../../src/storage/storage.ts';
import { sha256 } from '../../src/util/hash.ts';
import { Agent, csrfFrom, localPath } from '../helpers/agent.ts';
import { authorizeUrl, basicAuth, exchangeCode, pkcePair, runAuthorizationFlow } from '../helpers/flow.ts';
import { buildTestServer, ISSUER, type TestServer } from '../helpers/server.ts';

type TestUser = User & { email: string; password: string };

const MEETINGS = 'https://api.read.ai/v1/meetings';
const MCP = 'https://api.read.ai/mcp';
const READ_AI_REDIRECT = 'https://api.read.ai/oauth/ui';
const READ_AI_SCOPE = 'openid email offline_access profile meeting:read mcp:execute';

/** Read AI's registration request, byte for byte as its document shows it. */
const READ_AI_REQUEST = `{
"client_name": "My Analytics Dashboard",
"redirect_uris": ["https://api.read.ai/oauth/ui"],
"grant_types": ["authorization_code", "refresh_token"],
"response_types": ["code"],
"scope": "openid email offline_access profile meeting:read mcp:execute",
"token_endpoint_auth_method": "client_secret_basic"
}`;

const READ_AI_ENV = {
  GATEHOUSE_RESOURCES: JSON.stringify([
    { uri: MEETINGS, scopes: ['meeting:read'] },
    { uri: MCP, scopes: ['mcp:execute'] },
  ]),
  GATEHOUSE_REGISTRATION_SCOPES: 'openid email profile offline_access meeting:read mcp:execute',
  // Most suites register many clients from one address; the rate limit has its own suite.
  GATEHOUSE_REGISTRATION_RATE_LIMIT: '100000',
};

/** A plain confidential web client, as most suites need one. */
const WEB_CLIENT = {
  client_name: 'Web App',
  redirect_uris: ['https://rp.example/cb'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  scope: 'openid profile email offline_access',
};

interface Registered {
  client_id: string;
  client_secret?: string;
  client_secret_expires_at?: number;
  client_id_issued_at: number;
  client_name: string;
  redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  token_endpoint_auth_method: string;
  application_type: string;
  scope: string;
  audience: string[];
  registration_access_token: string;
  registration_client_uri: string;
  approval_status?: string;
  logo_uri?: string;
  policy_uri?: string;
  tos_uri?: string;
  client_uri?: string;
  [field: string]: unknown;
}

function register(
  server: TestServer,
  body: unknown,
  headers: Record<string, string> = {},
  remoteAddress?: string,
) {
  return server.app.inject({
    method: 'POST',
    url: '/oauth/register',
    payload: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
    ...(remoteAddress ? { remoteAddress } : {}),
  });
}

async function registerOk(server: TestServer, body: unknown, headers: Record<string, string> = {}) {
  const response = await register(server, body, headers);
  assert.equal(response.statusCode, 201, response.body);
  return response.json() as Registered;
}

function manage(
  server: TestServer,
  method: 'GET' | 'PUT' | 'DELETE',
  clientId: string,
  token: string | undefined,
  body?: unknown,
) {
  return server.app.inject({
    method,
    url: `/oauth/register/${encodeURIComponent(clientId)}`,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
}

function postForm(
  server: TestServer,
  url: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return server.app.inject({
    method: 'POST',
    url,
    payload: new URLSearchParams(form).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
}

/** What `curl -u CLIENT_ID:CLIENT_SECRET` sends: the raw pair, not form-encoded first. */
function curlBasic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;
}

async function stored(server: TestServer, clientId: string): Promise<Client> {
  const client = await server.deps.storage.clients.find(clientId);
  assert.ok(client, `client ${clientId} is stored`);
  return client;
}

/** An RFC 6749 §5.2 / RFC 7591 §3.2.2 error: JSON, never cached, the expected code. */
function assertJsonError(
  response: LightMyRequestResponse,
  status: number,
  code?: string | readonly string[],
) {
  assert.equal(response.statusCode, status, response.body);
  assert.match(String(response.headers['content-type']), /^application\/json\b/, response.body);
  assert.equal(response.headers['cache-control'], 'no-store');
  const body = response.json() as Record<string, unknown>;
  assert.equal(typeof body.error, 'string', response.body);
  assert.match(body.error as string, /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/, 'RFC 6749 error charset');
  if (body.error_description !== undefined) {
    assert.equal(typeof body.error_description, 'string');
    assert.match(body.error_description as string, /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/);
  }
  for (const key of Object.keys(body)) {
    assert.ok(['error', 'error_description', 'error_uri'].includes(key), `unexpected field ${key}`);
  }
  if (typeof code === 'string') assert.equal(body.error, code, response.body);
  else if (code) assert.ok(code.includes(body.error as string), `${body.error} not in ${code.join(', ')}`);
  return body;
}

/** The page shown instead of a redirect: HTML 400, no Location, nothing that sends the browser on. */
function assertErrorPage(response: LightMyRequestResponse, text?: RegExp) {
  assert.equal(
    response.statusCode,
    400,
    `expected the error page, got ${response.statusCode} ${response.body}`,
  );
  assert.match(String(response.headers['content-type']), /^text\/html/);
  assert.equal(response.headers.location, undefined, 'the error page must not redirect');
  assert.match(response.body, /This request cannot be completed/);
  assert.doesNotMatch(response.body, /http-equiv="refresh"/i);
  if (text) assert.match(response.body, text);
}

function assertUnauthorizedBearer(response: LightMyRequestResponse, secrets: readonly string[] = []) {
  assertJsonError(response, 401, 'invalid_token');
  assert.match(String(response.headers['www-authenticate']), /^Bearer\b/);
  for (const secret of secrets) assert.ok(!response.body.includes(secret), 'a secret leaked');
}

function authorizeRequest(client: Client, extra: Record<string, string | undefined> = {}) {
  const { challenge } = pkcePair();
  return authorizeUrl({
    response_type: 'code',
    client_id: client.id,
    redirect_uri: client.redirectUris[0],
    scope: 'openid',
    state: 'S',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
}

/** Walks sign-in up to the consent page and returns its HTML (nothing is allowed). */
async function consentPage(server: TestServer, client: Client, user: TestUser): Promise<string> {
  const agent = new Agent(server.app);
  let response = await agent.get(authorizeRequest(client));
  for (let step = 0; step < 6; step++) {
    assert.equal(response.statusCode, 303, response.body.slice(0, 300));
    const path = localPath(String(response.headers.location));
    if (path.startsWith('/consent')) {
      const page = await agent.get(path);
      assert.equal(page.statusCode, 200, page.body.slice(0, 300));
      return page.body;
    }
    if (path.startsWith('/login')) {
      const page = await agent.get(path);
      const interaction = new URL(path, 'http://x').searchParams.get('interaction') ?? '';
      response = await agent.post('/login', {
        _csrf: csrfFrom(page.body),
        email: user.email,
        password: user.password,
        interaction,
      });
    } else {
      response = await agent.get(path);
    }
  }
  throw new Error('never reached the consent page');
}

/** A browser with a signed-in session (it went through one whole flow with this client). */
async function signedInAgent(server: TestServer, client: Client, user: TestUser): Promise<Agent> {
  const flow = await runAuthorizationFlow(server, client, user);
  return flow.agent;
}

function sameScopes(actual: string, expected: string) {
  assert.deepEqual(actual.split(' ').filter(Boolean).sort(), expected.split(' ').filter(Boolean).sort());
}

describe('Read AI: registration exactly as its document shows it, then the whole flow', () => {
  let server: TestServer;
  let user: TestUser;

  before(async () => {
    server = await buildTestServer(READ_AI_ENV);
    user = await server.addUser();
  });
  after(() => server.close());

  it('POST /oauth/register → 201, no-store, client_id, ghs_ secret, RAT, the granted scope and both audiences', async () => {
    const response = await register(server, READ_AI_REQUEST);
    assert.equal(response.statusCode, 201, response.body);
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.match(String(response.headers['content-type']), /^application\/json\b/);
    const body = response.json() as Registered;

    assert.equal(typeof body.client_id, 'string');
    assert.ok(body.client_id.length >= 16, body.client_id);
    assert.equal(typeof body.client_secret, 'string');
    assert.ok(body.client_secret!.startsWith('ghs_'), body.client_secret);
    assert.ok(isWellFormedOpaqueToken(body.client_secret!, TOKEN_PREFIX.clientSecret));
    assert.equal(body.client_id_issued_at, Math.floor(server.clock.now() / 1000));
    assert.equal(body.client_secret_expires_at, 0);
    assert.equal(typeof body.registration_access_token, 'string');
    assert.ok(body.registration_access_token.length >= 32);
    assert.notEqual(body.registration_access_token, body.client_secret);
    assert.equal(
      body.registration_client_uri,
      `${ISSUER}/oauth/register/${encodeURIComponent(body.client_id)}`,
    );
    assert.equal(body.client_name, 'My Analytics Dashboard');
    assert.deepEqual(body.redirect_uris, [READ_AI_REDIRECT]);
    assert.deepEqual(body.grant_types, ['authorization_code', 'refresh_token']);
    assert.deepEqual(body.response_types, ['code']);
    assert.equal(body.token_endpoint_auth_method, 'client_secret_basic');
    sameScopes(body.scope, READ_AI_SCOPE);
    assert.ok(Array.isArray(body.audience), response.body);
    assert.ok(body.audience.includes(MEETINGS), `audience lacks ${MEETINGS}: ${body.audience}`);
    assert.ok(body.audience.includes(MCP), `audience lacks ${MCP}: ${body.audience}`);
    for (const audience of body.audience) assert.ok([ISSUER, MEETINGS, MCP].includes(audience), audience);

    // Stored: hashes only, self-registered, PKCE required.
    const client = await stored(server, body.client_id);
    assert.equal(client.secretHash, sha256(body.client_secret!));
    assert.equal(client.registrationAccessTokenHash, sha256(body.registration_access_token));
    assert.equal(client.registeredVia, 'dcr');
    assert.equal(client.requirePkce, true);
    assert.equal(client.status, 'active');
    assert.deepEqual([...client.allowedResources].sort(), [MCP, MEETINGS]);
  });

  it('authorize → code → token with Basic auth (as Read AI’s curl), then refresh with -u CLIENT_ID:CLIENT_SECRET', async () => {
    const registered = await registerOk(server, READ_AI_REQUEST);
    const secret = registered.client_secret!;
    const client = await stored(server, registered.client_id);

    const flow = await runAuthorizationFlow(server, client, user, { scope: READ_AI_SCOPE });
    assert.equal(flow.state, 'state-123');
    assert.equal(flow.iss, ISSUER);
    assert.ok(flow.location.href.startsWith(`${READ_AI_REDIRECT}?`), flow.location.href);

    const token = await postForm(
      server,
      '/token',
      {
        grant_type: 'authorization_code',
        code: flow.code,
        redirect_uri: READ_AI_REDIRECT,
        code_verifier: flow.verifier,
      },
      { authorization: curlBasic(registered.client_id, secret) },
    );
    assert.equal(token.statusCode, 200, token.body);
    assert.equal(token.headers['cache-control'], 'no-store');
    const tokens = token.json() as Record<string, unknown>;
    assert.match(String(tokens.token_type), /^bearer$/i);
    assert.equal(typeof tokens.access_token, 'string');
    assert.equal(typeof tokens.id_token, 'string');
    assert.ok(isWellFormedOpaqueToken(String(tokens.refresh_token), TOKEN_PREFIX.refreshToken));
    assert.equal(tokens.expires_in, 600);
    sameScopes(String(tokens.scope), READ_AI_SCOPE);
    assert.equal(decodeJwt(String(tokens.id_token)).aud, registered.client_id);

    const check = await server.app.inject({
      url: '/oauth/test-token-with-scopes',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    assert.equal(check.statusCode, 200, check.body);
    assert.equal(check.json().client_id, registered.client_id);
    assert.equal(check.json().sub, user.id);
    sameScopes((check.json().scopes as string[]).join(' '), READ_AI_SCOPE);

    const refreshed = await postForm(
      server,
      '/token',
      { grant_type: 'refresh_token', refresh_token: String(tokens.refresh_token) },
      { authorization: curlBasic(registered.client_id, secret) },
    );
    assert.equal(refreshed.statusCode, 200, refreshed.body);
    const next = refreshed.json() as Record<string, unknown>;
    assert.equal(typeof next.access_token, 'string');
    assert.notEqual(next.refresh_token, tokens.refresh_token, 'the refresh token rotates');
    assert.ok(isWellFormedOpaqueToken(String(next.refresh_token), TOKEN_PREFIX.refreshToken));
    sameScopes(String(next.scope), READ_AI_SCOPE);
    const again = await server.app.inject({
      url: '/oauth/test-token-with-scopes',
      headers: { authorization: `Bearer ${next.access_token}` },
    });
    assert.equal(again.statusCode, 200, again.body);

    // The secret is what authenticates: a wrong one is refused.
    const wrong = await postForm(
      server,
      '/token',
      { grant_type: 'refresh_token', refresh_token: String(next.refresh_token) },
      { authorization: curlBasic(registered.client_id, `${secret.slice(0, -1)}x`) },
    );
    assertJsonError(wrong, 401, 'invalid_client');
  });

  it('the audiences listed at registration can be asked for with resource= (RFC 8707)', async () => {
    const registered = await registerOk(server, READ_AI_REQUEST);
    const client = await stored(server, registered.client_id);
    const flow = await runAuthorizationFlow(server, client, user, {
      scope: 'mcp:execute offline_access',
      extra: { resource: MCP },
    });
    const token = await exchangeCode(server, client, registered.client_secret, flow);
    assert.equal(token.statusCode, 200, token.body);
    assert.equal(decodeJwt(String(token.json().access_token)).aud, MCP);
  });
});

describe('scope policy (GATEHOUSE_REGISTRATION_SCOPES)', () => {
  let server: TestServer;

  before(async () => {
    server = await buildTestServer({
      ...READ_AI_ENV,
      GATEHOUSE_REGISTRATION_SCOPES: 'openid profile email offline_access meeting:read',
    });
  });
  after(() => server.close());

  it('scopes beyond the policy are trimmed; the response shows what was granted, and only its audiences', async () => {
    const registered = await registerOk(server, {
      ...WEB_CLIENT,
      scope: 'openid email admin meeting:read mcp:execute',
    });
    sameScopes(registered.scope, 'openid email meeting:read');
    assert.ok(registered.audience.includes(MEETINGS));
    assert.ok(!registered.audience.includes(MCP), 'mcp:execute was trimmed, so is its audience');
    const client = await stored(server, registered.client_id);
    sameScopes(client.scope, 'openid email meeting:read');
    assert.deepEqual(client.allowedResources, [MEETINGS]);

    // The trimmed scope cannot be asked for later (anonymous: error page, A-09).
    const response = await server.app.inject(authorizeRequest(client, { scope: 'openid mcp:execute' }));
    assertErrorPage(response, /invalid_scope/);
  });

  it('without a scope the client gets the policy’s scopes', async () => {
    const { scope: _omitted, ...body } = WEB_CLIENT;
    const registered = await registerOk(server, body);
    sameScopes(registered.scope, 'openid profile email offline_access meeting:read');
  });
});

describe('dynamic registration (open policy)', () => {
  let server: TestServer;
  let user: TestUser;

  before(async () => {
    server = await buildTestServer(READ_AI_ENV);
    user = await server.addUser();
  });
  after(() => server.close());

  async function clientCount() {
    return (await server.deps.storage.clients.list()).length;
  }

  describe('public clients', () => {
    it('token_endpoint_auth_method none with a loopback redirect → 201 without a secret; the flow works with PKCE alone', async () => {
      const registered = await registerOk(server, {
        client_name: 'CLI tool',
        redirect_uris: ['http://127.0.0.1/callback'],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid profile',
      });
      assert.equal(registered.client_secret, undefined);
      assert.equal(registered.client_secret_expires_at, undefined);
      assert.equal(registered.token_endpoint_auth_method, 'none');
      assert.equal(registered.application_type, 'native');
      assert.equal(typeof registered.registration_access_token, 'string');
      const client = await stored(server, registered.client_id);
      assert.equal(client.secretHash, null);

      // RFC 8252 §7.3: any port on the loopback address.
      const flow = await runAuthorizationFlow(server, client, user, {
        scope: 'openid',
        redirectUri: 'http://127.0.0.1:51004/callback',
      });
      const token = await exchangeCode(server, client, undefined, flow);
      assert.equal(token.statusCode, 200, token.body);
    });

    it('a private-use scheme redirect (com.example.app:/cb) → 201 without a secret', async () => {
      const registered = await registerOk(server, {
        client_name: 'Mobile app',
        redirect_uris: ['com.example.app:/cb'],
        token_endpoint_auth_method: 'none',
        application_type: 'native',
      });
      assert.equal(registered.client_secret, undefined);
      assert.deepEqual(registered.redirect_uris, ['com.example.app:/cb']);
    });

    it('none + client_credentials → 400 invalid_client_metadata, nothing stored; with authorization_code, client_credentials is dropped', async () => {
      const before = await clientCount();
      const response = await register(server, {
        client_name: 'Public machine',
        redirect_uris: [],
        token_endpoint_auth_method: 'none',
        grant_types: ['client_credentials'],
      });
      assertJsonError(response, 400, 'invalid_client_metadata');
      assert.equal(await clientCount(), before);
      // Under the open policy client_credentials is never self-assigned (issue 12 item 1): what is left is granted.
      const mixed = await register(server, {
        client_name: 'Public machine',
        redirect_uris: ['http://127.0.0.1/cb'],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'client_credentials'],
      });
      assert.equal(mixed.statusCode, 201, mixed.body);
      assert.deepEqual(mixed.json().grant_types, ['authorization_code']);
    });
  });

  describe('A-07 / H-01: redirect URI rules at registration', () => {
    const BAD = [
      'https://rp.example/cb#x',
      'https://rp.example/cb#',
      'javascript:alert(1)',
      'data:text/html,x',
      'vbscript:x',
      'file:///etc/passwd',
      'http://rp.example/cb',
      'https://*.rp.example/cb',
      '/cb',
      'https://user:pw@rp.example/cb',
      'myapp:/cb',
    ];

    for (const uri of BAD) {
      it(`${uri} → 400 invalid_redirect_uri (web and native), nothing stored`, async () => {
        const before = await clientCount();
        const web = await register(server, { ...WEB_CLIENT, redirect_uris: [uri] });
        assertJsonError(web, 400, 'invalid_redirect_uri');
        const native = await register(server, {
          client_name: 'Native',
          redirect_uris: [uri],
          token_endpoint_auth_method: 'none',
          application_type: 'native',
        });
        assertJsonError(native, 400, 'invalid_redirect_uri');
        // One bad URI among good ones spoils the registration too.
        const mixed = await register(server, {
          ...WEB_CLIENT,
          redirect_uris: ['https://rp.example/good', uri],
        });
        assertJsonError(mixed, 400, 'invalid_redirect_uri');
        assert.equal(await clientCount(), before);
      });
    }

    it('com.example.app:/cb for a native client → 201; for a web client → 400', async () => {
      const native = await registerOk(server, {
        client_name: 'Native',
        redirect_uris: ['com.example.app:/cb'],
        application_type: 'native',
        token_endpoint_auth_method: 'none',
      });
      assert.deepEqual(native.redirect_uris, ['com.example.app:/cb']);
      const web = await register(server, {
        ...WEB_CLIENT,
        redirect_uris: ['com.example.app:/cb'],
        application_type: 'web',
      });
      assertJsonError(web, 400, 'invalid_redirect_uri');
      // Without application_type, a client whose only redirect URIs are native ones is native (A-07).
      const inferred = await registerOk(server, { ...WEB_CLIENT, redirect_uris: ['com.example.app:/cb'] });
      assert.equal(inferred.application_type, 'native');
      // One https URI among them keeps the default web, and the private-use scheme is refused.
      const mixed = await register(server, {
        ...WEB_CLIENT,
        redirect_uris: ['https://rp.example/cb', 'com.example.app:/cb'],
      });
      assertJsonError(mixed, 400, 'invalid_redirect_uri');
    });

    it('an authorization_code client without redirect URIs → 400 invalid_redirect_uri', async () => {
      const { redirect_uris: _none, ...body } = WEB_CLIENT;
      assertJsonError(await register(server, body), 400, 'invalid_redirect_uri');
      assertJsonError(await register(server, { ...body, redirect_uris: [] }), 400, 'invalid_redirect_uri');
    });
  });

  describe('H-02 / F-09: privileged metadata is never taken from the request', () => {
    /** Either refused with invalid_client_metadata or registered with the server's own values (then checked). */
    async function ignoredOrRefused(body: Record<string, unknown>, check: (r: Registered) => Promise<void>) {
      const response = await register(server, body);
      if (response.statusCode === 400) {
        assertJsonError(response, 400, 'invalid_client_metadata');
        return;
      }
      assert.equal(response.statusCode, 201, response.body);
      await check(response.json() as Registered);
    }

    it('client_id in the body → ignored: the id is server-chosen', async () => {
      await ignoredOrRefused({ ...WEB_CLIENT, client_id: 'my-chosen-id' }, async (registered) => {
        assert.notEqual(registered.client_id, 'my-chosen-id');
        assert.equal(await server.deps.storage.clients.find('my-chosen-id'), undefined);
      });
    });

    it('F-09: a client_id equal to an existing user id → ignored; no client carries the user’s id', async () => {
      const victim = await server.addUser();
      await ignoredOrRefused({ ...WEB_CLIENT, client_id: victim.id }, async (registered) => {
        assert.notEqual(registered.client_id, victim.id);
        assert.equal(await server.deps.storage.clients.find(victim.id), undefined);
      });
    });

    it('client_secret in the body → ignored: a new ghs_ secret is minted; the chosen one never authenticates', async () => {
      const chosen = 'ghs_my-own-secret-that-i-chose-myself-0123456789';
      await ignoredOrRefused({ ...WEB_CLIENT, client_secret: chosen }, async (registered) => {
        assert.ok(registered.client_secret);
        assert.notEqual(registered.client_secret, chosen);
        assert.ok(isWellFormedOpaqueToken(registered.client_secret, TOKEN_PREFIX.clientSecret));
        const client = await stored(server, registered.client_id);
        assert.notEqual(client.secretHash, sha256(chosen));
        const response = await postForm(
          server,
          '/token',
          { grant_type: 'refresh_token', refresh_token: 'x' },
          { authorization: basicAuth(registered.client_id, chosen) },
        );
        assertJsonError(response, 401, 'invalid_client');
      });
    });

    it('a public client that sends a client_secret gets none back', async () => {
      await ignoredOrRefused(
        {
          client_name: 'Public',
          redirect_uris: ['http://127.0.0.1/cb'],
          token_endpoint_auth_method: 'none',
          client_secret: 'ghs_whatever',
        },
        async (registered) => {
          assert.equal(registered.client_secret, undefined);
          assert.equal((await stored(server, registered.client_id)).secretHash, null);
        },
      );
    });

    it('require_pkce:false, non_expiring, skip_consent → ignored; the client still requires PKCE', async () => {
      await ignoredOrRefused(
        {
          ...WEB_CLIENT,
          require_pkce: false,
          requirePkce: false,
          non_expiring: true,
          non_expiring_tokens: true,
          nonExpiringTokens: true,
          skip_consent: true,
        },
        async (registered) => {
          const client = await stored(server, registered.client_id);
          assert.equal(client.requirePkce, true);
          assert.equal(client.nonExpiringTokens, false);
          for (const field of ['require_pkce', 'non_expiring', 'non_expiring_tokens', 'skip_consent']) {
            assert.equal(registered[field], undefined, `${field} echoed as if accepted`);
          }
          // Behaviour, not just the stored flag: a signed-in user's request without PKCE is refused.
          const agent = await signedInAgent(server, client, user);
          const response = await agent.get(
            authorizeUrl({
              response_type: 'code',
              client_id: client.id,
              redirect_uri: client.redirectUris[0],
              scope: 'openid',
              state: 'S',
            }),
          );
          assert.equal(response.statusCode, 303, response.body);
          const location = new URL(String(response.headers.location));
          assert.equal(location.origin + location.pathname, 'https://rp.example/cb');
          assert.equal(location.searchParams.get('error'), 'invalid_request');
          assert.equal(location.searchParams.get('code'), null);
        },
      );
    });

    it('registered_via, status, audience and allowed_resources → ignored (still a dcr client, own audiences only)', async () => {
      await ignoredOrRefused(
        {
          ...WEB_CLIENT,
          registered_via: 'cli',
          registeredVia: 'cli',
          status: 'active',
          audience: ['https://evil.example'],
          allowed_resources: ['https://evil.example'],
          allowedResources: ['https://evil.example'],
        },
        async (registered) => {
          const client = await stored(server, registered.client_id);
          assert.equal(client.registeredVia, 'dcr');
          assert.ok(!client.allowedResources.includes('https://evil.example'));
          assert.ok(!registered.audience.includes('https://evil.example'));
        },
      );
    });

    it('grant_types ["password"] (or any unsupported grant) → 400 invalid_client_metadata', async () => {
      for (const grants of [['password'], ['authorization_code', 'password'], ['implicit']]) {
        await ignoredOrRefused({ ...WEB_CLIENT, grant_types: grants }, async (registered) => {
          assert.ok(!registered.grant_types.includes('password'));
          assert.ok(!registered.grant_types.includes('implicit'));
        });
      }
      // response_types other than code are refused outright.
      assertJsonError(
        await register(server, { ...WEB_CLIENT, response_types: ['token'] }),
        400,
        'invalid_client_metadata',
      );
    });

    it('scope "admin" (not in the policy) → trimmed from the granted scope', async () => {
      const registered = await registerOk(server, { ...WEB_CLIENT, scope: 'openid admin' });
      sameScopes(registered.scope, 'openid');
    });
  });

  describe('H-05 / G-05: display metadata', () => {
    it('logo_uri javascript:… → 400; http:// → 400 (every display URI); nothing stored', async () => {
      const before = await clientCount();
      for (const field of ['logo_uri', 'policy_uri', 'tos_uri', 'client_uri']) {
        for (const value of [
          'javascript:alert(1)',
          'http://rp.example/logo.png',
          'data:image/png;base64,AAAA',
          '//rp.example/logo.png',
          'https:',
        ]) {
          const response = await register(server, { ...WEB_CLIENT, [field]: value });
          assertJsonError(response, 400, 'invalid_client_metadata');
        }
      }
      assert.equal(await clientCount(), before);
    });

    it('https display URIs are accepted, stored and echoed, and the server never fetches them', async () => {
      // A loopback canary: any connection to it would be the server fetching a display URI (H-05).
      let connections = 0;
      const canary: Server = createServer((socket) => {
        connections += 1;
        socket.destroy();
      });
      await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
      try {
        const address = canary.address();
        assert.ok(address && typeof address === 'object');
        const base = `https://127.0.0.1:${address.port}`;
        const display = {
          logo_uri: `${base}/logo.png`,
          policy_uri: `${base}/policy`,
          tos_uri: `${base}/tos`,
          client_uri: `${base}/`,
        };
        const registered = await registerOk(server, { ...WEB_CLIENT, ...display });
        for (const [field, value] of Object.entries(display)) assert.equal(registered[field], value, field);
        const client = await stored(server, registered.client_id);
        assert.deepEqual(client.metadata, display);
        const read = await manage(server, 'GET', registered.client_id, registered.registration_access_token);
        assert.equal(read.statusCode, 200, read.body);
        for (const [field, value] of Object.entries(display)) assert.equal(read.json()[field], value, field);
        // Rendering the consent page does not fetch them either.
        await consentPage(server, client, user);
        // Let any fire-and-forget fetch reach the event loop before counting.
        for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
        assert.equal(connections, 0, 'the server connected to a display URI');
      } finally {
        await new Promise<void>((resolve) => canary.close(() => resolve()));
      }
    });

    it('G-05: a hostile client_name is shown escaped on the consent page', async () => {
      const name = '<img src=x onerror=alert(1)>';
      const registered = await registerOk(server, {
        ...WEB_CLIENT,
        client_name: name,
        policy_uri: 'https://x/"onmouseover="alert(1)',
      });
      const page = await consentPage(server, await stored(server, registered.client_id), user);
      assert.ok(!page.includes(name), 'the name appears unescaped');
      assert.ok(page.includes(escapeHtml(name)), 'the name is shown, escaped');
      assert.doesNotMatch(page, /onmouseover="/);
      assert.doesNotMatch(page, /<img[^>]*onerror/i);
      // Only https (or this server's own) links on the page.
      for (const [, attribute, value] of page.matchAll(/\b(href|src|action)="([^"]*)"/g)) {
        assert.match(value!, /^(\/|https:\/\/|#)/, `${attribute}="${value}"`);
      }
    });
  });

  describe('H-09: error and read hygiene', () => {
    it('invalid JSON {"<script>":1 → 400 application/json, never text/html, no echo', async () => {
      for (const headers of [{}, { accept: 'text/html' }] as Record<string, string>[]) {
        const response = await register(server, '{"<script>":1', headers);
        assertJsonError(response, 400, ['invalid_client_metadata', 'invalid_request']);
        assert.equal(response.headers['x-content-type-options'], 'nosniff');
        assert.ok(!response.body.includes('<script>'), response.body);
      }
    });

    it('an unknown attribute "<script>" in valid JSON → a JSON error, never text/html', async () => {
      const response = await register(server, '{"<script>":1}', { accept: 'text/html' });
      assertJsonError(response, 400);
      assert.ok(!response.body.includes('<script>'), response.body);
      // A hostile value that is echoed in the description stays inside JSON, never HTML.
      const echoed = await register(
        server,
        { ...WEB_CLIENT, redirect_uris: ['<script>alert(1)</script>'] },
        { accept: 'text/html' },
      );
      assertJsonError(echoed, 400, 'invalid_redirect_uri');
      assert.equal(echoed.headers['x-content-type-options'], 'nosniff');
    });

    it('GET /oauth/register/:id without, with a wrong, or with another client’s token → 401 Bearer, no secret', async () => {
      const registered = await registerOk(server, WEB_CLIENT);
      const other = await registerOk(server, WEB_CLIENT);
      const secrets = [registered.client_secret!, registered.registration_access_token];
      assertUnauthorizedBearer(await manage(server, 'GET', registered.client_id, undefined), secrets);
      assertUnauthorizedBearer(await manage(server, 'GET', registered.client_id, 'wrong-token'), secrets);
      assertUnauthorizedBearer(
        await manage(server, 'GET', registered.client_id, other.registration_access_token),
        secrets,
      );
      // The client secret is not a registration access token.
      assertUnauthorizedBearer(
        await manage(server, 'GET', registered.client_id, registered.client_secret),
        secrets,
      );
      // An unknown client looks the same as a wrong token.
      assertUnauthorizedBearer(await manage(server, 'GET', 'no-such-client', 'whatever'));
      // Basic instead of Bearer.
      const basic = await server.app.inject({
        url: `/oauth/register/${registered.client_id}`,
        headers: { authorization: basicAuth(registered.client_id, registered.client_secret!) },
      });
      assertUnauthorizedBearer(basic, secrets);
    });

    it('GET with the right token → 200 with the metadata, no-store, and no secret of any kind', async () => {
      const registered = await registerOk(server, READ_AI_REQUEST);
      const response = await manage(
        server,
        'GET',
        registered.client_id,
        registered.registration_access_token,
      );
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.headers['cache-control'], 'no-store');
      const body = response.json() as Registered;
      assert.equal(body.client_id, registered.client_id);
      assert.equal(body.client_name, 'My Analytics Dashboard');
      assert.deepEqual(body.redirect_uris, [READ_AI_REDIRECT]);
      sameScopes(body.scope, READ_AI_SCOPE);
      assert.equal(body.registration_client_uri, registered.registration_client_uri);
      assert.equal(body.client_secret, undefined);
      assert.equal(body.registration_access_token, undefined);
      assert.ok(!response.body.includes(registered.client_secret!));
      assert.ok(!response.body.includes(sha256(registered.client_secret!)));
      assert.ok(!response.body.includes(registered.registration_access_token));
      assert.ok(!/secret_?hash|Hash/.test(response.body), response.body);
      // The token keeps working for reads (a read does not rotate it).
      const again = await manage(server, 'GET', registered.client_id, registered.registration_access_token);
      assert.equal(again.statusCode, 200, again.body);
    });
  });

  describe('H-10: update (PUT) and delete with the registration access token', () => {
    it('PUT with RAT₁ → 200 + RAT₂; RAT₁ then → 401; RAT₂ works', async () => {
      const registered = await registerOk(server, WEB_CLIENT);
      const rat1 = registered.registration_access_token;
      const response = await manage(server, 'PUT', registered.client_id, rat1, {
        ...WEB_CLIENT,
        client_id: registered.client_id,
        client_name: 'Renamed App',
        redirect_uris: ['https://rp.example/cb', 'https://rp.example/cb2'],
      });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.headers['cache-control'], 'no-store');
      const updated = response.json() as Registered;
      const rat2 = updated.registration_access_token;
      assert.equal(typeof rat2, 'string');
      assert.notEqual(rat2, rat1);
      assert.equal(updated.client_id, registered.client_id);
      assert.equal(updated.client_name, 'Renamed App');
      assert.deepEqual(updated.redirect_uris, ['https://rp.example/cb', 'https://rp.example/cb2']);
      assert.equal(updated.client_secret, undefined, 'a confidential client keeps its secret');

      assertUnauthorizedBearer(await manage(server, 'GET', registered.client_id, rat1));
      assertUnauthorizedBearer(
        await manage(server, 'PUT', registered.client_id, rat1, {
          ...WEB_CLIENT,
          client_id: registered.client_id,
        }),
      );
      assertUnauthorizedBearer(await manage(server, 'DELETE', registered.client_id, rat1));
      const read = await manage(server, 'GET', registered.client_id, rat2);
      assert.equal(read.statusCode, 200, read.body);
      assert.equal(read.json().client_name, 'Renamed App');

      // The secret from registration still authenticates after the update.
      const client = await stored(server, registered.client_id);
      assert.equal(client.secretHash, sha256(registered.client_secret!));
    });

    it('PUT without client_id, or with another client’s client_id → 400; nothing changes, RAT₁ still valid', async () => {
      const registered = await registerOk(server, WEB_CLIENT);
      const other = await registerOk(server, WEB_CLIENT);
      const rat = registered.registration_access_token;
      const withoutId = await manage(server, 'PUT', registered.client_id, rat, {
        ...WEB_CLIENT,
        client_name: 'X',
      });
      assertJsonError(withoutId, 400);
      const otherId = await manage(server, 'PUT', registered.client_id, rat, {
        ...WEB_CLIENT,
        client_id: other.client_id,
        client_name: 'Hijack',
      });
      assertJsonError(otherId, 400);
      // A client's token does not manage another client, whatever the body says.
      assertUnauthorizedBearer(
        await manage(server, 'PUT', other.client_id, rat, { ...WEB_CLIENT, client_id: other.client_id }),
      );
      assert.equal((await stored(server, registered.client_id)).name, 'Web App');
      assert.equal((await stored(server, other.client_id)).name, 'Web App');
      assert.equal((await manage(server, 'GET', registered.client_id, rat)).statusCode, 200);
    });

    it('RFC 7592 §2.2: PUT echoing the registration answer (with the current client_secret) → 200; another secret → 400', async () => {
      const registered = await registerOk(server, WEB_CLIENT);
      const secret = registered.client_secret!;
      // "MUST include all client metadata fields as returned …" minus the four fields it MUST NOT send.
      const {
        registration_access_token: rat,
        registration_client_uri: _uri,
        client_secret_expires_at: _expires,
        client_id_issued_at: _issued,
        ...echo
      } = registered;

      const chosen = 'ghs_a-secret-the-client-chose-for-itself-000000000';
      const overwrite = await manage(server, 'PUT', registered.client_id, rat, {
        ...echo,
        client_secret: chosen,
      });
      assertJsonError(overwrite, 400, 'invalid_client_metadata');
      assert.equal((await stored(server, registered.client_id)).secretHash, sha256(secret));

      const response = await manage(server, 'PUT', registered.client_id, rat, {
        ...echo,
        client_name: 'Echoed back',
      });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json().client_name, 'Echoed back');
      assert.equal(response.json().client_secret, undefined, 'the secret is unchanged, so not sent again');
      assert.equal((await stored(server, registered.client_id)).secretHash, sha256(secret));
    });

    it('PUT cannot escalate: bad redirect → 400, password grant → 400, scope beyond the policy is trimmed', async () => {
      const registered = await registerOk(server, WEB_CLIENT);
      let rat = registered.registration_access_token;
      const base = { ...WEB_CLIENT, client_id: registered.client_id };
      assertJsonError(
        await manage(server, 'PUT', registered.client_id, rat, {
          ...base,
          redirect_uris: ['http://rp.example/cb'],
        }),
        400,
        'invalid_redirect_uri',
      );
      assertJsonError(
        await manage(server, 'PUT', registered.client_id, rat, { ...base, grant_types: ['password'] }),
        400,
        'invalid_client_metadata',
      );
      const trimmed = await manage(server, 'PUT', registered.client_id, rat, {
        ...base,
        scope: 'openid admin',
        require_pkce: false,
      });
      assert.equal(trimmed.statusCode, 200, trimmed.body);
      sameScopes(trimmed.json().scope, 'openid');
      rat = trimmed.json().registration_access_token;
      const client = await stored(server, registered.client_id);
      assert.equal(client.requirePkce, true);
      assert.equal(client.registeredVia, 'dcr');
      assert.equal(client.id, registered.client_id);
      assert.equal((await manage(server, 'GET', registered.client_id, rat)).statusCode, 200);
    });

    it('PUT switching a public client to confidential returns a new secret, which authenticates', async () => {
      const registered = await registerOk(server, {
        client_name: 'Was public',
        redirect_uris: ['https://rp.example/cb'],
        token_endpoint_auth_method: 'none',
        application_type: 'web',
        scope: 'openid',
      });
      assert.equal(registered.client_secret, undefined);
      const response = await manage(
        server,
        'PUT',
        registered.client_id,
        registered.registration_access_token,
        {
          client_id: registered.client_id,
          client_name: 'Now confidential',
          redirect_uris: ['https://rp.example/cb'],
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: ['authorization_code', 'refresh_token'],
          scope: 'openid',
        },
      );
      assert.equal(response.statusCode, 200, response.body);
      const updated = response.json() as Registered;
      assert.ok(updated.client_secret, 'a new secret is returned');
      assert.ok(isWellFormedOpaqueToken(updated.client_secret, TOKEN_PREFIX.clientSecret));
      assert.equal(updated.client_secret_expires_at, 0);
      assert.equal(updated.token_endpoint_auth_method, 'client_secret_basic');

      const client = await stored(server, registered.client_id);
      assert.equal(client.secretHash, sha256(updated.client_secret));
      const flow = await runAuthorizationFlow(server, client, user, { scope: 'openid' });
      const token = await exchangeCode(server, client, updated.client_secret, flow);
      assert.equal(token.statusCode, 200, token.body);

      // CVE-2020-27838: reading it afterwards never shows the secret.
      const read = await manage(server, 'GET', registered.client_id, updated.registration_access_token);
      assert.equal(read.statusCode, 200, read.body);
      assert.ok(!read.body.includes(updated.client_secret));
      assert.equal(read.json().client_secret, undefined);
    });

    it('DELETE → 204; the client’s tokens stop working, it cannot authorize, its RAT is dead', async () => {
      const registered = await registerOk(server, WEB_CLIENT);
      const client = await stored(server, registered.client_id);
      const flow = await runAuthorizationFlow(server, client, user);
      const token = await exchangeCode(server, client, registered.client_secret, flow);
      assert.equal(token.statusCode, 200, token.body);
      const { access_token: accessToken, refresh_token: refreshToken } = token.json() as Record<
        string,
        string
      >;
      const userinfo = () =>
        server.app.inject({ url: '/userinfo', headers: { authorization: `Bearer ${accessToken}` } });
      assert.equal((await userinfo()).statusCode, 200);

      // A wrong token deletes nothing.
      assertUnauthorizedBearer(await manage(server, 'DELETE', registered.client_id, 'wrong'));
      assert.ok(await server.deps.storage.clients.find(registered.client_id));

      const deleted = await manage(
        server,
        'DELETE',
        registered.client_id,
        registered.registration_access_token,
      );
      assert.equal(deleted.statusCode, 204, deleted.body);
      assert.equal(deleted.body, '');
      assert.equal(await server.deps.storage.clients.find(registered.client_id), undefined);

      const after = await userinfo();
      assert.equal(after.statusCode, 401, after.body);
      assert.match(String(after.headers['www-authenticate']), /^Bearer\b/);
      const refresh = await postForm(
        server,
        '/token',
        { grant_type: 'refresh_token', refresh_token: refreshToken! },
        { authorization: basicAuth(registered.client_id, registered.client_secret!) },
      );
      assertJsonError(refresh, 401, 'invalid_client');
      assertErrorPage(await server.app.inject(authorizeRequest(client)));
      assertUnauthorizedBearer(
        await manage(server, 'GET', registered.client_id, registered.registration_access_token),
      );
      assertUnauthorizedBearer(
        await manage(server, 'DELETE', registered.client_id, registered.registration_access_token),
      );
    });
  });

  describe('F-07: body size and nesting', () => {
    it('a body over 16 KB → 413 JSON; the server keeps answering', async () => {
      const response = await register(server, {
        ...WEB_CLIENT,
        client_name: 'x',
        padding: 'a'.repeat(17 * 1024),
      });
      assertJsonError(response, 413);
      await registerOk(server, WEB_CLIENT);
    });

    it('deeply nested JSON → 400 (413 when it is also over the size limit); the server keeps answering', async () => {
      const withinLimit = [
        '['.repeat(8000) + ']'.repeat(8000),
        `${'{"a":'.repeat(2500)}1${'}'.repeat(2500)}`,
        `{"client_name":"x","redirect_uris":["https://rp.example/cb"],"contacts":${'['.repeat(7000)}${']'.repeat(7000)}}`,
      ];
      for (const body of withinLimit) {
        assert.ok(Buffer.byteLength(body) < 16 * 1024);
        assertJsonError(await register(server, body), 400);
      }
      // 100,000 nested arrays: 200 KB, so over the 16 KB limit as well; refused either way, never a crash.
      const huge = await register(server, '['.repeat(100_000) + ']'.repeat(100_000));
      assert.ok([400, 413].includes(huge.statusCode), `${huge.statusCode} ${huge.body}`);
      assertJsonError(huge, huge.statusCode);
      const health = await server.app.inject('/.well-known/openid-configuration');
      assert.equal(health.statusCode, 200);
      await registerOk(server, WEB_CLIENT);
    });
  });
});

describe('registration policies (GATEHOUSE_REGISTRATION)', () => {
  it('open (the default): discovery lists registration_endpoint', async () => {
    const server = await buildTestServer();
    try {
      for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
        const response = await server.app.inject(path);
        assert.equal(response.json().registration_endpoint, `${ISSUER}/oauth/register`, path);
      }
      await registerOk(server, WEB_CLIENT);
    } finally {
      await server.close();
    }
  });

  it('closed → 403 JSON, nothing stored, and discovery has no registration_endpoint', async () => {
    const server = await buildTestServer({ GATEHOUSE_REGISTRATION: 'closed' });
    try {
      const response = await register(server, WEB_CLIENT);
      assertJsonError(response, 403);
      assert.deepEqual(await server.deps.storage.clients.list(), []);
      for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
        const discovery = await server.app.inject(path);
        assert.equal(discovery.statusCode, 200);
        assert.ok(!('registration_endpoint' in discovery.json()), `${path} lists registration_endpoint`);
      }
    } finally {
      await server.close();
    }
  });

  describe('token: an initial access token is required', () => {
    let server: TestServer;

    before(async () => {
      server = await buildTestServer({ GATEHOUSE_REGISTRATION: 'token' });
    });
    after(() => server.close());

    async function initialToken(value: string, uses: number, expiresInMs: number) {
      const now = server.clock.now();
      await server.deps.storage.initialAccessTokens.create(sha256(value), uses, now, now + expiresInMs);
      return value;
    }
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

    it('without, with a wrong, or with a Basic credential → 401 Bearer; nothing stored', async () => {
      assertUnauthorizedBearer(await register(server, WEB_CLIENT));
      assertUnauthorizedBearer(await register(server, WEB_CLIENT, bearer('not-a-real-initial-token')));
      assertUnauthorizedBearer(await register(server, WEB_CLIENT, { authorization: basicAuth('a', 'b') }));
      assert.deepEqual(await server.deps.storage.clients.list(), []);
    });

    it('a valid token → 201; used up → 401', async () => {
      const token = await initialToken('single-use-initial-access-token-0001', 1, 3_600_000);
      const registered = await registerOk(server, WEB_CLIENT, bearer(token));
      assert.ok(registered.client_secret);
      assertUnauthorizedBearer(await register(server, WEB_CLIENT, bearer(token)));
    });

    it('exactly as many registrations as the token has uses', async () => {
      const token = await initialToken('two-use-initial-access-token-00002', 2, 3_600_000);
      await registerOk(server, WEB_CLIENT, bearer(token));
      await registerOk(server, WEB_CLIENT, bearer(token));
      assertUnauthorizedBearer(await register(server, WEB_CLIENT, bearer(token)));
    });

    it('client_credentials asked for with a valid token → registered without it (issue 12 item 1)', async () => {
      const token = await initialToken('machine-initial-access-token-00004', 1, 3_600_000);
      const registered = await registerOk(
        server,
        { ...WEB_CLIENT, grant_types: ['authorization_code', 'client_credentials'] },
        bearer(token),
      );
      assert.deepEqual(registered.grant_types, ['authorization_code']);
      const machine = await postForm(
        server,
        '/token',
        { grant_type: 'client_credentials' },
        { authorization: basicAuth(registered.client_id, registered.client_secret!) },
      );
      assertJsonError(machine, 400, 'unauthorized_client');
    });

    it('an expired token → 401', async () => {
      const token = await initialToken('expiring-initial-access-token-00003', 5, 60_000);
      server.clock.advance(60_000);
      assertUnauthorizedBearer(await register(server, WEB_CLIENT, bearer(token)));
    });
  });

  describe('approval: clients wait for an administrator', () => {
    let server: TestServer;

    before(async () => {
      server = await buildTestServer({ GATEHOUSE_REGISTRATION: 'approval' });
    });
    after(() => server.close());

    it('201 with approval_status "pending"; /authorize shows "waiting for approval"; /token → 401 invalid_client', async () => {
      const registered = await registerOk(server, {
        ...WEB_CLIENT,
        status: 'active',
        approval_status: 'approved',
      });
      assert.equal(registered.approval_status, 'pending');
      assert.ok(registered.client_secret);
      const client = await stored(server, registered.client_id);
      assert.equal(client.status, 'pending');

      assertErrorPage(await server.app.inject(authorizeRequest(client)), /waiting for approval/);
      // Not even an error redirect for a bad scope.
      assertErrorPage(
        await server.app.inject(authorizeRequest(client, { scope: 'not_a_scope' })),
        /waiting for approval/,
      );
      const token = await postForm(
        server,
        '/token',
        {
          grant_type: 'authorization_code',
          code: 'x',
          redirect_uri: 'https://rp.example/cb',
          code_verifier: 'y',
        },
        { authorization: basicAuth(registered.client_id, registered.client_secret) },
      );
      assertJsonError(token, 401, 'invalid_client');

      // Reading and updating itself does not approve it.
      const read = await manage(server, 'GET', registered.client_id, registered.registration_access_token);
      assert.equal(read.statusCode, 200, read.body);
      assert.equal(read.json().approval_status, 'pending');
      const put = await manage(server, 'PUT', registered.client_id, registered.registration_access_token, {
        ...WEB_CLIENT,
        client_id: registered.client_id,
        status: 'active',
      });
      assert.equal(put.statusCode, 200, put.body);
      assert.equal(put.json().approval_status, 'pending');
      assert.equal((await stored(server, registered.client_id)).status, 'pending');
    });

    it('client_credentials may be asked for (an administrator reviews it), but never by a public client', async () => {
      const machine = await registerOk(server, {
        client_name: 'Batch',
        redirect_uris: [],
        grant_types: ['client_credentials'],
      });
      assert.deepEqual(machine.grant_types, ['client_credentials']);
      assert.equal(machine.approval_status, 'pending');
      const publicMachine = await register(server, {
        client_name: 'Public batch',
        redirect_uris: [],
        token_endpoint_auth_method: 'none',
        grant_types: ['client_credentials'],
      });
      assertJsonError(publicMachine, 400, 'invalid_client_metadata');
    });
  });
});

describe('rate limit (GATEHOUSE_REGISTRATION_RATE_LIMIT)', () => {
  let server: TestServer;

  before(async () => {
    server = await buildTestServer({ GATEHOUSE_REGISTRATION_RATE_LIMIT: '3' });
  });
  after(() => server.close());

  it('the 4th registration from one IP in the hour → 429 with Retry-After and an RFC-shaped JSON body', async () => {
    for (let i = 0; i < 3; i++) {
      const response = await register(server, WEB_CLIENT, {}, '203.0.113.7');
      assert.equal(response.statusCode, 201, `registration ${i + 1}: ${response.body}`);
    }
    const limited = await register(server, WEB_CLIENT, {}, '203.0.113.7');
    assertJsonError(limited, 429);
    const retryAfter = String(limited.headers['retry-after']);
    assert.match(retryAfter, /^\d+$/, `Retry-After: ${retryAfter}`);
    assert.ok(Number(retryAfter) > 0 && Number(retryAfter) <= 3600, retryAfter);
    assert.equal((await server.deps.storage.clients.list()).length, 3);

    // Another address is not affected, and neither are other endpoints.
    assert.equal((await register(server, WEB_CLIENT, {}, '203.0.113.8')).statusCode, 201);
    assert.equal((await server.app.inject('/.well-known/openid-configuration')).statusCode, 200);
  });
});

describe('A-09: self-registered clients are not redirected to for an anonymous visitor', () => {
  let server: TestServer;
  let user: TestUser;
  let dcr: Client;
  let cli: Client;

  before(async () => {
    server = await buildTestServer();
    user = await server.addUser();
    const registered = await registerOk(server, WEB_CLIENT);
    dcr = await stored(server, registered.client_id);
    cli = (await server.addClient({ scope: 'openid profile email offline_access' })).client;
  });
  after(() => server.close());

  const badScope = (client: Client) => authorizeRequest(client, { scope: 'not_a_scope', state: 'S' });

  function assertErrorRedirect(response: LightMyRequestResponse) {
    assert.equal(response.statusCode, 303, response.body);
    const location = new URL(String(response.headers.location));
    assert.equal(location.origin + location.pathname, 'https://rp.example/cb');
    assert.equal(location.searchParams.get('error'), 'invalid_scope');
    assert.equal(location.searchParams.get('state'), 'S');
    assert.equal(location.searchParams.get('iss'), ISSUER);
    assert.equal(location.searchParams.get('code'), null);
  }

  it('DCR client, anonymous, bad scope → the error page, no redirect', async () => {
    assertErrorPage(await server.app.inject(badScope(dcr)), /invalid_scope/);
  });

  it('CLI-registered client, anonymous, same request → 303 error redirect', async () => {
    assertErrorRedirect(await server.app.inject(badScope(cli)));
  });

  it('DCR client with a signed-in session → 303 error redirect', async () => {
    const agent = await signedInAgent(server, dcr, user);
    assertErrorRedirect(await agent.get(badScope(dcr)));
  });
});
