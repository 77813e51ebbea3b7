// The refresh token grant over HTTP (app.inject): docs/security.md rows E-01..E-06, E-08, E-09, E-12, E-13, D-13,
// R1c and R12, plus the rotation rule documented at the top of src/endpoints/token/grants/refresh-token.ts:
// every refresh rotates; the immediately previous token presented again inside the grace period by the same
// client with the same request gets the same successor back; anything else is reuse and revokes the family.
// Tests that move the clock a long way or need other settings build their own server.
import assert from 'node:assert/strict';
import { createSecretKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createLocalJWKSet, decodeJwt, type JSONWebKeySet, jwtVerify } from 'jose';
import {
  isWellFormedOpaqueToken,
  mintTimeOrderedToken,
  opaqueTokenFrom,
  TOKEN_PREFIX,
  timeOrderedTokenKey,
} from '../../../src/oauth/opaque-token.ts';
import { successorOf } from '../../../src/oauth/refresh-rotation.ts';
import type { Client, User } from '../../../src/storage/storage.ts';
import { randomId } from '../../../src/util/random.ts';
import { basicAuth, exchangeCode, runAuthorizationFlow } from '../../helpers/flow.ts';
import { buildTestServer, ISSUER, type TestServer } from '../../helpers/server.ts';

type TestUser = User & { email: string; password: string };
type ClientOptions = Parameters<TestServer['addClient']>[0];

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const FULL_SCOPE = 'openid profile email';
const GRACE_MS = 10_000; // GATEHOUSE_REFRESH_GRACE's default
/** RFC 6749 Appendix A.17: refresh-token = 1*VSCHAR, VSCHAR = %x20-7E. */
const VSCHAR = /^[\x20-\x7e]+$/;
/** ghr_ + issue time (9 base32hex characters) + 256 random bits + CRC32. */
const RT_FORMAT = /^ghr_[0-9a-v]{9}[A-Za-z0-9_-]{43}[A-Za-z0-9_-]{6}$/;

interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
}

interface Party {
  server: TestServer;
  user: TestUser;
  client: Client;
  secret: string | undefined;
}

interface Session extends Party {
  /** The token response of the code exchange. */
  tokens: TokenBody;
  /** Its refresh token (asserted present). */
  rt0: string;
}

let server: TestServer;

before(async () => {
  server = await buildTestServer();
});

after(async () => {
  await server.close();
});

// ---------------------------------------------------------------------------------------------------------
// Helpers

function assertTokens(response: LightMyRequestResponse): TokenBody {
  assert.equal(response.statusCode, 200, response.body);
  assert.equal(response.headers['cache-control'], 'no-store');
  const body = response.json() as TokenBody;
  assert.equal(typeof body.access_token, 'string');
  assert.equal(body.token_type, 'Bearer');
  return body;
}

/** A refresh response: 200 with a refresh token that differs from the one presented (rotation). */
function assertRotated(
  response: LightMyRequestResponse,
  presented: string,
): TokenBody & { refresh_token: string } {
  const body = assertTokens(response);
  assert.ok(body.refresh_token, `no refresh_token in ${response.body}`);
  assert.notEqual(body.refresh_token, presented, 'the refresh token was not rotated');
  assert.match(body.refresh_token, RT_FORMAT);
  return body as TokenBody & { refresh_token: string };
}

function assertError(response: LightMyRequestResponse, status: number, error: string) {
  assert.equal(response.statusCode, status, response.body);
  assert.match(String(response.headers['content-type']), /^application\/json\b/);
  const body = response.json();
  assert.equal(body.error, error, response.body);
  assert.equal(body.access_token, undefined);
  assert.equal(body.refresh_token, undefined);
  assert.equal(response.headers['cache-control'], 'no-store');
}

async function addParty(target: TestServer, client: ClientOptions = {}): Promise<Party> {
  const user = await target.addUser();
  const added = await target.addClient(client);
  return { server: target, user, client: added.client, secret: added.secret };
}

/** Runs the code flow and redeems the code; the response must carry a refresh token. */
async function signIn(party: Party, scope = FULL_SCOPE): Promise<Session> {
  const flow = await runAuthorizationFlow(party.server, party.client, party.user, { scope });
  const tokens = assertTokens(await exchangeCode(party.server, party.client, party.secret, flow));
  assert.ok(tokens.refresh_token, `the code exchange issued no refresh token: ${JSON.stringify(tokens)}`);
  return { ...party, tokens, rt0: tokens.refresh_token };
}

async function session(target = server, client: ClientOptions = {}, scope = FULL_SCOPE): Promise<Session> {
  return signIn(await addParty(target, client), scope);
}

async function publicSession(target = server): Promise<Session> {
  return session(target, {
    tokenEndpointAuthMethod: 'none',
    applicationType: 'native',
    redirectUris: ['http://127.0.0.1/cb'],
  });
}

/** POST /token grant_type=refresh_token, authenticated as `as` (the party's own client by default). */
function refresh(
  party: Pick<Party, 'server' | 'client' | 'secret'>,
  refreshToken: string,
  extra: Record<string, string> = {},
) {
  const form: Record<string, string> = { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra };
  if (party.secret === undefined) form.client_id = party.client.id;
  return party.server.app.inject({
    method: 'POST',
    url: '/token',
    payload: new URLSearchParams(form).toString(),
    headers: {
      ...FORM,
      ...(party.secret !== undefined ? { authorization: basicAuth(party.client.id, party.secret) } : {}),
    },
  });
}

function userinfo(target: TestServer, accessToken: string) {
  return target.app.inject({
    method: 'GET',
    url: '/userinfo',
    headers: { authorization: `Bearer ${accessToken}` },
  });
}

async function assertAccessTokenWorks(target: TestServer, accessToken: string, sub: string) {
  const response = await userinfo(target, accessToken);
  assert.equal(response.statusCode, 200, response.body);
  assert.equal(response.json().sub, sub);
}

async function assertAccessTokenDead(target: TestServer, accessToken: string) {
  const response = await userinfo(target, accessToken);
  assert.equal(response.statusCode, 401, `userinfo answered ${response.statusCode}: ${response.body}`);
}

/** The grant (family) id behind a live JWT access token, read from its record. */
async function grantOf(target: TestServer, accessToken: string): Promise<string> {
  const jti = decodeJwt(accessToken).jti;
  assert.ok(jti);
  const record = await target.deps.storage.accessTokens.findActive(jti, target.clock.now());
  assert.ok(record, 'the access token has no live record');
  return record.grantId;
}

async function reuseEventsFor(target: TestServer, grantId: string) {
  const events = await target.deps.storage.securityEvents.list(1000);
  return events.filter((event) => event.type === 'refresh_token_reuse' && event.grantId === grantId);
}

async function verifyJwt(target: TestServer, token: string) {
  const jwks = (await target.app.inject({ method: 'GET', url: '/jwks' })).json() as JSONWebKeySet;
  return jwtVerify(token, createLocalJWKSet(jwks), {
    issuer: ISSUER,
    audience: ISSUER,
    typ: 'at+jwt',
    currentDate: new Date(target.clock.now()),
  });
}

// ---------------------------------------------------------------------------------------------------------

describe('refresh: rotation and the grace-period replay', () => {
  it('a refresh rotates: new refresh token, a working access token, the full scope, an ID token (E-10)', async () => {
    const s = await session();
    server.clock.advance(5000);
    const body = assertRotated(await refresh(s, s.rt0), s.rt0);
    // OIDC Core §12.2 (E-10): openid was granted, so an ID token for the same sign-in, newly issued, no nonce.
    assert.ok(body.id_token, 'an ID token on refresh');
    // Signatures are checked by openid-client in e2e/openid-connect.test.ts; here, the claims.
    const original = decodeJwt(s.tokens.id_token!);
    const refreshed = decodeJwt(body.id_token);
    for (const claim of ['iss', 'sub', 'aud', 'azp', 'auth_time', 'sid'] as const) {
      assert.deepEqual(refreshed[claim], original[claim], claim);
    }
    assert.equal(refreshed.iat, (original.iat as number) + 5);
    assert.equal(refreshed.nonce, undefined);
    assert.equal(body.scope, FULL_SCOPE);
    assert.equal(body.expires_in, 600);
    assert.equal(isWellFormedOpaqueToken(body.refresh_token, TOKEN_PREFIX.refreshToken), true);
    const { payload } = await verifyJwt(server, body.access_token);
    assert.equal(payload.sub, s.user.id);
    assert.equal(payload.client_id, s.client.id);
    assert.equal(payload.scope, FULL_SCOPE);
    assert.notEqual(body.access_token, s.tokens.access_token);
    await assertAccessTokenWorks(server, body.access_token, s.user.id);
    // The successor is itself a working refresh token, and the family is one grant.
    const next = assertRotated(await refresh(s, body.refresh_token), body.refresh_token);
    assert.equal(await grantOf(server, next.access_token), await grantOf(server, s.tokens.access_token));
  });

  it('the old token replayed inside the grace period with the same request → the identical successor', async () => {
    const s = await session();
    const first = assertRotated(await refresh(s, s.rt0), s.rt0);
    server.clock.advance(3000);
    const replay = assertTokens(await refresh(s, s.rt0));
    assert.equal(
      replay.refresh_token,
      first.refresh_token,
      'a replay inside grace returns the same successor',
    );
    assert.equal(replay.scope, first.scope);
    assert.notEqual(replay.access_token, first.access_token, 'the replay gets a fresh access token');
    await assertAccessTokenWorks(server, replay.access_token, s.user.id);
    await assertAccessTokenWorks(server, first.access_token, s.user.id);
    // A third presentation, still inside grace, is the same idempotent answer; nothing was revoked.
    const again = assertTokens(await refresh(s, s.rt0));
    assert.equal(again.refresh_token, first.refresh_token);
    const grantId = await grantOf(server, first.access_token);
    assert.deepEqual(await reuseEventsFor(server, grantId), []);
    // The successor is live and rotates normally.
    assertRotated(await refresh(s, first.refresh_token), first.refresh_token);
  });

  it('a replay with the same explicit scope narrowing is the same request → the same successor', async () => {
    const s = await session();
    const first = assertRotated(await refresh(s, s.rt0, { scope: 'openid' }), s.rt0);
    assert.equal(first.scope, 'openid');
    const replay = assertTokens(await refresh(s, s.rt0, { scope: 'openid' }));
    assert.equal(replay.refresh_token, first.refresh_token);
    assert.equal(replay.scope, 'openid');
  });

  it('a replay inside grace with a different scope parameter is reuse: invalid_grant, family revoked', async () => {
    const s = await session();
    const first = assertRotated(await refresh(s, s.rt0), s.rt0);
    const grantId = await grantOf(server, first.access_token);
    assertError(await refresh(s, s.rt0, { scope: 'openid' }), 400, 'invalid_grant');
    assertError(await refresh(s, first.refresh_token), 400, 'invalid_grant');
    await assertAccessTokenDead(server, first.access_token);
    assert.ok((await reuseEventsFor(server, grantId)).length >= 1, 'a refresh_token_reuse event is recorded');
  });

  it('grace boundary: a replay exactly at the end of the grace period still gets the successor', async () => {
    const s = await session();
    const first = assertRotated(await refresh(s, s.rt0), s.rt0);
    server.clock.advance(GRACE_MS);
    const replay = assertTokens(await refresh(s, s.rt0));
    assert.equal(replay.refresh_token, first.refresh_token);
    server.clock.advance(1);
    assertError(await refresh(s, s.rt0), 400, 'invalid_grant');
    assertError(await refresh(s, first.refresh_token), 400, 'invalid_grant');
    // The access token handed out by the replay belongs to the family and dies with it.
    await assertAccessTokenDead(server, replay.access_token);
    await assertAccessTokenDead(server, first.access_token);
  });
});

describe('refresh: binding and scope (E-01..E-03, D-13)', () => {
  it("E-01: another client presenting C1's refresh token (with valid C2 credentials) → invalid_grant", async () => {
    const c1 = await session();
    const c2 = await addParty(server);
    assertError(await refresh(c2, c1.rt0), 400, 'invalid_grant');
    // Nothing changed for the real client: its token still rotates, its access token still works.
    await assertAccessTokenWorks(server, c1.tokens.access_token, c1.user.id);
    const body = assertRotated(await refresh(c1, c1.rt0), c1.rt0);
    await assertAccessTokenWorks(server, body.access_token, c1.user.id);
  });

  it("E-01: a public client presenting a confidential client's token → invalid_grant; the owner continues", async () => {
    const c1 = await session();
    const p = await publicSession();
    assertError(await refresh(p, c1.rt0), 400, 'invalid_grant');
    assertError(await refresh(c1, p.rt0), 400, 'invalid_grant');
    assertRotated(await refresh(c1, c1.rt0), c1.rt0);
    assertRotated(await refresh(p, p.rt0), p.rt0);
  });

  it('E-01: another client replaying a rotated token inside grace gets neither the successor nor a revocation', async () => {
    const c1 = await session();
    const c2 = await addParty(server);
    const first = assertRotated(await refresh(c1, c1.rt0), c1.rt0);
    const grantId = await grantOf(server, first.access_token);
    assertError(await refresh(c2, c1.rt0), 400, 'invalid_grant');
    assert.deepEqual(await reuseEventsFor(server, grantId), []);
    await assertAccessTokenWorks(server, first.access_token, c1.user.id);
    assertRotated(await refresh(c1, first.refresh_token), first.refresh_token);
  });

  it('E-02: asking for a wider scope → invalid_scope, and the refresh token is not consumed', async () => {
    const s = await session();
    assertError(await refresh(s, s.rt0, { scope: `${FULL_SCOPE} admin` }), 400, 'invalid_scope');
    assertError(await refresh(s, s.rt0, { scope: 'openid offline_access' }), 400, 'invalid_scope');
    const body = assertRotated(await refresh(s, s.rt0), s.rt0);
    assert.equal(body.scope, FULL_SCOPE);
  });

  it('E-02: a narrower scope narrows the access token; the next refresh without scope gets the full scope', async () => {
    const s = await session();
    const narrow = assertRotated(await refresh(s, s.rt0, { scope: 'openid' }), s.rt0);
    assert.equal(narrow.scope, 'openid');
    const { payload } = await verifyJwt(server, narrow.access_token);
    assert.equal(payload.scope, 'openid');
    const claims = (await userinfo(server, narrow.access_token)).json();
    assert.equal(claims.sub, s.user.id);
    assert.equal(claims.email, undefined, 'the narrowed access token does not reach the email claim');
    // The new refresh token still carries the grant's full scope.
    const stored = await server.deps.storage.refreshTokens.find(timeOrderedTokenKey(narrow.refresh_token));
    assert.equal(stored?.scope, FULL_SCOPE);
    const full = assertRotated(await refresh(s, narrow.refresh_token), narrow.refresh_token);
    assert.equal(full.scope, FULL_SCOPE);
    assert.equal((await verifyJwt(server, full.access_token)).payload.scope, FULL_SCOPE);
    assert.equal((await userinfo(server, full.access_token)).json().email, s.user.email);
    // And an explicit full scope after a narrowing is allowed too.
    assertRotated(await refresh(s, full.refresh_token, { scope: FULL_SCOPE }), full.refresh_token);
  });

  it('E-03: a public client refresh rotates the refresh token', async () => {
    const p = await publicSession();
    assert.equal(p.secret, undefined);
    const first = assertRotated(await refresh(p, p.rt0), p.rt0);
    const second = assertRotated(await refresh(p, first.refresh_token), first.refresh_token);
    assert.notEqual(second.refresh_token, p.rt0);
    await assertAccessTokenWorks(server, second.access_token, p.user.id);
  });

  it('D-13: a confidential client refreshing with client_id only → 401 invalid_client; the token survives', async () => {
    const s = await session();
    const noSecret = await server.app.inject({
      method: 'POST',
      url: '/token',
      payload: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: s.rt0,
        client_id: s.client.id,
      }).toString(),
      headers: FORM,
    });
    assertError(noSecret, 401, 'invalid_client');
    const noAuth = await server.app.inject({
      method: 'POST',
      url: '/token',
      payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: s.rt0 }).toString(),
      headers: FORM,
    });
    assertError(noAuth, 401, 'invalid_client');
    const wrongSecret = await refresh({ ...s, secret: `${s.secret}x` }, s.rt0);
    assertError(wrongSecret, 401, 'invalid_client');
    assert.match(String(wrongSecret.headers['www-authenticate']), /^Basic /);
    assertRotated(await refresh(s, s.rt0), s.rt0);
  });

  it('a client not registered for the refresh_token grant → unauthorized_client (and gets no refresh token)', async () => {
    const party = await addParty(server, { grantTypes: ['authorization_code'] });
    const flow = await runAuthorizationFlow(server, party.client, party.user);
    const tokens = assertTokens(await exchangeCode(server, party.client, party.secret, flow));
    assert.equal(tokens.refresh_token, undefined);
    // Another client's live refresh token, or a well-formed unknown one: refused before any lookup.
    const other = await session();
    assertError(await refresh(party, other.rt0), 400, 'unauthorized_client');
    assertError(
      await refresh(party, mintTimeOrderedToken(TOKEN_PREFIX.refreshToken, Date.now())),
      400,
      'unauthorized_client',
    );
    assertRotated(await refresh(other, other.rt0), other.rt0);
  });
});

describe('refresh: the grant remembers when it was last used (connected apps)', () => {
  it('a refresh records its time on the grant, at most once a minute', async () => {
    const target = await buildTestServer();
    try {
      const party = await session(target);
      const grantId = await grantOf(target, party.tokens.access_token);
      const { grants } = target.deps.storage;
      assert.equal((await grants.find(grantId))?.lastUsedAt, null, 'the code exchange alone');
      const first = target.clock.now();
      const rt1 = assertRotated(await refresh(party, party.rt0), party.rt0).refresh_token;
      assert.equal((await grants.find(grantId))?.lastUsedAt, first);
      target.clock.advance(30_000);
      const rt2 = assertRotated(await refresh(party, rt1), rt1).refresh_token;
      assert.equal((await grants.find(grantId))?.lastUsedAt, first, 'within the minute: not written again');
      target.clock.advance(31_000);
      assertRotated(await refresh(party, rt2), rt2);
      assert.equal((await grants.find(grantId))?.lastUsedAt, target.clock.now());
      const lastUsed = await grants.lastUsedByClient(party.user.id);
      assert.equal(lastUsed.get(party.client.id), target.clock.now());
    } finally {
      await target.close();
    }
  });
});

describe('refresh: the user behind the token', () => {
  it('a disabled user: refresh → invalid_grant and introspection says inactive; enabled again, both work', async () => {
    const party = await session();
    const { storage } = party.server.deps;
    const introspect = () =>
      party.server.app.inject({
        method: 'POST',
        url: '/introspect',
        payload: new URLSearchParams({ token: party.rt0 }).toString(),
        headers: { ...FORM, authorization: basicAuth(party.client.id, party.secret ?? '') },
      });
    assert.equal((await introspect()).json().active, true);
    const user = await storage.users.findById(party.user.id);
    assert.ok(user);
    await storage.users.update({ ...user, disabledAt: party.server.clock.now() });
    assertError(await refresh(party, party.rt0), 400, 'invalid_grant');
    assert.deepEqual((await introspect()).json(), { active: false });
    await storage.users.update({ ...user, disabledAt: null });
    assert.equal((await introspect()).json().active, true, 'the failed refresh did not consume the token');
    assertRotated(await refresh(party, party.rt0), party.rt0);
  });
});

describe('refresh: reuse detection (E-04, E-05/R1c, strict mode)', () => {
  it('E-04: reuse after the grace period revokes the family and records a security event', async () => {
    const s = await session();
    const grantId = await grantOf(server, s.tokens.access_token);
    const first = assertRotated(await refresh(s, s.rt0), s.rt0);
    await assertAccessTokenWorks(server, first.access_token, s.user.id);
    server.clock.advance(GRACE_MS + 1000);
    assertError(await refresh(s, s.rt0), 400, 'invalid_grant');
    assertError(await refresh(s, first.refresh_token), 400, 'invalid_grant');
    await assertAccessTokenDead(server, first.access_token);
    await assertAccessTokenDead(server, s.tokens.access_token);
    const events = await reuseEventsFor(server, grantId);
    assert.ok(events.length >= 1, 'no refresh_token_reuse event for the family');
    assert.equal(events[0]?.clientId, s.client.id);
    assert.equal(events[0]?.userId, s.user.id);
    const grant = await server.deps.storage.grants.find(grantId);
    assert.equal(typeof grant?.revokedAt, 'number', 'the grant is revoked');
  });

  it('E-05/R1c: RT0→RT1→RT2 inside grace; RT0 → invalid_grant and the whole family is revoked', async () => {
    const s = await session();
    const one = assertRotated(await refresh(s, s.rt0), s.rt0);
    const two = assertRotated(await refresh(s, one.refresh_token), one.refresh_token);
    const grantId = await grantOf(server, two.access_token);
    // The immediate predecessor of the live token is covered by the grace period...
    assert.equal(assertTokens(await refresh(s, one.refresh_token)).refresh_token, two.refresh_token);
    // ...a token two generations old is not.
    assertError(await refresh(s, s.rt0), 400, 'invalid_grant');
    assertError(await refresh(s, two.refresh_token), 400, 'invalid_grant');
    assertError(await refresh(s, one.refresh_token), 400, 'invalid_grant');
    await assertAccessTokenDead(server, two.access_token);
    await assertAccessTokenDead(server, one.access_token);
    assert.ok((await reuseEventsFor(server, grantId)).length >= 1);
  });

  it('strict mode (GATEHOUSE_REFRESH_GRACE=0): the old token presented again at once → family revoked', async () => {
    const strict = await buildTestServer({ GATEHOUSE_REFRESH_GRACE: '0' });
    try {
      const s = await session(strict);
      const grantId = await grantOf(strict, s.tokens.access_token);
      const first = assertRotated(await refresh(s, s.rt0), s.rt0);
      assertError(await refresh(s, s.rt0), 400, 'invalid_grant');
      assertError(await refresh(s, first.refresh_token), 400, 'invalid_grant');
      await assertAccessTokenDead(strict, first.access_token);
      assert.ok((await reuseEventsFor(strict, grantId)).length >= 1);
    } finally {
      await strict.close();
    }
  });
});

describe('refresh: lifetimes (E-06, E-08, E-09)', () => {
  it('E-06: an expired refresh token fails even inside the grace period', async () => {
    const short = await buildTestServer({ GATEHOUSE_REFRESH_TOKEN_TTL: '60' });
    try {
      const s = await session(short);
      short.clock.advance(55_000);
      const first = assertRotated(await refresh(s, s.rt0), s.rt0);
      // 61 s after issue, 6 s after the rotation: inside the grace period, past the lifetime.
      short.clock.advance(6000);
      assertError(await refresh(s, s.rt0), 400, 'invalid_grant');
      // The successor shares the family's absolute end, so it is past its lifetime too.
      assertError(await refresh(s, first.refresh_token), 400, 'invalid_grant');
    } finally {
      await short.close();
    }
  });

  it('E-08: a refresh token unused for longer than the idle TTL dies', async () => {
    const idle = await buildTestServer({ GATEHOUSE_REFRESH_TOKEN_IDLE_TTL: '300' });
    try {
      const s = await session(idle);
      idle.clock.advance(6 * 60_000);
      assertError(await refresh(s, s.rt0), 400, 'invalid_grant');
    } finally {
      await idle.close();
    }
  });

  it('E-08: refreshing every 4 minutes keeps it alive well past the idle TTL; then 6 minutes idle kills it', async () => {
    const idle = await buildTestServer({ GATEHOUSE_REFRESH_TOKEN_IDLE_TTL: '300' });
    try {
      const s = await session(idle);
      let current = s.rt0;
      for (let round = 1; round <= 6; round++) {
        idle.clock.advance(4 * 60_000);
        current = assertRotated(await refresh(s, current), current).refresh_token;
      }
      idle.clock.advance(6 * 60_000);
      assertError(await refresh(s, current), 400, 'invalid_grant');
    } finally {
      await idle.close();
    }
  });

  it('E-09: the absolute lifetime does not move with rotation', async () => {
    const capped = await buildTestServer({ GATEHOUSE_REFRESH_TOKEN_TTL: '600' });
    try {
      const s = await session(capped);
      const rt0 = await capped.deps.storage.refreshTokens.find(timeOrderedTokenKey(s.rt0));
      assert.ok(rt0);
      assert.equal(rt0.expiresAt, capped.clock.now() + 600_000);
      let current = s.rt0;
      for (let minute = 1; minute <= 9; minute++) {
        capped.clock.advance(60_000);
        current = assertRotated(await refresh(s, current), current).refresh_token;
        const stored = await capped.deps.storage.refreshTokens.find(timeOrderedTokenKey(current));
        assert.equal(stored?.expiresAt, rt0.expiresAt, `rotation ${minute} moved the absolute end`);
      }
      capped.clock.advance(60_000); // 10 min after the code exchange
      assertError(await refresh(s, current), 400, 'invalid_grant');
    } finally {
      await capped.close();
    }
  });
});

describe('refresh: token format (E-12, E-13)', () => {
  it('E-12: tampered refresh tokens → 400 invalid_grant, never 500; the real token is untouched', async () => {
    const s = await session();
    const rt = s.rt0;
    const flip = (value: string, index: number) =>
      value.slice(0, index) + (value[index] === 'A' ? 'B' : 'A') + value.slice(index + 1);
    const body = rt.slice(TOKEN_PREFIX.refreshToken.length, -6);
    const tampered: Record<string, string> = {
      'one body character flipped': flip(rt, 10),
      'the first body character flipped': flip(rt, TOKEN_PREFIX.refreshToken.length),
      'one checksum character flipped': flip(rt, rt.length - 1),
      'one character flipped, checksum recomputed': opaqueTokenFrom(TOKEN_PREFIX.refreshToken, flip(body, 5)),
      'the prefix changed': `ghx_${rt.slice(4)}`,
      'an access-token prefix with a valid checksum': opaqueTokenFrom(TOKEN_PREFIX.accessToken, body),
      'truncated by one': rt.slice(0, -1),
      'truncated to half': rt.slice(0, rt.length / 2),
      'the prefix only': TOKEN_PREFIX.refreshToken,
      'with "." appended': `${rt}.`,
      'with "A" appended': `${rt}A`,
      'with a space appended': `${rt} `,
      'in upper case': rt.toUpperCase(),
      '10 KB': `${TOKEN_PREFIX.refreshToken}${'A'.repeat(10 * 1024)}`,
      '10 KB built from the real token': rt.repeat(Math.ceil(10_240 / rt.length)),
      'non-ASCII': `${rt.slice(0, 20)}é${rt.slice(21)}`,
      'a NUL byte': `${rt.slice(0, 20)}\u0000${rt.slice(21)}`,
      'a well-formed unknown token': mintTimeOrderedToken(TOKEN_PREFIX.refreshToken, Date.now()),
      'the access token': s.tokens.access_token,
    };
    for (const [label, value] of Object.entries(tampered)) {
      assert.notEqual(value, rt, label);
      const response = await refresh(s, value);
      assert.ok(response.statusCode < 500, `${label}: ${response.statusCode} ${response.body}`);
      // A control character makes the request malformed: refused as it is parsed (issue 12 item 3).
      assertError(response, 400, label === 'a NUL byte' ? 'invalid_request' : 'invalid_grant');
    }
    const empty = await refresh(s, '');
    assert.equal(empty.statusCode, 400, empty.body);
    assert.ok(['invalid_request', 'invalid_grant'].includes(empty.json().error), empty.body);
    // None of this was reuse of the real token: it still rotates, and no event was recorded.
    const grantId = await grantOf(server, s.tokens.access_token);
    assertRotated(await refresh(s, rt), rt);
    assert.deepEqual(await reuseEventsFor(server, grantId), []);
  });

  it('E-13: 1,000 minted refresh tokens are distinct, VSCHAR only, 256 random bits with no positional structure', () => {
    const issuedAt = Date.now();
    const tokens = Array.from({ length: 1000 }, () =>
      mintTimeOrderedToken(TOKEN_PREFIX.refreshToken, issuedAt),
    );
    assert.equal(new Set(tokens).size, 1000);
    const bodies = tokens.map((token) => {
      assert.match(token, VSCHAR);
      assert.match(token, RT_FORMAT);
      assert.ok(isWellFormedOpaqueToken(token, TOKEN_PREFIX.refreshToken));
      // The 9 characters after the prefix are the issue time, not secret; the entropy is in the rest.
      assert.equal(Number.parseInt(token.slice(4, 13), 32), issuedAt);
      return token.slice(TOKEN_PREFIX.refreshToken.length + 9, -6);
    });
    for (const body of bodies) assert.equal(Buffer.from(body, 'base64url').length, 32);
    // No shared 8-character prefix (48 bits): a counter or timestamp prefix would show up here.
    assert.equal(new Set(bodies.map((body) => body.slice(0, 8))).size, 1000);
    for (let position = 0; position < 42; position++) {
      const symbols = new Set(bodies.map((body) => body[position]));
      assert.ok(symbols.size >= 50, `position ${position} shows only ${symbols.size} symbols`);
    }
  });

  it('E-13: 1,000 rotation successors are distinct and have the same format; successors differ per key', () => {
    const parents = Array.from({ length: 1000 }, () => randomId());
    const rotatedAt = Date.now();
    const successors = parents.map((id) => successorOf(server.deps.rotationKey, id, rotatedAt));
    assert.equal(new Set(successors).size, 1000);
    for (const token of successors) {
      assert.match(token, RT_FORMAT);
      assert.ok(isWellFormedOpaqueToken(token, TOKEN_PREFIX.refreshToken));
    }
    const bodies = successors.map((token) => token.slice(13, -6));
    for (let position = 0; position < 42; position++) {
      const symbols = new Set(bodies.map((body) => body[position]));
      assert.ok(symbols.size >= 50, `position ${position} shows only ${symbols.size} symbols`);
    }
    const otherKey = createSecretKey(Buffer.alloc(32, 7));
    assert.notEqual(successorOf(otherKey, parents[0]!, rotatedAt), successors[0]);
    // The same parent and rotation time give the same successor (a replay in the grace period relies on it).
    assert.equal(successorOf(server.deps.rotationKey, parents[0]!, rotatedAt), successors[0]);
  });

  it('E-13: refresh tokens from real rotations are distinct and well formed', async () => {
    const s = await session();
    const seen = new Set([s.rt0]);
    let current = s.rt0;
    for (let i = 0; i < 20; i++) {
      current = assertRotated(await refresh(s, current), current).refresh_token;
      assert.match(current, VSCHAR);
      seen.add(current);
    }
    assert.equal(seen.size, 21);
  });
});

describe('refresh: settings', () => {
  it('GATEHOUSE_REQUIRE_OFFLINE_ACCESS=true: no refresh token unless offline_access was granted', async () => {
    const oidc = await buildTestServer({ GATEHOUSE_REQUIRE_OFFLINE_ACCESS: 'true' });
    try {
      const party = await addParty(oidc);
      const flow = await runAuthorizationFlow(oidc, party.client, party.user, { scope: FULL_SCOPE });
      const without = assertTokens(await exchangeCode(oidc, party.client, party.secret, flow));
      assert.equal(without.refresh_token, undefined);
      const s = await signIn(party, 'openid offline_access');
      const body = assertRotated(await refresh(s, s.rt0), s.rt0);
      assert.equal(body.scope, 'openid offline_access');
      // Narrowing the access token away from offline_access does not cost the refresh token.
      const narrow = assertRotated(
        await refresh(s, body.refresh_token, { scope: 'openid' }),
        body.refresh_token,
      );
      assertRotated(await refresh(s, narrow.refresh_token), narrow.refresh_token);
    } finally {
      await oidc.close();
    }
  });

  it('the default (MCP-friendly) setting issues a refresh token without offline_access', async () => {
    const s = await session(server, {}, 'openid');
    assert.equal(s.tokens.scope, 'openid');
  });

  it('GATEHOUSE_ACCESS_TOKEN_FORMAT=opaque: refreshed access tokens are opaque gha_ tokens with a record', async () => {
    const opaque = await buildTestServer({
      GATEHOUSE_ACCESS_TOKEN_FORMAT: 'opaque',
      GATEHOUSE_REFRESH_GRACE: '0',
    });
    try {
      const s = await session(opaque);
      assert.ok(s.tokens.access_token.startsWith(TOKEN_PREFIX.accessToken), s.tokens.access_token);
      const body = assertRotated(await refresh(s, s.rt0), s.rt0);
      assert.ok(body.access_token.startsWith(TOKEN_PREFIX.accessToken), body.access_token);
      assert.ok(isWellFormedOpaqueToken(body.access_token, TOKEN_PREFIX.accessToken));
      assert.equal(body.scope, FULL_SCOPE);
      const record = await opaque.deps.storage.accessTokens.findActive(
        timeOrderedTokenKey(body.access_token),
        opaque.clock.now(),
      );
      assert.ok(record, 'the opaque access token has a live record');
      assert.equal(record.clientId, s.client.id);
      assert.equal(record.userId, s.user.id);
      assert.equal(record.scope, FULL_SCOPE);
      // Reuse revokes the opaque access tokens of the family too.
      assertError(await refresh(s, s.rt0), 400, 'invalid_grant');
      assert.equal(
        await opaque.deps.storage.accessTokens.findActive(
          timeOrderedTokenKey(body.access_token),
          opaque.clock.now(),
        ),
        undefined,
      );
    } finally {
      await opaque.close();
    }
  });
});

describe('refresh: resource indicators (RFC 8707)', () => {
  it('a refresh keeps the authorized resource and its token format; another resource → invalid_target', async () => {
    const api = 'https://api.example/v1';
    const withApi = await buildTestServer({
      GATEHOUSE_RESOURCES: JSON.stringify([{ uri: api, format: 'opaque' }]),
    });
    try {
      const party = await addParty(withApi, { allowedResources: [api] });
      const flow = await runAuthorizationFlow(withApi, party.client, party.user, {
        scope: FULL_SCOPE,
        extra: { resource: api },
      });
      const tokens = assertTokens(await exchangeCode(withApi, party.client, party.secret, flow));
      assert.ok(tokens.access_token.startsWith(TOKEN_PREFIX.accessToken), tokens.access_token);
      assert.ok(tokens.refresh_token);
      const s: Session = { ...party, tokens, rt0: tokens.refresh_token };
      assertError(await refresh(s, s.rt0, { resource: 'https://api.example/other' }), 400, 'invalid_target');
      assertError(await refresh(s, s.rt0, { resource: ISSUER }), 400, 'invalid_target');
      const body = assertRotated(await refresh(s, s.rt0), s.rt0);
      assert.ok(body.access_token.startsWith(TOKEN_PREFIX.accessToken), body.access_token);
      const record = await withApi.deps.storage.accessTokens.findActive(
        timeOrderedTokenKey(body.access_token),
        withApi.clock.now(),
      );
      assert.equal(record?.audience, api);
      const again = assertRotated(
        await refresh(s, body.refresh_token, { resource: api }),
        body.refresh_token,
      );
      const next = await withApi.deps.storage.accessTokens.findActive(
        timeOrderedTokenKey(again.access_token),
        withApi.clock.now(),
      );
      assert.equal(next?.audience, api);
    } finally {
      await withApi.close();
    }
  });

  it('without a resource, the issuer is the audience; naming it explicitly is the same resource', async () => {
    const s = await session();
    assertError(await refresh(s, s.rt0, { resource: 'https://api.example/v1' }), 400, 'invalid_target');
    const body = assertRotated(await refresh(s, s.rt0, { resource: ISSUER }), s.rt0);
    assert.equal((await verifyJwt(server, body.access_token)).payload.aud, ISSUER);
  });
});

describe('refresh: restart persistence (R12)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-refresh-r12-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function rotateThenRestart(file: string) {
    const databaseUrl = `sqlite:${path.join(dir, file)}`;
    const first = await buildTestServer({}, { databaseUrl });
    let s: Session;
    let rotated: TokenBody & { refresh_token: string };
    try {
      s = await session(first);
      rotated = assertRotated(await refresh(s, s.rt0), s.rt0);
    } finally {
      await first.close();
    }
    const second = await buildTestServer({}, { databaseUrl });
    // The new process's clock starts where the first one's did: the rotation happened "now".
    return { s: { ...s, server: second }, rotated, second };
  }

  it('R12: after a restart, RT0 replayed after the grace period → invalid_grant and the family is revoked', async () => {
    const { s, rotated, second } = await rotateThenRestart('after-grace.db');
    try {
      second.clock.advance(GRACE_MS + 1000);
      const grantId = await grantOf(second, rotated.access_token);
      assertError(await refresh(s, s.rt0), 400, 'invalid_grant');
      assertError(await refresh(s, rotated.refresh_token), 400, 'invalid_grant');
      await assertAccessTokenDead(second, rotated.access_token);
      assert.ok((await reuseEventsFor(second, grantId)).length >= 1);
    } finally {
      await second.close();
    }
  });

  it('R12: after a restart inside the grace period, RT0 still gets the same successor (no state in memory)', async () => {
    const { s, rotated, second } = await rotateThenRestart('inside-grace.db');
    try {
      second.clock.advance(2000);
      const replay = assertTokens(await refresh(s, s.rt0));
      assert.equal(replay.refresh_token, rotated.refresh_token);
      await assertAccessTokenWorks(second, replay.access_token, s.user.id);
      assertRotated(await refresh(s, rotated.refresh_token), rotated.refresh_token);
    } finally {
      await second.close();
    }
  });

  it('R12: a used refresh token stays used across a restart in strict mode', async () => {
    const databaseUrl = `sqlite:${path.join(dir, 'strict.db')}`;
    const first = await buildTestServer({ GATEHOUSE_REFRESH_GRACE: '0' }, { databaseUrl });
    let s: Session;
    let rotated: TokenBody & { refresh_token: string };
    try {
      s = await session(first);
      rotated = assertRotated(await refresh(s, s.rt0), s.rt0);
    } finally {
      await first.close();
    }
    const second = await buildTestServer({ GATEHOUSE_REFRESH_GRACE: '0' }, { databaseUrl });
    try {
      const again = { ...s, server: second };
      assertError(await refresh(again, s.rt0), 400, 'invalid_grant');
      assertError(await refresh(again, rotated.refresh_token), 400, 'invalid_grant');
    } finally {
      await second.close();
    }
  });
});
