// docs/security.md A-09 on every error path of /authorize (RFC 9700 §4.11.2): an anonymous visitor is never sent to a
// self-registered client's redirect URI, not even with an error, whether the error comes from validating the
// request or from the interaction flow (prompt=none → login_required, a denial finished after signing out).
// For a client an operator created, the same requests get the error redirect with state and iss (RFC 6749
// §4.1.2.1, RFC 9207); OIDC Core §3.1.2.6 requires login_required to reach the client there. Portal apps
// count as self-registered (any account holder registers them), as do DCR clients, unless an administrator
// approved them (the console's or the CLI's approve records it).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { approveClient } from '../../src/applications/clients.ts';
import type { Client, User } from '../../src/storage/storage.ts';
import { Agent, csrfFrom, localPath } from '../helpers/agent.ts';
import { authorizeUrl, pkcePair } from '../helpers/flow.ts';
import { buildTestServer, ISSUER, type TestServer } from '../helpers/server.ts';

const REDIRECT = 'https://rp.example/landing';

function request(client: Client, extra: Record<string, string | undefined> = {}): string {
  return authorizeUrl({
    response_type: 'code',
    client_id: client.id,
    redirect_uri: REDIRECT,
    scope: 'openid profile',
    state: 'S',
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
}

function assertErrorPage(response: LightMyRequestResponse, error: string) {
  assert.equal(response.statusCode, 400, `expected the error page, got ${response.statusCode}`);
  assert.equal(response.headers.location, undefined, `redirected to ${response.headers.location}`);
  assert.match(String(response.headers['content-type']), /^text\/html/);
  assert.match(response.body, /This request cannot be completed/);
  assert.match(response.body, new RegExp(error));
  assert.ok(!response.body.includes('rp.example'), 'the page does not link to the redirect URI');
}

function assertErrorRedirect(response: LightMyRequestResponse, error: string) {
  assert.equal(response.statusCode, 303, `expected an error redirect, got ${response.statusCode}`);
  const location = new URL(String(response.headers.location));
  assert.equal(location.origin + location.pathname, REDIRECT);
  assert.equal(location.searchParams.get('error'), error);
  assert.equal(location.searchParams.get('state'), 'S');
  assert.equal(location.searchParams.get('iss'), ISSUER);
  assert.equal(location.searchParams.has('code'), false);
}

/** Every error /authorize can answer an anonymous visitor with once the client and redirect URI check out. */
const VALIDATION_ERRORS: [string, Record<string, string | undefined>, string][] = [
  ['an unknown scope', { scope: 'not_a_scope' }, 'invalid_scope'],
  ['response_type=token', { response_type: 'token' }, 'unsupported_response_type'],
  ['no PKCE', { code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request'],
  ['a request object', { request: 'eyJhbGciOiJub25lIn0.e30.' }, 'request_not_supported'],
  ['a request_uri', { request_uri: 'urn:example:x' }, 'request_uri_not_supported'],
  ['an unknown resource', { resource: 'https://elsewhere.example/api' }, 'invalid_target'],
  ['prompt=none (no session)', { prompt: 'none' }, 'login_required'],
];

describe('A-09 on every /authorize error path', () => {
  let server: TestServer;
  let user: User & { email: string; password: string };
  const clients: Record<'dcr' | 'portal' | 'cli', Client> = {} as never;

  before(async () => {
    server = await buildTestServer();
    user = await server.addUser();
    for (const registeredVia of ['dcr', 'portal', 'cli'] as const) {
      clients[registeredVia] = (
        await server.addClient({ redirectUris: [REDIRECT], registeredVia, name: `${registeredVia} app` })
      ).client;
    }
  });
  after(() => server.close());

  for (const [what, extra, error] of VALIDATION_ERRORS) {
    for (const via of ['dcr', 'portal'] as const) {
      it(`${via} client, anonymous, ${what} → the error page (${error}), no Location`, async () => {
        assertErrorPage(await server.app.inject(request(clients[via], extra)), error);
      });
    }
    it(`operator-created client, anonymous, ${what} → error redirect with state and iss`, async () => {
      assertErrorRedirect(await server.app.inject(request(clients.cli, extra)), error);
    });
  }

  it('a client registered over HTTP (RFC 7591), prompt=none, anonymous → the error page', async () => {
    const registered = await server.app.inject({
      method: 'POST',
      url: '/oauth/register',
      payload: { client_name: 'Stranger', redirect_uris: ['https://evil.example/landing'] },
    });
    assert.equal(registered.statusCode, 201, registered.body);
    const clientId = (registered.json() as { client_id: string }).client_id;
    const response = await server.app.inject(
      authorizeUrl({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: 'https://evil.example/landing',
        state: 'S',
        prompt: 'none',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
      }),
    );
    assert.equal(response.statusCode, 400);
    assert.equal(response.headers.location, undefined);
    assert.ok(!response.body.includes('evil.example'));
  });

  /**
   * Signs in and denies at the consent page without following the redirect, then drops the session cookie (a
   * sign-out in another tab, or an expired session) and resumes: the flow answers access_denied to nobody known.
   */
  async function deniedThenAnonymous(client: Client): Promise<LightMyRequestResponse> {
    const agent = new Agent(server.app);
    const start = await agent.get(request(client));
    assert.equal(start.statusCode, 303);
    const loginPath = localPath(String(start.headers.location));
    const interaction = new URL(loginPath, ISSUER).searchParams.get('interaction') ?? '';
    const loginPage = await agent.get(loginPath);
    const signedIn = await agent.post('/login', {
      _csrf: csrfFrom(loginPage.body),
      email: user.email,
      password: user.password,
      interaction,
    });
    assert.equal(signedIn.statusCode, 303, signedIn.body);
    const toConsent = await agent.get(localPath(String(signedIn.headers.location)));
    const consentPath = localPath(String(toConsent.headers.location));
    assert.match(consentPath, /^\/consent/);
    const consentPage = await agent.get(consentPath);
    const denied = await agent.post('/consent', {
      _csrf: csrfFrom(consentPage.body),
      interaction,
      action: 'deny',
    });
    assert.equal(denied.statusCode, 303);
    agent.cookies.delete('gatehouse_session');
    return agent.get(localPath(String(denied.headers.location)));
  }

  it('dcr client: a denial resumed without a session → the error page', async () => {
    assertErrorPage(await deniedThenAnonymous(clients.dcr), 'access_denied');
  });

  it('operator-created client: a denial resumed without a session → access_denied redirect', async () => {
    assertErrorRedirect(await deniedThenAnonymous(clients.cli), 'access_denied');
  });

  it('dcr client with a session: prompt=none past max_age → login_required redirect (the user is known)', async () => {
    const agent = new Agent(server.app);
    const start = await agent.get(request(clients.dcr));
    const loginPath = localPath(String(start.headers.location));
    const loginPage = await agent.get(loginPath);
    await agent.post('/login', {
      _csrf: csrfFrom(loginPage.body),
      email: user.email,
      password: user.password,
      interaction: new URL(loginPath, ISSUER).searchParams.get('interaction') ?? '',
    });
    server.clock.advance(5_000);
    assertErrorRedirect(
      await agent.get(request(clients.dcr, { prompt: 'none', max_age: '1' })),
      'login_required',
    );
  });
});

describe('A-09 under GATEHOUSE_REGISTRATION=approval: an approved client is vouched for', () => {
  let server: TestServer;
  const clients: Record<'dcr' | 'portal', Client> = {} as never;
  let neverReviewed: Client;

  before(async () => {
    server = await buildTestServer({ GATEHOUSE_REGISTRATION: 'approval' });
    for (const registeredVia of ['dcr', 'portal'] as const) {
      const { client } = await server.addClient({
        redirectUris: [REDIRECT],
        registeredVia,
        status: 'pending',
      });
      await approveClient(server.deps.storage, server.clock.now(), client.id, { actor: { kind: 'cli' } });
      clients[registeredVia] = (await server.deps.storage.clients.find(client.id))!;
    }
    // Active, but no administrator ever approved it (registered while the policy was still `open`).
    neverReviewed = (
      await server.addClient({ redirectUris: [REDIRECT], registeredVia: 'dcr', status: 'active' })
    ).client;
  });

  it('an active dcr client no administrator approved (registered before the switch) is still not trusted', async () => {
    assertErrorPage(await server.app.inject(request(neverReviewed, { prompt: 'none' })), 'login_required');
  });
  after(() => server.close());

  for (const via of ['dcr', 'portal'] as const) {
    it(`approved ${via} client, anonymous, prompt=none → login_required redirect with state and iss`, async () => {
      assertErrorRedirect(
        await server.app.inject(request(clients[via], { prompt: 'none' })),
        'login_required',
      );
    });
    it(`approved ${via} client, anonymous, an unknown scope → invalid_scope redirect`, async () => {
      assertErrorRedirect(
        await server.app.inject(request(clients[via], { scope: 'not_a_scope' })),
        'invalid_scope',
      );
    });
  }
});
