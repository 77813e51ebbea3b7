// login_hint (OIDC Core §3.1.2.1) on Gatehouse's own sign-in page: a hint that is an email fills the email field
// (and the password field gets the focus); anything else is ignored; a hostile hint is only ever shown escaped.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { emailFromHint } from '../../src/pages/login/route.ts';
import type { Client } from '../../src/storage/storage.ts';
import { Agent } from '../helpers/agent.ts';
import { authorizeUrl, pkcePair } from '../helpers/flow.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';

describe('login_hint on the sign-in page', () => {
  let server: TestServer;
  let client: Client;

  before(async () => {
    server = await buildTestServer();
    client = (await server.addClient()).client;
  });
  after(() => server.close());

  /** The sign-in page a browser lands on after /authorize with this login_hint. */
  async function signInPage(loginHint: string): Promise<string> {
    const agent = new Agent(server.app);
    const started = await agent.get(
      authorizeUrl({
        response_type: 'code',
        client_id: client.id,
        redirect_uri: client.redirectUris[0],
        scope: 'openid',
        state: 's',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
        login_hint: loginHint,
      }),
    );
    assert.equal(started.statusCode, 303, started.body);
    const location = String(started.headers.location);
    assert.match(location, /^\/login\?/);
    const page = await agent.get(location);
    assert.equal(page.statusCode, 200);
    return page.body;
  }

  it('an email hint fills the email field, and the password field gets the focus', async () => {
    const body = await signInPage('ada@example.com');
    assert.match(body, /<input id="email"[^>]* value="ada@example\.com">/);
    assert.match(body, /<input id="password"[^>]* autofocus>/);
  });

  it('no hint, or one that is not an email: an empty field with the focus', async () => {
    for (const hint of ['+44 20 7946 0000', 'user-4711', '']) {
      const body = await signInPage(hint);
      assert.match(body, /<input id="email"[^>]* value="" autofocus>/, hint);
      assert.doesNotMatch(body, /<input id="password"[^>]* autofocus>/, hint);
    }
  });

  it('a hostile email-shaped hint is shown escaped, never as markup (G-04)', async () => {
    const body = await signInPage('a"><svg/onload=alert(1)>@example.com');
    assert.ok(!body.includes('<svg'), 'no markup from the hint');
    assert.match(body, /value="a&quot;&gt;&lt;svg\/onload=alert\(1\)&gt;@example\.com"/);
  });

  it('emailFromHint: only one @, no spaces, at most 320 characters', () => {
    assert.equal(emailFromHint('ada@example.com'), 'ada@example.com');
    for (const hint of [undefined, null, '', 'ada', 'a@b@c', 'a b@c', `${'a'.repeat(320)}@b`]) {
      assert.equal(emailFromHint(hint), undefined, String(hint));
    }
  });
});
