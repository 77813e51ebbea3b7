// The independent judge: oauth4webapi (a strict, certified OAuth 2 / OpenID Connect client library) runs the
// whole authorization code flow against the real server on loopback. It validates discovery, the iss in the
// authorization response (RFC 9207), the token response and ID token claims (nonce, aud, iss, exp), the ID
// token signature against the published JWKS, the JWT access token (RFC 9068) and the UserInfo response.
// Sign-in and consent are plain HTTP requests with a cookie jar, as a browser would send them.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import type { Client, User } from '../../src/storage/storage.ts';
import { Browserish, signInAndConsent } from './browserish.ts';
import { type LoopbackServer, startLoopbackServer } from './loopback.ts';

const insecure = { [oauth.allowInsecureRequests]: true } as const; // http is fine: everything is on loopback

describe('oauth4webapi drives the authorization code flow (independent client)', () => {
  let loopback: LoopbackServer;
  let issuer: URL;
  let as: oauth.AuthorizationServer;

  before(async () => {
    loopback = await startLoopbackServer();
    issuer = new URL(loopback.issuer);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  });
  after(() => loopback?.close());

  it('discovery: the metadata is accepted and describes this server', () => {
    assert.equal(as.issuer, loopback.issuer);
    assert.equal(as.authorization_endpoint, `${loopback.issuer}/authorize`);
    assert.equal(as.token_endpoint, `${loopback.issuer}/token`);
    assert.equal(as.userinfo_endpoint, `${loopback.issuer}/userinfo`);
    assert.equal(as.jwks_uri, `${loopback.issuer}/jwks`);
    assert.deepEqual(as.code_challenge_methods_supported, ['S256']);
    assert.equal(as.authorization_response_iss_parameter_supported, true);
  });

  /** One complete flow; returns what the client ended up with. */
  async function runFlow(
    client: oauth.Client,
    clientAuth: oauth.ClientAuth,
    redirectUri: string,
    user: User & { email: string; password: string },
  ) {
    const codeVerifier = oauth.generateRandomCodeVerifier();
    const codeChallenge = await oauth.calculatePKCECodeChallenge(codeVerifier);
    const nonce = oauth.generateRandomNonce();
    const state = oauth.generateRandomState();
    const authorizationUrl = new URL(as.authorization_endpoint!);
    authorizationUrl.search = new URLSearchParams({
      client_id: client.client_id,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'openid profile email offline_access',
      code_challenge: codeChallenge,
      code_challenge_method: 'S256',
      nonce,
      state,
    }).toString();

    const { callback, sawConsent } = await signInAndConsent(
      new Browserish(loopback.issuer),
      authorizationUrl,
      redirectUri,
      user,
    );
    assert.ok(sawConsent, 'a first authorization asks for consent');

    // Checks state and, because discovery says so, the iss parameter (RFC 9207).
    const params = oauth.validateAuthResponse(as, client, callback, state);
    assert.throws(() => oauth.validateAuthResponse(as, client, callback, 'another-state'));
    const tampered = new URL(callback);
    tampered.searchParams.set('iss', 'http://127.0.0.1:1');
    assert.throws(() => oauth.validateAuthResponse(as, client, tampered, state), 'a wrong iss is refused');

    const tokenResponse = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      clientAuth,
      params,
      redirectUri,
      codeVerifier,
      insecure,
    );
    const result = await oauth.processAuthorizationCodeResponse(as, client, tokenResponse, {
      expectedNonce: nonce,
      requireIdToken: true,
    });
    // processAuthorizationCodeResponse checks the ID token's claims; the signature is checked here, against
    // the keys oauth4webapi fetches from jwks_uri itself.
    await oauth.validateApplicationLevelSignature(as, tokenResponse, insecure);
    const idToken = oauth.getValidatedIdTokenClaims(result);
    assert.ok(idToken);

    const accessTokenClaims = await oauth.validateJwtAccessToken(
      as,
      new Request(`${loopback.issuer}/api`, { headers: { authorization: `Bearer ${result.access_token}` } }),
      loopback.issuer,
      insecure,
    );

    const userinfoResponse = await oauth.userInfoRequest(as, client, result.access_token, insecure);
    const userinfo = await oauth.processUserInfoResponse(as, client, idToken.sub, userinfoResponse);
    return { params, result, idToken, accessTokenClaims, userinfo, codeVerifier };
  }

  function expectClaims(
    flow: Awaited<ReturnType<typeof runFlow>>,
    client: Client,
    user: User & { email: string; password: string },
  ) {
    const { result, idToken, accessTokenClaims, userinfo } = flow;
    assert.equal(result.token_type, 'bearer'); // oauth4webapi lower-cases it
    assert.equal(result.scope, 'openid profile email offline_access');
    assert.equal(typeof result.refresh_token, 'string');
    assert.equal(result.expires_in, 600);

    assert.equal(idToken.iss, loopback.issuer);
    assert.equal(idToken.sub, user.id);
    assert.equal(idToken.aud, client.id);
    assert.equal(idToken.email, user.email);
    assert.equal(idToken.name, user.name);
    assert.equal(idToken.email_verified, false);

    assert.equal(accessTokenClaims.iss, loopback.issuer);
    assert.equal(accessTokenClaims.sub, user.id);
    assert.equal(accessTokenClaims.client_id, client.id);
    assert.equal(accessTokenClaims.scope, 'openid profile email offline_access');

    assert.deepEqual(userinfo, {
      sub: user.id,
      name: user.name,
      email: user.email,
      email_verified: false,
      updated_at: Math.floor(user.updatedAt / 1000),
    });
  }

  it('confidential client (client_secret_basic)', async () => {
    const server = loopback.server;
    const user = await server.addUser({ name: 'Grace Hopper' });
    const redirectUri = 'https://rp.example/cb'; // never contacted: the client reads the redirect itself
    const { client, secret } = await server.addClient({
      name: 'Confidential RP',
      redirectUris: [redirectUri],
      tokenEndpointAuthMethod: 'client_secret_basic',
    });
    assert.ok(secret);
    const rp: oauth.Client = { client_id: client.id };
    const flow = await runFlow(rp, oauth.ClientSecretBasic(secret), redirectUri, user);
    expectClaims(flow, client, user);

    // The code works once: a replay is an OAuth error oauth4webapi recognises (RFC 6749 §4.1.2).
    const replay = await oauth.authorizationCodeGrantRequest(
      as,
      rp,
      oauth.ClientSecretBasic(secret),
      flow.params,
      redirectUri,
      flow.codeVerifier,
      insecure,
    );
    await assert.rejects(
      oauth.processAuthorizationCodeResponse(as, rp, replay, { expectedNonce: oauth.expectNoNonce }),
      (error) => error instanceof oauth.ResponseBodyError && error.error === 'invalid_grant',
    );
  });

  it('public client (token_endpoint_auth_method=none, loopback redirect on any port)', async () => {
    const server = loopback.server;
    const user = await server.addUser({ name: 'Alan Turing' });
    const { client, secret } = await server.addClient({
      name: 'Public Native App',
      redirectUris: ['http://127.0.0.1/cb'],
      tokenEndpointAuthMethod: 'none',
    });
    assert.equal(secret, undefined);
    assert.equal(client.applicationType, 'native');
    const rp: oauth.Client = { client_id: client.id, token_endpoint_auth_method: 'none' };
    // RFC 8252 §7.3: the port of a loopback redirect URI may vary. Nothing listens there; it is never contacted.
    const flow = await runFlow(rp, oauth.None(), 'http://127.0.0.1:49152/cb', user);
    expectClaims(flow, client, user);
  });
});
