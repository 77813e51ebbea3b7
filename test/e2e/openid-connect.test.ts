// OpenID Connect completeness, judged by independent clients over real loopback HTTP, on SQLite and PostgreSQL:
// openid-client (the code flow, the refresh, UserInfo; its non-repudiation check verifies every ID token's
// signature against the published JWKS) and oauth4webapi (its refresh-response checks of the ID token).
// - OIDC Core §12.2: a refresh returns an ID token with the same iss, sub, aud, auth_time and sid, new iat/exp,
//   no nonce, and an at_hash for the new access token.
// - §5.5: the claims request parameter, at /authorize and through PAR; malformed JSON is invalid_request.
// - §5.1 / §5.4: phone_number, phone_number_verified and address, released by the phone and address scopes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { onEachDatabase } from '../helpers/postgres.ts';
import { Browserish, signInAndConsent } from './browserish.ts';
import { type LoopbackServer, startLoopbackServer } from './loopback.ts';

const REDIRECT_URI = 'https://rp.example/cb'; // never contacted: the client reads the redirect itself
const insecure = { [oauth.allowInsecureRequests]: true } as const; // http is fine: everything is on loopback

function atHash(accessToken: string): string {
  const digest = createHash('sha256').update(accessToken).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

await onEachDatabase('OpenID Connect completeness', (database, databaseUrl) => {
  describe(`OpenID Connect completeness on ${database}`, () => {
    let loopback: LoopbackServer;
    let config: client.Configuration;
    let clientId: string;
    let clientSecret: string;

    before(async () => {
      loopback = await startLoopbackServer({}, { databaseUrl: await databaseUrl() });
      const registered = await loopback.server.addClient({
        name: 'OIDC RP',
        redirectUris: [REDIRECT_URI],
        tokenEndpointAuthMethod: 'client_secret_basic',
        scope: 'openid profile email phone address offline_access',
      });
      clientId = registered.client.id;
      clientSecret = registered.secret!;
      config = await client.discovery(
        new URL(loopback.issuer),
        clientId,
        undefined,
        client.ClientSecretBasic(clientSecret),
        {
          execute: [client.allowInsecureRequests],
        },
      );
      // Every ID token's signature is checked against the JWKS openid-client fetches itself.
      client.enableNonRepudiationChecks(config);
    });
    after(() => loopback?.close());

    /** A user with a phone number and an address, as the admin API would set them. */
    async function userWithContact(name: string) {
      const user = await loopback.server.addUser({ name });
      const stored = (await loopback.server.deps.storage.users.findById(user.id))!;
      await loopback.server.deps.storage.users.update({
        ...stored,
        phoneNumber: '+1 555 0100',
        phoneNumberVerified: true,
        address: { street_address: '1 Main St', locality: 'Springfield', country: 'US' },
      });
      return user;
    }

    /** The code flow through openid-client, signing in with a cookie-keeping user agent. */
    async function codeFlow(
      user: Awaited<ReturnType<typeof userWithContact>>,
      scope: string,
      extra: Record<string, string> = {},
    ) {
      const verifier = client.randomPKCECodeVerifier();
      const nonce = client.randomNonce();
      const state = client.randomState();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI,
        scope,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        nonce,
        state,
        ...extra,
      });
      const { callback } = await signInAndConsent(new Browserish(loopback.issuer), url, REDIRECT_URI, user);
      const tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedNonce: nonce,
        expectedState: state,
      });
      return { tokens, nonce };
    }

    it('discovery advertises the claims parameter and the phone and address claims', () => {
      const metadata = config.serverMetadata();
      assert.equal(metadata.claims_parameter_supported, true);
      for (const claim of ['phone_number', 'phone_number_verified', 'address', 'sid', 'auth_time']) {
        assert.ok(metadata.claims_supported?.includes(claim), claim);
      }
      for (const scope of ['phone', 'address']) assert.ok(metadata.scopes_supported?.includes(scope), scope);
    });

    it('a refresh returns an ID token for the same subject and sign-in (OIDC Core §12.2)', async () => {
      const user = await userWithContact('Ada Lovelace');
      const { tokens, nonce } = await codeFlow(user, 'openid profile email offline_access');
      const first = tokens.claims()!;
      assert.equal(first.sub, user.id);
      assert.equal(first.nonce, nonce);
      assert.equal(typeof first.auth_time, 'number');
      assert.equal(typeof first.sid, 'string', 'the ID token names the login session');
      assert.ok(tokens.refresh_token);

      loopback.server.clock.advance(2000);
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
      const again = refreshed.claims();
      assert.ok(again, 'the refresh response carries an ID token');
      assert.equal(again.iss, first.iss);
      assert.equal(again.sub, first.sub);
      assert.equal(again.aud, first.aud);
      assert.equal(again.azp, clientId);
      assert.equal(again.auth_time, first.auth_time, 'auth_time is the original sign-in');
      assert.equal(again.sid, first.sid);
      assert.equal(again.nonce, undefined, 'no nonce on a refreshed ID token');
      assert.ok(again.iat > first.iat, 'a new iat');
      assert.ok(again.exp > first.exp, 'a new exp');
      assert.equal(again.at_hash, atHash(refreshed.access_token), 'at_hash binds the new access token');
      assert.equal(again.name, 'Ada Lovelace');
      assert.equal(again.email, user.email);

      // And again, from the rotated token: every refresh of the family does the same.
      const third = await client.refreshTokenGrant(config, refreshed.refresh_token!);
      assert.equal(third.claims()?.sub, user.id);
      assert.equal(third.claims()?.auth_time, first.auth_time);

      // Narrowed to a scope without openid: no ID token (the scope the access token has decides).
      const narrowed = await client.refreshTokenGrant(config, third.refresh_token!, { scope: 'profile' });
      assert.equal(narrowed.id_token, undefined);
    });

    it('oauth4webapi validates the refreshed ID token against the original', async () => {
      const user = await userWithContact('Katherine Johnson');
      const { tokens } = await codeFlow(user, 'openid email');
      const as = await oauth.processDiscoveryResponse(
        new URL(loopback.issuer),
        await oauth.discoveryRequest(new URL(loopback.issuer), insecure),
      );
      const rp: oauth.Client = { client_id: clientId };
      const response = await oauth.refreshTokenGrantRequest(
        as,
        rp,
        oauth.ClientSecretBasic(clientSecret),
        tokens.refresh_token!,
        insecure,
      );
      const result = await oauth.processRefreshTokenResponse(as, rp, response);
      await oauth.validateApplicationLevelSignature(as, response, insecure);
      const claims = oauth.getValidatedIdTokenClaims(result);
      assert.ok(claims);
      assert.equal(claims.sub, tokens.claims()!.sub);
      assert.equal(claims.auth_time, tokens.claims()!.auth_time);
    });

    it('phone and address scopes release the profile’s phone and address (ID token and UserInfo)', async () => {
      const user = await userWithContact('Mary Jackson');
      const { tokens } = await codeFlow(user, 'openid phone address');
      const claims = tokens.claims()!;
      assert.equal(claims.phone_number, '+1 555 0100');
      assert.equal(claims.phone_number_verified, true);
      assert.deepEqual(claims.address, {
        street_address: '1 Main St',
        locality: 'Springfield',
        country: 'US',
      });
      assert.equal(claims.email, undefined, 'email was not granted');
      const userinfo = await client.fetchUserInfo(config, tokens.access_token, user.id);
      assert.equal(userinfo.phone_number, '+1 555 0100');
      assert.deepEqual(userinfo.address, claims.address);

      // A user without them: the claims are absent, not empty.
      const plain = await loopback.server.addUser({ name: 'No Phone' });
      const second = await codeFlow(plain, 'openid phone address');
      assert.equal(second.tokens.claims()!.phone_number, undefined);
      assert.equal(second.tokens.claims()!.address, undefined);
    });

    it('the claims parameter is accepted, kept with the grant, and never widens the scopes', async () => {
      const user = await userWithContact('Dorothy Vaughan');
      const claimsRequest = JSON.stringify({
        id_token: { email: { essential: true }, phone_number: null, auth_time: { essential: true } },
        userinfo: { address: null, name: null },
      });
      const { tokens } = await codeFlow(user, 'openid email', { claims: claimsRequest });
      const claims = tokens.claims()!;
      assert.equal(claims.email, user.email);
      assert.equal(claims.phone_number, undefined, 'phone was not granted: the claims request cannot add it');
      assert.equal(typeof claims.auth_time, 'number');
      const userinfo = await client.fetchUserInfo(config, tokens.access_token, user.id);
      assert.equal(userinfo.address, undefined);
      assert.equal(userinfo.name, undefined);

      const row = await loopback.server.deps.storage.grants.find(
        (await loopback.server.deps.storage.grants.listActiveForUser(user.id))[0]!.id,
      );
      assert.deepEqual(row?.openId?.claimsRequest, JSON.parse(claimsRequest));

      // The refresh keeps the same rule.
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
      assert.equal(refreshed.claims()?.email, user.email);
      assert.equal(refreshed.claims()?.phone_number, undefined);
    });

    it('a claims request naming another sub gets no tokens (OIDC Core §5.5.1)', async () => {
      const user = await userWithContact('Someone');
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
        state: 'st',
        claims: JSON.stringify({ id_token: { sub: { value: 'somebody-else' } } }),
      });
      const { callback } = await signInAndConsent(new Browserish(loopback.issuer), url, REDIRECT_URI, user);
      assert.equal(callback.searchParams.get('error'), 'login_required');
      assert.equal(callback.searchParams.get('code'), null);
    });

    it('a malformed claims parameter is invalid_request, at /authorize and at PAR', async () => {
      for (const bad of [
        '{not json',
        '[]',
        '{"id_token":[]}',
        '{"userinfo":{"email":{"essential":"yes"}}}',
      ]) {
        const url = client.buildAuthorizationUrl(config, {
          redirect_uri: REDIRECT_URI,
          scope: 'openid',
          code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
          code_challenge_method: 'S256',
          state: 'st',
          claims: bad,
        });
        const response = await fetch(url, { redirect: 'manual' });
        assert.equal(response.status, 303, bad);
        const location = new URL(response.headers.get('location')!);
        assert.equal(location.origin + location.pathname, REDIRECT_URI);
        assert.equal(location.searchParams.get('error'), 'invalid_request', bad);
        assert.equal(location.searchParams.get('state'), 'st');

        await assert.rejects(
          client.buildAuthorizationUrlWithPAR(config, {
            redirect_uri: REDIRECT_URI,
            scope: 'openid',
            code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
            code_challenge_method: 'S256',
            claims: bad,
          }),
          (error: unknown) =>
            error instanceof client.ResponseBodyError &&
            error.error === 'invalid_request' &&
            error.status === 400,
          bad,
        );
      }
    });

    for (const alg of ['RS256', 'ES256'] as const) {
      it(`signed UserInfo (OIDC Core §5.3.2): a client registered for ${alg} gets application/jwt`, async () => {
        const registered = await loopback.server.addClient({
          name: `Signed userinfo ${alg}`,
          redirectUris: [REDIRECT_URI],
          tokenEndpointAuthMethod: 'client_secret_basic',
          scope: 'openid email phone',
          metadata: { userinfo_signed_response_alg: alg },
        });
        const signedConfig = await client.discovery(
          new URL(loopback.issuer),
          registered.client.id,
          { userinfo_signed_response_alg: alg },
          client.ClientSecretBasic(registered.secret!),
          { execute: [client.allowInsecureRequests] },
        );
        // Checks the JWT's signature against the JWKS (and, in processing, its iss and aud).
        client.enableNonRepudiationChecks(signedConfig);
        assert.ok(signedConfig.serverMetadata().userinfo_signing_alg_values_supported?.includes(alg));
        const user = await userWithContact(`Signed ${alg}`);
        const verifier = client.randomPKCECodeVerifier();
        const url = client.buildAuthorizationUrl(signedConfig, {
          redirect_uri: REDIRECT_URI,
          scope: 'openid email phone',
          code_challenge: await client.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state: 'st',
        });
        const { callback } = await signInAndConsent(new Browserish(loopback.issuer), url, REDIRECT_URI, user);
        const tokens = await client.authorizationCodeGrant(signedConfig, callback, {
          pkceCodeVerifier: verifier,
          expectedState: 'st',
        });
        const userinfo = await client.fetchUserInfo(signedConfig, tokens.access_token, user.id);
        assert.equal(userinfo.sub, user.id);
        assert.equal(userinfo.email, user.email);
        assert.equal(userinfo.phone_number, '+1 555 0100');

        const raw = await fetch(`${loopback.issuer}/userinfo`, {
          headers: { authorization: `Bearer ${tokens.access_token}` },
        });
        assert.equal(raw.status, 200);
        assert.match(raw.headers.get('content-type') ?? '', /^application\/jwt/);
        const jwt = await raw.text();
        const header = JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString());
        const payload = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());
        assert.equal(header.alg, alg);
        assert.equal(payload.iss, loopback.issuer);
        assert.equal(payload.aud, registered.client.id);

        // A client that registered nothing still gets JSON.
        const plain = await codeFlow(user, 'openid email');
        const json = await fetch(`${loopback.issuer}/userinfo`, {
          headers: { authorization: `Bearer ${plain.tokens.access_token}` },
        });
        assert.match(json.headers.get('content-type') ?? '', /^application\/json/);
      });
    }

    it('userinfo_signed_response_alg must be an alg Gatehouse signs with (invalid_client_metadata)', async () => {
      for (const alg of ['none', 'HS256', 42]) {
        const response = await fetch(`${loopback.issuer}/oauth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ redirect_uris: [REDIRECT_URI], userinfo_signed_response_alg: alg }),
        });
        assert.equal(response.status, 400, String(alg));
        assert.equal((await response.json()).error, 'invalid_client_metadata');
      }
      const ok = await fetch(`${loopback.issuer}/oauth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [REDIRECT_URI], userinfo_signed_response_alg: 'ES256' }),
      });
      assert.equal(ok.status, 201);
      assert.equal((await ok.json()).userinfo_signed_response_alg, 'ES256');
    });

    it('a pushed request carries the claims parameter to the grant', async () => {
      const user = await userWithContact('Pushed');
      const verifier = client.randomPKCECodeVerifier();
      const claimsRequest = { id_token: { email: { essential: true } } };
      const url = await client.buildAuthorizationUrlWithPAR(config, {
        redirect_uri: REDIRECT_URI,
        scope: 'openid email',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 'st',
        claims: JSON.stringify(claimsRequest),
      });
      const { callback } = await signInAndConsent(new Browserish(loopback.issuer), url, REDIRECT_URI, user);
      const tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: 'st',
      });
      assert.equal(tokens.claims()?.email, user.email);
      const grants = await loopback.server.deps.storage.grants.listActiveForUser(user.id);
      assert.deepEqual(grants[0]?.openId?.claimsRequest, claimsRequest);
    });
  });
});
