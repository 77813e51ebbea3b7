// What an operator reviews of a self-registered client (issue 12 items 1 and 4; docs/security.md H-02), on SQLite and
// PostgreSQL, through the real endpoints, the admin console, the portal and the CLI:
// - client_credentials acts for no person, so only an operator grants it: the token endpoint refuses it to a
//   self-registered client no administrator approved, including one stored by older code with that grant;
//   approving (console or `gatehouse clients approve`) lets it through, and the resource library accepts the
//   token then. Under `approval` a registration may ask for it and gets it once approved.
// - under `approval`, an approved client's change to reviewed metadata (RFC 7592 PUT, the portal's redirect
//   URI edit) waits: the approved registration keeps working, the proposal does not, until an administrator
//   approves it (console or CLI, with the same security event); rejecting drops it; contacts apply at once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { createVerifier } from '@gatehouse/resource';
import type { LightMyRequestResponse } from 'fastify';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { approveClient } from '../../src/applications/clients.ts';
import { buildClient } from '../../src/oauth/client-metadata.ts';
import type { Client } from '../../src/storage/storage.ts';
import { type Agent, csrfFrom, hiddenField, signedInAgent } from '../helpers/agent.ts';
import { runCliCaptured } from '../helpers/cli.ts';
import { authorizeUrl, basicAuth, pkcePair } from '../helpers/flow.ts';
import { freshDatabase, postgresOrSkipReason } from '../helpers/postgres.ts';
import { buildTestServer, TEST_SECRET, type TestServer } from '../helpers/server.ts';

const API = 'https://api.example/reports';
const RESOURCES = JSON.stringify([{ uri: API, format: 'jwt', scopes: ['reports:read'] }]);
const OLD_URI = 'https://rp.example/cb';
const NEW_URI = 'https://attacker.example/steal';

const WEB_CLIENT = {
  client_name: 'Meeting Notes',
  redirect_uris: [OLD_URI],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  scope: 'openid profile email offline_access',
};

function envFor(databaseUrl: string, dataDir: string, policy: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_SECRET: TEST_SECRET,
    GATEHOUSE_PASSWORD_COST: '10',
    LOG_LEVEL: 'silent',
    GATEHOUSE_REGISTRATION: policy,
    GATEHOUSE_REGISTRATION_RATE_LIMIT: '100000',
    GATEHOUSE_RESOURCES: RESOURCES,
  };
}

function register(server: TestServer, body: unknown) {
  return server.app.inject({
    method: 'POST',
    url: '/oauth/register',
    payload: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
}

function manage(server: TestServer, method: 'GET' | 'PUT', clientId: string, token: string, body?: unknown) {
  return server.app.inject({
    method,
    url: `/oauth/register/${encodeURIComponent(clientId)}`,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
}

function machineToken(server: TestServer, clientId: string, secret: string) {
  return server.app.inject({
    method: 'POST',
    url: '/token',
    payload: new URLSearchParams({ grant_type: 'client_credentials', resource: API }).toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basicAuth(clientId, secret),
    },
  });
}

function assertUnauthorizedClient(response: LightMyRequestResponse) {
  assert.equal(response.statusCode, 400, response.body);
  assert.equal(response.json().error, 'unauthorized_client', response.body);
  assert.equal(response.json().access_token, undefined);
}

/** An anonymous /authorize with this redirect URI: 303 to sign-in when it is registered, the error page if not. */
async function authorizeWith(server: TestServer, clientId: string, redirectUri: string) {
  const { challenge } = pkcePair();
  return server.app.inject(
    authorizeUrl({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: redirectUri,
      scope: 'openid',
      state: 'S',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }),
  );
}

async function assertRedirectUriWorks(server: TestServer, clientId: string, uri: string) {
  const response = await authorizeWith(server, clientId, uri);
  assert.equal(response.statusCode, 303, `${uri}: ${response.body.slice(0, 300)}`);
  assert.match(String(response.headers.location), /\/login\?/);
}

async function assertRedirectUriRefused(server: TestServer, clientId: string, uri: string) {
  const response = await authorizeWith(server, clientId, uri);
  assert.equal(response.statusCode, 400, `${uri}: ${response.body.slice(0, 300)}`);
  assert.equal(response.headers.location, undefined);
}

/** Presses a console button for the client (as the admin's browser would, with the page's CSRF token). */
async function consoleAction(admin: Agent, clientId: string, action: string) {
  const page = await admin.get('/admin');
  assert.equal(page.statusCode, 200, page.body.slice(0, 300));
  const form: Record<string, string> = { _csrf: csrfFrom(page.body) };
  if (action === 'approve' || action === 'approve-changes') {
    // The form's own fields: what the administrator was shown.
    const at = page.body.indexOf(`action="/admin/clients/${clientId}/${action}"`);
    assert.ok(at >= 0, `the console offers ${action}`);
    const seen = hiddenField(page.body.slice(at), 'seen');
    assert.ok(seen);
    form.seen = seen;
  }
  const response = await admin.post(`/admin/clients/${clientId}/${action}`, form);
  assert.equal(response.statusCode, 303, response.body.slice(0, 300));
  return page;
}

async function stored(server: TestServer, id: string): Promise<Client> {
  const client = await server.deps.storage.clients.find(id);
  assert.ok(client, `client ${id} is stored`);
  return client;
}

async function eventsOf(server: TestServer, clientId: string): Promise<string[]> {
  return (await server.deps.storage.securityEvents.list(1000))
    .filter((event) => event.clientId === clientId)
    .map((event) => event.type);
}

function reviewSuite(name: string, database: () => Promise<{ url: string; cleanup(): Promise<void> }>) {
  describe(`operator review of self-registered clients: ${name}`, () => {
    let db: { url: string; cleanup(): Promise<void> };
    let dataDir: string;
    const servers: TestServer[] = [];

    before(async () => {
      db = await database();
      dataDir = mkdtempSync(path.join(tmpdir(), 'gatehouse-review-'));
    });
    after(async () => {
      for (const server of servers) await server.close();
      await db.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    });

    /** The real server on the shared database under `policy`, its clock at the real time the CLI uses. */
    async function serverWith(policy: string): Promise<{ server: TestServer; env: Record<string, string> }> {
      const env = envFor(db.url, dataDir, policy);
      const server = await buildTestServer(env, { databaseUrl: db.url });
      server.clock.advance(Date.now() - server.clock.now());
      servers.push(server);
      return { server, env };
    }

    describe('item 1: client_credentials only with an operator', () => {
      let open: TestServer;
      let env: Record<string, string>;

      before(async () => {
        ({ server: open, env } = await serverWith('open'));
      });

      it('open: asking for client_credentials registers without it; /token client_credentials → unauthorized_client', async () => {
        const response = await register(open, {
          ...WEB_CLIENT,
          grant_types: ['authorization_code', 'client_credentials'],
          scope: 'openid reports:read',
        });
        assert.equal(response.statusCode, 201, response.body);
        const registered = response.json();
        assert.deepEqual(registered.grant_types, ['authorization_code'], 'the answer lists what was granted');
        assert.deepEqual((await stored(open, registered.client_id)).grantTypes, ['authorization_code']);
        assertUnauthorizedClient(await machineToken(open, registered.client_id, registered.client_secret));

        // Asking for client_credentials alone leaves nothing to grant: a clear 400, nothing stored.
        const before = (await open.deps.storage.clients.list()).length;
        const only = await register(open, {
          client_name: 'Batch',
          redirect_uris: [],
          grant_types: ['client_credentials'],
          scope: 'reports:read',
        });
        assert.equal(only.statusCode, 400, only.body);
        assert.equal(only.json().error, 'invalid_client_metadata');
        assert.equal((await open.deps.storage.clients.list()).length, before);
      });

      it('open: an RFC 7592 PUT cannot add client_credentials', async () => {
        const registered = (await register(open, { ...WEB_CLIENT, scope: 'openid reports:read' })).json();
        const put = await manage(open, 'PUT', registered.client_id, registered.registration_access_token, {
          ...WEB_CLIENT,
          client_id: registered.client_id,
          grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
          scope: 'openid reports:read',
        });
        assert.equal(put.statusCode, 200, put.body);
        assert.deepEqual(put.json().grant_types, ['authorization_code', 'refresh_token']);
        assert.equal(put.json().pending_changes, undefined);
        assert.ok(!(await stored(open, registered.client_id)).grantTypes.includes('client_credentials'));
        assertUnauthorizedClient(await machineToken(open, registered.client_id, registered.client_secret));
      });

      it('open: once an administrator approved a client, a change to what they approved waits for them too', async () => {
        // Approval (for client_credentials, which the console offers under every policy) vouches for the
        // registration as it was: a later PUT must not keep that trust while it swaps the redirect URIs.
        const registered = (await register(open, WEB_CLIENT)).json();
        const client = await stored(open, registered.client_id);
        await approveClient(open.deps.storage, open.clock.now(), client.id, { actor: { kind: 'cli' } });
        const put = await manage(open, 'PUT', registered.client_id, registered.registration_access_token, {
          ...WEB_CLIENT,
          client_id: registered.client_id,
          client_name: 'Google Drive',
          redirect_uris: [NEW_URI],
        });
        assert.equal(put.statusCode, 200, put.body);
        assert.equal(put.json().pending_changes?.approval_status, 'pending');
        const after = await stored(open, registered.client_id);
        assert.deepEqual(after.redirectUris, [OLD_URI], 'the approved registration stays in force');
        assert.equal(after.name, WEB_CLIENT.client_name);
        await assertRedirectUriRefused(open, registered.client_id, NEW_URI);
        // An anonymous prompt=none may still go back to the approved URI, never to the proposed one.
        const { challenge } = pkcePair();
        const silent = await open.app.inject(
          authorizeUrl({
            response_type: 'code',
            client_id: registered.client_id,
            redirect_uri: NEW_URI,
            scope: 'openid',
            state: 'S',
            prompt: 'none',
            code_challenge: challenge,
            code_challenge_method: 'S256',
          }),
        );
        assert.equal(silent.headers.location, undefined, 'never redirected to the proposed URI');
      });

      it('a self-registered client stored with client_credentials (older code) is refused until an operator approves it; the resource library then accepts its token', async () => {
        // As the old code stored an anonymous registration: dcr, active, client_credentials, never reviewed.
        const { client, secret } = buildClient(
          {
            name: 'Stranger',
            redirectUris: [],
            grantTypes: ['client_credentials'],
            scope: 'reports:read',
            allowedResources: [API],
            registeredVia: 'dcr',
          },
          open.clock.now(),
        );
        await open.deps.storage.clients.create(client);
        assert.ok(secret);
        const refused = await machineToken(open, client.id, secret);
        assertUnauthorizedClient(refused);

        // The console flags it; `gatehouse clients approve` is the operator's approval.
        const admin = await signedInAgent(open.app, await open.addUser({ isAdmin: true }));
        const page = await admin.get('/admin');
        assert.match(page.body, /client_credentials not approved/);
        const approved = await runCliCaptured(['clients', 'approve', client.id], env);
        assert.equal(approved.code, 0, approved.stderr);
        assert.equal(approved.stdout, `Approved Stranger (${client.id}).\n`);
        assert.ok((await eventsOf(open, client.id)).includes('client_approve'));

        const issued = await machineToken(open, client.id, secret);
        assert.equal(issued.statusCode, 200, issued.body);
        const jwks = (await open.app.inject('/jwks')).json() as JSONWebKeySet;
        const verifier = createVerifier({
          issuer: open.config.issuer,
          audience: API,
          jwks: createLocalJWKSet(jwks),
          now: () => open.clock.now(),
        });
        const verified = await verifier.verifyToken(issued.json().access_token);
        assert.equal(verified.subject, client.id);
        assert.deepEqual(verified.scopes, ['reports:read']);
      });

      it('an RFC 7592 PUT keeps the operator’s resource-server mark', async () => {
        const registered = (await register(open, WEB_CLIENT)).json();
        const marked = await runCliCaptured(['clients', 'resource-server', registered.client_id], env);
        assert.equal(marked.code, 0, marked.stderr);
        const put = await manage(open, 'PUT', registered.client_id, registered.registration_access_token, {
          ...WEB_CLIENT,
          client_id: registered.client_id,
          client_name: 'Renamed',
        });
        assert.equal(put.statusCode, 200, put.body);
        const client = await stored(open, registered.client_id);
        assert.equal(client.name, 'Renamed');
        assert.equal(client.resourceServer, true);
      });

      it('a client an operator made with the CLI keeps client_credentials', async () => {
        const made = await runCliCaptured(
          [
            'clients',
            'add',
            '--name',
            'Machine',
            '--grant',
            'client_credentials',
            '--scope',
            'reports:read',
            '--resource',
            API,
          ],
          env,
        );
        assert.equal(made.code, 0, made.stderr);
        const output = JSON.parse(made.stdout) as { client_id: string; client_secret: string };
        const issued = await machineToken(open, output.client_id, output.client_secret);
        assert.equal(issued.statusCode, 200, issued.body);
      });
    });

    describe('approval: client_credentials and changes wait for an administrator', () => {
      let server: TestServer;
      let env: Record<string, string>;
      let admin: Agent;

      before(async () => {
        ({ server, env } = await serverWith('approval'));
        admin = await signedInAgent(server.app, await server.addUser({ isAdmin: true }));
      });

      it('item 1: a registration asking for client_credentials waits; once the admin approves, the grant works', async () => {
        const response = await register(server, {
          client_name: 'Nightly export',
          redirect_uris: [],
          grant_types: ['client_credentials'],
          scope: 'reports:read',
        });
        assert.equal(response.statusCode, 201, response.body);
        const registered = response.json();
        assert.equal(registered.approval_status, 'pending');
        assert.deepEqual(registered.grant_types, ['client_credentials']);
        const refused = await machineToken(server, registered.client_id, registered.client_secret);
        assert.equal(refused.statusCode, 401, refused.body);
        assert.equal(refused.json().error, 'invalid_client');

        await consoleAction(admin, registered.client_id, 'approve');
        const client = await stored(server, registered.client_id);
        assert.equal(client.status, 'active');
        assert.notEqual(client.reviewedAt, null);
        const issued = await machineToken(server, registered.client_id, registered.client_secret);
        assert.equal(issued.statusCode, 200, issued.body);
      });

      /** A registered, approved web client: its id, secret and registration access token. */
      async function approvedClient() {
        const registered = (await register(server, WEB_CLIENT)).json();
        await consoleAction(admin, registered.client_id, 'approve');
        assert.equal((await stored(server, registered.client_id)).status, 'active');
        return registered as { client_id: string; client_secret: string; registration_access_token: string };
      }

      it('item 4: a PUT with a new redirect URI and name waits; the old URI works, the new one only once the console approves', async () => {
        const registered = await approvedClient();
        const put = await manage(server, 'PUT', registered.client_id, registered.registration_access_token, {
          ...WEB_CLIENT,
          client_id: registered.client_id,
          client_name: 'Google Drive',
          redirect_uris: [NEW_URI],
          grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
          scope: `${WEB_CLIENT.scope} reports:read`,
        });
        assert.equal(put.statusCode, 200, put.body);
        const answer = put.json();
        // The standard fields are the registration in force; the proposal is shown apart.
        assert.equal(answer.client_name, 'Meeting Notes');
        assert.deepEqual(answer.redirect_uris, [OLD_URI]);
        assert.deepEqual(answer.grant_types, ['authorization_code', 'refresh_token']);
        assert.equal(answer.approval_status, undefined);
        assert.equal(answer.pending_changes.approval_status, 'pending');
        assert.equal(answer.pending_changes.client_name, 'Google Drive');
        assert.deepEqual(answer.pending_changes.redirect_uris, [NEW_URI]);
        const token = answer.registration_access_token as string;
        const read = (await manage(server, 'GET', registered.client_id, token)).json();
        assert.deepEqual(read.redirect_uris, [OLD_URI]);
        assert.deepEqual(read.pending_changes.redirect_uris, [NEW_URI]);

        const client = await stored(server, registered.client_id);
        assert.equal(client.status, 'active');
        assert.equal(client.name, 'Meeting Notes');
        await assertRedirectUriWorks(server, registered.client_id, OLD_URI);
        await assertRedirectUriRefused(server, registered.client_id, NEW_URI);
        assertUnauthorizedClient(await machineToken(server, registered.client_id, registered.client_secret));

        // The console shows the change next to what was approved.
        const page = await consoleAction(admin, registered.client_id, 'approve-changes');
        assert.match(page.body, /Changes waiting for approval/);
        assert.ok(page.body.includes(NEW_URI) && page.body.includes('Google Drive'));

        const after = await stored(server, registered.client_id);
        assert.equal(after.name, 'Google Drive');
        assert.deepEqual(after.redirectUris, [NEW_URI]);
        assert.equal(after.pendingChanges, null);
        await assertRedirectUriWorks(server, registered.client_id, NEW_URI);
        await assertRedirectUriRefused(server, registered.client_id, OLD_URI);
        const issued = await machineToken(server, registered.client_id, registered.client_secret);
        assert.equal(issued.statusCode, 200, issued.body);
        assert.ok((await eventsOf(server, registered.client_id)).includes('client_approve_changes'));
        assert.equal(
          (await manage(server, 'GET', registered.client_id, token)).json().pending_changes,
          undefined,
        );
      });

      it('item 4: rejecting in the console drops the change; the approved registration stays', async () => {
        const registered = await approvedClient();
        const put = await manage(server, 'PUT', registered.client_id, registered.registration_access_token, {
          ...WEB_CLIENT,
          client_id: registered.client_id,
          redirect_uris: [NEW_URI],
          logo_uri: 'https://attacker.example/logo.png',
        });
        assert.equal(put.statusCode, 200, put.body);
        assert.ok((await stored(server, registered.client_id)).pendingChanges);
        await consoleAction(admin, registered.client_id, 'reject-changes');
        const client = await stored(server, registered.client_id);
        assert.equal(client.pendingChanges, null);
        assert.deepEqual(client.redirectUris, [OLD_URI]);
        assert.equal(client.metadata.logo_uri, undefined);
        await assertRedirectUriWorks(server, registered.client_id, OLD_URI);
        await assertRedirectUriRefused(server, registered.client_id, NEW_URI);
        assert.ok((await eventsOf(server, registered.client_id)).includes('client_reject_changes'));
      });

      it('item 8: a new CORS origin waits for review like a redirect URI, and opens nothing until approved', async () => {
        const registered = await approvedClient();
        const origin = 'https://evil.example';
        const put = await manage(server, 'PUT', registered.client_id, registered.registration_access_token, {
          ...WEB_CLIENT,
          client_id: registered.client_id,
          allowed_cors_origins: [origin],
        });
        assert.equal(put.statusCode, 200, put.body);
        const waiting = await stored(server, registered.client_id);
        assert.deepEqual(waiting.allowedCorsOrigins, [], 'the origin is not in force while it waits');
        assert.ok(waiting.pendingChanges, 'the change waits for review');
        const preflight = () =>
          server.app.inject({
            method: 'OPTIONS',
            url: '/token',
            headers: { origin, 'access-control-request-method': 'POST' },
          });
        assert.equal((await preflight()).headers['access-control-allow-origin'], undefined);
        await consoleAction(admin, registered.client_id, 'approve-changes');
        assert.deepEqual((await stored(server, registered.client_id)).allowedCorsOrigins, [origin]);
        assert.equal((await preflight()).headers['access-control-allow-origin'], origin);
      });

      it('item 4: `gatehouse clients approve` applies a waiting change with the console’s event', async () => {
        const registered = await approvedClient();
        await manage(server, 'PUT', registered.client_id, registered.registration_access_token, {
          ...WEB_CLIENT,
          client_id: registered.client_id,
          redirect_uris: [OLD_URI, NEW_URI],
        });
        await assertRedirectUriRefused(server, registered.client_id, NEW_URI);
        const listed = await runCliCaptured(['clients', 'list', '--json'], env);
        const row = (JSON.parse(listed.stdout) as Record<string, unknown>[]).find(
          (entry) => entry.client_id === registered.client_id,
        );
        assert.deepEqual(row?.pending_changes, ['redirect_uris']);
        const run = await runCliCaptured(['clients', 'approve', registered.client_id], env);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(
          run.stdout,
          `Approved the change to Meeting Notes (${registered.client_id}): redirect_uris.\n`,
        );
        await assertRedirectUriWorks(server, registered.client_id, NEW_URI);
        await assertRedirectUriWorks(server, registered.client_id, OLD_URI);
        const events = await server.deps.storage.securityEvents.list(1000);
        const event = events.find(
          (entry) => entry.clientId === registered.client_id && entry.type === 'client_approve_changes',
        );
        assert.deepEqual(event?.detail.fields, ['redirect_uris']);
        assert.deepEqual(event?.actor, { kind: 'cli' });
      });

      it('item 4: what changed after the console was shown is not approved unseen (registration and change)', async () => {
        const stale = async (clientId: string, action: string, change: () => Promise<unknown>) => {
          const page = await admin.get('/admin');
          const at = page.body.indexOf(`action="/admin/clients/${clientId}/${action}"`);
          assert.ok(at >= 0, `the console offers ${action}`);
          const seen = hiddenField(page.body.slice(at), 'seen') ?? '';
          await change();
          const response = await admin.post(`/admin/clients/${clientId}/${action}`, {
            _csrf: csrfFrom(page.body),
            seen,
          });
          assert.equal(response.statusCode, 409, response.body.slice(0, 300));
          assert.match(response.body, /changed after it was shown to you/);
        };
        // A pending registration that swaps its redirect URI while the administrator looks at it.
        const registered = (await register(server, WEB_CLIENT)).json();
        let token = registered.registration_access_token as string;
        const putUris = async (uris: string[]) => {
          const put = await manage(server, 'PUT', registered.client_id, token, {
            ...WEB_CLIENT,
            client_id: registered.client_id,
            redirect_uris: uris,
          });
          assert.equal(put.statusCode, 200, put.body);
          token = put.json().registration_access_token;
        };
        await stale(registered.client_id, 'approve', () => putUris([NEW_URI]));
        assert.equal((await stored(server, registered.client_id)).status, 'pending');

        // Approved as it is now; then a proposed change replaced by another one before the click.
        await consoleAction(admin, registered.client_id, 'approve');
        await putUris([OLD_URI]);
        await stale(registered.client_id, 'approve-changes', () => putUris(['https://other.example/cb']));
        const client = await stored(server, registered.client_id);
        assert.deepEqual(client.redirectUris, [NEW_URI]);
        assert.deepEqual(client.pendingChanges?.redirectUris, ['https://other.example/cb']);
      });

      it('item 4: a change that touches nothing reviewed (contacts) applies at once', async () => {
        const registered = await approvedClient();
        const put = await manage(server, 'PUT', registered.client_id, registered.registration_access_token, {
          ...WEB_CLIENT,
          client_id: registered.client_id,
          contacts: ['dev@rp.example'],
        });
        assert.equal(put.statusCode, 200, put.body);
        assert.equal(put.json().pending_changes, undefined);
        assert.deepEqual(put.json().contacts, ['dev@rp.example']);
        const client = await stored(server, registered.client_id);
        assert.equal(client.pendingChanges, null);
        assert.deepEqual(client.metadata.contacts, ['dev@rp.example']);
      });

      it('item 4: the portal’s redirect URI edit waits likewise, and the console approves it', async () => {
        const developer = await server.addUser();
        const browser = await signedInAgent(server.app, developer);
        const form = await browser.get('/portal/apps/new');
        const created = await browser.post('/portal/apps', {
          _csrf: csrfFrom(form.body),
          name: 'Portal App',
          redirect_uris: OLD_URI,
          type: 'confidential',
          scope_openid: '1',
        });
        assert.equal(created.statusCode, 303, created.body.slice(0, 300));
        const clientId = /^\/portal\/apps\/([^/]+)$/.exec(String(created.headers.location))?.[1];
        assert.ok(clientId);
        await consoleAction(admin, clientId, 'approve');

        const appPage = await browser.get(`/portal/apps/${clientId}`);
        const edit = await browser.post(`/portal/apps/${clientId}/redirect-uris`, {
          _csrf: csrfFrom(appPage.body),
          redirect_uris: NEW_URI,
        });
        assert.equal(edit.statusCode, 303, edit.body.slice(0, 300));
        const client = await stored(server, clientId);
        assert.deepEqual(client.redirectUris, [OLD_URI]);
        assert.deepEqual(client.pendingChanges?.redirectUris, [NEW_URI]);
        assert.match((await browser.get(`/portal/apps/${clientId}`)).body, /data-testid="pending-changes"/);
        await assertRedirectUriWorks(server, clientId, OLD_URI);
        await assertRedirectUriRefused(server, clientId, NEW_URI);

        await consoleAction(admin, clientId, 'approve-changes');
        assert.deepEqual((await stored(server, clientId)).redirectUris, [NEW_URI]);
        await assertRedirectUriWorks(server, clientId, NEW_URI);
      });
    });
  });
}

reviewSuite('SQLite', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-review-db-'));
  return {
    url: `sqlite:${path.join(dir, 'gatehouse.db')}`,
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

const { postgres, skip: skipReason } = await postgresOrSkipReason();
if (postgres === undefined) {
  test('operator review of self-registered clients: PostgreSQL', (t) => {
    t.skip(skipReason);
  });
} else {
  const cluster = postgres;
  reviewSuite('PostgreSQL', async () => {
    const fresh = await freshDatabase(cluster.url);
    return {
      url: fresh.url,
      cleanup: async () => {
        await fresh.drop();
        await cluster.stop();
      },
    };
  });
}
