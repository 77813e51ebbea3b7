// DPoP (RFC 9449; issue 16) driven by an independent client, oauth4webapi, over real sockets on loopback, on
// SQLite and on PostgreSQL: a public native client binds its code (dpop_jkt), gets DPoP-bound tokens (handling
// the server's use_dpop_nonce as the library does), refreshes with the same key (another key is refused), calls
// userinfo and two APIs protected by @gatehouse/resource (one checking JWTs offline, one introspecting opaque
// tokens whose binding comes from introspection's cnf); the bearer downgrade of a bound token is refused at each
// of them. A confidential client binds its code by sending a proof to the PAR endpoint (RFC 9449 §10.1).
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createVerifier } from '@gatehouse/resource';
import { authenticate } from '@gatehouse/resource/node';
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import type { Client } from '../../src/storage/storage.ts';
import { onEachDatabase } from '../helpers/postgres.ts';
import { Browserish, signInAndConsent } from './browserish.ts';
import { type LoopbackServer, startLoopbackServer } from './loopback.ts';

const insecure = { [oauth.allowInsecureRequests]: true } as const; // everything is on loopback
const NOTES_API = 'https://notes.example'; // JWT access tokens
const FILES_API = 'https://files.example'; // opaque access tokens, introspected
const NATIVE_REDIRECT = 'http://127.0.0.1/cb';

/** oauth4webapi leaves the nonce retry to the caller (it has cached the DPoP-Nonce): one retry, as RFC 9449 §8. */
async function retryingNonce<T>(attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (error) {
    if (oauth.isDPoPNonceError(error)) return attempt();
    if (error instanceof oauth.WWWAuthenticateChallengeError) {
      // Say what the challenge said: the library's message does not.
      throw new Error(`challenged: ${JSON.stringify(error.cause)}`, { cause: error });
    }
    throw error;
  }
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (typeof address !== 'object' || !address) reject(new Error('no address'));
      else resolve(`http://127.0.0.1:${address.port}`);
    });
  });
}

await onEachDatabase('DPoP with oauth4webapi', (database, databaseUrl) => {
  describe(`DPoP with oauth4webapi: code flow, refresh, userinfo, APIs (${database})`, () => {
    let loopback: LoopbackServer;
    let as: oauth.AuthorizationServer;
    let api: Server;
    let apiOrigin: string;
    let native: Client;

    before(async () => {
      const url = await databaseUrl();
      loopback = await startLoopbackServer(
        {
          GATEHOUSE_RESOURCES: JSON.stringify([
            { uri: NOTES_API, format: 'jwt', scopes: ['notes:read'] },
            { uri: FILES_API, format: 'opaque', scopes: ['files:read'] },
          ]),
        },
        url === undefined ? {} : { databaseUrl: url },
      );
      const issuer = new URL(loopback.issuer);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
      const introspector = await loopback.server.addClient({
        name: 'Files API',
        grantTypes: ['client_credentials'],
        redirectUris: [],
        scope: 'files:read',
        resourceServer: true,
      });
      // Two APIs on one loopback server; the URL clients call is where htu points (not the resource identifier).
      const requestUrl = (request: { url?: string | undefined }) =>
        `${apiOrigin}${(request.url ?? '/').split('?')[0]}`;
      const notes = createVerifier({
        issuer: loopback.issuer,
        audience: NOTES_API,
        jwks: `${loopback.issuer}/jwks`,
        dpop: { requestUrl },
      });
      const files = createVerifier({
        issuer: loopback.issuer,
        audience: FILES_API,
        introspection: {
          endpoint: `${loopback.issuer}/introspect`,
          clientId: introspector.client.id,
          clientSecret: introspector.secret!,
        },
        dpop: { requestUrl },
      });
      api = createServer(async (request, response) => {
        const [verifier, scope] = request.url?.startsWith('/files')
          ? [files, 'files:read']
          : [notes, 'notes:read'];
        const token = await authenticate(verifier, request, response, scope);
        if (!token) return;
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ sub: token.subject, jkt: token.dpopJkt, format: token.format }));
      });
      apiOrigin = await listen(api);
      native = (
        await loopback.server.addClient({
          name: 'Native DPoP app',
          redirectUris: [NATIVE_REDIRECT],
          tokenEndpointAuthMethod: 'none',
          grantTypes: ['authorization_code', 'refresh_token'],
          scope: 'openid profile offline_access notes:read files:read',
          allowedResources: [NOTES_API, FILES_API],
        })
      ).client;
    });
    after(async () => {
      await new Promise<void>((resolve) => {
        api?.closeAllConnections();
        if (api) api.close(() => resolve());
        else resolve();
      });
      await loopback?.close();
    });

    it('discovery lists the DPoP algs', () => {
      assert.ok(as.dpop_signing_alg_values_supported?.includes('ES256'));
    });

    async function codeFlow(
      client: oauth.Client,
      dpop: oauth.DPoPHandle,
      resource: string | undefined,
      scope: string,
    ): Promise<oauth.TokenEndpointResponse> {
      const user = await loopback.server.addUser({ name: 'Dee Pop' });
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({
        client_id: client.client_id,
        redirect_uri: NATIVE_REDIRECT,
        response_type: 'code',
        scope,
        ...(resource === undefined ? {} : { resource }),
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        // RFC 9449 §10: the code is bound to this key from the start.
        dpop_jkt: await dpop.calculateThumbprint(),
      }).toString();
      const { callback } = await signInAndConsent(
        new Browserish(loopback.issuer),
        url,
        NATIVE_REDIRECT,
        user,
      );
      const params = oauth.validateAuthResponse(as, client, callback, state);
      return retryingNonce(async () =>
        oauth.processAuthorizationCodeResponse(
          as,
          client,
          await oauth.authorizationCodeGrantRequest(
            as,
            client,
            oauth.None(),
            params,
            NATIVE_REDIRECT,
            verifier,
            {
              DPoP: dpop,
              ...insecure,
            },
          ),
          { requireIdToken: scope.includes('openid') },
        ),
      );
    }

    const callApi = (path: string, token: string, dpop: oauth.DPoPHandle) =>
      retryingNonce(async () => {
        const response = await oauth.protectedResourceRequest(
          token,
          'GET',
          new URL(`${apiOrigin}${path}`),
          undefined,
          undefined,
          {
            DPoP: dpop,
            ...insecure,
          },
        );
        return { status: response.status, body: (await response.json()) as Record<string, unknown> };
      });

    it('public client, the JWT API: a bound token works with its proof, never as Bearer', async () => {
      const client: oauth.Client = { client_id: native.id, token_endpoint_auth_method: 'none' };
      const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const jkt = await dpop.calculateThumbprint();
      const tokens = await codeFlow(client, dpop, NOTES_API, 'notes:read');
      assert.equal(tokens.token_type, 'dpop');
      assert.deepEqual(decodeJwt(tokens.access_token).cnf, { jkt });

      const notes = await callApi('/notes', tokens.access_token, dpop);
      assert.equal(notes.status, 200, JSON.stringify(notes.body));
      assert.equal(notes.body.jkt, jkt);
      assert.equal(notes.body.format, 'jwt');

      // The bearer downgrade of the bound token: refused, with a DPoP challenge.
      const downgrade = await fetch(`${apiOrigin}/notes`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      });
      assert.equal(downgrade.status, 401);
      assert.match(String(downgrade.headers.get('www-authenticate')), /^DPoP .*error="invalid_token"/);
      // Nor does the DPoP scheme help without a proof.
      const noProof = await fetch(`${apiOrigin}/notes`, {
        headers: { authorization: `DPoP ${tokens.access_token}` },
      });
      assert.equal(noProof.status, 401);
      assert.match(String(noProof.headers.get('www-authenticate')), /^DPoP .*error="invalid_dpop_proof"/);
    });

    it('public client, Gatehouse itself: bound code, refresh with the same key only, userinfo', async () => {
      const client: oauth.Client = { client_id: native.id, token_endpoint_auth_method: 'none' };
      const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const jkt = await dpop.calculateThumbprint();
      const tokens = await codeFlow(client, dpop, undefined, 'openid profile offline_access');
      assert.equal(tokens.token_type, 'dpop');
      assert.deepEqual(decodeJwt(tokens.access_token).cnf, { jkt });
      assert.ok(tokens.refresh_token);

      // Refresh: another key (a thief with the refresh token) is refused, the same key works.
      const thief = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      await assert.rejects(
        retryingNonce(async () =>
          oauth.processRefreshTokenResponse(
            as,
            client,
            await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, {
              DPoP: thief,
              ...insecure,
            }),
          ),
        ),
        (error) => error instanceof oauth.ResponseBodyError && error.error === 'invalid_grant',
      );
      const refreshed = await retryingNonce(async () =>
        oauth.processRefreshTokenResponse(
          as,
          client,
          await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, {
            DPoP: dpop,
            ...insecure,
          }),
        ),
      );
      assert.equal(refreshed.token_type, 'dpop');
      assert.deepEqual(decodeJwt(refreshed.access_token).cnf, { jkt });

      // Userinfo with the refreshed token (DPoP scheme, a proof with ath), checked by oauth4webapi.
      const claims = oauth.getValidatedIdTokenClaims(tokens)!;
      const userinfo = await retryingNonce(async () =>
        oauth.processUserInfoResponse(
          as,
          client,
          claims.sub,
          await oauth.userInfoRequest(as, client, refreshed.access_token, { DPoP: dpop, ...insecure }),
        ),
      );
      assert.equal(userinfo.sub, claims.sub);
      const bearerUserinfo = await fetch(as.userinfo_endpoint!, {
        headers: { authorization: `Bearer ${refreshed.access_token}` },
      });
      assert.equal(bearerUserinfo.status, 401);
      assert.match(String(bearerUserinfo.headers.get('www-authenticate')), /^DPoP /);
    });

    it('opaque tokens: the API learns the binding from introspection (cnf) and checks the proof', async () => {
      const client: oauth.Client = { client_id: native.id, token_endpoint_auth_method: 'none' };
      const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const tokens = await codeFlow(client, dpop, FILES_API, 'files:read');
      assert.equal(tokens.token_type, 'dpop');
      assert.match(tokens.access_token, /^gha_/);
      const files = await callApi('/files', tokens.access_token, dpop);
      assert.equal(files.status, 200, JSON.stringify(files.body));
      assert.equal(files.body.jkt, await dpop.calculateThumbprint());
      assert.equal(files.body.format, 'opaque');
      const downgrade = await fetch(`${apiOrigin}/files`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      });
      assert.equal(downgrade.status, 401);
      assert.match(String(downgrade.headers.get('www-authenticate')), /^DPoP .*error="invalid_token"/);
      // Another key's proof for the same token.
      const other = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      await assert.rejects(callApi('/files', tokens.access_token, other));
    });

    it('a proof sent to the PAR endpoint binds the code to its key (RFC 9449 §10.1)', async () => {
      const { client: registered, secret } = await loopback.server.addClient({
        redirectUris: ['https://rp.example/cb'],
      });
      const client: oauth.Client = { client_id: registered.id };
      const auth = oauth.ClientSecretBasic(secret!);
      const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const verifier = oauth.generateRandomCodeVerifier();
      const pushed = await retryingNonce(async () =>
        oauth.processPushedAuthorizationResponse(
          as,
          client,
          await oauth.pushedAuthorizationRequest(
            as,
            client,
            auth,
            {
              redirect_uri: 'https://rp.example/cb',
              response_type: 'code',
              scope: 'openid',
              code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
              code_challenge_method: 'S256',
              state: 'par-state',
            },
            { DPoP: dpop, ...insecure },
          ),
        ),
      );
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({
        client_id: client.client_id,
        request_uri: pushed.request_uri,
      }).toString();
      const user = await loopback.server.addUser();
      const { callback } = await signInAndConsent(
        new Browserish(loopback.issuer),
        url,
        'https://rp.example/cb',
        user,
      );
      const params = oauth.validateAuthResponse(as, client, callback, 'par-state');
      const exchange = (handle: oauth.DPoPHandle) =>
        retryingNonce(async () =>
          oauth.processAuthorizationCodeResponse(
            as,
            client,
            await oauth.authorizationCodeGrantRequest(
              as,
              client,
              auth,
              params,
              'https://rp.example/cb',
              verifier,
              {
                DPoP: handle,
                ...insecure,
              },
            ),
          ),
        );
      const other = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      await assert.rejects(
        exchange(other),
        (error) => error instanceof oauth.ResponseBodyError && error.error === 'invalid_grant',
      );
      const tokens = await exchange(dpop);
      assert.equal(tokens.token_type, 'dpop');
    });
  });
});
