// The operations layer (src/applications/, src/accounts/users.ts), called directly as the console, the admin
// API and the CLI call it: each operation does what it says to the tokens that exist, refuses what does not
// apply with a conflict and writes nothing then, and records one security event naming who acted. Tokens are
// obtained and checked over HTTP; the operations themselves run without it. On SQLite and on PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createUser,
  deleteUser,
  disableUser,
  enableUser,
  resetPassword,
  revokeUserTokens,
  UserInputError,
} from '../../src/accounts/users.ts';
import {
  approveClient,
  approveClientChanges,
  approveClientScopes,
  deleteClient,
  disableClient,
  enableClient,
  rejectClient,
  rejectClientChanges,
  revokeClientTokens,
  rotateClientSecret,
} from '../../src/applications/clients.ts';
import { issueRegistrationToken } from '../../src/applications/registration-tokens.ts';
import { reviewFingerprint } from '../../src/oauth/client-review.ts';
import type { Acting } from '../../src/oauth/security-events.ts';
import type { Client, SecurityEvent } from '../../src/storage/storage.ts';
import { Agent, csrfFrom } from '../helpers/agent.ts';
import { basicAuth, exchangeCode, runAuthorizationFlow } from '../helpers/flow.ts';
import { onEachDatabase } from '../helpers/postgres.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

await onEachDatabase('operations', (database, databaseUrl) => {
  describe(`operations on ${database}`, () => {
    let server: TestServer;
    let admin: Awaited<ReturnType<TestServer['addUser']>>;
    let by: Acting;
    before(async () => {
      server = await buildTestServer({}, { databaseUrl: await databaseUrl() });
      admin = await server.addUser({ isAdmin: true });
      by = { actor: { kind: 'user', id: admin.id, name: admin.email }, ip: '203.0.113.9' };
    });
    after(() => server?.close());

    const now = () => server.clock.now();
    const storage = () => server.deps.storage;

    /** The events of `type` recorded since `since` (the test clock moves only when a test moves it). */
    async function eventsOf(type: string, subject: { clientId?: string; userId?: string }) {
      const events = await storage().securityEvents.list(500);
      return events.filter(
        (event: SecurityEvent) =>
          event.type === type &&
          (subject.clientId === undefined || event.clientId === subject.clientId) &&
          (subject.userId === undefined || event.userId === subject.userId),
      );
    }

    function assertActor(event: SecurityEvent | undefined) {
      assert.ok(event, 'the event was recorded');
      assert.deepEqual(event.actor, by.actor);
      assert.equal(event.ip, by.ip);
    }

    async function confidentialApp(overrides: Partial<Parameters<TestServer['addClient']>[0]> = {}) {
      const { client, secret } = await server.addClient({ name: `App ${Math.random()}`, ...overrides });
      assert.ok(secret);
      return { client, secret };
    }

    async function userTokens(app: { client: Client; secret: string }, user = admin, agent?: Agent) {
      const flow = await runAuthorizationFlow(server, app.client, user, {
        scope: 'openid offline_access',
        agent,
      });
      const response = await exchangeCode(server, app.client, app.secret, flow);
      assert.equal(response.statusCode, 200, response.body);
      return response.json() as { access_token: string; refresh_token: string };
    }

    async function introspect(app: { client: Client; secret: string }, token: string): Promise<boolean> {
      const response = await server.app.inject({
        method: 'POST',
        url: '/introspect',
        payload: new URLSearchParams({ token }).toString(),
        headers: { ...FORM, authorization: basicAuth(app.client.id, app.secret) },
      });
      assert.equal(response.statusCode, 200, response.body);
      return response.json().active as boolean;
    }

    async function clientCredentials(clientId: string, secret: string) {
      return server.app.inject({
        method: 'POST',
        url: '/token',
        payload: 'grant_type=client_credentials',
        headers: { ...FORM, authorization: basicAuth(clientId, secret) },
      });
    }

    it('disable stops the client’s tokens at once and records client_disable; enable brings them back', async () => {
      const app = await confidentialApp();
      const tokens = await userTokens(app);
      assert.equal(await introspect(app, tokens.access_token), true);

      const disabled = await disableClient(storage(), now(), app.client.id, by);
      assert.equal(disabled.status, 'ok');
      // The disabled client cannot introspect; a resource server sees the token inactive.
      const resource = await confidentialApp({ resourceServer: true });
      assert.equal(await introspect(resource, tokens.access_token), false);
      assertActor((await eventsOf('client_disable', { clientId: app.client.id }))[0]);

      const again = await disableClient(storage(), now(), app.client.id, by);
      assert.equal(again.status, 'unchanged');
      assert.equal((await eventsOf('client_disable', { clientId: app.client.id })).length, 1);

      assert.equal((await enableClient(storage(), now(), app.client.id, by)).status, 'ok');
      assert.equal(await introspect(resource, tokens.access_token), true);
      assertActor((await eventsOf('client_enable', { clientId: app.client.id }))[0]);
    });

    it('revoking a client’s tokens ends every user’s grant at that client only; the client stays', async () => {
      const app = await confidentialApp();
      const other = await confidentialApp();
      const user = await server.addUser();
      const [mine, theirs] = [await userTokens(app), await userTokens(app, user)];
      const elsewhere = await userTokens(other);

      const outcome = await revokeClientTokens(storage(), now(), app.client.id, by);
      assert.equal(outcome.status, 'ok');
      assert.equal(outcome.status === 'ok' && outcome.revokedGrants, 2);
      assert.equal(await introspect(app, mine.access_token), false);
      assert.equal(await introspect(app, theirs.access_token), false);
      assert.equal(await introspect(other, elsewhere.access_token), true);
      assert.ok(await storage().clients.find(app.client.id), 'the client is still registered');
      const refreshed = await server.app.inject({
        method: 'POST',
        url: '/token',
        payload: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: mine.refresh_token,
        }).toString(),
        headers: { ...FORM, authorization: basicAuth(app.client.id, app.secret) },
      });
      assert.equal(refreshed.json().error, 'invalid_grant');
      assertActor((await eventsOf('client_tokens_revoked', { clientId: app.client.id }))[0]);
    });

    it('rotating a secret: the new one works, the old one for the overlap only; 0 stops the old at once', async () => {
      const app = await confidentialApp({ grantTypes: ['client_credentials'], registeredVia: 'cli' });
      const rotated = await rotateClientSecret(storage(), now(), app.client.id, by, 60);
      assert.equal(rotated.status, 'ok');
      const newSecret = rotated.status === 'ok' ? rotated.secret : '';
      assert.match(newSecret, /^ghs_/);
      assert.equal((await clientCredentials(app.client.id, newSecret)).statusCode, 200);
      assert.equal((await clientCredentials(app.client.id, app.secret)).statusCode, 200);
      server.clock.advance(61_000);
      assert.equal((await clientCredentials(app.client.id, app.secret)).statusCode, 401);
      const event = (await eventsOf('client_secret_rotated', { clientId: app.client.id }))[0];
      assertActor(event);
      assert.ok(!JSON.stringify(event).includes(newSecret), 'the event does not hold the secret');

      const leaked = await rotateClientSecret(storage(), now(), app.client.id, by, 0);
      assert.equal(leaked.status, 'ok');
      assert.equal((await clientCredentials(app.client.id, newSecret)).statusCode, 401);

      assert.throws(
        () => rotateClientSecret(storage(), now(), app.client.id, by, -1),
        (error: unknown) => error instanceof UserInputError,
      );
      const { client: spa } = await server.addClient({ tokenEndpointAuthMethod: 'none' });
      const refused = await rotateClientSecret(storage(), now(), spa.id, by, 60);
      assert.equal(refused.status, 'conflict');
      assert.equal((await eventsOf('client_secret_rotated', { clientId: spa.id })).length, 0);
    });

    it('approve with a stale fingerprint is a conflict and writes nothing; with the shown one it approves', async () => {
      const { client } = await server.addClient({ status: 'pending', registeredVia: 'dcr' });
      const seen = reviewFingerprint(client);
      await storage().clients.update({ ...client, name: 'Renamed meanwhile' });
      const stale = await approveClient(storage(), now(), client.id, by, seen);
      assert.equal(stale.status, 'conflict');
      assert.equal((await storage().clients.find(client.id))?.status, 'pending');
      assert.equal((await eventsOf('client_approve', { clientId: client.id })).length, 0);

      const current = (await storage().clients.find(client.id))!;
      const approved = await approveClient(storage(), now(), client.id, by, reviewFingerprint(current));
      assert.equal(approved.status, 'ok');
      assert.equal((await storage().clients.find(client.id))?.status, 'active');
      assertActor((await eventsOf('client_approve', { clientId: client.id }))[0]);
      assert.equal((await approveClient(storage(), now(), client.id, by)).status, 'unchanged');
    });

    it('changes: approving with none waiting is a conflict; approve applies, reject drops', async () => {
      const { client } = await server.addClient({ registeredVia: 'dcr' });
      assert.equal((await approveClientChanges(storage(), now(), client.id, by)).status, 'conflict');
      const proposed = {
        ...client,
        pendingChanges: {
          name: 'New name',
          redirectUris: ['https://rp.example/new'],
          grantTypes: [...client.grantTypes],
          scope: client.scope,
          requestedScope: client.requestedScope,
          allowedResources: [...client.allowedResources],
          tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
          applicationType: client.applicationType,
          allowedCorsOrigins: [...client.allowedCorsOrigins],
          metadata: { ...client.metadata },
          proposedAt: now(),
        },
      };
      await storage().clients.update(proposed);
      assert.equal((await rejectClientChanges(storage(), now(), client.id, by)).status, 'ok');
      assert.equal((await storage().clients.find(client.id))?.redirectUris[0], 'https://rp.example/cb');
      await storage().clients.update(proposed);
      const approved = await approveClientChanges(storage(), now(), client.id, by);
      assert.equal(approved.status, 'ok');
      const stored = await storage().clients.find(client.id);
      assert.deepEqual([stored?.name, stored?.redirectUris], ['New name', ['https://rp.example/new']]);
      const event = (await eventsOf('client_approve_changes', { clientId: client.id }))[0];
      assertActor(event);
      assert.deepEqual(event?.detail.fields, ['client_name', 'redirect_uris']);
    });

    it('reject applies to a pending registration only; scopes asked for are granted on approval', async () => {
      const { client: active } = await server.addClient({ registeredVia: 'dcr' });
      assert.equal((await rejectClient(storage(), now(), active.id, by)).status, 'conflict');
      assert.ok(await storage().clients.find(active.id));
      const { client: pending } = await server.addClient({ status: 'pending', registeredVia: 'dcr' });
      assert.equal((await rejectClient(storage(), now(), pending.id, by)).status, 'ok');
      assert.equal(await storage().clients.find(pending.id), undefined);
      assertActor((await eventsOf('client_reject', { clientId: pending.id }))[0]);

      await storage().clients.update({ ...active, scope: 'openid', requestedScope: 'email' });
      assert.equal((await approveClientScopes(storage(), now(), active.id, by)).status, 'ok');
      const stored = await storage().clients.find(active.id);
      assert.deepEqual([stored?.scope, stored?.requestedScope], ['openid email', '']);
      assert.equal((await approveClientScopes(storage(), now(), active.id, by)).status, 'conflict');
    });

    it('delete revokes every token of the client and records client_delete with its name', async () => {
      const app = await confidentialApp();
      const resource = await confidentialApp({ resourceServer: true });
      const tokens = await userTokens(app);
      const outcome = await deleteClient(storage(), now(), app.client.id, by);
      assert.equal(outcome.status, 'ok');
      assert.equal(await introspect(resource, tokens.access_token), false);
      const event = (await eventsOf('client_delete', { clientId: app.client.id }))[0];
      assertActor(event);
      assert.equal(event?.clientName, app.client.name);
      assert.equal((await deleteClient(storage(), now(), app.client.id, by)).status, 'not_found');
    });

    it('a user: disable ends sessions and tokens, enable restores tokens; an admin cannot disable themselves', async () => {
      const user = await server.addUser();
      const app = await confidentialApp();
      const tokens = await userTokens(app, user);
      assert.equal((await disableUser(storage(), now(), user.id, by)).status, 'ok');
      assert.equal(await introspect(app, tokens.access_token), false);
      assertActor((await eventsOf('user_disabled', { userId: user.id }))[0]);
      assert.equal((await enableUser(storage(), now(), user.id, by)).status, 'ok');
      assert.equal(await introspect(app, tokens.access_token), true);

      const self = await disableUser(storage(), now(), admin.id, by);
      assert.equal(self.status, 'conflict');
      assert.equal((await storage().users.findById(admin.id))?.disabledAt, null);
      assert.equal((await deleteUser(storage(), now(), admin.id, by)).status, 'conflict');
    });

    it('revoking a user’s tokens ends every grant of theirs; other users keep theirs', async () => {
      const user = await server.addUser();
      const bystander = await server.addUser();
      const app = await confidentialApp();
      const [theirs, others] = [await userTokens(app, user), await userTokens(app, bystander)];
      const outcome = await revokeUserTokens(storage(), now(), user.id, by);
      assert.equal(outcome.status === 'ok' && outcome.revokedGrants, 1);
      assert.equal(await introspect(app, theirs.access_token), false);
      assert.equal(await introspect(app, others.access_token), true);
      assertActor((await eventsOf('user_tokens_revoked', { userId: user.id }))[0]);
    });

    it('delete: tokens stop, the email is free again, their apps stay without an owner', async () => {
      const user = await server.addUser();
      const app = await confidentialApp({ ownerUserId: user.id, registeredVia: 'portal' });
      const tokens = await userTokens(app, user);
      const outcome = await deleteUser(storage(), now(), user.id, by);
      assert.equal(outcome.status, 'ok');
      assert.equal(await storage().users.findById(user.id), undefined);
      assert.equal(await introspect(app, tokens.access_token), false);
      assert.equal((await storage().clients.find(app.client.id))?.ownerUserId, null);
      const event = (await eventsOf('user_deleted', { userId: user.id }))[0];
      assertActor(event);
      assert.equal(event?.userEmail, user.email);
      const again = await createUser(
        storage(),
        { email: user.email, password: 'another long password' },
        now(),
      );
      assert.equal(again.email, user.email);
    });

    it('reset password: a generated password that signs in; refused for a subject of the company’s sign-in', async () => {
      const user = await server.addUser();
      const outcome = await resetPassword(storage(), now(), user.id, by, 10);
      assert.equal(outcome.status, 'ok');
      const password = outcome.status === 'ok' ? outcome.password : '';
      const agent = new Agent(server.app);
      const signIn = await agent.post('/login', {
        _csrf: csrfFrom((await agent.get('/login')).body),
        email: user.email,
        password,
      });
      assert.equal(signIn.statusCode, 303, signIn.body);
      const event = (await eventsOf('password_changed', { userId: user.id }))[0];
      assertActor(event);
      assert.ok(!JSON.stringify(event).includes(password));

      await storage().users.upsertExternal('company-subject-1', { email: 'x@example.com' }, null, now());
      const external = await resetPassword(storage(), now(), 'company-subject-1', by, 10);
      assert.equal(external.status, 'conflict');
    });

    it('registration tokens: bounds in one place, the event names no usable token', async () => {
      for (const uses of [0, 10_001, 1.5, Number.NaN]) {
        await assert.rejects(
          issueRegistrationToken(storage(), now(), { uses }, by),
          (error: unknown) => error instanceof UserInputError,
        );
      }
      await assert.rejects(
        issueRegistrationToken(storage(), now(), { uses: 1, hours: 0 }, by),
        (error: unknown) => error instanceof UserInputError,
      );
      const issued = await issueRegistrationToken(storage(), now(), { uses: 2, hours: 1 }, by);
      assert.equal(issued.expiresAt, now() + 3_600_000);
      const events = await eventsOf('registration_token_issued', {});
      assertActor(events[0]);
      assert.ok(!JSON.stringify(events).includes(issued.token));
    });
  });
});
