// The token endpoint over HTTP (app.inject): docs/security.md rows B-06..B-09, B-11, C-01..C-06, C-08..C-10,
// D-01..D-06, D-11, D-12 (missing auth), F-01..F-08 and I-08. Every test builds its own user, client and code, so
// tests do not depend on each other's order. The server runs on a SQLite file so that the white-box checks
// (D-11, refresh-token revocation in C-02/C-03) can read the tables through a second connection.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import { type Kysely, sql } from 'kysely';
import { accessTokenHash } from '../../src/oauth/id-token.ts';
import {
  isWellFormedOpaqueToken,
  mintTimeOrderedToken,
  TOKEN_PREFIX,
  timeOrderedTokenKey,
} from '../../src/oauth/opaque-token.ts';
import type { Database } from '../../src/storage/database.ts';
import { openDatabase } from '../../src/storage/open.ts';
import type { Client, User } from '../../src/storage/storage.ts';
import { sha256 } from '../../src/util/hash.ts';
import { Agent, localPath } from '../helpers/agent.ts';
import {
  authorizeUrl,
  basicAuth,
  exchangeCode,
  type FlowOptions,
  type FlowResult,
  pkcePair,
  runAuthorizationFlow,
} from '../helpers/flow.ts';
import { buildTestServer, ISSUER, type TestServer } from '../helpers/server.ts';

type Form = Record<string, string>;
type TestUser = User & { email: string; password: string };

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
/** RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E. */
const SAFE_DESCRIPTION = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

let server: TestServer;
let db: Kysely<Database>;
let dir: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-token-test-'));
  const databaseUrl = `sqlite:${path.join(dir, 'gatehouse.db')}`;
  server = await buildTestServer({}, { databaseUrl });
  db = (await openDatabase(databaseUrl)).db;
});

after(async () => {
  await db.destroy();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------
// Helpers

function postToken(body: string | Form, headers: Record<string, string> = {}) {
  return server.app.inject({
    method: 'POST',
    url: '/token',
    payload: typeof body === 'string' ? body : new URLSearchParams(body).toString(),
    headers: { ...FORM, ...headers },
  });
}

function userinfo(accessToken: string, method: 'GET' | 'POST' = 'GET') {
  return server.app.inject({ method, url: '/userinfo', headers: { authorization: `Bearer ${accessToken}` } });
}

function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** Asserts an RFC 6749 §5.2 JSON error with the given status and code. */
function assertError(response: LightMyRequestResponse, status: number, error: string) {
  assert.equal(response.statusCode, status, response.body);
  assert.match(String(response.headers['content-type']), /^application\/json\b/);
  const body = response.json();
  assert.equal(body.error, error, response.body);
  assert.equal(body.access_token, undefined);
  assert.equal(body.refresh_token, undefined);
  assert.equal(body.id_token, undefined);
  assert.equal(response.headers['cache-control'], 'no-store');
  if (body.error_description !== undefined) assert.match(body.error_description, SAFE_DESCRIPTION);
  return body as { error: string; error_description?: string };
}

function assertTokens(response: LightMyRequestResponse) {
  assert.equal(response.statusCode, 200, response.body);
  const body = response.json();
  assert.equal(typeof body.access_token, 'string');
  assert.equal(body.token_type, 'Bearer');
  return body as { access_token: string; refresh_token?: string; id_token?: string; scope: string };
}

interface Setup {
  user: TestUser;
  client: Client;
  secret: string | undefined;
  flow: FlowResult;
}

/** A fresh user and confidential client (client_secret_basic), and one authorization code for them. */
async function confidentialCode(
  options: { flow?: FlowOptions; client?: Parameters<TestServer['addClient']>[0] } = {},
): Promise<Setup> {
  const user = await server.addUser();
  const { client, secret } = await server.addClient(options.client);
  const flow = await runAuthorizationFlow(server, client, user, options.flow);
  return { user, client, secret, flow };
}

/** A fresh user and public native client (token_endpoint_auth_method=none), and one code. */
async function publicCode(): Promise<Setup> {
  const user = await server.addUser();
  const { client, secret } = await server.addClient({
    tokenEndpointAuthMethod: 'none',
    applicationType: 'native',
    redirectUris: ['http://127.0.0.1/cb'],
  });
  assert.equal(secret, undefined);
  const flow = await runAuthorizationFlow(server, client, user);
  return { user, client, secret, flow };
}

/** Removes parameters the flow helper always sends (its `extra` is typed as strings only). */
function without(...names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((name) => [name, undefined])) as unknown as Record<string, string>;
}

async function refreshTokenRow(refreshToken: string) {
  return db
    .selectFrom('refresh_tokens')
    .selectAll()
    .where('token_hash', '=', timeOrderedTokenKey(refreshToken))
    .executeTakeFirst();
}

// ---------------------------------------------------------------------------------------------------------

describe('token endpoint: the authorization code (C-01..C-06, C-08..C-10)', () => {
  it('C-01: a code is redeemed once; replays 1 s and 30 s later get invalid_grant', async () => {
    const { client, secret, flow } = await confidentialCode();
    const first = assertTokens(await exchangeCode(server, client, secret, flow));
    assert.ok(first.id_token);

    server.clock.advance(1000);
    assertError(await exchangeCode(server, client, secret, flow), 400, 'invalid_grant');
    server.clock.advance(29_000);
    assertError(await exchangeCode(server, client, secret, flow), 400, 'invalid_grant');
  });

  it('C-02: a second valid redemption revokes the access and refresh tokens of the first', async () => {
    const { client, secret, flow } = await confidentialCode();
    const first = assertTokens(await exchangeCode(server, client, secret, flow));
    assert.ok(first.refresh_token);
    assert.equal((await userinfo(first.access_token)).statusCode, 200);
    assert.equal((await refreshTokenRow(first.refresh_token))?.revoked_at, null);

    assertError(await exchangeCode(server, client, secret, flow), 400, 'invalid_grant');

    const after = await userinfo(first.access_token);
    assert.equal(after.statusCode, 401, after.body);
    assert.match(String(after.headers['www-authenticate']), /^Bearer .*error="invalid_token"/);
    // The family is revoked through its grant: the refresh token of the first redemption is dead.
    const found = await server.deps.storage.refreshTokens.find(timeOrderedTokenKey(first.refresh_token));
    assert.ok(found, 'the refresh token row exists');
    assert.equal(found.grantRevoked, true, 'the refresh token of the first redemption is revoked');
    const refreshed = await server.app.inject({
      method: 'POST',
      url: '/token',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(client.id, secret!),
      },
      payload: `grant_type=refresh_token&refresh_token=${encodeURIComponent(first.refresh_token)}`,
    });
    assertError(refreshed, 400, 'invalid_grant');
  });

  it('C-03: replays with a wrong secret, verifier, client or redirect_uri do not revoke anything', async () => {
    const { client, secret, flow } = await confidentialCode();
    const first = assertTokens(await exchangeCode(server, client, secret, flow));
    assert.ok(first.refresh_token);
    const other = await server.addClient();

    assertError(await exchangeCode(server, client, `${secret}x`, flow), 401, 'invalid_client');
    assertError(
      await exchangeCode(server, client, secret, flow, { code_verifier: pkcePair().verifier }),
      400,
      'invalid_grant',
    );
    assertError(
      await exchangeCode(server, client, secret, flow, { code_verifier: undefined }),
      400,
      'invalid_grant',
    );
    assertError(await exchangeCode(server, other.client, other.secret, flow), 400, 'invalid_grant');
    assertError(
      await exchangeCode(server, client, secret, flow, { redirect_uri: 'https://rp.example/other' }),
      400,
      'invalid_grant',
    );

    const info = await userinfo(first.access_token);
    assert.equal(info.statusCode, 200, info.body);
    assert.equal((await refreshTokenRow(first.refresh_token))?.revoked_at, null);
  });

  it("C-04: a confidential client's code redeemed with another client's credentials → invalid_grant", async () => {
    const { flow } = await confidentialCode();
    const other = await server.addClient();
    assertError(await exchangeCode(server, other.client, other.secret, flow), 400, 'invalid_grant');
  });

  it('C-04/B-07: after another client tried its code, the legitimate client can still redeem it', async () => {
    const { client, secret, flow } = await confidentialCode();
    const other = await server.addClient();
    assertError(await exchangeCode(server, other.client, other.secret, flow), 400, 'invalid_grant');
    assertTokens(await exchangeCode(server, client, secret, flow));
  });

  it("C-04: a public client's code redeemed with client_id of another public client → invalid_grant", async () => {
    const { flow } = await publicCode();
    const { client: other } = await server.addClient({
      tokenEndpointAuthMethod: 'none',
      applicationType: 'native',
      redirectUris: ['http://127.0.0.1/cb'],
    });
    assertError(await exchangeCode(server, other, undefined, flow), 400, 'invalid_grant');
  });

  it("C-04: a public client's code redeemed by a confidential client → invalid_grant", async () => {
    const { flow } = await publicCode();
    const other = await server.addClient();
    assertError(await exchangeCode(server, other.client, other.secret, flow), 400, 'invalid_grant');
  });

  it('C-04: the public client itself redeems its code with client_id only', async () => {
    const { client, flow } = await publicCode();
    const body = assertTokens(await exchangeCode(server, client, undefined, flow));
    assert.equal(decodeJwt(body.access_token).client_id, client.id);
  });

  it('C-05: with the default 60 s lifetime a code redeemed at 61 s → invalid_grant', async () => {
    assert.equal(server.config.codeTtl, 60);
    const { client, secret, flow } = await confidentialCode();
    server.clock.advance(61_000);
    assertError(await exchangeCode(server, client, secret, flow), 400, 'invalid_grant');
  });

  it('C-05: the same code redeemed at 59 s → 200 (the lifetime is not shorter than configured)', async () => {
    const { client, secret, flow } = await confidentialCode();
    server.clock.advance(59_000);
    assertTokens(await exchangeCode(server, client, secret, flow));
  });

  it('C-06: a redirect_uri at the token endpoint must equal the one sent at /authorize', async () => {
    const { client, secret, flow } = await confidentialCode({
      client: { redirectUris: ['https://rp.example/cb', 'https://rp.example/cb2'] },
    });
    for (const variant of ['https://rp.example/cb2', 'https://rp.example/cb/', 'https://RP.example/cb']) {
      assertError(
        await exchangeCode(server, client, secret, flow, { redirect_uri: variant }),
        400,
        'invalid_grant',
      );
    }
  });

  it('C-06: redirect_uri omitted at the token endpoint although it was sent at /authorize → invalid_grant', async () => {
    const { client, secret, flow } = await confidentialCode();
    assertError(
      await exchangeCode(server, client, secret, flow, { redirect_uri: undefined }),
      400,
      'invalid_grant',
    );
  });

  it('C-06: redirect_uri omitted at both endpoints (one registered URI) → 200', async () => {
    const { client, secret, flow } = await confidentialCode({ flow: { extra: without('redirect_uri') } });
    assertTokens(await exchangeCode(server, client, secret, flow, { redirect_uri: undefined }));
  });

  it('C-06: redirect_uri omitted at /authorize but a different one sent at the token endpoint → invalid_grant', async () => {
    const { client, secret, flow } = await confidentialCode({ flow: { extra: without('redirect_uri') } });
    assertError(
      await exchangeCode(server, client, secret, flow, { redirect_uri: 'https://rp.example/other' }),
      400,
      'invalid_grant',
    );
  });

  it('C-08: codes from the real flow are opaque 256-bit values with the ghc_ prefix and a checksum', async () => {
    const codes = new Set<string>();
    const user = await server.addUser();
    const { client } = await server.addClient();
    const agent = new Agent(server.app);
    for (let i = 0; i < 5; i++) {
      const flow = await runAuthorizationFlow(server, client, user, { agent, expectNoConsent: i > 0 });
      // ghc_ + issue time (9 base32hex characters) + 256 random bits + checksum.
      assert.match(flow.code, /^ghc_[0-9a-v]{9}[A-Za-z0-9_-]{43}[A-Za-z0-9_-]{6}$/);
      assert.ok(isWellFormedOpaqueToken(flow.code, TOKEN_PREFIX.authorizationCode));
      codes.add(flow.code);
    }
    assert.equal(codes.size, 5);
  });

  it('C-08: 1,000 minted codes are distinct, carry ≥128 bits and show no positional structure', () => {
    const issuedAt = Date.now();
    const codes = Array.from({ length: 1000 }, () =>
      mintTimeOrderedToken(TOKEN_PREFIX.authorizationCode, issuedAt),
    );
    assert.equal(new Set(codes).size, 1000);
    // The 9 characters after the prefix are the issue time (not secret); the entropy is in the rest.
    for (const code of codes) assert.equal(Number.parseInt(code.slice(4, 13), 32), issuedAt);
    const bodies = codes.map((code) => code.slice(TOKEN_PREFIX.authorizationCode.length + 9, -6));
    for (const body of bodies) {
      assert.match(body, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(body, 'base64url').length, 32); // 256 bits of CSPRNG output
    }
    // No shared 8-character prefix (48 bits) in the random part: a counter would show up here.
    assert.equal(new Set(bodies.map((body) => body.slice(0, 8))).size, 1000);
    // Every full 6-bit position varies: with 1,000 random samples each shows ~64 of 64 symbols.
    for (let position = 0; position < 42; position++) {
      const symbols = new Set(bodies.map((body) => body[position]));
      assert.ok(symbols.size >= 50, `position ${position} shows only ${symbols.size} symbols`);
    }
  });

  it('C-09: GET /token with the code in the query → 405, nothing issued, the code stays usable', async () => {
    const { client, secret, flow } = await confidentialCode();
    const query = new URLSearchParams({
      grant_type: 'authorization_code',
      code: flow.code,
      redirect_uri: flow.redirectUri,
      code_verifier: flow.verifier,
    });
    const response = await server.app.inject({
      method: 'GET',
      url: `/token?${query}`,
      headers: { authorization: basicAuth(client.id, secret!) },
    });
    assertError(response, 405, 'invalid_request');
    assert.equal(response.headers.allow, 'POST');
    assert.ok(!response.body.includes('access_token'));
    assertTokens(await exchangeCode(server, client, secret, flow));
  });

  it('C-10: a refresh token, client secret, interaction id or re-prefixed token as code → invalid_grant', async () => {
    const { client, secret, flow } = await confidentialCode();
    const tokens = assertTokens(await exchangeCode(server, client, secret, flow));
    assert.ok(tokens.refresh_token);

    // An interaction id: the value in /login?interaction=… of a fresh, parked authorization request.
    const agent = new Agent(server.app);
    const started = await agent.get(
      authorizeUrl({
        response_type: 'code',
        client_id: client.id,
        redirect_uri: 'https://rp.example/cb',
        scope: 'openid',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
      }),
    );
    assert.equal(started.statusCode, 303);
    const interaction = new URL(localPath(started.headers.location as string), 'http://x').searchParams.get(
      'interaction',
    );
    assert.ok(interaction);

    const reprefixed = `${TOKEN_PREFIX.authorizationCode}${tokens.refresh_token.slice(TOKEN_PREFIX.refreshToken.length)}`;
    for (const code of [tokens.refresh_token, secret!, interaction, reprefixed, tokens.access_token]) {
      assertError(await exchangeCode(server, client, secret, flow, { code }), 400, 'invalid_grant');
    }
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('token endpoint: PKCE (B-06..B-09, B-11)', () => {
  it('B-06: a code issued with a challenge, redeemed without code_verifier → invalid_grant', async () => {
    const { client, secret, flow } = await confidentialCode();
    assertError(
      await exchangeCode(server, client, secret, flow, { code_verifier: undefined }),
      400,
      'invalid_grant',
    );
  });

  it('B-07: a wrong code_verifier → invalid_grant', async () => {
    const { client, secret, flow } = await confidentialCode();
    assertError(
      await exchangeCode(server, client, secret, flow, { code_verifier: pkcePair().verifier }),
      400,
      'invalid_grant',
    );
  });

  it('B-07: after a wrong code_verifier, the correct one still redeems the code', async () => {
    const { client, secret, flow } = await confidentialCode();
    assertError(
      await exchangeCode(server, client, secret, flow, { code_verifier: pkcePair().verifier }),
      400,
      'invalid_grant',
    );
    assertTokens(await exchangeCode(server, client, secret, flow));
  });

  // B-08: the challenge is S256 of a verifier that breaks RFC 7636 §4.1, so only the ABNF check can refuse it.
  const badVerifiers: Record<string, string> = {
    'one character': 'a',
    '42 characters': 'a'.repeat(42),
    '129 characters': 'a'.repeat(129),
    'a percent sign': `${'a'.repeat(42)}%`,
    'a plus sign': `${'a'.repeat(42)}+`,
    'a space': `${'a'.repeat(42)} `,
  };
  for (const [label, verifier] of Object.entries(badVerifiers)) {
    it(`B-08: a code_verifier with ${label} is refused even when its S256 matches`, async () => {
      const { client, secret, flow } = await confidentialCode({
        flow: { extra: { code_challenge: s256(verifier) } },
      });
      assertError(
        await exchangeCode(server, client, secret, flow, { code_verifier: verifier }),
        400,
        'invalid_grant',
      );
    });
  }

  for (const verifier of [`${'a'.repeat(39)}-._~`, `${'Z9'.repeat(62)}-._~`]) {
    it(`B-08: a ${verifier.length}-character verifier of unreserved characters is accepted`, async () => {
      const { client, secret, flow } = await confidentialCode({
        flow: { extra: { code_challenge: s256(verifier) } },
      });
      assertTokens(await exchangeCode(server, client, secret, flow, { code_verifier: verifier }));
    });
  }

  it('B-09: a code issued without a challenge, redeemed with a code_verifier → invalid_grant', async () => {
    const { client, secret, flow } = await confidentialCode({
      client: { requirePkce: false },
      flow: { extra: without('code_challenge', 'code_challenge_method') },
    });
    assertError(
      await exchangeCode(server, client, secret, flow, { code_verifier: pkcePair().verifier }),
      400,
      'invalid_grant',
    );
  });

  it('B-09: the same kind of code redeemed without a code_verifier → 200', async () => {
    const { client, secret, flow } = await confidentialCode({
      client: { requirePkce: false },
      flow: { extra: without('code_challenge', 'code_challenge_method') },
    });
    assertTokens(await exchangeCode(server, client, secret, flow, { code_verifier: undefined }));
  });

  it('B-11: the code does not carry the challenge or its method', async () => {
    const { flow } = await confidentialCode();
    const challenge = s256(flow.verifier);
    assert.ok(!flow.code.includes(challenge));
    assert.ok(!flow.code.includes('S256'));
    assert.ok(!flow.code.includes('.'), 'not a JWT');
    const decoded = Buffer.from(flow.code.slice(TOKEN_PREFIX.authorizationCode.length), 'base64url');
    assert.ok(!decoded.includes(Buffer.from(challenge, 'base64url')));
    assert.ok(!decoded.includes(Buffer.from(challenge)));
    assert.ok(!decoded.toString('latin1').includes('S256'));
    // The whole redirect carries nothing but code, state and iss.
    assert.deepEqual([...flow.location.searchParams.keys()].sort(), ['code', 'iss', 'state']);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('token endpoint: client authentication (D-01..D-06, D-11, D-12)', () => {
  it('D-01: Basic with a wrong secret → 401 invalid_client with WWW-Authenticate: Basic', async () => {
    const { client, secret, flow } = await confidentialCode();
    const response = await exchangeCode(server, client, `${secret}0`, flow);
    assertError(response, 401, 'invalid_client');
    assert.match(String(response.headers['www-authenticate']), /^Basic realm="gatehouse"/);
  });

  it('D-01: Basic naming an unknown client → 401 with WWW-Authenticate: Basic', async () => {
    const response = await postToken(
      {
        grant_type: 'authorization_code',
        code: mintTimeOrderedToken(TOKEN_PREFIX.authorizationCode, Date.now()),
      },
      { authorization: basicAuth('no-such-client', 'whatever') },
    );
    assertError(response, 401, 'invalid_client');
    assert.match(String(response.headers['www-authenticate']), /^Basic /);
  });

  it('D-02: a client registered for client_secret_post authenticates in the body', async () => {
    const { client, secret, flow } = await confidentialCode({
      client: { tokenEndpointAuthMethod: 'client_secret_post' },
    });
    assert.ok(secret);
    assertTokens(await exchangeCode(server, client, undefined, flow, { client_secret: secret }));
  });

  it('D-03: Basic plus client_secret in the body → 400 invalid_request', async () => {
    const { client, secret, flow } = await confidentialCode();
    assertError(
      await exchangeCode(server, client, secret, flow, { client_secret: secret }),
      400,
      'invalid_request',
    );
  });

  it('D-03: Basic plus client_assertion → 400 invalid_request', async () => {
    const { client, secret, flow } = await confidentialCode();
    assertError(
      await exchangeCode(server, client, secret, flow, {
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: 'eyJhbGciOiJub25lIn0.e30.',
      }),
      400,
      'invalid_request',
    );
  });

  it('D-03: the refused double-auth request did not consume the code', async () => {
    const { client, secret, flow } = await confidentialCode();
    assertError(
      await exchangeCode(server, client, secret, flow, { client_secret: secret }),
      400,
      'invalid_request',
    );
    assertTokens(await exchangeCode(server, client, secret, flow));
  });

  it('D-04: a client_secret_basic client authenticating in the body → 401 invalid_client', async () => {
    const { client, secret, flow } = await confidentialCode();
    assertError(
      await exchangeCode(server, client, undefined, flow, { client_secret: secret }),
      401,
      'invalid_client',
    );
  });

  it('D-04: a client_secret_post client authenticating with Basic → 401 invalid_client + Basic challenge', async () => {
    const { client, secret, flow } = await confidentialCode({
      client: { tokenEndpointAuthMethod: 'client_secret_post' },
    });
    const response = await exchangeCode(server, client, secret, flow);
    assertError(response, 401, 'invalid_client');
    assert.match(String(response.headers['www-authenticate']), /^Basic /);
  });

  it('D-05: malformed Basic headers → 401 invalid_client, never 500', async () => {
    const { client } = await server.addClient();
    const headers = [
      'Basic !!!',
      `Basic ${Buffer.from('no-colon').toString('base64')}`,
      `Basic  ${Buffer.from(`${client.id}:x`).toString('base64')}`,
      `Basic ${Buffer.from(`${client.id}%ZZ:x`).toString('base64')}`,
      'Basic',
      'Digest username="x"',
    ];
    for (const authorization of headers) {
      const response = await postToken(
        {
          grant_type: 'authorization_code',
          code: mintTimeOrderedToken(TOKEN_PREFIX.authorizationCode, Date.now()),
        },
        { authorization },
      );
      assertError(response, 401, 'invalid_client');
      assert.match(String(response.headers['www-authenticate']), /^Basic /, authorization);
    }
  });

  it('D-06: a public client sending a client_secret → 401 invalid_client (never elevated)', async () => {
    const { client, flow } = await publicCode();
    assertError(
      await exchangeCode(server, client, undefined, flow, { client_secret: 'ghs_anything' }),
      401,
      'invalid_client',
    );
  });

  it('D-06: a public client sending Basic with an empty secret → 401 invalid_client', async () => {
    const { client, flow } = await publicCode();
    assertError(await exchangeCode(server, client, '', flow), 401, 'invalid_client');
  });

  it('D-06: a confidential client with client_id only → 401 invalid_client', async () => {
    const { client, flow } = await confidentialCode();
    assertError(await exchangeCode(server, client, undefined, flow), 401, 'invalid_client');
  });

  it('D-06: a confidential client with an empty secret (Basic or post) → 401 invalid_client', async () => {
    const basic = await confidentialCode();
    assertError(await exchangeCode(server, basic.client, '', basic.flow), 401, 'invalid_client');
    const post = await confidentialCode({ client: { tokenEndpointAuthMethod: 'client_secret_post' } });
    assertError(
      await exchangeCode(server, post.client, undefined, post.flow, { client_secret: '' }),
      401,
      'invalid_client',
    );
  });

  it('D-12: no client authentication at all → 401 invalid_client, and the code stays usable', async () => {
    const { client, secret, flow } = await confidentialCode();
    const response = await postToken({
      grant_type: 'authorization_code',
      code: flow.code,
      redirect_uri: flow.redirectUri,
      code_verifier: flow.verifier,
    });
    assertError(response, 401, 'invalid_client');
    assertTokens(await exchangeCode(server, client, secret, flow));
  });

  it('D-11: no plaintext client secret, code, refresh token or password anywhere in the database', async () => {
    const { user, client, secret, flow } = await confidentialCode();
    const tokens = assertTokens(await exchangeCode(server, client, secret, flow));
    assert.ok(secret && tokens.refresh_token);

    const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(
      db,
    );
    let dump = '';
    for (const { name } of tables.rows) {
      const rows = await sql`select * from ${sql.table(name)}`.execute(db);
      dump += `${name}:${JSON.stringify(rows.rows)}\n`;
    }
    for (const [label, plaintext] of Object.entries({
      'client secret': secret,
      code: flow.code,
      'refresh token': tokens.refresh_token,
      'access token': tokens.access_token,
      password: user.password,
    })) {
      assert.ok(!dump.includes(plaintext), `the ${label} is stored in plaintext`);
    }
    // The dump is real: the hashes of those values are there.
    assert.ok(dump.includes(sha256(secret)), 'client secret hash');
    assert.ok(dump.includes(sha256(flow.code)), 'code hash');
    assert.ok(dump.includes(sha256(tokens.refresh_token)), 'refresh token hash');
    assert.ok(dump.includes(client.id));
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('token endpoint: responses and request hygiene (F-01..F-07)', () => {
  it('F-01: a token response carries Cache-Control: no-store and Pragma: no-cache', async () => {
    const { client, secret, flow } = await confidentialCode();
    const response = await exchangeCode(server, client, secret, flow);
    assertTokens(response);
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.equal(response.headers.pragma, 'no-cache');
    assert.match(String(response.headers['content-type']), /^application\/json\b/);
  });

  it('F-02: invalid_grant → 400, invalid_client → 401, unsupported_grant_type → 400, all JSON', async () => {
    const { client, secret, flow } = await confidentialCode();
    assertError(
      await exchangeCode(server, client, secret, flow, {
        code: mintTimeOrderedToken(TOKEN_PREFIX.authorizationCode, Date.now()),
      }),
      400,
      'invalid_grant',
    );
    assertError(await exchangeCode(server, client, 'wrong', flow), 401, 'invalid_client');
    assertError(
      await exchangeCode(server, client, secret, flow, { grant_type: 'urn:example:nope' }),
      400,
      'unsupported_grant_type',
    );
    assertError(
      await exchangeCode(server, client, secret, flow, { grant_type: undefined }),
      400,
      'invalid_request',
    );
    assertError(
      await exchangeCode(server, client, secret, flow, { code: undefined }),
      400,
      'invalid_request',
    );
  });

  it('F-02: a client not registered for authorization_code → 400 unauthorized_client', async () => {
    const { client, secret } = await server.addClient({ grantTypes: ['refresh_token'] });
    const response = await postToken(
      {
        grant_type: 'authorization_code',
        code: mintTimeOrderedToken(TOKEN_PREFIX.authorizationCode, Date.now()),
        code_verifier: pkcePair().verifier,
      },
      { authorization: basicAuth(client.id, secret!) },
    );
    assertError(response, 400, 'unauthorized_client');
  });

  it('F-03: error_description stays within the RFC 6749 charset for hostile input', async () => {
    const { client, secret, flow } = await confidentialCode();
    const hostile = 'a"\r\n\tb\\<script>alert(1)</script>\' OR 1=1--\u0000é';
    const responses = [
      // A repeated parameter whose name is hostile: its name is quoted in the description.
      await postToken(`${encodeURIComponent(hostile)}=1&${encodeURIComponent(hostile)}=2`),
      await postToken({ grant_type: hostile }),
      await exchangeCode(server, client, secret, flow, { code: hostile }),
      await exchangeCode(server, client, secret, flow, { code_verifier: hostile }),
      await postToken({ grant_type: 'authorization_code', code: hostile, client_id: hostile }),
      await postToken(
        { grant_type: 'authorization_code', code: hostile },
        { authorization: basicAuth(hostile, hostile) },
      ),
    ];
    for (const response of responses) {
      assert.ok(response.statusCode >= 400 && response.statusCode < 500, response.body);
      const { error_description: description } = response.json();
      assert.equal(typeof description, 'string', response.body);
      assert.match(description, SAFE_DESCRIPTION, JSON.stringify(description));
      assert.ok(!/[\r\n\t"\\]/.test(description));
      assert.ok(!/SQLITE|select |stack|at \/|node:internal/i.test(description), description);
    }
  });

  it('F-04: grant_type=password → unsupported_grant_type for confidential, public and anonymous callers', async () => {
    const confidential = await server.addClient();
    const pub = await server.addClient({
      tokenEndpointAuthMethod: 'none',
      applicationType: 'native',
      redirectUris: ['http://127.0.0.1/cb'],
    });
    const form = { grant_type: 'password', username: 'u@example.com', password: 'correct horse battery' };
    const calls = [
      postToken(form, { authorization: basicAuth(confidential.client.id, confidential.secret!) }),
      postToken({ ...form, client_id: pub.client.id }),
      postToken(form),
    ];
    for (const response of await Promise.all(calls)) assertError(response, 400, 'unsupported_grant_type');
    for (const grantType of ['implicit', 'token', 'client_credentials ', 'AUTHORIZATION_CODE']) {
      const response = await postToken(
        { grant_type: grantType },
        { authorization: basicAuth(confidential.client.id, confidential.secret!) },
      );
      assertError(response, 400, 'unsupported_grant_type');
    }
  });

  it('F-04: discovery lists no password or implicit grant and only the code response type', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
    const doc = response.json();
    assert.ok(!doc.grant_types_supported.includes('password'));
    assert.ok(!doc.grant_types_supported.includes('implicit'));
    assert.deepEqual(doc.response_types_supported, ['code']);
  });

  it('F-05: a JSON body → 400 invalid_request, and no tokens are issued', async () => {
    const { client, secret, flow } = await confidentialCode();
    const response = await server.app.inject({
      method: 'POST',
      url: '/token',
      payload: JSON.stringify({
        grant_type: 'authorization_code',
        code: flow.code,
        redirect_uri: flow.redirectUri,
        code_verifier: flow.verifier,
      }),
      headers: { 'content-type': 'application/json', authorization: basicAuth(client.id, secret!) },
    });
    assertError(response, 400, 'invalid_request');
  });

  it('F-05: a JSON body with non-string values → 400 invalid_request, never 500', async () => {
    const { client, secret } = await server.addClient();
    const response = await server.app.inject({
      method: 'POST',
      url: '/token',
      payload: JSON.stringify({ grant_type: 'authorization_code', code: { $ne: null }, code_verifier: [1] }),
      headers: { 'content-type': 'application/json', authorization: basicAuth(client.id, secret!) },
    });
    assertError(response, 400, 'invalid_request');
  });

  it('F-05: multipart/form-data, text/plain and a missing content type → 400 invalid_request', async () => {
    const { client, secret } = await server.addClient();
    const authorization = basicAuth(client.id, secret!);
    const multipart = await server.app.inject({
      method: 'POST',
      url: '/token',
      payload:
        '--xyz\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nauthorization_code\r\n--xyz--\r\n',
      headers: { 'content-type': 'multipart/form-data; boundary=xyz', authorization },
    });
    assertError(multipart, 400, 'invalid_request');
    const text = await server.app.inject({
      method: 'POST',
      url: '/token',
      payload: 'grant_type=authorization_code',
      headers: { 'content-type': 'text/plain', authorization },
    });
    assertError(text, 400, 'invalid_request');
    const bare = await server.app.inject({
      method: 'POST',
      url: '/token',
      payload: 'grant_type=authorization_code',
      headers: { authorization },
    });
    assertError(bare, 400, 'invalid_request');
  });

  it('F-06: unknown parameters are ignored', async () => {
    const { client, secret, flow } = await confidentialCode();
    const form = new URLSearchParams({
      grant_type: 'authorization_code',
      code: flow.code,
      redirect_uri: flow.redirectUri,
      code_verifier: flow.verifier,
      foo: 'bar',
      client_session_host: '127.0.0.1',
      scope: 'openid profile email offline_access admin',
    });
    const body = assertTokens(
      await postToken(form.toString(), { authorization: basicAuth(client.id, secret!) }),
    );
    assert.equal(body.scope, 'openid profile email', 'a scope parameter does not widen the grant');
  });

  for (const name of ['grant_type', 'code', 'code_verifier', 'redirect_uri', 'client_id']) {
    it(`F-06: a repeated ${name} → 400 invalid_request, and the code is not consumed`, async () => {
      const { client, secret, flow } = await confidentialCode({
        client: name === 'client_id' ? { tokenEndpointAuthMethod: 'client_secret_post' } : {},
      });
      const fields: Form = {
        grant_type: 'authorization_code',
        code: flow.code,
        redirect_uri: flow.redirectUri,
        code_verifier: flow.verifier,
      };
      const form = new URLSearchParams(fields);
      const headers: Record<string, string> = {};
      if (name === 'client_id') {
        form.set('client_id', client.id);
        form.set('client_secret', secret!);
      } else {
        headers.authorization = basicAuth(client.id, secret!);
      }
      form.append(name, form.get(name)!);
      assertError(await postToken(form.toString(), headers), 400, 'invalid_request');
      const again = new URLSearchParams(fields);
      if (name === 'client_id') {
        again.set('client_id', client.id);
        again.set('client_secret', secret!);
      }
      assertTokens(await postToken(again.toString(), headers));
    });
  }

  it('F-07: a body over 64 KB → 413 JSON error, and the server keeps answering', async () => {
    const { client, secret, flow } = await confidentialCode();
    for (const size of [64 * 1024 + 1, 1024 * 1024]) {
      const payload = `grant_type=authorization_code&padding=${'a'.repeat(size)}`;
      const response = await postToken(payload, { authorization: basicAuth(client.id, secret!) });
      assertError(response, 413, 'invalid_request');
    }
    const discovery = await server.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' });
    assert.equal(discovery.statusCode, 200);
    assertTokens(await exchangeCode(server, client, secret, flow));
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('tokens at work: ID token and userinfo (I-08, I-09, F-08)', () => {
  async function jwks(): Promise<JSONWebKeySet> {
    return (await server.app.inject({ method: 'GET', url: '/jwks' })).json();
  }

  it('I-08: the ID token is RS256 with a kid from the JWKS, verifies, and echoes a 64-char nonce', async () => {
    const nonce = randomBytes(48).toString('base64url');
    assert.equal(nonce.length, 64);
    const { user, client, secret, flow } = await confidentialCode({ flow: { nonce } });
    const body = assertTokens(await exchangeCode(server, client, secret, flow));
    assert.ok(body.id_token);

    const header = decodeProtectedHeader(body.id_token);
    assert.equal(header.alg, 'RS256');
    assert.equal(typeof header.kid, 'string');
    const keySet = await jwks();
    assert.ok(keySet.keys.some((key) => key.kid === header.kid && key.alg === 'RS256'));

    const { payload } = await jwtVerify(body.id_token, createLocalJWKSet(keySet), {
      issuer: ISSUER,
      audience: client.id,
      algorithms: ['RS256'],
      currentDate: new Date(server.clock.now()),
    });
    assert.equal(payload.nonce, nonce);
    assert.equal(payload.sub, user.id);
    assert.equal(payload.azp, client.id);
    assert.equal(payload.at_hash, accessTokenHash(body.access_token, 'RS256'));
    assert.equal(payload.iat, Math.floor(server.clock.now() / 1000));
    assert.equal(payload.exp, Math.floor(server.clock.now() / 1000) + server.config.idTokenTtl);
  });

  it('I-08: without a nonce in the request there is no nonce claim', async () => {
    const { client, secret, flow } = await confidentialCode();
    const body = assertTokens(await exchangeCode(server, client, secret, flow));
    assert.ok(body.id_token);
    assert.equal(decodeJwt(body.id_token).nonce, undefined);
  });

  it('I-08: the access token is an at+jwt signed by a published key', async () => {
    const { client, secret, flow } = await confidentialCode();
    const body = assertTokens(await exchangeCode(server, client, secret, flow));
    const header = decodeProtectedHeader(body.access_token);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, server.config.accessTokenAlg);
    const { payload } = await jwtVerify(body.access_token, createLocalJWKSet(await jwks()), {
      issuer: ISSUER,
      audience: ISSUER,
      typ: 'at+jwt',
      currentDate: new Date(server.clock.now()),
    });
    assert.equal(payload.client_id, client.id);
    assert.equal(payload.scope, 'openid profile email');
  });

  it('I-08: discovery never advertises alg none for ID tokens', async () => {
    const doc = (await server.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' })).json();
    assert.ok(doc.id_token_signing_alg_values_supported.includes('RS256'));
    assert.ok(!doc.id_token_signing_alg_values_supported.some((alg: string) => alg.toLowerCase() === 'none'));
  });

  it('I-09: userinfo answers GET and POST with the bearer header, no-store', async () => {
    const { user, client, secret, flow } = await confidentialCode();
    const body = assertTokens(await exchangeCode(server, client, secret, flow));
    const expected = {
      sub: user.id,
      name: 'Test User',
      email: user.email,
      email_verified: false,
      updated_at: Math.floor(user.updatedAt / 1000),
    };
    for (const method of ['GET', 'POST'] as const) {
      const response = await userinfo(body.access_token, method);
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json(), expected);
      assert.equal(response.headers['cache-control'], 'no-store');
    }
  });

  it('I-09: only the scopes granted release claims (openid only → sub)', async () => {
    const { user, client, secret, flow } = await confidentialCode({ flow: { scope: 'openid' } });
    const body = assertTokens(await exchangeCode(server, client, secret, flow));
    const response = await userinfo(body.access_token);
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json(), { sub: user.id });
  });

  it('I-09: a revoked access token → 401 with WWW-Authenticate: Bearer … error="invalid_token"', async () => {
    const { client, secret, flow } = await confidentialCode();
    const body = assertTokens(await exchangeCode(server, client, secret, flow));
    assert.equal((await userinfo(body.access_token)).statusCode, 200);
    const jti = decodeJwt(body.access_token).jti as string;
    const record = await server.deps.storage.accessTokens.findActive(jti, server.clock.now());
    assert.ok(record);
    await server.deps.storage.grants.revoke(record.grantId, server.clock.now());
    for (const method of ['GET', 'POST'] as const) {
      const response = await userinfo(body.access_token, method);
      assertError(response, 401, 'invalid_token');
      assert.match(String(response.headers['www-authenticate']), /^Bearer .*error="invalid_token"/);
    }
  });

  it('I-09: an expired access token → 401 with error="invalid_token"', async () => {
    const { client, secret, flow } = await confidentialCode();
    const body = assertTokens(await exchangeCode(server, client, secret, flow));
    server.clock.advance(server.config.accessTokenTtl * 1000 + 1000);
    const response = await userinfo(body.access_token);
    assertError(response, 401, 'invalid_token');
    assert.match(String(response.headers['www-authenticate']), /^Bearer .*error="invalid_token"/);
  });

  it('I-09: a tampered or foreign access token → 401 invalid_token', async () => {
    const { client, secret, flow } = await confidentialCode();
    const body = assertTokens(await exchangeCode(server, client, secret, flow));
    const [header, payload, signature] = body.access_token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url');
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    for (const token of [`${header}.${forged}.${signature}`, `${header}.${payload}.${flipped}`]) {
      const response = await userinfo(token);
      assertError(response, 401, 'invalid_token');
      assert.match(String(response.headers['www-authenticate']), /^Bearer /);
    }
    // An ID token is not an access token (typ JWT, aud = client).
    assert.ok(body.id_token);
    assertError(await userinfo(body.id_token), 401, 'invalid_token');
  });

  it('I-09: a token without the openid scope → 403 insufficient_scope', async () => {
    const { client, secret, flow } = await confidentialCode({ flow: { scope: 'profile email' } });
    const body = assertTokens(await exchangeCode(server, client, secret, flow));
    assert.equal(body.id_token, undefined);
    const response = await userinfo(body.access_token);
    assertError(response, 403, 'insufficient_scope');
    assert.match(String(response.headers['www-authenticate']), /^Bearer .*error="insufficient_scope"/);
  });

  it('I-09: no token → 401 with a challenge that carries no error code (RFC 6750 §3.1)', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/userinfo' });
    assert.equal(response.statusCode, 401);
    assert.equal(response.json().error, undefined);
    const challenge = String(response.headers['www-authenticate']);
    assert.match(
      challenge,
      /^Bearer realm="Gatehouse", resource_metadata="http:\/\/localhost:3000\/\.well-known\/oauth-protected-resource"$/,
    );
    assert.doesNotMatch(challenge, /error=/);
  });

  it('F-08: an access token in the query string is not accepted: 401 with WWW-Authenticate', async () => {
    const { client, secret, flow } = await confidentialCode();
    const body = assertTokens(await exchangeCode(server, client, secret, flow));
    const response = await server.app.inject({
      method: 'GET',
      url: `/userinfo?access_token=${encodeURIComponent(body.access_token)}`,
    });
    assert.equal(response.statusCode, 401);
    assert.match(String(response.headers['www-authenticate']), /^Bearer /);
    assert.ok(!response.body.includes('"sub"'));
    // Nor in a form body.
    const post = await server.app.inject({
      method: 'POST',
      url: '/userinfo',
      payload: new URLSearchParams({ access_token: body.access_token }).toString(),
      headers: FORM,
    });
    assert.equal(post.statusCode, 401);
    assert.ok(!post.body.includes('"sub"'));
    assert.match(String(post.headers['www-authenticate']), /^Bearer /);
    // The token itself is fine.
    assert.equal((await userinfo(body.access_token)).statusCode, 200);
  });
});
