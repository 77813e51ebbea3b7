// The gatehouse command, run in-process through runCli with a fake io and a temporary SQLite database, plus one
// real child process through bin/gatehouse.js.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { verifyPassword } from '../../src/accounts/password.ts';
import { COMMANDS, optionsOf, usageLine } from '../../src/cli/main.ts';
import { configFrom } from '../../src/config-file.ts';
import { openDeps } from '../../src/main.ts';
import { openStorage } from '../../src/storage/open.ts';
import { sha256 } from '../../src/util/hash.ts';
import { existingSqliteUrl, runCliCaptured } from '../helpers/cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Run {
  code: number | undefined;
  stdout: string;
  stderr: string;
}

let dir: string;
let env: Record<string, string>;

/** A fresh database file per call site that wants one; `env` shares one. */
function envFor(name: string): Record<string, string> {
  return {
    DATABASE_URL: existingSqliteUrl(path.join(dir, `${name}.db`)),
    GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
    GATEHOUSE_PASSWORD_COST: '10',
    LOG_LEVEL: 'silent',
  };
}

function cli(argv: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return runCliCaptured(argv, options.env ?? env, options.stdin);
}

async function withStorage<T>(
  runEnv: Record<string, string>,
  work: (storage: Awaited<ReturnType<typeof openStorage>>['storage']) => Promise<T>,
) {
  const { storage } = await openStorage(runEnv.DATABASE_URL!);
  try {
    return await work(storage);
  } finally {
    await storage.close();
  }
}

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-cli-test-'));
  env = envFor('main');
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('gatehouse --help and usage errors', () => {
  for (const argv of [['--help'], ['-h'], ['help'], []]) {
    it(`gatehouse ${argv.join(' ')} prints the overview and exits 0`, async () => {
      const run = await cli(argv);
      assert.equal(run.code, 0);
      assert.match(run.stdout, /^Usage: gatehouse <command> \[options\]/);
      for (const command of COMMANDS)
        assert.ok(run.stdout.includes(command.words.join(' ')), command.words.join(' '));
      assert.equal(run.stderr, '');
    });
  }

  for (const command of COMMANDS) {
    const words = command.words.join(' ');
    it(`gatehouse ${words} --help prints its usage and exits 0`, async () => {
      const run = await cli([...command.words, '--help']);
      assert.equal(run.code, 0);
      assert.ok(run.stdout.startsWith(command.summary), run.stdout);
      assert.ok(run.stdout.includes(`Usage: ${usageLine(command)}`));
      // Every option is described, the shared ones included.
      for (const [name, spec] of Object.entries(optionsOf(command))) {
        assert.ok(spec.description.length > 10, `--${name} has a description`);
        assert.match(
          run.stdout,
          new RegExp(
            `--${name}\\b.*  ${spec.description.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`,
          ),
        );
      }
      assert.match(run.stdout, /Exit codes: 0 done; 1 failed or refused .*; 2 usage or configuration error/);
      assert.equal(run.stderr, '');
    });
  }

  it('the expected commands exist', () => {
    assert.deepEqual(COMMANDS.map((command) => command.words.join(' ')).sort(), [
      'admin-keys create',
      'admin-keys list',
      'admin-keys revoke',
      'api-keys create',
      'api-keys list',
      'api-keys revoke',
      'backup',
      'clients add',
      'clients approve',
      'clients delete',
      'clients disable',
      'clients enable',
      'clients list',
      'clients resource-server',
      'clients rotate-secret',
      'events',
      'keys reset',
      'keys rotate',
      'migrate',
      'purge',
      'registration-tokens create',
      'start',
      'users add',
      'users delete',
      'users disable',
      'users enable',
      'users identities',
      'users import',
      'users list',
      'users unlink',
    ]);
  });

  for (const argv of [['frobnicate'], ['users'], ['users', 'remove'], ['--version', 'now']]) {
    it(`gatehouse ${argv.join(' ')} → unknown command, exit 2`, async () => {
      const run = await cli(argv);
      assert.equal(run.code, 2);
      assert.match(run.stderr, new RegExp(`^Unknown command "${argv.join(' ')}"`));
      assert.match(run.stderr, /Usage: gatehouse/);
      assert.equal(run.stdout, '');
    });
  }

  it('an unknown option → exit 2 with the command usage', async () => {
    const run = await cli(['users', 'add', 'a@example.com', '--bogus']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--bogus/);
    assert.match(run.stderr, /Usage: gatehouse users add/);
  });

  it('a bad configuration value → exit 2 naming the variable', async () => {
    const run = await cli(['clients', 'list'], { env: { ...env, GATEHOUSE_CODE_TTL: 'soon' } });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^Configuration error: GATEHOUSE_CODE_TTL: /);
  });
});

describe('gatehouse users add', () => {
  it('creates a user and prints a generated password that works', async () => {
    const run = await cli(['users', 'add', 'Alice@Example.com', '--name', 'Alice']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Created user alice@example\.com \(id [A-Za-z0-9_-]+\)\.\n/);
    const password = /Password \(shown once\): (\S+)\n/.exec(run.stdout)?.[1];
    assert.ok(password);
    assert.equal(password.length, 16);
    const user = await withStorage(env, (storage) => storage.users.findByEmail('alice@example.com'));
    assert.ok(user);
    assert.equal(user.name, 'Alice');
    assert.equal(user.isAdmin, false);
    assert.ok(!user.passwordHash.includes(password));
    assert.equal(await verifyPassword(password, user.passwordHash), true);
    assert.equal(await verifyPassword(`${password}x`, user.passwordHash), false);
  });

  it('--password-stdin reads the password (without its trailing newline) and never prints it', async () => {
    const run = await cli(['users', 'add', 'bob@example.com', '--password-stdin', '--admin'], {
      stdin: 'correct horse battery staple\n',
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Created user bob@example\.com \(id [A-Za-z0-9_-]+\) as an administrator\./);
    assert.ok(!run.stdout.includes('Password'));
    assert.ok(!run.stdout.includes('correct horse'));
    const user = await withStorage(env, (storage) => storage.users.findByEmail('bob@example.com'));
    assert.ok(user);
    assert.equal(user.isAdmin, true);
    assert.equal(await verifyPassword('correct horse battery staple', user.passwordHash), true);
  });

  it('a duplicate email → exit 1 with a clear message', async () => {
    const run = await cli(['users', 'add', 'ALICE@example.com']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /already exists/);
    assert.ok(!run.stdout.includes('Password'));
  });

  it('a short password on stdin → exit 1', async () => {
    const run = await cli(['users', 'add', 'carol@example.com', '--password-stdin'], { stdin: 'short\n' });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /at least 8 characters/);
  });

  it('no email, or two → exit 2', async () => {
    assert.equal((await cli(['users', 'add'])).code, 2);
    const two = await cli(['users', 'add', 'a@example.com', 'b@example.com']);
    assert.equal(two.code, 2);
    assert.match(two.stderr, /exactly one EMAIL/);
  });
});

describe('gatehouse clients add / list', () => {
  let confidential: Record<string, unknown>;
  let publicClient: Record<string, unknown>;

  it('clients add prints the client as JSON with its secret, once', async () => {
    const run = await cli(['clients', 'add', '--name', 'Web App', '--redirect-uri', 'https://rp.example/cb']);
    assert.equal(run.code, 0, run.stderr);
    confidential = JSON.parse(run.stdout);
    assert.equal(confidential.client_name, 'Web App');
    assert.deepEqual(confidential.redirect_uris, ['https://rp.example/cb']);
    assert.equal(confidential.token_endpoint_auth_method, 'client_secret_basic');
    assert.equal(confidential.application_type, 'web');
    assert.equal(confidential.require_pkce, true);
    assert.deepEqual(confidential.grant_types, ['authorization_code', 'refresh_token']);
    assert.match(String(confidential.client_secret), /^ghs_[A-Za-z0-9_-]{49}$/);
    assert.match(run.stderr, /shown once/);
    const stored = await withStorage(env, (storage) => storage.clients.find(String(confidential.client_id)));
    assert.ok(stored);
    assert.equal(stored.secretHash, sha256(String(confidential.client_secret)));
  });

  it('clients add --public has no secret', async () => {
    const run = await cli([
      'clients',
      'add',
      '--name',
      'CLI Tool',
      '--public',
      '--redirect-uri',
      'http://127.0.0.1/cb',
      '--redirect-uri',
      'com.example.tool:/cb',
      '--no-refresh',
    ]);
    assert.equal(run.code, 0, run.stderr);
    publicClient = JSON.parse(run.stdout);
    assert.equal(publicClient.client_secret, undefined);
    assert.equal(publicClient.token_endpoint_auth_method, 'none');
    assert.equal(publicClient.application_type, 'native');
    assert.deepEqual(publicClient.grant_types, ['authorization_code']);
    assert.deepEqual(publicClient.redirect_uris, ['http://127.0.0.1/cb', 'com.example.tool:/cb']);
    assert.ok(!run.stderr.includes('shown once'));
  });

  it('clients add --public --grant device_code: a TV or CLI client with no redirect URI (RFC 8628)', async () => {
    const run = await cli([
      'clients',
      'add',
      '--name',
      'Living room TV',
      '--public',
      '--grant',
      'device_code',
      '--grant',
      'refresh_token',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const device = JSON.parse(run.stdout);
    assert.deepEqual(device.grant_types, ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token']);
    assert.deepEqual(device.redirect_uris, []);
    assert.equal(device.client_secret, undefined);
  });

  it('clients add --auth-method client_secret_post --pkce-optional --scope', async () => {
    const run = await cli([
      'clients',
      'add',
      '--name',
      'Post App',
      '--redirect-uri',
      'https://rp.example/cb',
      '--auth-method',
      'client_secret_post',
      '--pkce-optional',
      '--scope',
      'openid email',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const output = JSON.parse(run.stdout);
    assert.equal(output.token_endpoint_auth_method, 'client_secret_post');
    assert.equal(output.require_pkce, false);
    assert.equal(output.scope, 'openid email');
    assert.match(output.client_secret, /^ghs_/);
  });

  it('clients add with a localhost redirect URI → native (A-07); --application-type web refuses it, nothing created', async () => {
    const runEnv = envFor('localhost-native');
    const native = await cli(
      ['clients', 'add', '--name', 'MCP tool', '--redirect-uri', 'http://localhost:8090/callback'],
      { env: runEnv },
    );
    assert.equal(native.code, 0, native.stderr);
    const output = JSON.parse(native.stdout);
    assert.equal(output.application_type, 'native');
    assert.equal(output.require_pkce, true);
    assert.deepEqual(output.redirect_uris, ['http://localhost:8090/callback']);
    const web = await cli(
      [
        'clients',
        'add',
        '--name',
        'Web',
        '--application-type',
        'web',
        '--redirect-uri',
        'http://localhost:8090/callback',
      ],
      { env: runEnv },
    );
    assert.equal(web.code, 1);
    assert.match(web.stderr, /only a native app/);
    const bogus = await cli(
      [
        'clients',
        'add',
        '--name',
        'X',
        '--application-type',
        'spa',
        '--redirect-uri',
        'https://rp.example/cb',
      ],
      { env: runEnv },
    );
    assert.equal(bogus.code, 1);
    assert.match(bogus.stderr, /--application-type/);
    assert.equal((await withStorage(runEnv, (storage) => storage.clients.list())).length, 1);
  });

  for (const [uri, reason] of [
    ['http://rp.example/cb', /must use https/],
    ['https://rp.example/cb#frag', /fragment/],
    ['javascript:alert(1)', /scheme/],
    ['/cb', /absolute/],
  ] as const) {
    it(`a bad redirect URI (${uri}) → exit 1 naming it, nothing created`, async () => {
      const runEnv = envFor(`bad-${sha256(uri).slice(0, 8)}`);
      const run = await cli(['clients', 'add', '--name', 'Bad', '--redirect-uri', uri], { env: runEnv });
      assert.equal(run.code, 1);
      assert.ok(run.stderr.includes(uri), run.stderr);
      assert.match(run.stderr, reason);
      assert.equal(run.stdout, '');
      assert.equal((await withStorage(runEnv, (storage) => storage.clients.list())).length, 0);
    });
  }

  it('clients add without a redirect URI or name → exit 1', async () => {
    const noUri = await cli(['clients', 'add', '--name', 'X']);
    assert.equal(noUri.code, 1);
    assert.match(noUri.stderr, /redirect URI/);
    const noName = await cli(['clients', 'add', '--redirect-uri', 'https://rp.example/cb']);
    assert.equal(noName.code, 1);
    assert.match(noName.stderr, /client_name/);
  });

  it('clients add with an unsupported auth method → exit 1', async () => {
    const run = await cli([
      'clients',
      'add',
      '--name',
      'X',
      '--redirect-uri',
      'https://rp.example/cb',
      '--auth-method',
      'tls_client_auth',
    ]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /token_endpoint_auth_method/);
  });

  it('clients list shows the clients and never a secret or its hash', async () => {
    assert.ok(confidential && publicClient, 'runs after clients add');
    const run = await cli(['clients', 'list', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const rows = JSON.parse(run.stdout) as Record<string, unknown>[];
    const byId = new Map(rows.map((row) => [row.client_id, row]));
    assert.equal(byId.get(confidential.client_id)?.type, 'confidential');
    assert.equal(byId.get(publicClient.client_id)?.type, 'public');
    assert.equal(byId.get(confidential.client_id)?.status, 'active');
    const secret = String(confidential.client_secret);
    assert.ok(!run.stdout.includes(secret));
    assert.ok(!run.stdout.includes(sha256(secret)));
    assert.ok(!run.stdout.includes('ghs_'));
    assert.ok(!/secret/i.test(run.stdout));
  });

  it('clients add --dpop stores dpop_bound_access_tokens (RFC 9449 §5.2) and prints it', async () => {
    const runEnv = envFor('dpop');
    const run = await cli(
      ['clients', 'add', '--name', 'Bound', '--redirect-uri', 'https://rp.example/cb', '--dpop'],
      { env: runEnv },
    );
    assert.equal(run.code, 0, run.stderr);
    const output = JSON.parse(run.stdout);
    assert.equal(output.dpop_bound_access_tokens, true);
    await withStorage(runEnv, async (storage) => {
      const stored = await storage.clients.find(output.client_id);
      assert.equal(stored?.metadata.dpop_bound_access_tokens, true);
    });
  });

  it('clients add --resource-server stores the mark (RFC 7662 §4); clients list shows it; not for a public client', async () => {
    const runEnv = envFor('resource-server');
    const run = await cli(
      ['clients', 'add', '--name', 'Orders API', '--grant', 'client_credentials', '--resource-server'],
      { env: runEnv },
    );
    assert.equal(run.code, 0, run.stderr);
    const output = JSON.parse(run.stdout);
    assert.equal(output.resource_server, true);
    const plain = JSON.parse(
      (
        await cli(['clients', 'add', '--name', 'App', '--redirect-uri', 'https://rp.example/cb'], {
          env: runEnv,
        })
      ).stdout,
    );
    assert.equal(plain.resource_server, undefined);
    await withStorage(runEnv, async (storage) => {
      assert.equal((await storage.clients.find(output.client_id))?.resourceServer, true);
      assert.equal((await storage.clients.find(plain.client_id))?.resourceServer, false);
    });
    const listed = JSON.parse((await cli(['clients', 'list', '--json'], { env: runEnv })).stdout) as Record<
      string,
      unknown
    >[];
    assert.deepEqual(
      listed.map((row) => [row.client_name, row.resource_server]),
      [
        ['Orders API', true],
        ['App', false],
      ],
    );
    const refused = await cli(
      [
        'clients',
        'add',
        '--name',
        'Tool',
        '--public',
        '--redirect-uri',
        'http://127.0.0.1/cb',
        '--resource-server',
      ],
      { env: runEnv },
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /public client cannot be a resource server/);
  });

  it('clients resource-server marks an existing client and --off unmarks it; unknown or public clients → exit 1', async () => {
    const runEnv = envFor('resource-server-mark');
    const added = JSON.parse(
      (await cli(['clients', 'add', '--name', 'API', '--grant', 'client_credentials'], { env: runEnv }))
        .stdout,
    );
    const find = () => withStorage(runEnv, (storage) => storage.clients.find(added.client_id));
    assert.equal((await find())?.resourceServer, false);
    const marked = await cli(['clients', 'resource-server', added.client_id], { env: runEnv });
    assert.equal(marked.code, 0, marked.stderr);
    assert.match(marked.stdout, /may introspect every client's tokens/);
    assert.equal((await find())?.resourceServer, true);
    const unmarked = await cli(['clients', 'resource-server', added.client_id, '--off'], { env: runEnv });
    assert.equal(unmarked.code, 0, unmarked.stderr);
    assert.equal((await find())?.resourceServer, false);
    assert.equal((await cli(['clients', 'resource-server', 'nobody'], { env: runEnv })).code, 1);
    assert.equal((await cli(['clients', 'resource-server'], { env: runEnv })).code, 2);
    const publicClient = JSON.parse(
      (
        await cli(['clients', 'add', '--name', 'Tool', '--public', '--redirect-uri', 'http://127.0.0.1/cb'], {
          env: runEnv,
        })
      ).stdout,
    );
    const refused = await cli(['clients', 'resource-server', publicClient.client_id], { env: runEnv });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /public client/);
  });
});

describe('gatehouse keys rotate', () => {
  it('adds a new key per alg and keeps the old ones until they retire', async () => {
    // The server's first start made the secret and the initial keys.
    await (await openDeps(configFrom(env))).storage.close();
    const before = await withStorage(env, (storage) => storage.keys.list());
    assert.equal(before.length, 2);
    const run = await cli(['keys', 'rotate']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /New ES256 signing key \S+/);
    assert.match(run.stdout, /New RS256 signing key \S+/);
    assert.match(
      run.stdout,
      /Running servers check for key changes every 1 s: the new keys are published now and sign in 10 minutes; the old keys stay in the JWKS for 70 minutes/,
    );
    const keys = await withStorage(env, (storage) => storage.keys.list());
    assert.equal(keys.length, 4);
    for (const old of before) {
      const rotated = keys.find((key) => key.kid === old.kid);
      assert.ok(rotated, 'the old key is still stored');
      assert.equal(typeof rotated.rotatedAt, 'number', 'the old key no longer signs');
      assert.equal(typeof rotated.retireAt, 'number', 'the old key has a retire time');
      // Published first, signing 10 minutes later (R8); the old key retires 70 minutes after that.
      assert.equal(rotated.retireAt! - rotated.rotatedAt!, 80 * 60_000);
    }
    const fresh = keys.filter((key) => key.rotatedAt === null);
    assert.deepEqual(fresh.map((key) => key.alg).sort(), ['ES256', 'RS256']);
    for (const key of fresh) {
      assert.ok(run.stdout.includes(key.kid));
      assert.equal(key.activatesAt - key.createdAt, 10 * 60_000);
    }
  });

  it('--now makes the new keys sign at once', async () => {
    const run = await cli(['keys', 'rotate', '--now']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /sign at once/);
    const fresh = (await withStorage(env, (storage) => storage.keys.list())).filter(
      (key) => key.rotatedAt === null,
    );
    for (const key of fresh) assert.equal(key.activatesAt, key.createdAt);
  });

  it('uses the secret in the data folder, never printing it', async () => {
    const secret = readFileSync(path.join(env.GATEHOUSE_DATA_DIR!, 'secret'), 'utf8').trim();
    assert.ok(secret.length >= 32);
    const run = await cli(['keys', 'rotate']);
    assert.equal(run.code, 0);
    assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret));
  });
});

describe('gatehouse migrate', () => {
  it('applies the migrations once, then reports the database up to date', async () => {
    const runEnv = envFor('migrate');
    const first = await cli(['migrate'], { env: runEnv });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^Applied: \S+/);
    const second = await cli(['migrate'], { env: runEnv });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, 'The database is up to date.\n');
    // The database is usable afterwards.
    assert.deepEqual(await withStorage(runEnv, (storage) => storage.clients.list()), []);
  });
});

describe('bin/gatehouse.js', () => {
  it('runs as a child process: --help exits 0 with the overview', async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['bin/gatehouse.js', '--help'], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    assert.match(stdout, /^Usage: gatehouse <command> \[options\]/);
    assert.equal(stderr, '');
  });

  it('an unknown command exits 2', async () => {
    await assert.rejects(
      promisify(execFile)(process.execPath, ['bin/gatehouse.js', 'frobnicate'], {
        cwd: ROOT,
        env: { ...process.env, ...env },
      }),
      (error: { code?: number; stderr?: string }) => {
        assert.equal(error.code, 2);
        assert.match(String(error.stderr), /Unknown command "frobnicate"/);
        return true;
      },
    );
  });
});
