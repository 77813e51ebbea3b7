// "Continue with …" over HTTP, on SQLite and PostgreSQL: Gatehouse (over inject) signs people in through real
// upstreams on 127.0.0.1 (node-oidc-provider, and a GitHub-style OAuth 2.0 server), which a cookie-keeping
// client drives over real HTTP. docs/security.md U-01..U-09, G-06 (upstream state bound to the browser),
// G-07 (fresh session id), A-08 (no open redirect), H-03 (the outbound guard), and the account-takeover cases
// of linking (unverified email, a second upstream account with the same email, a disabled user).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { NO_PASSWORD_HASH } from '../../src/accounts/password.ts';
import type { Client } from '../../src/storage/storage.ts';
import { Agent, csrfFrom, hiddenField, localPath, signedInAgent } from '../helpers/agent.ts';
import { authorizeUrl, exchangeCode, pkcePair, runAuthorizationFlow } from '../helpers/flow.ts';
import { freshDatabase, postgresOrSkipReason } from '../helpers/postgres.ts';
import { buildTestServer, ISSUER, type TestServer } from '../helpers/server.ts';
import {
  type RunningUpstream,
  signInUpstream,
  startOauth2Upstream,
  startOidcUpstream,
  UPSTREAM_ACR,
  UPSTREAM_AMR,
  upstreamEnvironment,
} from '../helpers/upstream-idp.ts';
import { cookieNamed } from './support.ts';

const CALLBACK = `${ISSUER}/login/federated/callback`;

const { postgres, skip: postgresSkip } = await postgresOrSkipReason();
after(async () => {
  await postgres?.stop();
});

/** A browser at Gatehouse (inject) that presses "Continue with …" and then signs in at the upstream (HTTP). */
async function continueWith(
  agent: Agent,
  provider: string,
  form: { interaction?: string; next?: string } = {},
) {
  const page = await agent.get(
    form.interaction ? `/login?interaction=${encodeURIComponent(form.interaction)}` : '/login',
  );
  const started = await agent.post(`/login/federated/${provider}`, {
    _csrf: csrfFrom(page.body),
    ...(form.interaction ? { interaction: form.interaction } : {}),
    ...(form.next ? { next: form.next } : {}),
  });
  assert.equal(started.statusCode, 303, started.body.slice(0, 300));
  return String(started.headers.location);
}

async function federatedSignIn(
  agent: Agent,
  provider: string,
  account: string | { cancel: true },
  form: { interaction?: string; next?: string } = {},
) {
  const location = await continueWith(agent, provider, form);
  const callback = await signInUpstream(location, account, CALLBACK);
  return agent.get(callback.pathname + callback.search);
}

const databases = [
  { name: 'SQLite', skip: undefined as string | undefined },
  { name: 'PostgreSQL', skip: postgresSkip },
];

for (const database of databases) {
  describe(`sign-in with an upstream identity provider (${database.name})`, { skip: database.skip }, () => {
    let server: TestServer;
    let oidc: RunningUpstream;
    let github: RunningUpstream;
    let client: Client;
    let secret: string;
    let dropDatabase: (() => Promise<void>) | undefined;

    before(async () => {
      oidc = await startOidcUpstream(CALLBACK, {
        newcomer: { email: 'newcomer@example.com', email_verified: true, name: 'Nia Newcomer' },
        alice: { email: 'alice@example.com', email_verified: true, name: 'Alice Upstream' },
        'alice-second': { email: 'alice@example.com', email_verified: true, name: 'Another Alice' },
        mallory: { email: 'victim@example.com', email_verified: false, name: 'Mallory' },
        unverified: { email: 'unverified-new@example.com', email_verified: false },
        nobody: { email: 'nobody@example.com', email_verified: true },
        disabled: { email: 'disabled@example.com', email_verified: true },
        nexter: { email: 'nexter@example.com', email_verified: true },
        planted: { email: 'planted@example.com', email_verified: true },
      });
      github = await startOauth2Upstream(CALLBACK, {
        '4242': { email: 'octo@example.com', name: 'Octo Cat' },
      });
      let databaseUrl: string | undefined;
      if (database.name === 'PostgreSQL' && postgres) {
        const fresh = await freshDatabase(postgres.url);
        databaseUrl = fresh.url;
        dropDatabase = fresh.drop;
      }
      server = await buildTestServer(upstreamEnvironment(oidc, github), { databaseUrl });
      // Independent peers check iat/exp with their own clock.
      server.clock.advance(Date.now() - server.clock.now());
      const added = await server.addClient({
        name: 'Relying App',
        tokenEndpointAuthMethod: 'client_secret_basic',
      });
      client = added.client;
      assert.ok(added.secret);
      secret = added.secret;
    });

    after(async () => {
      await server?.close();
      await oidc?.close();
      await github?.close();
      await dropDatabase?.();
    });

    /** /authorize with PKCE and a nonce; returns the parked interaction's id and the verifier. */
    async function authorize(agent: Agent) {
      const { verifier, challenge } = pkcePair();
      const response = await agent.get(
        authorizeUrl({
          response_type: 'code',
          client_id: client.id,
          redirect_uri: client.redirectUris[0],
          scope: 'openid profile email',
          state: 'client-state',
          nonce: 'client-nonce',
          code_challenge: challenge,
          code_challenge_method: 'S256',
        }),
      );
      assert.equal(response.statusCode, 303);
      const login = localPath(String(response.headers.location));
      assert.match(login, /^\/login\?interaction=/);
      return { interaction: new URL(login, ISSUER).searchParams.get('interaction') ?? '', verifier };
    }

    it('the sign-in page offers each upstream as a POST form with a CSRF token, never as a link', async () => {
      const agent = new Agent(server.app);
      const { interaction } = await authorize(agent);
      const page = await agent.get(`/login?interaction=${interaction}`);
      assert.equal(page.statusCode, 200);
      for (const [id, name] of [
        ['test-idp', 'Test IdP'],
        ['github', 'GitHub'],
      ]) {
        const form = new RegExp(
          `<form method="post" action="/login/federated/${id}">\\s*<input type="hidden" name="_csrf" value="[^"]+">\\s*<input type="hidden" name="interaction" value="${interaction}">`,
        );
        assert.match(page.body, form, id);
        assert.ok(page.body.includes(`Continue with ${name}`), name);
      }
      assert.doesNotMatch(page.body, /href="\/login\/federated/);
    });

    it('U-06 / login CSRF: starting an upstream sign-in needs the CSRF token and a same-site form post', async () => {
      const agent = new Agent(server.app);
      const page = await agent.get('/login');
      const noToken = await agent.post('/login/federated/test-idp', {});
      assert.equal(noToken.statusCode, 403);
      const crossSite = await agent.post(
        '/login/federated/test-idp',
        { _csrf: csrfFrom(page.body) },
        { 'sec-fetch-site': 'cross-site' },
      );
      assert.equal(crossSite.statusCode, 403);
      assert.equal(cookieNamed(crossSite, 'gatehouse_upstream'), undefined);
      const getRequest = await agent.get('/login/federated/test-idp');
      assert.equal(getRequest.statusCode, 404);
      const unknown = await agent.post('/login/federated/nowhere', { _csrf: csrfFrom(page.body) });
      assert.equal(unknown.statusCode, 404);
      const before = oidc.requests();
      assert.equal(oidc.requests(), before);
    });

    it('the redirect to the upstream carries state, nonce and an S256 challenge; its secrets stay sealed in the browser', async () => {
      const agent = new Agent(server.app);
      const location = new URL(await continueWith(agent, 'test-idp'));
      assert.equal(location.origin, oidc.issuer);
      const params = location.searchParams;
      assert.equal(params.get('client_id'), oidc.clientId);
      assert.equal(params.get('redirect_uri'), CALLBACK);
      assert.equal(params.get('response_type'), 'code');
      assert.equal(params.get('scope'), 'openid email profile');
      assert.equal(params.get('code_challenge_method'), 'S256');
      assert.match(params.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
      assert.match(params.get('state') ?? '', /^[A-Za-z0-9_-]{43}$/);
      assert.match(params.get('nonce') ?? '', /^[A-Za-z0-9_-]{43}$/);
      const sealed = agent.cookies.get('gatehouse_upstream') ?? '';
      assert.ok(sealed.length > 0);
      assert.ok(!sealed.includes(params.get('state') ?? '-'), 'the state is sealed, not readable');
    });

    it('U-05: a first sign-in creates the user (accounts: create) and the authorization request continues; the ID token carries the upstream amr and acr', async () => {
      const agent = new Agent(server.app);
      const { interaction, verifier } = await authorize(agent);
      const callback = await federatedSignIn(agent, 'test-idp', 'newcomer', { interaction });
      assert.equal(callback.statusCode, 303, callback.body.slice(0, 300));
      assert.equal(
        localPath(String(callback.headers.location)),
        `/authorize/resume?interaction=${interaction}`,
      );
      assert.equal(agent.cookies.has('gatehouse_upstream'), false, 'the pending sign-in is cleared');

      const user = await server.deps.storage.users.findByEmail('newcomer@example.com');
      assert.ok(user);
      assert.equal(user.emailVerified, true);
      assert.equal(user.name, 'Nia Newcomer');
      assert.equal(user.passwordHash, NO_PASSWORD_HASH);
      const links = await server.deps.storage.linkedIdentities.listForUser(user.id);
      assert.deepEqual(
        links.map((link) => [link.providerId, link.subject, link.email]),
        [['test-idp', 'newcomer', 'newcomer@example.com']],
      );
      // The security event log: the user made by the upstream sign-in, then the sign-in itself, for the client.
      const events = await server.deps.storage.securityEvents.list({ userId: user.id, limit: 10 });
      assert.deepEqual(
        events.map((event) => [event.type, event.actor, event.ip, event.clientId, event.detail]),
        [
          [
            'login_succeeded',
            { kind: 'user', id: user.id, name: 'newcomer@example.com' },
            '127.0.0.1',
            client.id,
            { method: 'upstream', provider: 'test-idp' },
          ],
          [
            'user_created_by_upstream',
            { kind: 'user', id: user.id, name: 'newcomer@example.com' },
            '127.0.0.1',
            null,
            { provider: 'test-idp' },
          ],
        ],
      );

      const resumed = await agent.get(localPath(String(callback.headers.location)));
      const consentPath = localPath(String(resumed.headers.location));
      assert.match(consentPath, /^\/consent\?/);
      const consent = await agent.get(consentPath);
      const allowed = await agent.post('/consent', {
        _csrf: csrfFrom(consent.body),
        interaction,
        action: 'allow',
      });
      const final = await agent.get(localPath(String(allowed.headers.location)));
      const landed = new URL(String(final.headers.location));
      assert.equal(landed.searchParams.get('state'), 'client-state');
      const code = landed.searchParams.get('code');
      assert.ok(code);
      const tokens = await exchangeCode(server, client, secret, {
        code,
        verifier,
        redirectUri: client.redirectUris[0]!,
      });
      assert.equal(tokens.statusCode, 200, tokens.body);
      const idToken = decodeJwt(tokens.json().id_token);
      assert.equal(idToken.sub, user.id);
      assert.equal(idToken.nonce, 'client-nonce');
      assert.deepEqual(idToken.amr, UPSTREAM_AMR);
      assert.equal(idToken.acr, UPSTREAM_ACR);
      assert.equal(idToken.email, 'newcomer@example.com');
    });

    it('a federated-only user cannot sign in with a password (NO_PASSWORD_HASH matches nothing)', async () => {
      const agent = new Agent(server.app);
      const page = await agent.get('/login');
      for (const password of ['', NO_PASSWORD_HASH, 'anything at all']) {
        const response = await agent.post('/login', {
          _csrf: csrfFrom(page.body),
          email: 'newcomer@example.com',
          password,
        });
        assert.equal(response.statusCode, 401, password);
      }
    });

    it('the second sign-in with the same upstream account is the same user, and password sign-ins carry no amr', async () => {
      const agent = new Agent(server.app);
      const response = await federatedSignIn(agent, 'test-idp', 'newcomer');
      assert.equal(response.statusCode, 303);
      assert.equal(localPath(String(response.headers.location)), '/');
      const users = await server.deps.storage.users.listPage({ limit: 500 });
      assert.equal(users.filter((user) => user.email === 'newcomer@example.com').length, 1);

      // A password sign-in's ID token says nothing about the method (unchanged for built-in users).
      const person = await server.addUser();
      const flow = await runAuthorizationFlow(server, client, person);
      const tokens = await exchangeCode(server, client, secret, flow);
      const idToken = decodeJwt(tokens.json().id_token);
      assert.equal(idToken.sub, person.id);
      assert.equal(idToken.amr, undefined);
      assert.equal(idToken.acr, undefined);
    });

    it('U-03: link-only links an existing user by an email the upstream says is verified; the password keeps working', async () => {
      const alice = await server.addUser({ email: 'alice@example.com' });
      const agent = new Agent(server.app);
      const response = await federatedSignIn(agent, 'test-idp-strict', 'alice');
      assert.equal(response.statusCode, 303, response.body.slice(0, 300));
      const links = await server.deps.storage.linkedIdentities.listForUser(alice.id);
      assert.deepEqual(
        links.map((link) => [link.providerId, link.subject]),
        [['test-idp-strict', 'alice']],
      );
      const events = await server.deps.storage.securityEvents.list(20);
      assert.ok(events.some((event) => event.type === 'identity_linked' && event.userId === alice.id));
      // The session is Alice's.
      const home = await agent.get('/');
      assert.match(home.body, /Signed in as <strong>alice@example.com<\/strong>/);
      // Built-in sign-in unchanged.
      await signedInAgent(server.app, alice);
      assert.equal((await server.deps.storage.users.findById(alice.id))?.passwordHash, alice.passwordHash);
    });

    it('U-03 takeover: a second upstream account with the same verified email cannot attach itself to the linked user', async () => {
      const alice = await server.deps.storage.users.findByEmail('alice@example.com');
      assert.ok(alice);
      const agent = new Agent(server.app);
      const response = await federatedSignIn(agent, 'test-idp-strict', 'alice-second');
      assert.equal(response.statusCode, 403);
      assert.match(response.body, /already linked to another Test IdP \(existing users\) account/);
      assert.equal(agent.cookies.has('gatehouse_session'), false);
      assert.equal(
        await server.deps.storage.linkedIdentities.find('test-idp-strict', 'alice-second'),
        undefined,
      );
    });

    it('U-03 takeover: an upstream account whose email is not verified never links to the user who has that email', async () => {
      const victim = await server.addUser({ email: 'victim@example.com' });
      for (const provider of ['test-idp', 'test-idp-strict']) {
        const agent = new Agent(server.app);
        const response = await federatedSignIn(agent, provider, 'mallory');
        assert.equal(response.statusCode, 403, provider);
        assert.match(response.body, /has not verified the email address/);
        assert.equal(agent.cookies.has('gatehouse_session'), false, provider);
      }
      assert.deepEqual(await server.deps.storage.linkedIdentities.listForUser(victim.id), []);
      const events = await server.deps.storage.securityEvents.list(50);
      assert.ok(
        events.some(
          (event) =>
            event.type === 'upstream_sign_in_refused' &&
            event.detail.reason === 'unverified_email' &&
            event.ip === '127.0.0.1',
        ),
      );
    });

    it('U-03: an unverified email creates nobody, even under accounts: create', async () => {
      const agent = new Agent(server.app);
      const response = await federatedSignIn(agent, 'test-idp', 'unverified');
      assert.equal(response.statusCode, 403);
      assert.equal(await server.deps.storage.users.findByEmail('unverified-new@example.com'), undefined);
    });

    it('U-03: link-only refuses someone with no account, and creates none', async () => {
      const agent = new Agent(server.app);
      const { interaction } = await authorize(agent);
      const response = await federatedSignIn(agent, 'test-idp-strict', 'nobody', { interaction });
      assert.equal(response.statusCode, 403);
      assert.match(response.body, /No account here uses the email address/);
      // Still the sign-in page for the same request: the user can sign in another way.
      assert.equal(hiddenField(response.body, 'interaction'), interaction);
      assert.equal(await server.deps.storage.users.findByEmail('nobody@example.com'), undefined);
    });

    it('U-04: a disabled user cannot sign in through a linked upstream account', async () => {
      const agent = new Agent(server.app);
      const first = await federatedSignIn(agent, 'test-idp', 'disabled');
      assert.equal(first.statusCode, 303);
      const user = await server.deps.storage.users.findByEmail('disabled@example.com');
      assert.ok(user);
      await server.deps.storage.users.update({ ...user, disabledAt: server.clock.now() });
      const again = new Agent(server.app);
      const response = await federatedSignIn(again, 'test-idp', 'disabled');
      assert.equal(response.statusCode, 403);
      assert.match(response.body, /This account is disabled/);
      assert.equal(again.cookies.has('gatehouse_session'), false);
    });

    it('U-08: the user cancels at the upstream (error=access_denied): the sign-in page says so, the request stays parked', async () => {
      const agent = new Agent(server.app);
      const { interaction } = await authorize(agent);
      const response = await federatedSignIn(agent, 'test-idp', { cancel: true }, { interaction });
      assert.equal(response.statusCode, 401);
      assert.match(response.body, /Signing in with Test IdP was cancelled/);
      assert.equal(hiddenField(response.body, 'interaction'), interaction);
      assert.equal(agent.cookies.has('gatehouse_session'), false);
      assert.ok(await server.deps.storage.interactions.find(interaction, server.clock.now()));
    });

    it('U-01 / G-06: a callback carrying a state minted for another browser is refused (Authlib CVE-2025-68158 / CVE-2026-41425)', async () => {
      // The attacker starts a sign-in in their own browser and stops before their callback…
      const attacker = new Agent(server.app);
      const attackerCallback = await signInUpstream(
        await continueWith(attacker, 'test-idp'),
        'newcomer',
        CALLBACK,
      );
      // …the victim has a sign-in of their own under way, or none at all.
      const victim = new Agent(server.app);
      await continueWith(victim, 'test-idp');
      const planted = await victim.get(attackerCallback.pathname + attackerCallback.search);
      assert.equal(planted.statusCode, 400);
      assert.match(planted.body, /started in another browser/);
      assert.equal(victim.cookies.has('gatehouse_session'), false);
      const stranger = new Agent(server.app);
      const noPending = await stranger.get(attackerCallback.pathname + attackerCallback.search);
      assert.equal(noPending.statusCode, 400);
      assert.equal(stranger.cookies.has('gatehouse_session'), false);
    });

    it('U-01: a tampered pending-sign-in cookie, a missing state, or a replayed callback are refused', async () => {
      const agent = new Agent(server.app);
      const callback = await signInUpstream(await continueWith(agent, 'test-idp'), 'newcomer', CALLBACK);
      const sealed = agent.cookies.get('gatehouse_upstream') ?? '';
      agent.cookies.set('gatehouse_upstream', `${sealed.slice(0, -2)}AA`);
      const tampered = await agent.get(callback.pathname + callback.search);
      assert.equal(tampered.statusCode, 400);

      const honest = new Agent(server.app);
      const good = await signInUpstream(await continueWith(honest, 'test-idp'), 'newcomer', CALLBACK);
      const withoutState = new URL(good);
      withoutState.searchParams.delete('state');
      const copy = new Agent(server.app);
      copy.cookies.set('gatehouse_upstream', honest.cookies.get('gatehouse_upstream') ?? '');
      assert.equal((await copy.get(withoutState.pathname + withoutState.search)).statusCode, 400);
      const first = await honest.get(good.pathname + good.search);
      assert.equal(first.statusCode, 303);
      honest.cookies.delete('gatehouse_session');
      const replay = await honest.get(good.pathname + good.search);
      assert.equal(replay.statusCode, 400);
      assert.equal(honest.cookies.has('gatehouse_session'), false);
    });

    it('G-07: the upstream sign-in replaces a session id planted before it', async () => {
      const agent = new Agent(server.app);
      const plantedId = 'planted-session-id-planted-session-id-000000';
      agent.cookies.set('gatehouse_session', plantedId);
      const response = await federatedSignIn(agent, 'test-idp', 'planted');
      assert.equal(response.statusCode, 303);
      const cookie = cookieNamed(response, 'gatehouse_session');
      assert.ok(cookie);
      assert.notEqual(cookie.value, plantedId);
    });

    it('A-08: after an upstream sign-in, only a same-origin next path is followed', async () => {
      for (const [next, expected] of [
        ['/account/apps', '/account/apps'],
        ['//evil.example/x', '/'],
        ['https://evil.example/', '/'],
        ['/\\evil.example', '/'],
      ] as const) {
        const agent = new Agent(server.app);
        const response = await federatedSignIn(agent, 'test-idp', 'nexter', { next });
        assert.equal(response.statusCode, 303, next);
        assert.equal(response.headers.location, expected, next);
      }
    });

    it('a GitHub-style OAuth 2.0 upstream: userinfo through the claim mapping, the numeric id as subject', async () => {
      const agent = new Agent(server.app);
      const response = await federatedSignIn(agent, 'github', '4242');
      assert.equal(response.statusCode, 303, response.body.slice(0, 300));
      const user = await server.deps.storage.users.findByEmail('octo@example.com');
      assert.ok(user);
      assert.equal(user.name, 'Octo Cat');
      assert.deepEqual(
        (await server.deps.storage.linkedIdentities.listForUser(user.id)).map((link) => [
          link.providerId,
          link.subject,
        ]),
        [['github', '4242']],
      );
    });

    it('U-09: an administrator sees a user’s linked sign-ins and unlinks one (CSRF-protected)', async () => {
      const admin = await server.addUser({ isAdmin: true });
      const agent = await signedInAgent(server.app, admin);
      const octo = await server.deps.storage.users.findByEmail('octo@example.com');
      assert.ok(octo);
      const console = await agent.get('/admin');
      assert.ok(console.body.includes(`/admin/users/${octo.id}/identities`));
      const page = await agent.get(`/admin/users/${octo.id}/identities`);
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /GitHub/);
      assert.match(page.body, /<code>4242<\/code>/);
      const noToken = await agent.post(`/admin/users/${octo.id}/identities/unlink`, {
        provider: 'github',
        subject: '4242',
      });
      assert.equal(noToken.statusCode, 403);
      const unconfirmed = await agent.post(`/admin/users/${octo.id}/identities/unlink`, {
        _csrf: csrfFrom(page.body),
        provider: 'github',
        subject: '4242',
      });
      assert.equal(unconfirmed.statusCode, 303, 'unlinked without confirmation');
      const confirmation = await agent.get(String(unconfirmed.headers.location));
      assert.match(confirmation.body, /name="subject" value="4242"/);
      const unlinked = await agent.post(`/admin/users/${octo.id}/identities/unlink`, {
        _csrf: csrfFrom(confirmation.body),
        provider: 'github',
        subject: '4242',
        confirm: 'yes',
      });
      assert.equal(unlinked.statusCode, 303);
      assert.deepEqual(await server.deps.storage.linkedIdentities.listForUser(octo.id), []);
      const events = await server.deps.storage.securityEvents.list(20);
      assert.ok(events.some((event) => event.type === 'identity_unlinked' && event.userId === octo.id));
      // A non-administrator cannot.
      const someone = await signedInAgent(server.app, await server.addUser());
      const refused = await someone.get(`/admin/users/${octo.id}/identities`);
      assert.equal(refused.statusCode, 403);
    });
  });
}

describe('an upstream that is down or not allowed (U-08, H-03)', () => {
  it('a down upstream is an error on the sign-in page; password sign-in still works', async () => {
    const server = await buildTestServer({
      GATEHOUSE_UPSTREAMS: JSON.stringify([
        {
          id: 'down',
          name: 'Down IdP',
          issuer: 'http://127.0.0.1:9',
          clientId: 'x',
          allowPrivateNetwork: true,
        },
      ]),
      GATEHOUSE_UPSTREAM_DOWN_SECRET: 'secret',
    });
    try {
      const agent = new Agent(server.app);
      const page = await agent.get('/login');
      assert.match(page.body, /Continue with Down IdP/);
      const response = await agent.post('/login/federated/down', { _csrf: csrfFrom(page.body) });
      assert.equal(response.statusCode, 502);
      assert.match(response.body, /Signing in with Down IdP is not available right now/);
      const user = await server.addUser();
      await signedInAgent(server.app, user);
    } finally {
      await server.close();
    }
  });

  it('without allowPrivateNetwork, an upstream on 127.0.0.1 is never contacted (the outbound guard)', async () => {
    const oidc = await startOidcUpstream(CALLBACK, {});
    const server = await buildTestServer({
      GATEHOUSE_UPSTREAMS: JSON.stringify([
        { id: 'local', name: 'Local', issuer: oidc.issuer.replace('http:', 'https:'), clientId: 'gatehouse' },
      ]),
      GATEHOUSE_UPSTREAM_LOCAL_SECRET: oidc.clientSecret,
    });
    try {
      const agent = new Agent(server.app);
      const page = await agent.get('/login');
      const response = await agent.post('/login/federated/local', { _csrf: csrfFrom(page.body) });
      assert.equal(response.statusCode, 502);
      assert.equal(oidc.requests(), 0);
    } finally {
      await server.close();
      await oidc.close();
    }
  });
});
