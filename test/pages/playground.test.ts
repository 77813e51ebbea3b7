// The OAuth playground over HTTP: the form, refusals before the flow starts, the sealed state cookie (G-08:
// HttpOnly, a session cookie, nothing readable in it, nothing in the database), the callback's state and iss
// checks (RFC 9207), tampered cookies, the curl commands (run through a real POSIX shell, and through curl
// itself, against the server on 127.0.0.1), and refresh, introspect and revoke.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { LightMyRequestResponse } from 'fastify';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../src/storage/database.ts';
import { openDatabase } from '../../src/storage/open.ts';
import type { Client, User } from '../../src/storage/storage.ts';
import { sha256 } from '../../src/util/hash.ts';
import { seal, sealKeyFrom } from '../../src/util/seal.ts';
import { freePort } from '../e2e/loopback.ts';
import { Agent, csrfFrom, signedInAgent } from '../helpers/agent.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';
import { assertPageHeaders, cookieNamed } from './support.ts';

const run = promisify(execFile);
type TestUser = User & { email: string; password: string };

const COOKIE = 'gatehouse_playground';
/** Where a command substitution hidden in a secret would leave its mark if the shell ever ran it. */
const CANARY = path.join(tmpdir(), `gatehouse-playground-canary-${process.pid}-${Date.now()}`);
/** Everything a POSIX shell treats specially inside or outside quotes, in one secret. */
const AWKWARD_SECRET = `it's a "quoted" $(touch ${CANARY}) \`touch ${CANARY}\` \\ secret! ;|&<>*?`;
/** A POSIX single-quoted word: '…' pieces joined by \' for each quote inside. */
const SINGLE_QUOTED = /^'[^']*'(?:\\''[^']*')*$/;

/** RFC 6749 §2.3.1: what the server makes of a Basic user-id:password pair (form-decoding). */
function formDecoded(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

// ---------------------------------------------------------------------------------------------------------
// A real listener on 127.0.0.1 (the issuer is that address), on a SQLite file the test can read.

interface Listening {
  server: TestServer;
  issuer: string;
  db: Kysely<Database>;
  close(): Promise<void>;
}

async function listen(env: Record<string, string> = {}): Promise<Listening> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-playground-'));
  const databaseUrl = `sqlite:${path.join(dir, 'gatehouse.db')}`;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const server = await buildTestServer({ GATEHOUSE_ISSUER: issuer, ...env }, { databaseUrl });
    try {
      await server.app.listen({ port, host: '127.0.0.1' });
    } catch (error) {
      await server.close();
      if ((error as { code?: string }).code !== 'EADDRINUSE' || attempt >= 3) throw error;
      continue;
    }
    const { db } = await openDatabase(databaseUrl);
    return {
      server,
      issuer,
      db,
      async close() {
        await db.destroy();
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

function unescapeHtml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

function testId(body: string, id: string): string | undefined {
  const raw = new RegExp(`data-testid="${id}">([^<]*)<`).exec(body)?.[1];
  return raw === undefined ? undefined : unescapeHtml(raw);
}

function heading(body: string): string | undefined {
  return /<h1>([^<]*)<\/h1>/.exec(body)?.[1];
}

function alertOf(body: string): string | undefined {
  const raw = /role="alert">([^<]*)</.exec(body)?.[1];
  return raw === undefined ? undefined : unescapeHtml(raw);
}

/**
 * A browser that has been here before and holds a CSRF cookie (it opened the sign-in page). A browser's very
 * first page being the playground is its own test below.
 */
async function browser(server: TestServer): Promise<Agent> {
  const agent = new Agent(server.app);
  assert.equal((await agent.get('/login')).statusCode, 200);
  return agent;
}

async function start(
  agent: Agent,
  fields: { client_id: string; client_secret?: string; scope?: string },
  base = '/playground',
) {
  const form = await agent.get(base);
  assert.equal(form.statusCode, 200);
  return agent.post(`${base}/start`, {
    _csrf: csrfFrom(form.body),
    client_secret: '',
    scope: 'openid profile email offline_access',
    ...fields,
  });
}

interface Callback {
  /** The absolute URL the authorization server sent the browser back to. */
  url: URL;
  /** The code_challenge the playground sent to /authorize. */
  challenge: string;
}

/**
 * From the playground's redirect to /authorize: signs in, allows access (or denies), and returns where the
 * browser is sent back to (without following it).
 */
async function authorize(
  agent: Agent,
  started: LightMyRequestResponse,
  user: TestUser,
  issuer: string,
  action: 'allow' | 'deny' = 'allow',
): Promise<Callback> {
  assert.equal(started.statusCode, 303, `start: ${started.statusCode} ${started.body.slice(0, 300)}`);
  const first = new URL(String(started.headers.location), issuer);
  assert.equal(first.pathname.endsWith('/authorize') || first.pathname === '/oauth/authorize', true);
  const challenge = first.searchParams.get('code_challenge') ?? '';
  let response = await agent.get(first.pathname + first.search);
  for (let step = 0; step < 8; step++) {
    assert.equal(response.statusCode, 303, `${response.statusCode}: ${response.body.slice(0, 300)}`);
    const location = new URL(String(response.headers.location), issuer);
    if (location.origin === issuer && location.pathname === '/login') {
      const page = await agent.get(location.pathname + location.search);
      response = await agent.post('/login', {
        _csrf: csrfFrom(page.body),
        email: user.email,
        password: user.password,
        interaction: location.searchParams.get('interaction') ?? '',
      });
    } else if (location.origin === issuer && location.pathname === '/consent') {
      const page = await agent.get(location.pathname + location.search);
      response = await agent.post('/consent', {
        _csrf: csrfFrom(page.body),
        interaction: location.searchParams.get('interaction') ?? '',
        action,
      });
    } else if (location.searchParams.has('code') || location.searchParams.has('error')) {
      return { url: location, challenge };
    } else {
      response = await agent.get(location.pathname + location.search);
    }
  }
  throw new Error('the flow did not come back to the playground');
}

const pathOf = (url: URL) => url.pathname + url.search;

async function press(agent: Agent, page: LightMyRequestResponse, action: string, base = '/playground') {
  const form = new RegExp(`<form method="post" action="${base}/${action}"`).test(page.body);
  assert.ok(form, `no "${action}" button on the page`);
  return agent.post(`${base}/${action}`, { _csrf: csrfFrom(page.body) });
}

function responseJson(page: LightMyRequestResponse): Record<string, unknown> {
  const text = testId(page.body, 'response');
  assert.ok(text !== undefined, `no response on the page: ${page.body.slice(0, 400)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

function badge(page: LightMyRequestResponse): string | undefined {
  return /<h2>Response <span class="badge">(\d+)<\/span><\/h2>/.exec(page.body)?.[1];
}

/** The arguments a POSIX shell passes to `curl` for the command shown on the page (curl itself not run). */
async function shellArgv(command: string): Promise<string[]> {
  const shim = `curl() { for arg in "$@"; do printf '%s\\0' "$arg"; done; }\n${command}\n`;
  const { stdout } = await run('/bin/sh', ['-c', shim], { env: { PATH: '/usr/bin:/bin' } });
  return stdout.split('\0').slice(0, -1);
}

function curlBinary(): string | undefined {
  for (const candidate of ['/usr/bin/curl', '/bin/curl', '/usr/local/bin/curl']) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

/**
 * Sends the request the command describes, to 127.0.0.1 only: with curl through /bin/sh when curl is
 * installed, otherwise exactly as curl would from the shell's arguments (-u raw in Basic, -d joined by &).
 */
async function runCommand(command: string, issuer: string): Promise<Record<string, unknown>> {
  const argv = await shellArgv(command);
  const url = argv[2] ?? '';
  assert.ok(url.startsWith(`${issuer}/`), `the command targets ${url}, not this server`);
  const curl = curlBinary();
  if (curl) {
    const home = mkdtempSync(path.join(tmpdir(), 'gatehouse-curl-'));
    try {
      const { stdout } = await run('/bin/sh', ['-c', command], {
        // No proxy, no ~/.curlrc: the request goes straight to 127.0.0.1.
        env: {
          PATH: `${path.dirname(curl)}:/usr/bin:/bin`,
          HOME: home,
          CURL_HOME: home,
          NO_PROXY: '*',
          no_proxy: '*',
        },
      });
      return stdout ? (JSON.parse(stdout) as Record<string, unknown>) : {};
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }
  const headers: Record<string, string> = {};
  const data: string[] = [];
  for (let i = 3; i < argv.length; i += 2) {
    if (argv[i] === '-u')
      headers.authorization = `Basic ${Buffer.from(argv[i + 1] ?? '').toString('base64')}`;
    else if (argv[i] === '-d') data.push(argv[i + 1] ?? '');
    else throw new Error(`unexpected curl option ${argv[i]}`);
  }
  if (data.length) headers['content-type'] = 'application/x-www-form-urlencoded';
  const response = await fetch(url, { method: 'POST', headers, body: data.join('&') });
  const text = await response.text();
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

function assertSessionCookie(response: LightMyRequestResponse, name: string, secure: boolean) {
  const cookie = cookieNamed(response, name);
  assert.ok(cookie, `no ${name} cookie set`);
  assert.ok(cookie.attributes.has('httponly'), `${name}: not HttpOnly`);
  assert.equal(cookie.attributes.get('samesite')?.toLowerCase(), 'lax', `${name}: SameSite`);
  assert.equal(cookie.attributes.get('path'), '/');
  assert.ok(!cookie.attributes.has('max-age'), `${name}: has Max-Age (not a session cookie): ${cookie.line}`);
  assert.ok(!cookie.attributes.has('expires'), `${name}: has Expires (not a session cookie): ${cookie.line}`);
  assert.ok(!cookie.attributes.has('domain'), `${name}: has Domain`);
  assert.equal(cookie.attributes.has('secure'), secure, `${name}: Secure`);
  return cookie;
}

function assertNotInClear(value: string, secrets: Record<string, string>, where: string) {
  for (const [label, secret] of Object.entries(secrets)) {
    for (const form of [
      secret,
      encodeURIComponent(secret),
      Buffer.from(secret).toString('base64'),
      Buffer.from(secret).toString('base64url'),
    ]) {
      assert.ok(!value.includes(form), `${where} carries the ${label} readably`);
    }
  }
}

async function dumpDatabase(db: Kysely<Database>): Promise<string> {
  const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db);
  let dump = '';
  for (const { name } of tables.rows) {
    const rows = await sql`select * from ${sql.table(name)}`.execute(db);
    dump += `${name}:${JSON.stringify(rows.rows)}\n`;
  }
  return dump;
}

// ---------------------------------------------------------------------------------------------------------

describe('OAuth playground (issuer on 127.0.0.1)', () => {
  let live: Listening;
  let issuer: string;
  let redirectUri: string;
  let user: TestUser;
  let client: Client;
  let secret: string;

  before(async () => {
    live = await listen();
    issuer = live.issuer;
    redirectUri = `${issuer}/playground`;
    user = await live.server.addUser({ email: 'dev@example.com' });
    // A loopback redirect URI over plain http is only for native clients (RFC 8252 §7.3).
    const added = await live.server.addClient({
      name: 'Playground Client',
      applicationType: 'native',
      tokenEndpointAuthMethod: 'client_secret_basic',
      redirectUris: [redirectUri],
      scope: 'openid profile email offline_access',
    });
    client = added.client;
    secret = added.secret!;
  });
  after(() => live?.close());

  /** Start → sign in → allow → the callback page, for `client` with `secretValue`. */
  async function toCodePage(
    agent: Agent,
    secretValue: string | undefined,
    who: TestUser = user,
    id = client.id,
  ) {
    const started = await start(agent, { client_id: id, client_secret: secretValue ?? '' });
    const back = await authorize(agent, started, who, issuer);
    assert.equal(back.url.origin + back.url.pathname, redirectUri);
    const page = await agent.get(pathOf(back.url));
    assert.equal(page.statusCode, 200, page.body.slice(0, 400));
    return { started, back, page };
  }

  it("the form: client id, secret, scopes, the read-only redirect URI, the user's apps; G-01 headers", async () => {
    const anonymous = await (await browser(live.server)).get('/playground');
    assert.equal(anonymous.statusCode, 200);
    assertPageHeaders(anonymous, 'playground form');
    assert.match(anonymous.body, /<label for="client_id">Client ID<\/label>/);
    assert.match(anonymous.body, /<input id="client_secret" name="client_secret" type="password"/);
    assert.match(
      anonymous.body,
      /<input id="scope" name="scope" type="text" value="" placeholder="empty: every scope the application registered">/,
    );
    assert.ok(
      anonymous.body.includes(`<input id="redirect_uri" type="text" value="${redirectUri}" readonly>`),
    );
    assert.ok(anonymous.body.includes(`<code>${redirectUri}</code> registered as a redirect URI`));
    assert.match(anonymous.body, /<button type="submit">Start OAuth flow<\/button>/);

    const owner = await live.server.addUser();
    const { client: owned } = await live.server.addClient({
      name: 'Owned App',
      applicationType: 'native',
      redirectUris: [redirectUri],
      ownerUserId: owner.id,
    });
    const mine = await (await signedInAgent(live.server.app, owner)).get('/playground');
    assert.ok(mine.body.includes(`<option value="${owned.id}">Owned App</option>`), 'own apps not offered');
    assert.ok(!mine.body.includes(client.id), "another owner's app is offered");
  });

  it('a first visit (no cookie yet): the form\'s CSRF token matches the cookie it sets, so "Start" works', async () => {
    const agent = new Agent(live.server.app);
    const form = await agent.get('/playground');
    assert.equal(form.statusCode, 200);
    const started = await agent.post('/playground/start', {
      _csrf: csrfFrom(form.body),
      client_id: client.id,
      client_secret: secret,
      scope: 'openid',
    });
    assert.equal(
      started.statusCode,
      303,
      `"Start OAuth flow" from a fresh browser: ${started.statusCode} ${/<h1>([^<]*)/.exec(started.body)?.[1]}`,
    );
  });

  it('an unknown, pending or disabled client → 400 with a message, no cookie, no redirect', async () => {
    const { client: pending } = await live.server.addClient({
      name: 'Pending',
      applicationType: 'native',
      redirectUris: [redirectUri],
      status: 'pending',
    });
    const { client: disabled } = await live.server.addClient({
      name: 'Disabled',
      applicationType: 'native',
      redirectUris: [redirectUri],
    });
    await live.server.deps.storage.clients.update({ ...disabled, disabledAt: live.server.clock.now() });
    for (const id of ['no-such-client', pending.id, disabled.id, '']) {
      const response = await start(await browser(live.server), { client_id: id, client_secret: 'x' });
      assert.equal(response.statusCode, 400, `client "${id}": ${response.statusCode}`);
      assertPageHeaders(response, 'playground 400');
      assert.equal(alertOf(response.body), 'There is no usable application with that client ID.');
      assert.equal(response.headers.location, undefined);
      assert.equal(cookieNamed(response, COOKIE), undefined, 'a flow cookie was set');
    }
  });

  it('a client without the playground redirect URI → 400 naming the URI to register', async () => {
    const { client: other } = await live.server.addClient({
      name: 'Elsewhere',
      redirectUris: ['https://rp.example/cb'],
    });
    const response = await start(await browser(live.server), { client_id: other.id });
    assert.equal(response.statusCode, 400);
    assert.equal(alertOf(response.body), `Register ${redirectUri} as a redirect URI of Elsewhere first.`);
    assert.equal(cookieNamed(response, COOKIE), undefined);
  });

  it('the state cookie is HttpOnly, SameSite=Lax, a session cookie, and carries nothing readable', async () => {
    const agent = await browser(live.server);
    const started = await start(agent, { client_id: client.id, client_secret: secret });
    assert.equal(started.statusCode, 303);
    const first = assertSessionCookie(started, COOKIE, false);
    const back = await authorize(agent, started, user, issuer);
    const codePage = await agent.get(pathOf(back.url));
    const second = assertSessionCookie(codePage, COOKIE, false);
    const command = testId(codePage.body, 'curl');
    assert.ok(command);
    const verifier = /code_verifier=([\w-]+)/.exec(command)?.[1];
    assert.ok(verifier);
    const code = back.url.searchParams.get('code')!;
    const result = await press(agent, codePage, 'exchange');
    assert.equal(result.statusCode, 200);
    const third = assertSessionCookie(result, COOKIE, false);
    const tokens = responseJson(result) as { access_token: string; refresh_token: string };
    assert.ok(tokens.access_token && tokens.refresh_token);
    for (const [where, cookie] of [
      ['the cookie after start', first],
      ['the cookie with the code', second],
      ['the cookie with the tokens', third],
    ] as const) {
      assertNotInClear(decodeURIComponent(cookie.value), { secret, verifier, code }, where);
      assertNotInClear(
        decodeURIComponent(cookie.value),
        {
          'access token': tokens.access_token,
          'refresh token': tokens.refresh_token,
        },
        where,
      );
    }
    // The secret (and the verifier) reach no table; exercise every step first.
    await press(agent, await press(agent, result, 'refresh'), 'introspect');
    const dump = await dumpDatabase(live.db);
    assert.ok(dump.includes(sha256(secret)), 'the dump is not of this database');
    assertNotInClear(dump, { 'client secret': secret, 'PKCE verifier': verifier }, 'the database');
  });

  it('a callback with a wrong state, a wrong or missing iss, or no cookie → 400; the right one still works', async () => {
    const agent = await browser(live.server);
    const { back } = await (async () => {
      const started = await start(agent, { client_id: client.id, client_secret: secret });
      return { back: await authorize(agent, started, user, issuer) };
    })();
    const good = new URLSearchParams(back.url.search);
    const variant = (change: Record<string, string | null>) => {
      const query = new URLSearchParams(good);
      for (const [key, value] of Object.entries(change)) {
        if (value === null) query.delete(key);
        else query.set(key, value);
      }
      return `/playground?${query}`;
    };
    const bad: Array<[string, string, Agent]> = [
      ['wrong state', variant({ state: 'forged-state' }), agent],
      ['empty state', variant({ state: '' }), agent],
      ['no state', variant({ state: null }), agent],
      ['wrong iss', variant({ iss: 'https://evil.example' }), agent],
      ['iss with a trailing slash', variant({ iss: `${issuer}/` }), agent],
      ['no iss', variant({ iss: null }), agent],
      ['another browser (no cookie)', variant({}), await browser(live.server)],
    ];
    for (const [what, url, browser] of bad) {
      const response = await browser.get(url);
      assert.equal(response.statusCode, 400, `${what}: ${response.statusCode}`);
      assert.equal(
        alertOf(response.body),
        'This answer does not belong to a flow started here. Start again.',
        what,
      );
      assert.ok(!response.body.includes(good.get('code')!), `${what}: the code is shown`);
      assert.ok(!response.body.includes('Run this request'), what);
    }
    const page = await agent.get(variant({}));
    assert.equal(page.statusCode, 200);
    assert.equal(testId(page.body, 'code'), good.get('code'));
    const result = await press(agent, page, 'exchange');
    assert.equal(badge(result), '200', result.body.slice(0, 500));
  });

  it('a tampered, re-purposed or foreign-key cookie counts as no flow', async () => {
    const agent = await browser(live.server);
    const started = await start(agent, { client_id: client.id, client_secret: secret });
    const back = await authorize(agent, started, user, issuer);
    const sealed = agent.cookies.get(COOKIE);
    assert.ok(sealed);
    const [iv, body, tag] = sealed.split('.');
    assert.ok(iv && body && tag);
    const flipped = body.slice(0, 10) + (body[10] === 'A' ? 'B' : 'A') + body.slice(11);
    const state = back.url.searchParams.get('state')!;
    const forged = {
      clientId: client.id,
      secret: 'attacker',
      scope: 'openid',
      state,
      verifier: 'v'.repeat(43),
    };
    const variants: Array<[string, string]> = [
      ['a flipped ciphertext byte', [iv, flipped, tag].join('.')],
      // AES-GCM tags are 16 bytes; a shorter tag (a prefix of the right one) must not be accepted.
      [
        'the tag cut to 12 bytes',
        [iv, body, Buffer.from(tag, 'base64url').subarray(0, 12).toString('base64url')].join('.'),
      ],
      [
        'the tag cut to 4 bytes',
        [iv, body, Buffer.from(tag, 'base64url').subarray(0, 4).toString('base64url')].join('.'),
      ],
      ['no tag', [iv, body, ''].join('.')],
      ['garbage', 'not-a-sealed-value'],
      ['sealed for another purpose', seal(forged, live.server.deps.sealKey, 'other/v1')],
      [
        'sealed under another key',
        seal(forged, sealKeyFrom('another-secret-another-secret-0123456789'), 'playground/v1'),
      ],
    ];
    const accepted: string[] = [];
    const csrfToken = csrfFrom((await agent.get('/playground')).body);
    for (const [what, value] of variants) {
      agent.cookies.set(COOKIE, value);
      const callback = await agent.get(pathOf(back.url));
      if (callback.statusCode !== 400) accepted.push(`${what}: the callback answered ${callback.statusCode}`);
      for (const step of ['exchange', 'refresh', 'introspect', 'revoke']) {
        agent.cookies.set(COOKIE, value);
        const response = await agent.post(`/playground/${step}`, { _csrf: csrfToken });
        if (
          response.statusCode !== 400 ||
          alertOf(response.body) !== 'Nothing to do yet: start a flow first.'
        ) {
          accepted.push(`${what}: ${step} answered ${response.statusCode}`);
        }
      }
    }
    assert.deepEqual(accepted, []);
    // The untouched cookie still works: the refusals above were about the cookie, not the flow.
    agent.cookies.set(COOKIE, sealed);
    assert.equal((await agent.get(pathOf(back.url))).statusCode, 200);
  });

  it('the curl command is the request the page runs; a secret full of shell syntax is quoted safely', async () => {
    await live.server.deps.storage.clients.update({ ...client, secretHash: sha256(AWKWARD_SECRET) });
    try {
      // Flow 1: the command, copied from the page, run by a shell (and curl) against the server.
      const agent1 = await browser(live.server);
      const { back, page } = await toCodePage(agent1, AWKWARD_SECRET);
      const code = back.url.searchParams.get('code')!;
      const command = testId(page.body, 'curl');
      assert.ok(command);
      // Every value on the command line is one single-quoted shell word.
      for (const line of command.split('\n').slice(1)) {
        const word = /^ {2}-[ud] (.*?)(?: \\)?$/.exec(line)?.[1];
        assert.ok(word && SINGLE_QUOTED.test(word), `not a single-quoted value: ${line}`);
      }
      const argv = await shellArgv(command);
      const verifier = argv[
        argv.indexOf(
          '-d',
          argv.findIndex((arg) => arg.startsWith('redirect_uri=')),
        ) + 1
      ]?.replace(/^code_verifier=/, '');
      // The server form-decodes the Basic credentials: it must see exactly this client id and secret.
      assert.equal(formDecoded(argv[4] ?? ''), `${client.id}:${AWKWARD_SECRET}`);
      assert.deepEqual(argv, [
        '-X',
        'POST',
        `${issuer}/token`,
        '-u',
        argv[4],
        '-d',
        'grant_type=authorization_code',
        '-d',
        `code=${code}`,
        '-d',
        `redirect_uri=${redirectUri}`,
        '-d',
        `code_verifier=${verifier}`,
      ]);
      assert.ok(
        verifier && s256(verifier) === back.challenge,
        'the verifier does not match the challenge sent',
      );
      const tokens = await runCommand(command, issuer);
      assert.equal(typeof tokens.access_token, 'string', `the command failed: ${JSON.stringify(tokens)}`);
      assert.equal(tokens.token_type, 'Bearer');

      // Flow 2: "Run this request" runs that very command (the result page shows it again, byte for byte).
      const agent2 = await browser(live.server);
      const second = await toCodePage(agent2, AWKWARD_SECRET);
      const shown = testId(second.page.body, 'curl');
      const result = await press(agent2, second.page, 'exchange');
      assert.equal(badge(result), '200', result.body.slice(0, 600));
      assert.equal(testId(result.body, 'curl'), shown);

      // Introspect: the command on the page, run by curl, answers what the page answered.
      const introspection = await press(agent2, result, 'introspect');
      assert.equal(badge(introspection), '200');
      const introspectCommand = testId(introspection.body, 'curl')!;
      const access = (responseJson(result) as { access_token: string }).access_token;
      const introspectArgv = await shellArgv(introspectCommand);
      assert.equal(formDecoded(introspectArgv[4] ?? ''), `${client.id}:${AWKWARD_SECRET}`);
      assert.deepEqual(introspectArgv, [
        '-X',
        'POST',
        `${issuer}/introspect`,
        '-u',
        introspectArgv[4],
        '-d',
        `token=${access}`,
      ]);
      assert.deepEqual(await runCommand(introspectCommand, issuer), responseJson(introspection));
      assert.ok(!existsSync(CANARY), 'the shell ran a command hidden in the secret');
    } finally {
      rmSync(CANARY, { force: true });
      await live.server.deps.storage.clients.update({ ...client, secretHash: sha256(secret) });
    }
  });

  it('the curl command authenticates like the page even when the secret holds "+" or "%" (RFC 6749 §2.3.1)', async () => {
    // The page form-encodes the client id and secret before Basic (as RFC 6749 §2.3.1 says and the server
    // decodes); `curl -u` sends them raw. The command must carry what makes the server see the same secret.
    const tricky = 'p%41ss+w%2Bord';
    await live.server.deps.storage.clients.update({ ...client, secretHash: sha256(tricky) });
    try {
      const agent = await browser(live.server);
      const { page } = await toCodePage(agent, tricky);
      const command = testId(page.body, 'curl')!;
      const answer = await runCommand(command, issuer);
      assert.equal(
        answer.error,
        undefined,
        `the command is refused (${JSON.stringify(answer)}):\n${command}`,
      );
      assert.equal(typeof answer.access_token, 'string');
    } finally {
      await live.server.deps.storage.clients.update({ ...client, secretHash: sha256(secret) });
    }
  });

  it('token response, decoded claims, Refresh, Introspect and Revoke', async () => {
    const agent = await browser(live.server);
    const { page } = await toCodePage(agent, secret);
    assert.equal(heading(page.body), 'You have an authorization code');
    assert.match(page.body, /Exchange it for tokens within 60 seconds/);
    const result = await press(agent, page, 'exchange');
    assert.equal(heading(result.body), 'Token response');
    assert.equal(badge(result), '200');
    const tokens = responseJson(result) as Record<string, string>;
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(tokens.scope, 'openid profile email offline_access');
    assert.ok(tokens.access_token && tokens.refresh_token && tokens.id_token);
    assert.match(result.body, /<h2>Access token, decoded<\/h2><pre>/);
    assert.match(result.body, /<h2>ID token, decoded<\/h2><pre>/);
    assert.ok(result.body.includes(`&quot;client_id&quot;: &quot;${client.id}&quot;`));
    assert.ok(result.body.includes(`&quot;iss&quot;: &quot;${issuer}&quot;`));
    assert.ok(result.body.includes(`&quot;sub&quot;: &quot;${user.id}&quot;`));
    assert.ok(result.body.includes('&quot;typ&quot;: &quot;at+jwt&quot;'));
    for (const button of ['Refresh', 'Introspect', 'Revoke']) {
      assert.match(result.body, new RegExp(`>${button}</button>`), `no ${button} button`);
    }

    const refreshed = await press(agent, result, 'refresh');
    assert.equal(heading(refreshed.body), 'Refreshed');
    assert.equal(badge(refreshed), '200');
    const rotated = responseJson(refreshed) as Record<string, string>;
    assert.ok(rotated.access_token && rotated.refresh_token);
    assert.notEqual(rotated.refresh_token, tokens.refresh_token);
    assert.ok(testId(refreshed.body, 'curl')?.includes(`-d 'refresh_token=${tokens.refresh_token}'`));

    const introspected = await press(agent, refreshed, 'introspect');
    assert.equal(heading(introspected.body), 'Introspection');
    const active = responseJson(introspected);
    assert.equal(active.active, true);
    assert.equal(active.client_id, client.id);
    assert.equal(active.sub, user.id);
    assert.ok(introspected.body.includes('&quot;active&quot;: true'));
    // It introspected the newest access token.
    assert.ok(testId(introspected.body, 'curl')?.includes(`-d 'token=${rotated.access_token}'`));

    const revoked = await press(agent, introspected, 'revoke');
    assert.equal(heading(revoked.body), 'Revoked');
    assert.equal(badge(revoked), '200');
    assert.ok(testId(revoked.body, 'curl')?.includes(`-d 'token=${rotated.refresh_token}'`));
    assert.doesNotMatch(revoked.body, />(Refresh|Introspect|Revoke)<\/button>/);
    // The revoked refresh token took its family along: the access token no longer works either.
    const userinfo = await live.server.app.inject({
      method: 'GET',
      url: '/userinfo',
      headers: { authorization: `Bearer ${rotated.access_token}` },
    });
    assert.equal(userinfo.statusCode, 401);
    const again = await agent.post('/playground/introspect', { _csrf: csrfFrom(revoked.body) });
    assert.equal(again.statusCode, 400);
  });

  it('a public client: no secret, client_id in the body, no Introspect button', async () => {
    const { client: publicClient } = await live.server.addClient({
      name: 'Public Playground',
      tokenEndpointAuthMethod: 'none',
      redirectUris: [redirectUri],
    });
    const agent = await browser(live.server);
    const { page } = await toCodePage(agent, undefined, user, publicClient.id);
    const command = testId(page.body, 'curl')!;
    const argv = await shellArgv(command);
    assert.deepEqual(argv.slice(0, 5), [
      '-X',
      'POST',
      `${issuer}/token`,
      '-d',
      `client_id=${publicClient.id}`,
    ]);
    assert.ok(!argv.includes('-u'));
    const result = await press(agent, page, 'exchange');
    assert.equal(badge(result), '200', result.body.slice(0, 400));
    assert.doesNotMatch(result.body, />Introspect<\/button>/);
    assert.match(result.body, />Refresh<\/button>/);
  });

  it('"Deny" on the consent page comes back as an error result, with no code', async () => {
    const agent = await browser(live.server);
    const started = await start(agent, { client_id: client.id, client_secret: secret });
    const back = await authorize(agent, started, await live.server.addUser(), issuer, 'deny');
    assert.equal(back.url.searchParams.get('error'), 'access_denied');
    const page = await agent.get(pathOf(back.url));
    assert.equal(page.statusCode, 200);
    assert.equal(heading(page.body), 'The flow ended with an error');
    assert.equal(responseJson(page).error, 'access_denied');
    assert.doesNotMatch(page.body, /Run this request/);
  });
});

describe('OAuth playground on an https issuer', () => {
  let server: TestServer;
  let user: TestUser;

  before(async () => {
    server = await buildTestServer({ GATEHOUSE_ISSUER: 'https://as.example' });
    user = await server.addUser();
  });
  after(() => server.close());

  it('G-08: the state cookie is __Host-, Secure, HttpOnly, SameSite=Lax and a session cookie', async () => {
    const { client, secret } = await server.addClient({ redirectUris: ['https://as.example/playground'] });
    const agent = await browser(server);
    const started = await start(agent, { client_id: client.id, client_secret: secret });
    assert.equal(started.statusCode, 303);
    const cookie = assertSessionCookie(started, `__Host-${COOKIE}`, true);
    assert.equal(cookieNamed(started, COOKIE), undefined);
    assertNotInClear(decodeURIComponent(cookie.value), { secret: secret! }, 'the cookie');
    const back = await authorize(agent, started, user, 'https://as.example');
    assert.equal(back.url.searchParams.get('iss'), 'https://as.example');
    const page = await agent.get(pathOf(back.url));
    assert.equal(page.statusCode, 200);
    assert.equal(badge(await press(agent, page, 'exchange')), '200');
  });
});

describe('OAuth playground with configured endpoint paths (GATEHOUSE_PATH_*)', () => {
  let server: TestServer;

  before(async () => {
    server = await buildTestServer({
      GATEHOUSE_ISSUER: 'https://as.example',
      GATEHOUSE_PATH_TOKEN: '/oauth/token',
      GATEHOUSE_PATH_INTROSPECT: '/oauth/introspect',
      GATEHOUSE_PATH_REVOKE: '/oauth/revoke',
    });
  });
  after(() => server.close());

  it('shows and runs the requests against the configured token, introspection and revocation paths', async () => {
    const user = await server.addUser();
    const { client, secret } = await server.addClient({ redirectUris: ['https://as.example/playground'] });
    const agent = await browser(server);
    const started = await start(agent, { client_id: client.id, client_secret: secret });
    const back = await authorize(agent, started, user, 'https://as.example');
    const page = await agent.get(pathOf(back.url));
    const firstLine = (body: string) => testId(body, 'curl')?.split('\n')[0];
    assert.equal(firstLine(page.body), "curl -X POST 'https://as.example/oauth/token' \\");
    const result = await press(agent, page, 'exchange');
    assert.equal(badge(result), '200', `exchange: ${testId(result.body, 'response')}`);
    const introspected = await press(agent, result, 'introspect');
    assert.equal(firstLine(introspected.body), "curl -X POST 'https://as.example/oauth/introspect' \\");
    assert.equal(responseJson(introspected).active, true);
    const revoked = await press(agent, introspected, 'revoke');
    assert.equal(firstLine(revoked.body), "curl -X POST 'https://as.example/oauth/revoke' \\");
    assert.equal(badge(revoked), '200');
  });
});
