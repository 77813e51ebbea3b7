// gatehouse registration-tokens create and gatehouse clients approve, run in-process through runCli with a fake
// io on temporary SQLite databases, and checked against the real server on the same database: an initial access
// token opens GATEHOUSE_REGISTRATION=token for exactly as many registrations as it has uses and until it
// expires; a client that registered itself under GATEHOUSE_REGISTRATION=approval works once approved.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/storage/open.ts';
import { sha256 } from '../../src/util/hash.ts';
import { existingSqliteUrl, runCliCaptured } from '../helpers/cli.ts';
import { authorizeUrl, basicAuth, exchangeCode, pkcePair, runAuthorizationFlow } from '../helpers/flow.ts';
import { buildTestServer, TEST_SECRET, type TestServer } from '../helpers/server.ts';

const HOUR = 3_600_000;

const WEB_CLIENT = {
  client_name: 'My App',
  redirect_uris: ['https://rp.example/cb'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  scope: 'openid profile email offline_access',
};

interface Run {
  code: number | undefined;
  stdout: string;
  stderr: string;
}

interface TokenRow {
  token_hash: string;
  remaining_uses: number;
  created_at: number;
  expires_at: number;
}

let dir: string;

function envFor(name: string): Record<string, string> {
  return {
    DATABASE_URL: existingSqliteUrl(path.join(dir, `${name}.db`)),
    GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
    GATEHOUSE_SECRET: TEST_SECRET,
    GATEHOUSE_PASSWORD_COST: '10',
    LOG_LEVEL: 'silent',
  };
}

const cli = (argv: string[], env: Record<string, string>): Promise<Run> => runCliCaptured(argv, env);

/** The real server on the CLI's database, with its clock at the real time the CLI uses. */
async function serverOn(env: Record<string, string>, policy: 'token' | 'approval'): Promise<TestServer> {
  const server = await buildTestServer(
    { GATEHOUSE_REGISTRATION: policy, GATEHOUSE_REGISTRATION_RATE_LIMIT: '100000' },
    { databaseUrl: env.DATABASE_URL! },
  );
  server.clock.advance(Date.now() - server.clock.now());
  return server;
}

function register(server: TestServer, body: unknown, token?: string) {
  return server.app.inject({
    method: 'POST',
    url: '/oauth/register',
    payload: JSON.stringify(body),
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
  });
}

function assertRefused(response: Awaited<ReturnType<typeof register>>) {
  assert.equal(response.statusCode, 401, response.body);
  assert.equal(response.json().error, 'invalid_token');
  assert.match(String(response.headers['www-authenticate']), /^Bearer\b/);
}

async function tokenRows(env: Record<string, string>): Promise<TokenRow[]> {
  const { db } = await openDatabase(env.DATABASE_URL!);
  try {
    const rows = await db.selectFrom('initial_access_tokens').selectAll().execute();
    return rows.map((row) => ({
      token_hash: row.token_hash,
      remaining_uses: Number(row.remaining_uses),
      created_at: Number(row.created_at),
      expires_at: Number(row.expires_at),
    }));
  } finally {
    await db.destroy();
  }
}

async function rowFor(env: Record<string, string>, token: string): Promise<TokenRow> {
  const row = (await tokenRows(env)).find((candidate) => candidate.token_hash === sha256(token));
  assert.ok(row, 'the token is stored by its hash');
  return row;
}

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-cli-registration-test-'));
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('gatehouse registration-tokens create', () => {
  let env: Record<string, string>;
  let server: TestServer;

  async function create(...extra: string[]): Promise<{ token: string; run: Run }> {
    const run = await cli(['registration-tokens', 'create', ...extra], env);
    assert.equal(run.code, 0, run.stderr);
    const token = run.stdout.trim();
    assert.equal(run.stdout, `${token}\n`, 'stdout holds the token and nothing else');
    return { token, run };
  }

  before(async () => {
    env = envFor('tokens');
    server = await serverOn(env, 'token');
  });
  after(() => server.close());

  it('prints the token once on stdout, stores only its hash, one use and 24 hours by default', async () => {
    const { token, run } = await create();
    assert.match(token, /^[A-Za-z0-9_-]{43,}$/);
    assert.match(run.stderr, /Shown once/);
    assert.match(run.stderr, /1 registration within 24 hours/);
    assert.match(run.stderr, /Authorization: Bearer/);
    assert.ok(!run.stderr.includes(token), 'the token is not repeated on stderr');

    const row = await rowFor(env, token);
    assert.equal(row.remaining_uses, 1);
    assert.equal(row.expires_at - row.created_at, 24 * HOUR);
    for (const file of readdirSync(dir).filter((name) => name.startsWith('tokens.db'))) {
      assert.ok(!readFileSync(path.join(dir, file)).includes(token), `${file} holds the token`);
    }

    const other = await create();
    assert.notEqual(other.token, token, 'every token is new');

    // Default: a single registration.
    assert.equal((await register(server, WEB_CLIENT, token)).statusCode, 201);
    assertRefused(await register(server, WEB_CLIENT, token));
  });

  it('--uses 2: exactly two registrations work, the third → 401', async () => {
    const { token, run } = await create('--uses', '2');
    assert.match(run.stderr, /2 registrations/);
    assert.equal((await rowFor(env, token)).remaining_uses, 2);
    const first = await register(server, WEB_CLIENT, token);
    assert.equal(first.statusCode, 201, first.body);
    const second = await register(server, WEB_CLIENT, token);
    assert.equal(second.statusCode, 201, second.body);
    assert.notEqual(first.json().client_id, second.json().client_id);
    assertRefused(await register(server, WEB_CLIENT, token));
    assertRefused(await register(server, WEB_CLIENT, token));
    assert.equal((await rowFor(env, token)).remaining_uses, 0);
  });

  it('a refused registration (400) does not use up the token: it still allows its one registration', async () => {
    const { token } = await create('--uses', '1');
    const refused = await register(server, { ...WEB_CLIENT, redirect_uris: ['http://rp.example/cb'] }, token);
    assert.equal(refused.statusCode, 400, refused.body);
    assert.equal(refused.json().error, 'invalid_redirect_uri');
    const registered = await register(server, WEB_CLIENT, token);
    assert.equal(registered.statusCode, 201, `the typo cost the registration: ${registered.body}`);
    assertRefused(await register(server, WEB_CLIENT, token));
  });

  it('--expires-in-hours sets the end: valid until just before it, refused from then on', async () => {
    const { token, run } = await create('--uses', '5', '--expires-in-hours', '2');
    assert.match(run.stderr, /5 registrations within 2 hours/);
    const row = await rowFor(env, token);
    assert.equal(row.expires_at - row.created_at, 2 * HOUR);
    const expiring = await serverOn(env, 'token');
    try {
      expiring.clock.advance(row.expires_at - 1 - expiring.clock.now());
      assert.equal((await register(expiring, WEB_CLIENT, token)).statusCode, 201);
      expiring.clock.advance(1);
      assertRefused(await register(expiring, WEB_CLIENT, token));
    } finally {
      await expiring.close();
    }
  });

  it('--uses outside 1..10000 or --expires-in-hours outside 1..8760 → exit 2, nothing printed or stored', async () => {
    const before = (await tokenRows(env)).length;
    const bad = [
      ['--uses', '0'],
      ['--uses', '10001'],
      ['--uses', '1.5'],
      ['--uses', 'two'],
      ['--uses', '-1'],
      ['--expires-in-hours', '0'],
      ['--expires-in-hours', '8761'],
      ['--expires-in-hours', '0.5'],
      ['--expires-in-hours', 'soon'],
    ];
    for (const argv of bad) {
      const run = await cli(['registration-tokens', 'create', ...argv], env);
      assert.equal(run.code, 2, `${argv.join(' ')}: ${run.stderr}`);
      assert.equal(run.stdout, '', argv.join(' '));
      assert.match(run.stderr, /Usage: gatehouse registration-tokens create/);
    }
    assert.equal((await tokenRows(env)).length, before);
  });
});

describe('gatehouse clients approve', () => {
  let env: Record<string, string>;
  let server: TestServer;

  before(async () => {
    env = envFor('approve');
    server = await serverOn(env, 'approval');
  });
  after(() => server.close());

  it('a pending client gets the error page and invalid_client; once approved the whole flow works', async () => {
    const response = await register(server, WEB_CLIENT);
    assert.equal(response.statusCode, 201, response.body);
    const registered = response.json() as Record<string, string>;
    assert.equal(registered.approval_status, 'pending');
    const id = registered.client_id!;
    const secret = registered.client_secret!;

    const { challenge } = pkcePair();
    const authorize = () =>
      server.app.inject(
        authorizeUrl({
          response_type: 'code',
          client_id: id,
          redirect_uri: 'https://rp.example/cb',
          scope: 'openid',
          state: 'S',
          code_challenge: challenge,
          code_challenge_method: 'S256',
        }),
      );
    const waiting = await authorize();
    assert.equal(waiting.statusCode, 400, waiting.body);
    assert.match(String(waiting.headers['content-type']), /^text\/html/);
    assert.equal(waiting.headers.location, undefined);
    assert.match(waiting.body, /waiting for approval/);
    const token = await server.app.inject({
      method: 'POST',
      url: '/token',
      payload: 'grant_type=refresh_token&refresh_token=x',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(id, secret),
      },
    });
    assert.equal(token.statusCode, 401, token.body);
    assert.equal(token.json().error, 'invalid_client');

    const listed = await cli(['clients', 'list', '--json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const row = (JSON.parse(listed.stdout) as Record<string, unknown>[]).find((c) => c.client_id === id);
    assert.equal(row?.status, 'pending');
    assert.equal(row?.registered_via, 'dcr');

    const approved = await cli(['clients', 'approve', id], env);
    assert.equal(approved.code, 0, approved.stderr);
    assert.equal(approved.stdout, `Approved My App (${id}).\n`);

    const client = await server.deps.storage.clients.find(id);
    assert.equal(client?.status, 'active');
    assert.ok(client);
    const user = await server.addUser();
    const flow = await runAuthorizationFlow(server, client, user);
    const exchanged = await exchangeCode(server, client, secret, flow);
    assert.equal(exchanged.statusCode, 200, exchanged.body);
    assert.equal(typeof exchanged.json().access_token, 'string');

    const read = await server.app.inject({
      url: `/oauth/register/${id}`,
      headers: { authorization: `Bearer ${registered.registration_access_token}` },
    });
    assert.equal(read.statusCode, 200, read.body);
    assert.equal(read.json().approval_status, undefined);

    const again = await cli(['clients', 'approve', id], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already approved/);
  });

  it('an unknown id → exit 1; no id or two ids → exit 2', async () => {
    const unknown = await cli(['clients', 'approve', 'no-such-client'], env);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /No client with the id no-such-client/);
    for (const argv of [[], ['a', 'b']]) {
      const run = await cli(['clients', 'approve', ...argv], env);
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /Usage: gatehouse clients approve/);
    }
  });
});
