// The sign-in page over app.inject: one answer for every failure (no account enumeration), per-account
// throttling with Retry-After, and a successful sign-in that returns straight to the authorization request.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import type { Client } from '../../src/storage/storage.ts';
import { Agent, csrfFrom, hiddenField } from '../helpers/agent.ts';
import { authorizeUrl, pkcePair } from '../helpers/flow.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';
import { cookieNamed, interactionOf, startAuthorization } from './support.ts';

async function attempt(agent: Agent, email: string, password: string, interaction?: string) {
  const page = await agent.get(
    interaction ? `/login?interaction=${encodeURIComponent(interaction)}` : '/login',
  );
  assert.equal(page.statusCode, 200);
  return agent.post('/login', {
    _csrf: csrfFrom(page.body),
    email,
    password,
    ...(interaction ? { interaction } : {}),
  });
}

/** The page with the per-response values (CSRF token, echoed email) blanked out. */
function normalized(response: LightMyRequestResponse): string {
  return response.body
    .replace(/name="_csrf" value="[^"]*"/g, 'name="_csrf" value=""')
    .replace(/(name="email" type="email" autocomplete="username" required) value="[^"]*"/, '$1 value=""');
}

function errorText(response: LightMyRequestResponse): string | undefined {
  return /<p class="error" role="alert">([^<]*)<\/p>/.exec(response.body)?.[1];
}

describe('login page', () => {
  let server: TestServer;
  let client: Client;

  before(async () => {
    server = await buildTestServer();
    ({ client } = await server.addClient({ name: 'Acme Reader' }));
  });
  after(() => server.close());

  const request = () =>
    authorizeUrl({
      response_type: 'code',
      client_id: client.id,
      redirect_uri: 'https://rp.example/cb',
      scope: 'openid',
      state: 'S',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
    });

  it('a wrong password and an unknown email get the same status and the same page', async () => {
    const user = await server.addUser();
    const agent = new Agent(server.app);
    const wrongPassword = await attempt(agent, user.email, 'not the password at all');
    const unknownEmail = await attempt(agent, 'nobody-here@example.com', 'not the password at all');
    assert.equal(wrongPassword.statusCode, 401);
    assert.equal(unknownEmail.statusCode, 401);
    assert.equal(errorText(wrongPassword), 'Incorrect email or password.');
    assert.equal(errorText(unknownEmail), errorText(wrongPassword));
    assert.equal(normalized(unknownEmail), normalized(wrongPassword));
    assert.equal(cookieNamed(wrongPassword, 'gatehouse_session'), undefined);
    assert.equal(cookieNamed(unknownEmail, 'gatehouse_session'), undefined);
  });

  it('an empty password is refused like a wrong one', async () => {
    const user = await server.addUser();
    const response = await attempt(new Agent(server.app), user.email, '');
    assert.equal(response.statusCode, 401);
    assert.equal(errorText(response), 'Incorrect email or password.');
  });

  it('the email is matched case-insensitively', async () => {
    const user = await server.addUser();
    const response = await attempt(new Agent(server.app), user.email.toUpperCase(), user.password);
    assert.equal(response.statusCode, 303, response.body);
  });

  it('a direct sign-in (no authorization request) lands on the account page, signed in', async () => {
    const user = await server.addUser();
    const agent = new Agent(server.app);
    const response = await attempt(agent, user.email, user.password);
    assert.equal(response.statusCode, 303);
    assert.equal(response.headers.location, '/');
    const home = await agent.get('/');
    assert.match(home.body, /You are signed in/);
    assert.ok(home.body.includes(user.email));
  });

  it('a successful sign-in returns straight to the authorization request, even after a typo', async () => {
    const user = await server.addUser();
    const agent = new Agent(server.app);
    const loginPath = await startAuthorization(agent, request());
    const interaction = interactionOf(loginPath);

    const page = await agent.get(loginPath);
    assert.match(page.body, /to continue to <strong>Acme Reader<\/strong>/);
    assert.equal(hiddenField(page.body, 'interaction'), interaction);

    const typo = await attempt(agent, user.email, 'typo typo typo', interaction);
    assert.equal(typo.statusCode, 401);
    assert.equal(hiddenField(typo.body, 'interaction'), interaction, 'the retry form keeps the request');
    assert.match(typo.body, /Acme Reader/);

    const response = await attempt(agent, user.email, user.password, interaction);
    assert.equal(response.statusCode, 303);
    assert.equal(
      response.headers.location,
      `/authorize/resume?interaction=${encodeURIComponent(interaction)}`,
    );
    const resumed = await agent.get(String(response.headers.location));
    assert.equal(resumed.statusCode, 303);
    assert.equal(resumed.headers.location, `/consent?interaction=${encodeURIComponent(interaction)}`);
  });

  it('an unknown interaction id on the login page is ignored, not an error', async () => {
    const page = await new Agent(server.app).get('/login?interaction=does-not-exist');
    assert.equal(page.statusCode, 200);
    assert.equal(hiddenField(page.body, 'interaction'), undefined);
  });
});

describe('login throttling', () => {
  let server: TestServer;
  before(async () => {
    // A server of its own: the per-IP counter (every inject comes from 127.0.0.1) must start at zero.
    server = await buildTestServer();
  });
  after(() => server.close());

  it('after 5 failures the account is refused with 429 and Retry-After, even with the right password', async () => {
    const user = await server.addUser();
    const other = await server.addUser();
    const agent = new Agent(server.app);

    for (let failure = 1; failure <= 5; failure++) {
      const response = await attempt(agent, user.email, `wrong password ${failure}`);
      assert.equal(response.statusCode, 401, `attempt ${failure}: ${errorText(response)}`);
    }

    const locked = await attempt(agent, user.email, user.password);
    assert.equal(locked.statusCode, 429, errorText(locked));
    const retryAfter = String(locked.headers['retry-after'] ?? '');
    assert.match(retryAfter, /^[1-9]\d*$/, `Retry-After: ${retryAfter}`);
    assert.match(errorText(locked) ?? '', /Too many attempts/);
    assert.equal(cookieNamed(locked, 'gatehouse_session'), undefined, 'no session while locked');
    assert.equal(agent.cookies.has('gatehouse_session'), false);

    // Case and surrounding spaces do not give a fresh counter.
    const variant = await attempt(agent, `  ${user.email.toUpperCase()} `, user.password);
    assert.equal(variant.statusCode, 429);

    // Another account from the same address is not locked out by this one.
    const bystander = await attempt(new Agent(server.app), other.email, other.password);
    assert.equal(bystander.statusCode, 303, errorText(bystander));

    // Still locked at the last millisecond of the delay, free once it has passed.
    server.clock.advance(Number(retryAfter) * 1000 - 1);
    assert.equal((await attempt(agent, user.email, user.password)).statusCode, 429);
    server.clock.advance(1);
    const ok = await attempt(agent, user.email, user.password);
    assert.equal(ok.statusCode, 303, errorText(ok));
    assert.ok(cookieNamed(ok, 'gatehouse_session'));
  });
});
