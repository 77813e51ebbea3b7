// The security event log over HTTP (issue 15): the events that requests record, each with its actor, its target
// by id and by name at the time, and the client's address after GATEHOUSE_TRUST_PROXY; and the admin API that
// reads it back (GET /api/v1/security-events: the events:read scope, filters, cursor pages without duplicates
// or gaps, JSON Lines export). On SQLite and on PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createAdminKey } from '../../src/accounts/admin-keys.ts';
import { rotateSigningKeys } from '../../src/oauth/keys.ts';
import { recordSecurityEvent, type SecurityEventJson } from '../../src/oauth/security-events.ts';
import { issueSetupToken } from '../../src/pages/setup/route.ts';
import type { SecurityEvent } from '../../src/storage/storage.ts';
import { Agent, csrfFrom, signedInAgent } from '../helpers/agent.ts';
import { basicAuth, exchangeCode, runAuthorizationFlow } from '../helpers/flow.ts';
import { type FreshDatabase, freshDatabase, postgresOrSkipReason } from '../helpers/postgres.ts';
import { buildTestServer, TEST_SECRET, type TestServer } from '../helpers/server.ts';

const { postgres, skip: postgresSkip } = await postgresOrSkipReason();

const databases: FreshDatabase[] = [];
after(async () => {
  await Promise.all(databases.map((database) => database.drop()));
  await postgres?.stop();
});

const targets: { name: string; skip?: string; url: () => Promise<string | undefined> }[] = [
  { name: 'SQLite', url: async () => undefined },
  {
    name: 'PostgreSQL',
    skip: postgresSkip,
    url: async () => {
      const database = await freshDatabase(postgres!.url);
      databases.push(database);
      return database.url;
    },
  },
];

// One load balancer in front (GATEHOUSE_TRUST_PROXY=1): the client is the rightmost X-Forwarded-For entry.
const ENV = { GATEHOUSE_TRUST_PROXY: '1', GATEHOUSE_REFRESH_GRACE: '0' };
const from = (ip: string) => ({ 'x-forwarded-for': `192.0.2.250, ${ip}` });
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

for (const target of targets) {
  describe(`the security event log on ${target.name}`, { skip: target.skip }, () => {
    let server: TestServer;
    let readKey: string;
    let interactionsKey: string;

    before(async () => {
      server = await buildTestServer(ENV, { databaseUrl: await target.url() });
      readKey = (await createAdminKey(server.deps.storage, { name: 'SIEM', scopes: ['events:read'] }, 0)).key;
      interactionsKey = (
        await createAdminKey(server.deps.storage, { name: 'Login app', scopes: ['interactions'] }, 0)
      ).key;
    });
    after(() => server?.close());

    const api = (query = '', headers: Record<string, string> = {}, key = readKey) =>
      server.app.inject({
        method: 'GET',
        url: `/api/v1/security-events${query ? `?${query}` : ''}`,
        headers: { authorization: `Bearer ${key}`, ...headers },
      });
    /** Every event of one type, newest first, through the API. */
    const eventsOf = async (type: string, more = ''): Promise<SecurityEventJson[]> => {
      const response = await api(`type=${type}&limit=1000${more}`);
      assert.equal(response.statusCode, 200, response.body);
      return response.json().events;
    };
    const loginPage = async (agent: Agent, email: string, password: string, ip: string) => {
      const page = await agent.get('/login');
      return agent.post('/login', { _csrf: csrfFrom(page.body), email, password }, from(ip));
    };

    it('needs an admin key with events:read: none is 401, another scope is 403 insufficient_scope', async () => {
      const anonymous = await server.app.inject({ method: 'GET', url: '/api/v1/security-events' });
      assert.equal(anonymous.statusCode, 401);
      assert.equal(anonymous.json().error, 'invalid_token');
      const wrongScope = await api('', {}, interactionsKey);
      assert.equal(wrongScope.statusCode, 403, wrongScope.body);
      assert.equal(wrongScope.json().error, 'insufficient_scope');
      assert.match(
        String(wrongScope.headers['www-authenticate']),
        /error="insufficient_scope", scope="events:read"/,
      );
      const allowed = await api();
      assert.equal(allowed.statusCode, 200, allowed.body);
      assert.equal(allowed.headers['cache-control'], 'no-store');
    });

    it('the first administrator: admin_setup with the new admin as actor and the address', async () => {
      const fresh = await buildTestServer(ENV, { databaseUrl: await target.url() });
      try {
        const token = await issueSetupToken(fresh.deps);
        assert.ok(token);
        const agent = new Agent(fresh.app);
        const page = await agent.get(`/setup?token=${token}`);
        const done = await agent.post(
          '/setup',
          {
            _csrf: csrfFrom(page.body),
            token,
            email: 'Root@Example.com',
            password: 'a long password 1',
            name: 'R',
          },
          from('198.51.100.1'),
        );
        assert.equal(done.statusCode, 303, done.body.slice(0, 300));
        const [event] = await fresh.deps.storage.securityEvents.list({ type: 'admin_setup', limit: 5 });
        assert.ok(event);
        const admin = await fresh.deps.storage.users.findByEmail('root@example.com');
        assert.deepEqual(
          [event.actor, event.userId, event.userEmail, event.ip],
          [
            { kind: 'user', id: admin?.id, name: 'root@example.com' },
            admin?.id,
            'root@example.com',
            '198.51.100.1',
          ],
        );
      } finally {
        await fresh.close();
      }
    });

    it('failed sign-ins: login_failed with the address, the account by id and email, and why', async () => {
      const user = await server.addUser();
      const agent = new Agent(server.app);
      assert.equal((await loginPage(agent, user.email, 'wrong password!', '203.0.113.10')).statusCode, 401);
      assert.equal(
        (await loginPage(agent, 'Nobody@Example.com', 'whatever pw', '203.0.113.11')).statusCode,
        401,
      );
      // What was typed into the email field may be a password: it is kept only when it looks like an email.
      assert.equal((await loginPage(agent, 'hunter2-not-an-email', 'x', '203.0.113.12')).statusCode, 401);
      await server.deps.storage.users.update({ ...user, disabledAt: server.clock.now() });
      assert.equal((await loginPage(agent, user.email, user.password, '203.0.113.13')).statusCode, 401);

      const failed = (await eventsOf('login_failed')).filter((event) => event.ip?.startsWith('203.0.113.1'));
      assert.deepEqual(
        failed.map((event) => [event.ip, event.user_id, event.user_email, event.detail.reason, event.actor]),
        [
          ['203.0.113.13', user.id, user.email, 'account_disabled', null],
          ['203.0.113.12', null, null, 'unknown_account', null],
          ['203.0.113.11', null, 'nobody@example.com', 'unknown_account', null],
          ['203.0.113.10', user.id, user.email, 'wrong_password', null],
        ],
      );
      const raw = JSON.stringify(await server.deps.storage.securityEvents.list(1000));
      assert.ok(!raw.includes('hunter2') && !raw.includes('wrong password!'), 'no password in the log');
    });

    it('the throttle: login_throttled once per block, with the address and the account', async () => {
      const user = await server.addUser();
      const agent = new Agent(server.app);
      const statuses: number[] = [];
      for (let attempt = 0; attempt < 9; attempt++) {
        statuses.push((await loginPage(agent, user.email, `wrong ${attempt}`, '203.0.113.20')).statusCode);
      }
      // Five free attempts, then a one-second block that refuses the rest without a password check.
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429, 429]);
      const mine = (events: SecurityEventJson[]) => events.filter((event) => event.user_id === user.id);
      const throttled = mine(await eventsOf('login_throttled'));
      assert.equal(throttled.length, 1, JSON.stringify(throttled));
      assert.deepEqual(
        [throttled[0]?.ip, throttled[0]?.user_email, throttled[0]?.detail.retry_after],
        ['203.0.113.20', user.email, 1],
      );
      assert.equal(mine(await eventsOf('login_failed')).length, 5);
      // Once the block is over, the next refusal is another event.
      server.clock.advance(61_000);
      for (let attempt = 0; attempt < 3; attempt++)
        await loginPage(agent, user.email, 'wrong', '203.0.113.20');
      assert.equal(mine(await eventsOf('login_throttled')).length, 2);
    });

    it('a sign-in for an app: login_succeeded with the user as actor, the app, and the address', async () => {
      const user = await server.addUser();
      const { client } = await server.addClient({ name: 'Calendar Sync' });
      await runAuthorizationFlow(server, client, user, { agent: new Agent(server.app) });
      const [event] = (await eventsOf('login_succeeded')).filter((e) => e.user_id === user.id);
      assert.ok(event);
      assert.deepEqual(event.actor, { kind: 'user', id: user.id, name: user.email });
      assert.deepEqual(
        [event.client_id, event.client_name, event.user_email, event.detail],
        [client.id, 'Calendar Sync', user.email, { method: 'password' }],
      );
      // The helper's requests carry no X-Forwarded-For: the socket's address.
      assert.equal(event.ip, '127.0.0.1');
    });

    it('apps registered, changed and deleted over RFC 7591/7592 and in the portal', async () => {
      const register = await server.app.inject({
        method: 'POST',
        url: '/oauth/register',
        headers: { 'content-type': 'application/json', ...from('198.51.100.30') },
        payload: { client_name: 'MCP Tool', redirect_uris: ['http://127.0.0.1:8123/cb'] },
      });
      assert.equal(register.statusCode, 201, register.body);
      const registered = register.json();
      const update = await server.app.inject({
        method: 'PUT',
        url: `/oauth/register/${registered.client_id}`,
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${registered.registration_access_token}`,
          ...from('198.51.100.31'),
        },
        payload: {
          client_id: registered.client_id,
          client_name: 'MCP Tool 2',
          redirect_uris: ['http://127.0.0.1:8123/cb'],
        },
      });
      assert.equal(update.statusCode, 200, update.body);
      const removed = await server.app.inject({
        method: 'DELETE',
        url: `/oauth/register/${registered.client_id}`,
        headers: {
          authorization: `Bearer ${update.json().registration_access_token}`,
          ...from('198.51.100.32'),
        },
      });
      assert.equal(removed.statusCode, 204, removed.body);

      const about = await api(`client_id=${registered.client_id}`);
      assert.deepEqual(
        about.json().events.map((e: SecurityEventJson) => [e.type, e.actor, e.client_name, e.ip]),
        [
          [
            'client_deleted',
            { kind: 'client', id: registered.client_id, name: 'MCP Tool 2' },
            'MCP Tool 2',
            '198.51.100.32',
          ],
          [
            'client_updated',
            { kind: 'client', id: registered.client_id, name: 'MCP Tool' },
            'MCP Tool',
            '198.51.100.31',
          ],
          ['client_registered', null, 'MCP Tool', '198.51.100.30'],
        ],
      );
      const [updated] = about.json().events.slice(1);
      assert.deepEqual(updated.detail.fields, ['client_name']);

      const developer = await server.addUser();
      const agent = await signedInAgent(server.app, developer);
      const form = await agent.get('/portal/apps/new');
      const created = await agent.post(
        '/portal/apps',
        {
          _csrf: csrfFrom(form.body),
          name: 'Portal App',
          redirect_uris: 'https://portal-app.example/cb',
          type: 'confidential',
        },
        from('198.51.100.33'),
      );
      // Post/redirect/get: the app's page, with the secret in a one-time flash.
      assert.equal(created.statusCode, 303, created.body.slice(0, 300));
      const [portal] = (await eventsOf(
        'client_registered',
        `&user_id=${developer.id}`,
      )) as SecurityEventJson[];
      assert.ok(portal);
      assert.deepEqual(
        [portal.actor, portal.client_name, portal.user_email, portal.ip, portal.detail.via],
        [
          { kind: 'user', id: developer.id, name: developer.email },
          'Portal App',
          developer.email,
          '198.51.100.33',
          'portal',
        ],
      );
    });

    it('reuse detection, revocation and deauthorization carry the address; key rotation names the keys', async () => {
      const user = await server.addUser();
      const { client, secret } = await server.addClient({
        name: 'Reuse App',
        grantTypes: ['authorization_code', 'refresh_token'],
      });
      assert.ok(secret);
      const flow = await runAuthorizationFlow(server, client, user, { scope: 'openid offline_access' });
      const tokens = (await exchangeCode(server, client, secret, flow)).json();
      assert.ok(tokens.refresh_token, JSON.stringify(tokens));
      const asClient = (url: string, form: Record<string, string>, ip: string) =>
        server.app.inject({
          method: 'POST',
          url,
          payload: new URLSearchParams(form).toString(),
          headers: { ...FORM, authorization: basicAuth(client.id, secret), ...from(ip) },
        });
      const rotated = await asClient(
        '/token',
        { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
        '198.51.100.40',
      );
      assert.equal(rotated.statusCode, 200, rotated.body);
      const replay = await asClient(
        '/token',
        { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
        '198.51.100.41',
      );
      assert.equal(replay.statusCode, 400);

      const second = await runAuthorizationFlow(server, client, user, { scope: 'openid offline_access' });
      const again = (await exchangeCode(server, client, secret, second)).json();
      const revoked = await asClient('/revoke', { token: again.refresh_token }, '198.51.100.42');
      assert.equal(revoked.statusCode, 200, revoked.body);

      const third = await runAuthorizationFlow(server, client, user, { scope: 'openid' });
      const access = (await exchangeCode(server, client, secret, third)).json().access_token;
      const gone = await server.app.inject({
        method: 'POST',
        url: '/oauth/deauthorize',
        headers: { authorization: `Bearer ${access}`, ...from('198.51.100.43') },
      });
      assert.equal(gone.statusCode, 200, gone.body);

      // And "Remove access" on the connected apps page: the person is the actor.
      const apps = await third.agent.get('/account/apps');
      const removed = await third.agent.post(
        `/account/apps/${client.id}/remove`,
        { _csrf: csrfFrom(apps.body), confirm: 'yes' },
        from('198.51.100.44'),
      );
      assert.equal(removed.statusCode, 303, removed.body.slice(0, 300));

      const events = (await api(`client_id=${client.id}&user_id=${user.id}`)).json()
        .events as SecurityEventJson[];
      assert.deepEqual(
        events.filter((event) => event.type === 'deauthorized').map((event) => [event.actor?.kind, event.ip]),
        [
          ['user', '198.51.100.44'],
          ['client', '198.51.100.43'],
        ],
      );
      const byType = new Map(events.map((event) => [event.type, event]));
      const reuse = byType.get('refresh_token_reuse');
      assert.deepEqual(
        [reuse?.actor, reuse?.ip, reuse?.client_name, reuse?.user_email],
        [{ kind: 'system' }, '198.51.100.41', 'Reuse App', user.email],
      );
      const revocation = byType.get('token_revoked');
      assert.deepEqual(
        [revocation?.actor, revocation?.ip, revocation?.detail.kind],
        [{ kind: 'client', id: client.id, name: 'Reuse App' }, '198.51.100.42', 'refresh_token'],
      );
      const deauthorized = byType.get('deauthorized');
      assert.deepEqual(
        [deauthorized?.actor, deauthorized?.ip],
        [{ kind: 'client', id: client.id, name: 'Reuse App' }, '198.51.100.43'],
      );

      const added = await rotateSigningKeys(
        server.deps.storage,
        TEST_SECRET,
        ['ES256'],
        server.clock.now(),
        60_000,
      );
      const [rotation] = await eventsOf('signing_keys_rotated');
      assert.deepEqual(rotation?.actor, { kind: 'cli' });
      assert.deepEqual(
        rotation?.detail.keys,
        added.map((key) => ({ kid: key.kid, alg: 'ES256' })),
      );
    });

    describe('reading the log', () => {
      // Events of their own, at their own times, so that the filters see only these.
      const T = Date.UTC(2031, 0, 1);
      const seeded: SecurityEvent[] = [];
      const userA = 'events-user-a';
      const clientA = 'events-client-a';
      const window = `since=${new Date(T).toISOString()}&until=${new Date(T + 3_600_000).toISOString()}`;

      before(async () => {
        for (let n = 0; n < 37; n++) {
          // Several events share each millisecond: the id breaks the tie, and the pages must too.
          await recordSecurityEvent(server.deps.storage, T + Math.floor(n / 4) * 1000, `seeded_${n % 3}`, {
            userId: n % 2 ? userA : `events-user-${n}`,
            clientId: n % 5 === 0 ? clientA : null,
            clientName: n % 5 === 0 ? 'Seeded' : null,
            actor: { kind: 'admin_key', id: 'k', name: 'Seeder' },
            ip: `2001:db8::${n}`,
            detail: { n },
          });
        }
        seeded.push(
          ...(await server.deps.storage.securityEvents.list({ since: T, until: T + 3_600_000, limit: 100 })),
        );
        assert.equal(seeded.length, 37);
      });

      /** Follows next_cursor from the first page to the last; fails on a page past the last. */
      async function allPages(query: string, limit: number) {
        const ids: string[] = [];
        let cursor: string | null = null;
        for (let page = 0; page < 60; page++) {
          const response: LightMyRequestResponse = await api(
            `${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
          );
          assert.equal(response.statusCode, 200, response.body);
          const body = response.json() as { events: SecurityEventJson[]; next_cursor: string | null };
          assert.ok(body.events.length <= limit);
          assert.ok(body.events.length > 0 || page === 0, 'no empty page after a next_cursor');
          ids.push(...body.events.map((event) => event.id));
          cursor = body.next_cursor;
          if (cursor === null) return ids;
          assert.equal(body.events.length, limit, 'only a full page has a next page');
        }
        throw new Error('too many pages');
      }

      it('pages newest first with next_cursor: no duplicates, no gaps, for any page size and filter', async () => {
        const expected = (keep: (event: SecurityEvent) => boolean) =>
          seeded.filter(keep).map((event) => event.id);
        for (const limit of [1, 5, 8, 36, 37, 100]) {
          assert.deepEqual(
            await allPages(window, limit),
            expected(() => true),
            `pages of ${limit}`,
          );
        }
        for (const [query, keep] of [
          [`type=seeded_1`, (event: SecurityEvent) => event.type === 'seeded_1'],
          [`user_id=${userA}`, (event: SecurityEvent) => event.userId === userA],
          [`client_id=${clientA}`, (event: SecurityEvent) => event.clientId === clientA],
          [
            `type=seeded_0&user_id=${userA}`,
            (event: SecurityEvent) => event.type === 'seeded_0' && event.userId === userA,
          ],
        ] as const) {
          const ids = await allPages(`${window}&${query}`, 3);
          assert.deepEqual(ids, expected(keep), query);
          assert.ok(ids.length > 1, `${query} selects more than one event`);
        }
        // The seeded events, newest first by time, then id.
        const times = seeded.map((event) => event.createdAt);
        assert.deepEqual(
          times,
          [...times].sort((a, b) => b - a),
        );
      });

      it('since is inclusive and until exclusive; each event is the JSON the OpenAPI document describes', async () => {
        const response = await api(
          `since=${new Date(T + 2000).toISOString()}&until=${new Date(T + 4000).toISOString()}`,
        );
        const events = response.json().events as SecurityEventJson[];
        assert.deepEqual(
          events.map((event) => event.detail.n),
          [15, 14, 13, 12, 11, 10, 9, 8],
        );
        assert.deepEqual(events.at(-1), {
          id: seeded.find((event) => event.detail.n === 8)?.id,
          type: 'seeded_2',
          created_at: new Date(T + 2000).toISOString(),
          actor: { kind: 'admin_key', id: 'k', name: 'Seeder' },
          ip: '2001:db8::8',
          client_id: null,
          client_name: null,
          user_id: 'events-user-8',
          user_email: null,
          grant_id: null,
          detail: { n: 8 },
        });
        // A date alone is midnight UTC.
        const day = await api(`since=2031-01-01&until=2031-01-02&limit=1000`);
        assert.equal(day.json().events.length, 37);
      });

      it('exports JSON Lines (Accept or format=jsonl): the same events, one per line, past one read batch', async () => {
        const asJson = (await api(`${window}&limit=1000`)).json().events;
        for (const response of [
          await api(window, { accept: 'application/x-ndjson' }),
          await api(`${window}&format=jsonl`),
        ]) {
          assert.equal(response.statusCode, 200, response.body);
          assert.match(String(response.headers['content-type']), /^application\/x-ndjson/);
          assert.equal(response.headers['cache-control'], 'no-store');
          assert.ok(response.body.endsWith('\n'));
          const lines = response.body.trimEnd().split('\n');
          assert.deepEqual(
            lines.map((line) => JSON.parse(line)),
            asJson,
          );
        }
        const limited = await api(`${window}&format=jsonl&limit=4`);
        assert.equal(limited.body.trimEnd().split('\n').length, 4);
        const empty = await api(`type=never_recorded&format=jsonl`);
        assert.equal(empty.statusCode, 200);
        assert.equal(empty.body, '');

        // More events than one read of the export (500): every one exactly once.
        const BULK = Date.UTC(2032, 0, 1);
        await server.deps.storage.transaction(async (tx) => {
          for (let n = 0; n < 520; n++) {
            await recordSecurityEvent(tx, BULK + Math.floor(n / 10), 'bulk', { detail: { n } });
          }
        });
        const bulk = await api(`type=bulk&format=jsonl`);
        const numbers = bulk.body
          .trimEnd()
          .split('\n')
          .map((line) => (JSON.parse(line) as SecurityEventJson).detail.n as number);
        assert.equal(numbers.length, 520);
        // Recorded in order by one process: newest first is exactly the reverse.
        assert.deepEqual(
          numbers,
          Array.from({ length: 520 }, (_, n) => 519 - n),
        );
      });

      it('refuses a malformed filter, limit, cursor or format with 400 invalid_request', async () => {
        for (const query of [
          'since=yesterday',
          'since=2031-01-01T12:00:00',
          'until=2031-13-45',
          'limit=0',
          'limit=1001',
          'limit=ten',
          'type=Login-Failed',
          'cursor=not-a-cursor',
          `cursor=${Buffer.from('12.').toString('base64url')}`,
          'format=xml',
        ]) {
          const response = await api(query);
          assert.equal(response.statusCode, 400, `${query}: ${response.body}`);
          assert.equal(response.json().error, 'invalid_request', query);
        }
        // JSON Lines has no page size limit.
        assert.equal((await api('limit=5000&format=jsonl')).statusCode, 200);
      });
    });
  });
}
