// Issue 16: the MCP TypeScript SDK's example OAuth client (examples/client/simpleOAuthClient.ts, SDK 1.x) registers
// `http://localhost:<port>/callback` with `client_secret_post` and no `application_type`, and Gatehouse refused
// it. Here it registers exactly so over RFC 7591, on SQLite and PostgreSQL, and oauth4webapi completes the code
// flow with PKCE on another port of localhost (RFC 8252 §7.3), then refreshes. Also what most MCP clients send
// (a public client, `none`), and the refusals of docs/security.md over HTTP. The redirect URIs are never
// contacted: the test reads the Location header the browser would follow.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import type { User } from '../../src/storage/storage.ts';
import { freshDatabase, postgresOrSkipReason } from '../helpers/postgres.ts';
import { Browserish, signInAndConsent } from './browserish.ts';
import { type LoopbackServer, startLoopbackServer } from './loopback.ts';

const insecure = { [oauth.allowInsecureRequests]: true } as const; // http is fine: everything is on loopback

/** The SDK example's callback port and its registration body, field for field (SDK 1.25.1). */
const SDK_CALLBACK_PORT = 8090;
const SDK_CLIENT_METADATA = {
  client_name: 'Simple OAuth MCP Client',
  redirect_uris: [`http://localhost:${SDK_CALLBACK_PORT}/callback`],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_post',
};

/** Another port than the registered one: the one the client found free this time. */
const OTHER_PORT = 51_004;

const { postgres, skip: postgresSkip } = await postgresOrSkipReason();
after(() => postgres?.stop());

type TestUser = User & { email: string; password: string };

for (const database of [
  { name: 'SQLite', skip: undefined as string | undefined },
  { name: 'PostgreSQL', skip: postgresSkip },
]) {
  describe(`the MCP TypeScript SDK example client registers http://localhost (${database.name})`, {
    skip: database.skip,
  }, () => {
    let loopback: LoopbackServer;
    let as: oauth.AuthorizationServer;
    let user: TestUser;
    let dropDatabase: (() => Promise<void>) | undefined;

    before(async () => {
      let databaseUrl: string | undefined;
      if (database.name === 'PostgreSQL' && postgres) {
        const fresh = await freshDatabase(postgres.url);
        databaseUrl = fresh.url;
        dropDatabase = fresh.drop;
      }
      loopback = await startLoopbackServer({}, { databaseUrl });
      const issuer = new URL(loopback.issuer);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
      user = await loopback.server.addUser({ name: 'Ada Lovelace' });
    });
    after(async () => {
      await loopback?.close();
      await dropDatabase?.();
    });

    async function register(metadata: Partial<oauth.Client>): Promise<Response> {
      return oauth.dynamicClientRegistrationRequest(as, metadata, insecure);
    }

    /** Authorizes on `redirectUri` with PKCE, signs in, and exchanges the code; returns the token response. */
    async function codeFlow(
      client: oauth.Client,
      auth: oauth.ClientAuth,
      redirectUri: string,
      scope: string,
    ) {
      const codeVerifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const url = new URL(String(as.authorization_endpoint));
      url.search = new URLSearchParams({
        client_id: client.client_id,
        response_type: 'code',
        redirect_uri: redirectUri,
        scope,
        state,
        code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
      }).toString();
      const { callback } = await signInAndConsent(new Browserish(loopback.issuer), url, redirectUri, user);
      assert.equal(`${callback.origin}${callback.pathname}`, redirectUri);
      const params = oauth.validateAuthResponse(as, client, callback, state);
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        client,
        auth,
        params,
        redirectUri,
        codeVerifier,
        insecure,
      );
      return oauth.processAuthorizationCodeResponse(as, client, response);
    }

    it('registration exactly as the SDK example sends it → 201, native, its secret, localhost echoed; RFC 7592 read and update agree', async () => {
      const response = await register(SDK_CLIENT_METADATA);
      assert.equal(response.status, 201);
      const registered = await oauth.processDynamicClientRegistrationResponse(response);
      assert.equal(registered.application_type, 'native');
      assert.equal(registered.token_endpoint_auth_method, 'client_secret_post');
      assert.deepEqual(registered.redirect_uris, SDK_CLIENT_METADATA.redirect_uris);
      assert.equal(typeof registered.client_secret, 'string');
      const read = await fetch(String(registered.registration_client_uri), {
        headers: { authorization: `Bearer ${registered.registration_access_token}` },
      });
      assert.equal(read.status, 200);
      const readBack = (await read.json()) as Record<string, unknown>;
      assert.equal(readBack.application_type, 'native');
      assert.deepEqual(readBack.redirect_uris, SDK_CLIENT_METADATA.redirect_uris);
      const stored = await loopback.server.deps.storage.clients.find(registered.client_id);
      assert.equal(stored?.applicationType, 'native');
      assert.equal(stored?.requirePkce, true);

      // RFC 7592 update: application_type web with the localhost URI is refused and changes nothing; the same
      // metadata with application_type native is accepted and echoed.
      const update = (token: unknown, metadata: Record<string, unknown>) =>
        fetch(String(registered.registration_client_uri), {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ client_id: registered.client_id, ...metadata }),
        });
      const asWeb = await update(registered.registration_access_token, {
        ...SDK_CLIENT_METADATA,
        application_type: 'web',
      });
      assert.equal(asWeb.status, 400);
      assert.equal(((await asWeb.json()) as { error: string }).error, 'invalid_redirect_uri');
      const asNative = await update(registered.registration_access_token, {
        ...SDK_CLIENT_METADATA,
        application_type: 'native',
      });
      assert.equal(asNative.status, 200);
      assert.equal(((await asNative.json()) as Record<string, unknown>).application_type, 'native');
      const updated = await loopback.server.deps.storage.clients.find(registered.client_id);
      assert.equal(updated?.applicationType, 'native');
      assert.deepEqual(updated?.redirectUris, SDK_CLIENT_METADATA.redirect_uris);
    });

    it('the SDK client completes the code flow with PKCE on another localhost port, then refreshes', async () => {
      const registered = await oauth.processDynamicClientRegistrationResponse(
        await register(SDK_CLIENT_METADATA),
      );
      const client: oauth.Client = {
        client_id: registered.client_id,
        token_endpoint_auth_method: 'client_secret_post',
      };
      const auth = oauth.ClientSecretPost(String(registered.client_secret));
      const redirectUri = `http://localhost:${OTHER_PORT}/callback`;
      const tokens = await codeFlow(client, auth, redirectUri, 'openid offline_access');
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.ok(tokens.access_token);
      assert.ok(tokens.refresh_token);
      const refreshed = await oauth.processRefreshTokenResponse(
        as,
        client,
        await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token, insecure),
      );
      assert.ok(refreshed.access_token);
      assert.notEqual(refreshed.access_token, tokens.access_token);
    });

    it('what most MCP clients send (public, none, localhost, no application_type) → native; the flow works with PKCE alone', async () => {
      const registered = await oauth.processDynamicClientRegistrationResponse(
        await register({ ...SDK_CLIENT_METADATA, token_endpoint_auth_method: 'none' }),
      );
      assert.equal(registered.application_type, 'native');
      assert.equal(registered.client_secret, undefined);
      const client: oauth.Client = { client_id: registered.client_id, token_endpoint_auth_method: 'none' };
      const tokens = await codeFlow(client, oauth.None(), 'http://localhost:49152/callback', 'openid');
      assert.ok(tokens.access_token);
    });

    it('A-03: a look-alike of the registered localhost URI gets the error page, never a redirect', async () => {
      const registered = await oauth.processDynamicClientRegistrationResponse(
        await register(SDK_CLIENT_METADATA),
      );
      for (const redirectUri of [
        `http://LOCALHOST:${OTHER_PORT}/callback`,
        `http://localhost.:${OTHER_PORT}/callback`,
        `http://localhost.evil.example:${OTHER_PORT}/callback`,
        `http://localhost:80@evil.example/callback`,
        `http://127.0.0.1.nip.io:${OTHER_PORT}/callback`,
        `http://127.0.0.1:${OTHER_PORT}/callback`,
        `http://localhost:${OTHER_PORT}/callback/`,
      ]) {
        const url = new URL(String(as.authorization_endpoint));
        url.search = new URLSearchParams({
          client_id: registered.client_id,
          response_type: 'code',
          redirect_uri: redirectUri,
          scope: 'openid',
          state: 'S',
          code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
          code_challenge_method: 'S256',
        }).toString();
        const response = await fetch(url, { redirect: 'manual' });
        assert.equal(response.status, 400, redirectUri);
        assert.equal(response.headers.get('location'), null, redirectUri);
        assert.ok(!(await response.text()).includes('evil.example'), redirectUri);
      }
    });

    it('A-07: a web client cannot register localhost; nothing is stored', async () => {
      const before = (await loopback.server.deps.storage.clients.list()).length;
      for (const metadata of [
        { ...SDK_CLIENT_METADATA, application_type: 'web' },
        { ...SDK_CLIENT_METADATA, token_endpoint_auth_method: 'none', application_type: 'web' },
        // One https URI makes the default web: the loopback one then needs application_type native.
        {
          ...SDK_CLIENT_METADATA,
          redirect_uris: ['https://rp.example/cb', 'http://localhost:8090/callback'],
        },
      ]) {
        const response = await register(metadata);
        assert.equal(response.status, 400, JSON.stringify(metadata));
        const body = (await response.json()) as { error: string; error_description: string };
        assert.equal(body.error, 'invalid_redirect_uri');
        // F-03: error_description keeps to the RFC 6749 character set, so the quotes are gone.
        assert.match(body.error_description, /application_type +native/);
      }
      assert.equal((await loopback.server.deps.storage.clients.list()).length, before);
    });
  });
}
