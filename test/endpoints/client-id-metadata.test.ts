// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; docs/security.md H-08, H-03, H-11), on
// SQLite and PostgreSQL. The client's web site is an https server on 127.0.0.1 (test/helpers/document-server.ts),
// reached through buildTestServer's test-only allowance. A whole flow (authorize, consent naming the host, code,
// refresh), the client row it leaves (treated as an anonymous dynamic registration), caching by Cache-Control
// within the floor, a changed document, and every way a document must be refused: a page or invalid_client,
// never a 5xx, never a row.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import type { Client, User } from '../../src/storage/storage.ts';
import { Browserish } from '../e2e/browserish.ts';
import { type LoopbackServer, startLoopbackServer } from '../e2e/loopback.ts';
import { csrfFrom, hiddenField, signedInAgent } from '../helpers/agent.ts';
import { type DocumentServer, type ScriptedAnswer, startDocumentServer } from '../helpers/document-server.ts';
import { onEachDatabase } from '../helpers/postgres.ts';
import { buildTestServer } from '../helpers/server.ts';

const CALLBACK = 'http://127.0.0.1:51234/cb';

function documentFor(url: string, extra: Record<string, unknown> = {}) {
  return {
    client_id: url,
    client_name: 'Totally Official Assistant',
    redirect_uris: [CALLBACK],
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'none',
    scope: 'openid profile offline_access',
    ...extra,
  };
}

async function pkce() {
  const verifier = oauth.generateRandomCodeVerifier();
  return { verifier, challenge: await oauth.calculatePKCECodeChallenge(verifier) };
}

function authorizeQuery(clientId: string, challenge: string, extra: Record<string, string> = {}) {
  return new URLSearchParams({
    client_id: clientId,
    redirect_uri: CALLBACK,
    response_type: 'code',
    scope: 'openid offline_access',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'st',
    ...extra,
  }).toString();
}

await onEachDatabase('Client ID Metadata Documents', (database, databaseUrl) => {
  describe(`Client ID Metadata Documents (${database})`, () => {
    let site: DocumentServer;
    let loopback: LoopbackServer;
    let user: User & { email: string; password: string };
    let url = '';

    before(async () => {
      site = await startDocumentServer();
      loopback = await startLoopbackServer(
        {},
        { databaseUrl: await databaseUrl(), documentServer: { ca: site.ca } },
      );
      user = await loopback.server.addUser({ name: 'Ada' });
      url = site.serve('/oauth/client.json', {
        body: documentFor(`${site.origin}/oauth/client.json`),
        headers: { 'cache-control': 'max-age=120' },
      });
    });
    after(async () => {
      await loopback?.close();
      await site?.close();
    });

    const storage = () => loopback.server.deps.storage;

    it('discovery says so', async () => {
      const doc = (await (
        await fetch(`${loopback.issuer}/.well-known/oauth-authorization-server`)
      ).json()) as Record<string, unknown>;
      assert.equal(doc.client_id_metadata_document_supported, true);
    });

    it('the whole flow: consent names the host and warns; code, token and refresh work on the URL client_id', async () => {
      const { verifier, challenge } = await pkce();
      const agent = new Browserish(loopback.issuer);
      let response = await agent.request(`${loopback.issuer}/authorize?${authorizeQuery(url, challenge)}`);
      let consentHtml = '';
      let loginHtml = '';
      let callback: URL | undefined;
      for (let step = 0; step < 8 && !callback; step++) {
        assert.equal(response.status, 303, `step ${step}: HTTP ${response.status}`);
        const location = new URL(response.headers.get('location') ?? '', loopback.issuer);
        if (location.href.startsWith(`${CALLBACK}?`)) {
          callback = location;
          break;
        }
        const page = await agent.request(location.href);
        const html = await page.text();
        if (location.pathname === '/login') {
          loginHtml = html;
          response = await agent.request(`${loopback.issuer}/login`, {
            _csrf: csrfFrom(html),
            interaction: hiddenField(html, 'interaction') ?? '',
            email: user.email,
            password: user.password,
          });
        } else if (location.pathname === '/consent') {
          consentHtml = html;
          response = await agent.request(`${loopback.issuer}/consent`, {
            _csrf: csrfFrom(html),
            interaction: hiddenField(html, 'interaction') ?? '',
            action: 'allow',
          });
        } else {
          response = page;
        }
      }
      assert.ok(callback, 'the flow reached the client');
      const host = new URL(url).host;
      assert.match(consentHtml, new RegExp(`data-testid="client-name">${host.replace('.', '\\.')}<`));
      assert.match(consentHtml, /data-testid="unverified"/);
      assert.ok(loginHtml.includes(host), 'the sign-in page names the client by its host too');
      assert.ok(!loginHtml.includes('Totally Official Assistant'), 'never by the name it asserts');
      assert.match(consentHtml, /calls itself “Totally Official Assistant”, a name it chose itself/);
      assert.equal(callback.searchParams.get('iss'), loopback.issuer);

      const token = async (form: Record<string, string>) =>
        fetch(`${loopback.issuer}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(form),
        });
      const exchanged = await token({
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code') ?? '',
        redirect_uri: CALLBACK,
        client_id: url,
        code_verifier: verifier,
      });
      assert.equal(exchanged.status, 200);
      const tokens = (await exchanged.json()) as Record<string, string>;
      assert.ok(tokens.access_token && tokens.refresh_token);
      const refreshed = await token({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token ?? '',
        client_id: url,
      });
      assert.equal(refreshed.status, 200);
      assert.equal(site.hits('/oauth/client.json'), 1, 'fetched once: the rest came from the cache');
    });

    it('the client row is an anonymous dynamic registration keyed by the URL, recorded once', async () => {
      const client = (await storage().clients.find(url)) as Client;
      assert.equal(client.registeredVia, 'cimd');
      assert.equal(client.tokenEndpointAuthMethod, 'none');
      assert.equal(client.applicationType, 'native');
      assert.equal(client.reviewedAt, null);
      assert.equal(client.registrationAccessTokenHash, null);
      assert.equal(client.secretHash, null);
      assert.deepEqual(client.grantTypes, ['authorization_code', 'refresh_token']);
      const events = await storage().securityEvents.list({
        type: 'client_registered',
        clientId: url,
        limit: 5,
      });
      assert.equal(events.length, 1);
      assert.equal(events[0]?.detail.via, 'client_id_metadata_document');
    });

    it('a document asking for client_credentials or scopes beyond the registration scopes does not get them', async () => {
      const greedy = site.serve('/greedy.json', {
        body: documentFor(`${site.origin}/greedy.json`, {
          grant_types: ['authorization_code', 'client_credentials'],
          scope: 'openid admin:everything',
        }),
      });
      const { challenge } = await pkce();
      const answer = await fetch(
        `${loopback.issuer}/authorize?${authorizeQuery(greedy, challenge, { scope: 'openid' })}`,
        { redirect: 'manual' },
      );
      assert.equal(answer.status, 303);
      const client = (await storage().clients.find(greedy)) as Client;
      assert.deepEqual(client.grantTypes, ['authorization_code']);
      assert.equal(client.scope, 'openid');
      const credentials = await fetch(`${loopback.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: greedy }),
      });
      assert.equal(credentials.status >= 400 && credentials.status < 500, true);
    });

    it('Cache-Control decides when the document is fetched again, and a changed document rewrites the row', async () => {
      const path = '/changing.json';
      const changing = `${site.origin}${path}`;
      let redirect = CALLBACK;
      site.serve(path, () => ({
        body: documentFor(changing, { redirect_uris: [redirect] }),
        headers: { 'cache-control': 'max-age=300' },
      }));
      const { challenge } = await pkce();
      const go = () =>
        fetch(`${loopback.issuer}/authorize?${authorizeQuery(changing, challenge)}`, { redirect: 'manual' });
      assert.equal((await go()).status, 303);
      assert.equal((await go()).status, 303);
      assert.equal(site.hits(path), 1);
      redirect = 'http://127.0.0.1:51999/other';
      loopback.server.clock.advance(301_000);
      const after = await go();
      assert.equal(after.status, 400, 'the old redirect URI is gone from the document');
      assert.equal(site.hits(path), 2);
      assert.deepEqual((await storage().clients.find(changing))?.redirectUris, [redirect]);
    });

    it('a document that turns bad is refused from then on, never served from the row an older one left', async () => {
      const path = '/turns-bad.json';
      const target = `${site.origin}${path}`;
      let bad = false;
      site.serve(path, () => ({
        body: bad ? documentFor(target, { client_secret: 'leaked' }) : documentFor(target),
        headers: { 'cache-control': 'max-age=120' },
      }));
      const { challenge } = await pkce();
      const go = () =>
        fetch(`${loopback.issuer}/authorize?${authorizeQuery(target, challenge)}`, { redirect: 'manual' });
      assert.equal((await go()).status, 303);
      bad = true;
      loopback.server.clock.advance(121_000);
      for (let i = 0; i < 3; i++) assert.equal((await go()).status, 400, `request ${i} after the change`);
      assert.equal(
        site.hits(path),
        2,
        'the refused document is kept for its freshness: no fetch per request',
      );
    });

    it('no-store is kept for the floor (60 s), not fetched on every request', async () => {
      const path = '/no-store.json';
      const noStore = site.serve(path, {
        body: documentFor(`${site.origin}${path}`),
        headers: { 'cache-control': 'no-store' },
      });
      const { challenge } = await pkce();
      for (let i = 0; i < 3; i++) {
        await fetch(`${loopback.issuer}/authorize?${authorizeQuery(noStore, challenge)}`, {
          redirect: 'manual',
        });
      }
      assert.equal(site.hits(path), 1);
      loopback.server.clock.advance(61_000);
      await fetch(`${loopback.issuer}/authorize?${authorizeQuery(noStore, challenge)}`, {
        redirect: 'manual',
      });
      assert.equal(site.hits(path), 2);
    });

    it('eight first requests at once: one fetch, one row, one event', async () => {
      const path = '/burst.json';
      const burst = site.serve(path, { body: documentFor(`${site.origin}${path}`), delayMs: 100 });
      const { challenge } = await pkce();
      const answers = await Promise.all(
        Array.from({ length: 8 }, () =>
          fetch(`${loopback.issuer}/authorize?${authorizeQuery(burst, challenge)}`, { redirect: 'manual' }),
        ),
      );
      assert.deepEqual(
        answers.map((answer) => answer.status),
        Array(8).fill(303),
      );
      assert.equal(site.hits(path), 1);
      const events = await storage().securityEvents.list({
        type: 'client_registered',
        clientId: burst,
        limit: 5,
      });
      assert.equal(events.length, 1);
    });

    describe('refusals (H-08): an error page or invalid_client, never a 5xx, never a row', () => {
      const cases: [string, string, ScriptedAnswer | undefined, RegExp][] = [
        [
          "the document's client_id is another URL (spoofing)",
          '/spoof.json',
          { body: documentFor('https://trusted.example/client.json') },
          /client_id is not its own URL/,
        ],
        [
          'a client_secret in the document',
          '/secret.json',
          { body: { client_secret: 'shh' } },
          /must not hold a client_secret/,
        ],
        [
          'a symmetric authentication method',
          '/basic.json',
          { body: { token_endpoint_auth_method: 'client_secret_basic' } },
          /must be &quot;none&quot; or &quot;private_key_jwt&quot;|must be "none" or "private_key_jwt"/,
        ],
        ['no redirect URIs', '/no-redirects.json', { body: { redirect_uris: [] } }, /no redirect_uris/],
        [
          'a redirect URI the registration rules refuse',
          '/bad-redirect.json',
          { body: { redirect_uris: ['http://evil.example/cb'] } },
          /must use https/,
        ],
        [
          'a redirect (3xx) instead of the document',
          '/moved.json',
          { status: 302, headers: { location: '/x' } },
          /redirects are not followed/,
        ],
        ['HTTP 404', '/missing.json', undefined, /answered HTTP 404/],
        [
          'not JSON',
          '/html.json',
          { headers: { 'content-type': 'text/html' }, body: '<html>' },
          /not application\/json/,
        ],
        ['invalid JSON', '/broken.json', { body: '{"client_id":' }, /not valid JSON/],
        [
          'a document larger than the limit',
          '/huge.json',
          { body: { padding: 'x'.repeat(20_000) } },
          /larger than 16384 bytes/,
        ],
      ];
      for (const [name, path, answer, why] of cases) {
        it(name, async () => {
          const target = `${site.origin}${path}`;
          if (answer) {
            const body =
              typeof answer.body === 'string' ? answer.body : { ...documentFor(target), ...answer.body };
            site.serve(path, { ...answer, body });
          }
          const { challenge } = await pkce();
          const page = await fetch(`${loopback.issuer}/authorize?${authorizeQuery(target, challenge)}`, {
            redirect: 'manual',
          });
          assert.equal(page.status, 400);
          assert.match(await page.text(), why);
          assert.equal(await storage().clients.find(target), undefined);
          const token = await fetch(`${loopback.issuer}/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', client_id: target }),
          });
          assert.equal(token.status, 401);
          assert.equal(((await token.json()) as { error: string }).error, 'invalid_client');
        });
      }

      it('a redirect_uri the document does not list', async () => {
        const { challenge } = await pkce();
        const page = await fetch(
          `${loopback.issuer}/authorize?${authorizeQuery(url, challenge, { redirect_uri: 'http://127.0.0.1:51234/elsewhere' })}`,
          { redirect: 'manual' },
        );
        assert.equal(page.status, 400);
        assert.match(await page.text(), /redirect_uri is not registered/);
      });

      for (const [name, clientId] of [
        ['no path', 'https://127.0.0.1:1/'],
        ['a fragment', 'https://127.0.0.1:1/c.json#x'],
        ['dot segments', 'https://127.0.0.1:1/a/../c.json'],
        ['credentials', 'https://u:p@127.0.0.1:1/c.json'],
        ['a cloud metadata address', 'https://169.254.169.254/latest/meta-data/c.json'],
        ['upper case host (not canonical)', 'https://Example.com/c.json'],
      ]) {
        it(`a client_id URL with ${name} is refused without a fetch`, async () => {
          const { challenge } = await pkce();
          const page = await fetch(
            `${loopback.issuer}/authorize?${authorizeQuery(clientId as string, challenge)}`,
            {
              redirect: 'manual',
            },
          );
          assert.equal(page.status, 400);
          assert.match(await page.text(), /could not be identified/);
        });
      }

      it('a client_id URL naming a client made otherwise is never rewritten from a document', async () => {
        const taken = site.serve('/taken.json', { body: documentFor(`${site.origin}/taken.json`) });
        const made = await loopback.server.addClient({ name: 'Operator app', redirectUris: [CALLBACK] });
        await storage().clients.create({ ...made.client, id: taken });
        const { challenge } = await pkce();
        const page = await fetch(`${loopback.issuer}/authorize?${authorizeQuery(taken, challenge)}`, {
          redirect: 'manual',
        });
        assert.equal(page.status, 400);
        assert.equal((await storage().clients.find(taken))?.name, 'Operator app');
        assert.equal(site.hits('/taken.json'), 0);
      });
    });
  });

  describe(`Client ID Metadata Documents: policy and operator lists (${database})`, () => {
    let site: DocumentServer;
    before(async () => {
      site = await startDocumentServer();
    });
    after(() => site?.close());

    async function authorizeWith(
      env: Record<string, string>,
      path: string,
      options: { times?: number } = {},
    ) {
      const server = await buildTestServer(env, {
        databaseUrl: await databaseUrl(),
        documentServer: { ca: site.ca },
      });
      try {
        const target = site.serve(path, { body: documentFor(`${site.origin}${path}`) });
        const { challenge } = await pkce();
        const answers = [];
        for (let i = 0; i < (options.times ?? 1); i++) {
          const path2 = path.replace('.json', `-${i}.json`);
          const each = options.times
            ? site.serve(path2, { body: documentFor(`${site.origin}${path2}`) })
            : target;
          answers.push(
            await server.app.inject({ method: 'GET', url: `/authorize?${authorizeQuery(each, challenge)}` }),
          );
        }
        const discovery = (
          await server.app.inject({ method: 'GET', url: '/.well-known/openid-configuration' })
        ).json();
        return { answers, discovery, stored: await server.deps.storage.clients.find(target) };
      } finally {
        await server.close();
      }
    }

    it('the admin console lists the client by its URL and disables it through its own links', async () => {
      const server = await buildTestServer(
        {},
        { databaseUrl: await databaseUrl(), documentServer: { ca: site.ca } },
      );
      try {
        const path = '/console.json';
        const target = site.serve(path, { body: documentFor(`${site.origin}${path}`) });
        const { challenge } = await pkce();
        const authorize = () =>
          server.app.inject({ method: 'GET', url: `/authorize?${authorizeQuery(target, challenge)}` });
        assert.equal((await authorize()).statusCode, 303);
        const admin = await server.addUser({ isAdmin: true });
        const agent = await signedInAgent(server.app, admin);
        const console = await agent.get('/admin');
        assert.match(console.body, /its client ID metadata document/);
        const disableLink = `/admin/clients/${encodeURIComponent(target)}/disable`;
        assert.ok(console.body.includes(`href="${disableLink}"`), 'the link carries the URL encoded');
        const confirmation = await agent.get(disableLink);
        assert.equal(confirmation.statusCode, 200);
        const disabled = await agent.post(disableLink, {
          _csrf: csrfFrom(confirmation.body),
          confirm: 'yes',
        });
        assert.equal(disabled.statusCode, 303);
        assert.notEqual((await server.deps.storage.clients.find(target))?.disabledAt, null);
        const refused = await authorize();
        assert.equal(refused.statusCode, 400);
        assert.match(refused.body, /not registered here/);
      } finally {
        await server.close();
      }
    });

    it('switched off: not advertised, not fetched, the client is unknown', async () => {
      const { answers, discovery } = await authorizeWith(
        { GATEHOUSE_CLIENT_ID_METADATA_DOCUMENTS: 'off' },
        '/off.json',
      );
      assert.equal(discovery.client_id_metadata_document_supported, undefined);
      assert.equal(answers[0]?.statusCode, 400);
      assert.match(answers[0]?.body ?? '', /not registered here/);
      assert.equal(site.hits('/off.json'), 0);
    });

    it('off by default under GATEHOUSE_REGISTRATION=token', async () => {
      const { discovery } = await authorizeWith({ GATEHOUSE_REGISTRATION: 'token' }, '/token-policy.json');
      assert.equal(discovery.client_id_metadata_document_supported, undefined);
      assert.equal(site.hits('/token-policy.json'), 0);
    });

    it('under GATEHOUSE_REGISTRATION=approval the client waits for an administrator', async () => {
      const { answers, stored } = await authorizeWith(
        { GATEHOUSE_REGISTRATION: 'approval' },
        '/approval.json',
      );
      assert.equal(stored?.status, 'pending');
      assert.equal(answers[0]?.statusCode, 400);
      assert.match(answers[0]?.body ?? '', /waiting for approval/);
    });

    it('a host on the deny-list is never contacted', async () => {
      const { answers, stored } = await authorizeWith(
        { GATEHOUSE_CLIENT_DOCUMENT_DENY_HOSTS: '127.0.0.1' },
        '/denied.json',
      );
      assert.equal(answers[0]?.statusCode, 400);
      assert.match(answers[0]?.body ?? '', /deny-list/);
      assert.equal(stored, undefined);
      assert.equal(site.hits('/denied.json'), 0);
    });

    it('with an allow-list, a host not on it is never contacted', async () => {
      const { answers } = await authorizeWith(
        { GATEHOUSE_CLIENT_DOCUMENT_ALLOW_HOSTS: '*.mcp.example claude.ai' },
        '/not-allowed.json',
      );
      assert.equal(answers[0]?.statusCode, 400);
      assert.match(
        answers[0]?.body ?? '',
        /not on the operator&#39;s allow-list|not on the operator's allow-list/,
      );
      assert.equal(site.hits('/not-allowed.json'), 0);
    });

    it('new clients count against the registration rate limit of the address', async () => {
      const { answers } = await authorizeWith({ GATEHOUSE_REGISTRATION_RATE_LIMIT: '2' }, '/many.json', {
        times: 3,
      });
      assert.deepEqual(
        answers.map((answer) => answer.statusCode),
        [303, 303, 429],
      );
    });

    it('the per-host rate limit stops a stranger making Gatehouse hammer a host', async () => {
      const { answers } = await authorizeWith({ GATEHOUSE_OUTBOUND_HOST_RATE_LIMIT: '2' }, '/hammer.json', {
        times: 3,
      });
      assert.deepEqual(
        answers.map((answer) => answer.statusCode),
        [303, 303, 400],
      );
      assert.match(answers[2]?.body ?? '', /too many requests to 127\.0\.0\.1/);
      assert.equal(site.hits('/hammer-2.json'), 0);
    });
  });
});
