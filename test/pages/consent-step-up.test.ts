// Step-up consent (issue 16): an app asking for more than the person already allowed it (an MCP client after an
// insufficient_scope answer, SEP-2350) is asked about the new scopes only; what was allowed before is listed
// apart, and the grant then covers both. On SQLite and on PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Agent, csrfFrom, localPath } from '../helpers/agent.ts';
import { authorizeUrl, pkcePair, runAuthorizationFlow } from '../helpers/flow.ts';
import { onEachDatabase } from '../helpers/postgres.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';

const section = (body: string, testId: string) =>
  new RegExp(`data-testid="${testId}">(.*?)</ul>`, 's').exec(body)?.[1] ?? '';
const codes = (list: string) => [...list.matchAll(/<code>([^<]+)<\/code>/g)].map((match) => match[1]);

await onEachDatabase('step-up consent', (database, databaseUrl) => {
  describe(`step-up consent on ${database}`, () => {
    let server: TestServer;
    before(async () => {
      server = await buildTestServer({}, { databaseUrl: await databaseUrl() });
    });
    after(() => server?.close());

    /** Starts an authorization for `scope` in a signed-in browser and returns the consent page it lands on. */
    async function consentPageFor(
      agent: Agent,
      clientId: string,
      scope: string,
      extra: Record<string, string> = {},
    ) {
      const { challenge } = pkcePair();
      let response = await agent.get(
        authorizeUrl({
          response_type: 'code',
          client_id: clientId,
          redirect_uri: 'https://rp.example/cb',
          scope,
          state: 's',
          code_challenge: challenge,
          code_challenge_method: 'S256',
          ...extra,
        }),
      );
      for (let step = 0; step < 4 && response.statusCode === 303; step++) {
        const location = String(response.headers.location);
        if (!location.startsWith('/')) break;
        response = await agent.get(localPath(location));
      }
      return response;
    }

    it('asks only about the new scopes, lists the allowed ones apart, and the grant covers both', async () => {
      const user = await server.addUser();
      const { client } = await server.addClient({ scope: 'openid profile email offline_access' });
      const first = await runAuthorizationFlow(server, client, user, { scope: 'openid profile' });

      const page = await consentPageFor(first.agent, client.id, 'openid profile email');
      assert.equal(page.statusCode, 200, page.body.slice(0, 200));
      assert.match(page.body, /wants more access to your account/);
      assert.deepEqual(codes(section(page.body, 'scopes')), ['email']);
      assert.deepEqual(codes(section(page.body, 'already-allowed')), ['openid', 'profile']);

      const interaction = /name="interaction" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
      const allowed = await first.agent.post('/consent', {
        _csrf: csrfFrom(page.body),
        interaction,
        action: 'allow',
      });
      assert.equal(allowed.statusCode, 303);
      const consent = await server.deps.storage.consents.find(user.id, client.id);
      assert.deepEqual(consent?.scope.split(' ').sort(), ['email', 'openid', 'profile']);
    });

    it('the same scopes again with prompt=consent: the whole list, no step-up wording', async () => {
      const user = await server.addUser();
      const { client } = await server.addClient();
      const first = await runAuthorizationFlow(server, client, user, { scope: 'openid profile' });
      const page = await consentPageFor(first.agent, client.id, 'openid profile', { prompt: 'consent' });
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /wants to access your account/);
      assert.deepEqual(codes(section(page.body, 'scopes')), ['openid', 'profile']);
      assert.doesNotMatch(page.body, /already-allowed/);
    });
  });
});
