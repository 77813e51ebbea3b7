// Resources an operator does not list one by one (issue 16): a `prefix` entry in GATEHOUSE_RESOURCES covers
// every resource URI under it (each MCP server of a company), the token's aud is the exact resource asked
// for, no other spelling of a URI gets in, and a refused resource reaches the client as invalid_target at its
// redirect URI where the anonymous-redirect rule allows (docs/security.md A-09), an error page otherwise.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { catalogueEntry } from '../../src/oauth/resource.ts';
import type { Client } from '../../src/storage/storage.ts';
import { Agent, csrfFrom } from '../helpers/agent.ts';
import { authorizeUrl, exchangeCode, pkcePair, runAuthorizationFlow } from '../helpers/flow.ts';
import { buildTestServer, ISSUER, type TestServer } from '../helpers/server.ts';

const MCP = 'https://mcp.example.com/';
const RESOURCES = JSON.stringify([
  { uri: MCP, match: 'prefix', scopes: ['mcp:tools'] },
  { uri: 'https://mcp.example.com/reports/', match: 'prefix', format: 'opaque', scopes: ['mcp:tools'] },
  { uri: 'https://api.example.com/v1', scopes: ['api:read'] },
]);
const REDIRECT = 'http://127.0.0.1:8765/callback';

describe('resource catalogue: prefix entries', () => {
  const resources = loadConfig({
    GATEHOUSE_SECRET: 'x'.repeat(40),
    GATEHOUSE_RESOURCES: RESOURCES,
  }).resources;

  it('every URI under the prefix matches, the longest prefix wins; nothing else does', () => {
    assert.equal(catalogueEntry(resources, 'https://mcp.example.com/notes/mcp')?.uri, MCP);
    assert.equal(catalogueEntry(resources, 'https://mcp.example.com/notes/')?.uri, MCP);
    assert.equal(
      catalogueEntry(resources, 'https://mcp.example.com/reports/mcp')?.format,
      'opaque',
      'the more specific entry',
    );
    assert.equal(catalogueEntry(resources, 'https://api.example.com/v1')?.uri, 'https://api.example.com/v1');
    for (const outside of [
      'https://mcp.example.com', // the prefix itself without its slash
      'https://mcp.example.com.evil.example/notes',
      'https://MCP.example.com/notes',
      'https://mcp.example.com/a/../b',
      'https://mcp.example.com/%2e%2e/admin',
      'https://mcp.example.com/notes?tenant=2',
      'https://mcp.example.com/notes#x',
      'https://user@mcp.example.com/notes',
      'http://mcp.example.com/notes',
      'https://mcp.example.com:8443/notes',
      'https://api.example.com/v1/more', // an exact entry covers nothing under it
    ]) {
      assert.equal(catalogueEntry(resources, outside), undefined, outside);
    }
  });

  it('a prefix must be a normalized URL ending with "/" and without a query', () => {
    for (const uri of [
      'https://mcp.example.com/x',
      'https://mcp.example.com/?a=1',
      'https://MCP.example.com/',
    ]) {
      assert.throws(
        () =>
          loadConfig({
            GATEHOUSE_SECRET: 'x'.repeat(40),
            GATEHOUSE_RESOURCES: JSON.stringify([{ uri, match: 'prefix' }]),
          }),
        (error: unknown) => error instanceof ConfigError && /GATEHOUSE_RESOURCES/.test(error.message),
        uri,
      );
    }
  });
});

describe('resource catalogue: prefix entries over HTTP', () => {
  let server: TestServer;
  let client: Client;

  before(async () => {
    server = await buildTestServer({ GATEHOUSE_RESOURCES: RESOURCES });
    // An MCP client registers itself (RFC 7591): a native app with a loopback redirect, public, PKCE.
    const registered = await server.app.inject({
      method: 'POST',
      url: '/oauth/register',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({
        client_name: 'Agent',
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid mcp:tools',
      }),
    });
    assert.equal(registered.statusCode, 201, registered.body);
    client = (await server.deps.storage.clients.find(registered.json().client_id))!;
    assert.ok(client.allowedResources.includes(MCP), 'the prefix entry its scopes opened');
  });
  after(() => server?.close());

  async function tokensFor(resource: string) {
    const user = await server.addUser();
    const flow = await runAuthorizationFlow(server, client, user, {
      scope: 'mcp:tools',
      redirectUri: REDIRECT,
      extra: { resource },
    });
    const response = await exchangeCode(server, client, undefined, flow, { resource });
    assert.equal(response.statusCode, 200, response.body);
    return response.json() as { access_token: string; refresh_token: string };
  }

  const claimsOf = (jwt: string) =>
    JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

  it('a resource under the prefix: the token’s aud is exactly it; refresh keeps it and refuses a sibling', async () => {
    const resource = 'https://mcp.example.com/notes/mcp';
    const tokens = await tokensFor(resource);
    assert.equal(claimsOf(tokens.access_token).aud, resource);
    const refresh = (asked: string) =>
      server.app.inject({
        method: 'POST',
        url: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: client.id,
          refresh_token: tokens.refresh_token,
          resource: asked,
        }).toString(),
      });
    const sibling = await refresh('https://mcp.example.com/calendar/mcp');
    assert.equal(sibling.json().error, 'invalid_target');
    const same = await refresh(resource);
    assert.equal(same.statusCode, 200, same.body);
    assert.equal(claimsOf(same.json().access_token).aud, resource);
  });

  it('the most specific entry decides the format: opaque tokens introspect with the exact aud', async () => {
    const resource = 'https://mcp.example.com/reports/mcp';
    await server.deps.storage.clients.update({
      ...client,
      allowedResources: [...client.allowedResources, 'https://mcp.example.com/reports/'],
    });
    client = (await server.deps.storage.clients.find(client.id))!;
    const tokens = await tokensFor(resource);
    assert.match(tokens.access_token, /^gha_/);
    const { client: api, secret } = await server.addClient({ resourceServer: true });
    const introspected = await server.app.inject({
      method: 'POST',
      url: '/introspect',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${api.id}:${secret}`).toString('base64')}`,
      },
      payload: new URLSearchParams({ token: tokens.access_token }).toString(),
    });
    assert.equal(introspected.json().active, true);
    assert.equal(introspected.json().aud, resource);
  });

  it('a resource outside every entry: invalid_target at the redirect URI for a signed-in user', async () => {
    const user = await server.addUser();
    const agent = new Agent(server.app);
    const signedIn = await agent.post('/login', {
      _csrf: csrfFrom((await agent.get('/login')).body),
      email: user.email,
      password: user.password,
    });
    assert.equal(signedIn.statusCode, 303);
    const { challenge } = pkcePair();
    const response = await agent.get(
      authorizeUrl({
        response_type: 'code',
        client_id: client.id,
        redirect_uri: REDIRECT,
        scope: 'mcp:tools',
        state: 'st',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        resource: 'https://mcp.example.com.evil.example/mcp',
      }),
    );
    assert.equal(response.statusCode, 303);
    const location = new URL(String(response.headers.location));
    assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
    assert.equal(location.searchParams.get('error'), 'invalid_target');
    assert.equal(location.searchParams.get('state'), 'st');
    assert.equal(location.searchParams.get('iss'), ISSUER);
  });

  it('…and the error page for an anonymous visitor of a self-registered client (no open redirect)', async () => {
    const { challenge } = pkcePair();
    const response = await new Agent(server.app).get(
      authorizeUrl({
        response_type: 'code',
        client_id: client.id,
        redirect_uri: REDIRECT,
        scope: 'mcp:tools',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        resource: 'https://elsewhere.example/mcp',
      }),
    );
    assert.equal(response.statusCode, 400);
    assert.equal(response.headers.location, undefined);
    assert.match(response.body, /invalid_target/);
  });
});
