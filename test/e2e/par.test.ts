// RFC 9126 pushed authorization requests (issue 16), driven by oauth4webapi on loopback: discovery names the
// endpoint, the client pushes and gets a request_uri, the browser carries only client_id and request_uri, and
// the code it brings back is exchanged. Around it: what a pushed request must not allow (another client's
// request_uri, an expired or forged one, a client secret inside it) and the two ways to require PAR.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import { pushedParameters, REQUEST_URI_PREFIX } from '../../src/oauth/pushed-request.ts';
import type { Client } from '../../src/storage/storage.ts';
import { Browserish, signInAndConsent } from './browserish.ts';
import { type LoopbackServer, startLoopbackServer } from './loopback.ts';

const insecure = { [oauth.allowInsecureRequests]: true } as const; // everything is on loopback
const REDIRECT = 'https://rp.example/cb';

describe('pushed authorization requests (RFC 9126) with oauth4webapi', () => {
  let loopback: LoopbackServer;
  let as: oauth.AuthorizationServer;
  let registered: Client;
  let secret: string;
  let client: oauth.Client;
  let auth: oauth.ClientAuth;

  before(async () => {
    loopback = await startLoopbackServer();
    const issuer = new URL(loopback.issuer);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
    const added = await loopback.server.addClient({ redirectUris: [REDIRECT] });
    registered = added.client;
    secret = added.secret!;
    client = { client_id: registered.id };
    auth = oauth.ClientSecretBasic(secret);
  });
  after(() => loopback?.close());

  async function push(parameters: Record<string, string>, as_ = as, client_ = client, auth_ = auth) {
    return oauth.pushedAuthorizationRequest(as_, client_, auth_, parameters, insecure);
  }

  it('discovery names the endpoint; a pushed request runs the whole flow with only client_id and request_uri', async () => {
    assert.equal(as.pushed_authorization_request_endpoint, `${loopback.issuer}/oauth/par`);
    assert.equal(as.require_pushed_authorization_requests, false);
    const user = await loopback.server.addUser();
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const response = await push({
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid email',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    assert.equal(response.status, 201);
    const pushed = await oauth.processPushedAuthorizationResponse(as, client, response);
    assert.ok(pushed.request_uri.startsWith(REQUEST_URI_PREFIX));
    assert.equal(pushed.expires_in, 60);

    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({
      client_id: client.client_id,
      request_uri: pushed.request_uri,
    }).toString();
    const { callback } = await signInAndConsent(new Browserish(loopback.issuer), url, REDIRECT, user);
    const params = oauth.validateAuthResponse(as, client, callback, state);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, auth, params, REDIRECT, verifier, insecure),
      { expectedNonce: nonce, requireIdToken: true },
    );
    assert.equal(oauth.getValidatedIdTokenClaims(tokens)?.sub, user.id);
    assert.equal(tokens.scope, 'openid email');
  });

  it('the request_uri holds no client secret, and it is bound to the client that pushed it', async () => {
    // The secret in the body (client_secret_post), beside the request's own parameters.
    const poster = await loopback.server.addClient({
      redirectUris: [REDIRECT],
      tokenEndpointAuthMethod: 'client_secret_post',
    });
    const posterSecret = poster.secret!;
    const response = await push(
      {
        redirect_uri: REDIRECT,
        response_type: 'code',
        code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
        code_challenge_method: 'S256',
      },
      as,
      { client_id: poster.client.id },
      oauth.ClientSecretPost(posterSecret),
    );
    const { request_uri } = await oauth.processPushedAuthorizationResponse(
      as,
      { client_id: poster.client.id },
      response,
    );
    assert.ok(!request_uri.includes(posterSecret));
    const { server } = loopback;
    const opened = pushedParameters(server.deps.sealKey, request_uri, poster.client.id, server.clock.now());
    assert.ok(opened);
    assert.equal(opened.get('client_secret'), null, 'client authentication is not pushed along');

    const other = await server.addClient({ redirectUris: [REDIRECT] });
    const browser = new Browserish(loopback.issuer);
    const stolen = await browser.request(
      `${loopback.issuer}/authorize?${new URLSearchParams({ client_id: other.client.id, request_uri })}`,
    );
    assert.equal(stolen.status, 400);
    assert.equal(stolen.headers.get('location'), null);
  });

  it('an expired, forged or doubled request_uri is an error page, never a redirect', async () => {
    const response = await push({
      redirect_uri: REDIRECT,
      response_type: 'code',
      code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
      code_challenge_method: 'S256',
    });
    const { request_uri } = await oauth.processPushedAuthorizationResponse(as, client, response);
    const browser = new Browserish(loopback.issuer);
    const open = (query: string) => browser.request(`${loopback.issuer}/authorize?${query}`);
    const forged = `${request_uri.slice(0, -4)}AAAA`;
    for (const query of [
      new URLSearchParams({ client_id: registered.id, request_uri: forged }).toString(),
      `client_id=${registered.id}&request_uri=${encodeURIComponent(request_uri)}&request_uri=${encodeURIComponent(request_uri)}`,
    ]) {
      const answer = await open(query);
      assert.equal(answer.status, 400, query.slice(0, 80));
      assert.equal(answer.headers.get('location'), null);
    }
    loopback.server.clock.advance(61_000);
    const late = await open(new URLSearchParams({ client_id: registered.id, request_uri }).toString());
    assert.equal(late.status, 400);
    assert.match(await late.text(), /expired/);
    loopback.server.clock.advance(Date.now() - loopback.server.clock.now());
  });

  it('the push is validated like /authorize: the client hears the error as JSON', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ redirect_uri: 'https://evil.example/cb', response_type: 'code' }, 'invalid_request'],
      [{ redirect_uri: REDIRECT, response_type: 'code' }, 'invalid_request'], // no PKCE
      [{ redirect_uri: REDIRECT, response_type: 'token' }, 'unsupported_response_type'],
      [{ redirect_uri: REDIRECT, request_uri: `${REQUEST_URI_PREFIX}x` }, 'invalid_request'],
    ];
    for (const [parameters, error] of cases) {
      const response = await push(parameters);
      assert.equal(response.status, 400, JSON.stringify(parameters));
      assert.equal(((await response.json()) as { error: string }).error, error, JSON.stringify(parameters));
    }
    const wrongSecret = await push({ redirect_uri: REDIRECT }, as, client, oauth.ClientSecretBasic('wrong'));
    assert.equal(wrongSecret.status, 401);
  });

  it('a client registered with require_pushed_authorization_requests cannot skip the push', async () => {
    const { client: strict, secret: strictSecret } = await loopback.server.addClient({
      redirectUris: [REDIRECT],
      metadata: { require_pushed_authorization_requests: true },
    });
    const challenge = await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier());
    const plain = new URLSearchParams({
      client_id: strict.id,
      redirect_uri: REDIRECT,
      response_type: 'code',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const browser = new Browserish(loopback.issuer);
    const refused = await browser.request(`${loopback.issuer}/authorize?${plain}`);
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /must push/);
    const response = await push(
      Object.fromEntries([...plain].filter(([name]) => name !== 'client_id')),
      as,
      { client_id: strict.id },
      oauth.ClientSecretBasic(strictSecret!),
    );
    const { request_uri } = await oauth.processPushedAuthorizationResponse(
      as,
      { client_id: strict.id },
      response,
    );
    const accepted = await browser.request(
      `${loopback.issuer}/authorize?${new URLSearchParams({ client_id: strict.id, request_uri })}`,
    );
    assert.equal(accepted.status, 303);
    assert.match(accepted.headers.get('location') ?? '', /^\/login/);
  });
});

describe('GATEHOUSE_REQUIRE_PAR=true', () => {
  let loopback: LoopbackServer;
  before(async () => {
    loopback = await startLoopbackServer({ GATEHOUSE_REQUIRE_PAR: 'true' });
  });
  after(() => loopback?.close());

  it('discovery says so, and a plain authorization request is refused for every client', async () => {
    const issuer = new URL(loopback.issuer);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
    assert.equal(as.require_pushed_authorization_requests, true);
    const { client } = await loopback.server.addClient({ redirectUris: [REDIRECT] });
    const query = new URLSearchParams({
      client_id: client.id,
      redirect_uri: REDIRECT,
      response_type: 'code',
      code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
      code_challenge_method: 'S256',
    });
    const refused = await new Browserish(loopback.issuer).request(`${loopback.issuer}/authorize?${query}`);
    assert.equal(refused.status, 400);
  });
});
