// The admin API's operations (issue 15 §1), every call through a client driven by the OpenAPI document
// (helpers/openapi-client.ts: undocumented statuses and bodies fail), the way a Terraform provider or a support
// tool would use them: create and manage clients, review registrations, manage users and their
// authorizations, rotate keys; scopes enforced; bad input answered 4xx; each operation in the event log with
// the admin key as the actor. On SQLite and on PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAdminKey } from '../../src/accounts/admin-keys.ts';
import type { SecurityEvent } from '../../src/storage/storage.ts';
import { Agent, csrfFrom } from '../helpers/agent.ts';
import { basicAuth, runAuthorizationFlow } from '../helpers/flow.ts';
import { OpenApiClient } from '../helpers/openapi-client.ts';
import { onEachDatabase } from '../helpers/postgres.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

await onEachDatabase('admin API operations', (database, databaseUrl) => {
  describe(`admin API operations on ${database}`, () => {
    let server: TestServer;
    let api: OpenApiClient;
    let keyId: string;
    const keyWith = async (scopes: string[]) =>
      (
        await createAdminKey(
          server.deps.storage,
          { name: `key ${scopes.join(' ')}`, scopes },
          server.clock.now(),
        )
      ).key;

    before(async () => {
      server = await buildTestServer(
        { GATEHOUSE_REGISTRATION: 'approval' },
        { databaseUrl: await databaseUrl() },
      );
      const created = await createAdminKey(
        server.deps.storage,
        { name: 'terraform', scopes: ['clients:write', 'users:write', 'keys:write'] },
        server.clock.now(),
      );
      keyId = created.record.id;
      api = await OpenApiClient.load(server.app, created.key);
    });
    after(() => server?.close());

    async function clientCredentials(clientId: string, secret: string) {
      return server.app.inject({
        method: 'POST',
        url: '/token',
        payload: 'grant_type=client_credentials',
        headers: { ...FORM, authorization: basicAuth(clientId, secret) },
      });
    }

    async function eventsNamingKey(type: string): Promise<SecurityEvent[]> {
      const events = await server.deps.storage.securityEvents.list(1000);
      return events.filter(
        (event) => event.type === type && event.actor?.kind === 'admin_key' && event.actor.id === keyId,
      );
    }

    it('a client’s life: create (secret once), read, rotate, disable, enable, delete', async () => {
      const created = await api.call('post', '/api/v1/clients', {
        body: {
          client_name: 'Billing sync',
          grant_types: ['client_credentials'],
          scope: 'openid',
          resource_server: true,
        },
      });
      assert.equal(created.status, 201);
      const { client_id: id, client_secret: secret } = created.body;
      assert.equal(created.body.status, 'active');
      assert.equal((await clientCredentials(id, secret)).statusCode, 200);
      const read = await api.call('get', '/api/v1/clients/{id}', { params: { id } });
      assert.equal(read.body.client_secret, undefined, 'a read never shows the secret');
      assert.equal(read.body.resource_server, true);

      const rotated = await api.call('post', '/api/v1/clients/{id}/secret', {
        params: { id },
        body: { overlap_seconds: 0 },
      });
      assert.equal(rotated.status, 200);
      assert.equal((await clientCredentials(id, secret)).statusCode, 401, 'the old secret stopped at once');
      assert.equal((await clientCredentials(id, rotated.body.client_secret)).statusCode, 200);

      const disabled = await api.call('post', '/api/v1/clients/{id}/disable', { params: { id } });
      assert.equal(disabled.body.status, 'disabled');
      assert.equal((await clientCredentials(id, rotated.body.client_secret)).statusCode, 401);
      const again = await api.call('post', '/api/v1/clients/{id}/disable', { params: { id } });
      assert.equal(again.status, 200, 'a repeated call is safe');
      assert.equal(
        (await api.call('post', '/api/v1/clients/{id}/enable', { params: { id } })).body.status,
        'active',
      );

      assert.equal((await api.call('delete', '/api/v1/clients/{id}', { params: { id } })).status, 204);
      assert.equal((await api.call('get', '/api/v1/clients/{id}', { params: { id } })).status, 404);
      assert.equal((await api.call('delete', '/api/v1/clients/{id}', { params: { id } })).status, 404);
      for (const type of ['client_created', 'client_secret_rotated', 'client_disable', 'client_delete']) {
        assert.equal((await eventsNamingKey(type)).filter((e) => e.clientId === id).length, 1, type);
      }
    });

    it('lists page newest first with a cursor: every client once, none twice', async () => {
      const made: string[] = [];
      for (let i = 0; i < 5; i++) {
        server.clock.advance(1);
        const { body } = await api.call('post', '/api/v1/clients', {
          body: { client_name: `Paged ${i}`, redirect_uris: ['https://rp.example/cb'] },
        });
        made.push(body.client_id);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const { body } = await api.call('get', '/api/v1/clients', {
          query: { limit: '2', ...(cursor ? { cursor } : {}) },
        });
        assert.ok(body.items.length <= 2);
        seen.push(...body.items.map((client: { client_id: string }) => client.client_id));
        cursor = body.next_cursor ?? undefined;
      } while (cursor);
      assert.equal(new Set(seen).size, seen.length, 'no client twice');
      assert.deepEqual(
        seen.filter((id) => made.includes(id)),
        [...made].reverse(),
        'newest first, every one',
      );
    });

    it('review: a self-registered client waits; a stale fingerprint is 409; the current one approves', async () => {
      const registered = await server.app.inject({
        method: 'POST',
        url: '/oauth/register',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ client_name: 'Stranger', redirect_uris: ['https://stranger.example/cb'] }),
      });
      assert.equal(registered.statusCode, 201, registered.body);
      const id = registered.json().client_id as string;
      const waiting = await api.call('get', '/api/v1/clients', { query: { awaiting_review: 'true' } });
      const listed = waiting.body.items.find((client: { client_id: string }) => client.client_id === id);
      assert.equal(listed?.status, 'pending');

      const stale = await api.call('post', '/api/v1/clients/{id}/approve', {
        params: { id },
        body: { review_fingerprint: 'not-what-is-there' },
      });
      assert.equal(stale.status, 409);
      assert.equal(
        (await api.call('get', '/api/v1/clients/{id}', { params: { id } })).body.status,
        'pending',
      );
      const approved = await api.call('post', '/api/v1/clients/{id}/approve', {
        params: { id },
        body: { review_fingerprint: listed.review_fingerprint },
      });
      assert.equal(approved.body.status, 'active');
      const reject = await api.call('post', '/api/v1/clients/{id}/reject', { params: { id } });
      assert.equal(reject.status, 409, 'an approved client is deleted, not rejected');
    });

    it('users: create with a generated password, find by email, authorizations, reset, disable, delete', async () => {
      const created = await api.call('post', '/api/v1/users', {
        body: { email: 'Support.Case@Example.com', name: 'Case' },
      });
      assert.equal(created.status, 201);
      const { id, password } = created.body;
      assert.equal(created.body.email, 'support.case@example.com');
      assert.equal(typeof password, 'string');
      const duplicate = await api.call('post', '/api/v1/users', {
        body: { email: 'support.case@example.com' },
      });
      assert.equal(duplicate.status, 400);

      const found = await api.call('get', '/api/v1/users', { query: { email: 'SUPPORT.case@example.com' } });
      assert.deepEqual(
        found.body.items.map((user: { id: string }) => user.id),
        [id],
      );

      // The person uses an app; support sees the authorization and removes it.
      const { client, secret } = await server.addClient({ name: 'Notes app' });
      assert.ok(secret);
      const person = (await server.deps.storage.users.findById(id))!;
      const flow = await runAuthorizationFlow(server, client, {
        ...person,
        email: created.body.email,
        password,
      });
      assert.ok(flow.code);
      const exchanged = await server.app.inject({
        method: 'POST',
        url: '/token',
        payload: new URLSearchParams({
          grant_type: 'authorization_code',
          code: flow.code,
          redirect_uri: flow.redirectUri,
          code_verifier: flow.verifier,
        }).toString(),
        headers: { ...FORM, authorization: basicAuth(client.id, secret) },
      });
      assert.equal(exchanged.statusCode, 200, exchanged.body);
      const listed = await api.call('get', '/api/v1/users/{id}/authorizations', { params: { id } });
      assert.deepEqual(
        listed.body.items.map((grant: { client_id: string }) => grant.client_id),
        [client.id],
      );
      const removed = await api.call('delete', '/api/v1/users/{id}/authorizations/{clientId}', {
        params: { id, clientId: client.id },
      });
      assert.equal(removed.body.revoked_grants, 1);
      assert.deepEqual(
        (await api.call('get', '/api/v1/users/{id}/authorizations', { params: { id } })).body.items,
        [],
      );

      const reset = await api.call('post', '/api/v1/users/{id}/reset-password', { params: { id } });
      assert.notEqual(reset.body.password, password);
      const agent = new Agent(server.app);
      const signIn = await agent.post('/login', {
        _csrf: csrfFrom((await agent.get('/login')).body),
        email: created.body.email,
        password: reset.body.password,
      });
      assert.equal(signIn.statusCode, 303, 'the new password signs in');

      assert.equal(
        (await api.call('post', '/api/v1/users/{id}/disable', { params: { id } })).body.status,
        'disabled',
      );
      assert.equal((await api.call('delete', '/api/v1/users/{id}', { params: { id } })).status, 204);
      assert.equal((await api.call('get', '/api/v1/users/{id}', { params: { id } })).status, 404);
      for (const type of ['user_created', 'password_changed', 'user_disabled', 'user_deleted']) {
        assert.equal((await eventsNamingKey(type)).filter((e) => e.userId === id).length, 1, type);
      }
    });

    it('users: phone number and address (OIDC Core §5.1) are set, shown and cleared; bad ones are 400', async () => {
      const created = await api.call('post', '/api/v1/users', {
        body: { email: `phone-${Date.now()}@example.com` },
      });
      const id = created.body.id as string;
      assert.equal(created.body.phone_number, null);
      assert.equal(created.body.address, null);
      const address = { street_address: '1 Main St', locality: 'Springfield', country: 'US' };
      const set = await api.call('patch', '/api/v1/users/{id}', {
        params: { id },
        body: { phone_number: '+1 555 0100', phone_number_verified: true, address },
      });
      assert.equal(set.status, 200);
      assert.equal(set.body.phone_number, '+1 555 0100');
      assert.equal(set.body.phone_number_verified, true);
      assert.deepEqual(set.body.address, address);
      const stored = await server.deps.storage.users.findById(id);
      assert.equal(stored?.phoneNumber, '+1 555 0100');
      assert.deepEqual(stored?.address, address);
      // Only what is sent changes; null clears.
      const cleared = await api.call('patch', '/api/v1/users/{id}', {
        params: { id },
        body: { address: null },
      });
      assert.equal(cleared.body.address, null);
      assert.equal(cleared.body.phone_number, '+1 555 0100');
      for (const bad of [
        { phone_number: 'call me' },
        { phone_number_verified: 'yes' },
        { address: { planet: 'Mars' } },
        { address: 'Main St' },
        { nickname: 'x' },
      ]) {
        const answer = await api.call('patch', '/api/v1/users/{id}', {
          params: { id },
          raw: JSON.stringify(bad),
        });
        assert.equal(answer.status, 400, JSON.stringify(bad));
        assert.equal(answer.body.error, 'invalid_request');
      }
      assert.equal(
        (await api.call('patch', '/api/v1/users/{id}', { params: { id: 'nobody' }, body: {} })).status,
        404,
      );
      const events = await eventsNamingKey('user_updated');
      assert.deepEqual(
        events.filter((event) => event.userId === id).map((event) => event.detail),
        [{ fields: ['address'] }, { fields: ['address', 'phone_number', 'phone_number_verified'] }],
      );
    });

    it('registration tokens: issued once, usable for registration under the token policy', async () => {
      const issued = await api.call('post', '/api/v1/registration-tokens', {
        body: { uses: 1, expires_in_hours: 2 },
      });
      assert.equal(issued.status, 201);
      assert.match(issued.body.token, /^[A-Za-z0-9_-]{40,}$/);
      const tooMany = await api.call('post', '/api/v1/registration-tokens', { raw: '{"uses":0}' });
      assert.equal(tooMany.status, 400);
    });

    it('keys: rotate with activate_in_minutes 0 answers once the new keys are in the JWKS', async () => {
      const before = await api.call('get', '/api/v1/keys');
      const rotated = await api.call('post', '/api/v1/keys/rotate', { body: { activate_in_minutes: 0 } });
      assert.equal(rotated.status, 200);
      const jwks = (await server.app.inject({ method: 'GET', url: '/jwks' })).json() as {
        keys: { kid: string }[];
      };
      for (const key of rotated.body.added as { kid: string }[]) {
        assert.ok(
          jwks.keys.some((published) => published.kid === key.kid),
          `${key.kid} is published when the answer comes`,
        );
      }
      const afterRotation = await api.call('get', '/api/v1/keys');
      assert.equal(afterRotation.body.items.length, before.body.items.length + rotated.body.added.length);
      const signing = afterRotation.body.items.filter((key: { state: string }) => key.state === 'signing');
      assert.deepEqual(
        signing.map((key: { kid: string }) => key.kid).sort(),
        rotated.body.added.map((key: { kid: string }) => key.kid).sort(),
      );
      assert.equal((await eventsNamingKey('signing_keys_rotated')).length, 1);
    });

    it('scopes: none → 401, read-only keys read but cannot write (403), X:write includes X:read', async () => {
      const anonymous = api.withKey(undefined);
      assert.equal((await anonymous.call('get', '/api/v1/clients')).status, 401);
      const reader = api.withKey(await keyWith(['clients:read']));
      assert.equal((await reader.call('get', '/api/v1/clients')).status, 200);
      assert.equal(
        (await reader.call('post', '/api/v1/clients', { body: { client_name: 'x' } })).status,
        403,
      );
      assert.equal((await reader.call('get', '/api/v1/users')).status, 403);
      const interactionsOnly = api.withKey(await keyWith(['interactions']));
      assert.equal((await interactionsOnly.call('get', '/api/v1/keys')).status, 403);
      const userWriter = api.withKey(await keyWith(['users:write']));
      assert.equal((await userWriter.call('get', '/api/v1/users')).status, 200);
    });

    it('bad input is a 4xx with a reason, never a 5xx or a write', async () => {
      const before = (await server.deps.storage.clients.list()).length;
      const cases: [Parameters<OpenApiClient['call']>, number][] = [
        [['post', '/api/v1/clients', { raw: '{"client_name":' }], 400],
        [['post', '/api/v1/clients', { raw: '[]' }], 400],
        [['post', '/api/v1/clients', { raw: '{"client_name":"x","secret":"mine"}' }], 400],
        [['post', '/api/v1/clients', { raw: '{"client_name":"x","redirect_uris":"https://a/cb"}' }], 400],
        [
          [
            'post',
            '/api/v1/clients',
            { raw: '{"client_name":"x","redirect_uris":["http://evil.example/cb"]}' },
          ],
          400,
        ],
        [
          [
            'post',
            '/api/v1/clients',
            { raw: '{"client_name":"a\\u0000b","redirect_uris":["https://a.example/cb"]}' },
          ],
          400,
        ],
        [['get', '/api/v1/clients', { query: { limit: '0' } }], 400],
        [['get', '/api/v1/clients', { query: { limit: '1000' } }], 400],
        [['get', '/api/v1/users', { query: { cursor: 'garbage!' } }], 400],
        [
          [
            'post',
            '/api/v1/clients/{id}/secret',
            { params: { id: 'nobody' }, raw: '{"overlap_seconds":"1"}' },
          ],
          400,
        ],
        [['post', '/api/v1/users', { raw: '{"email":"not-an-email"}' }], 400],
        [['post', '/api/v1/keys/rotate', { raw: '{"activate_in_minutes":-1}' }], 400],
      ];
      for (const [args, status] of cases) {
        const answer = await api.call(...args);
        assert.equal(answer.status, status, JSON.stringify(args));
        assert.equal(typeof answer.body.error, 'string');
      }
      assert.equal((await server.deps.storage.clients.list()).length, before, 'nothing was written');
    });
  });
});
