// gatehouse events: the security event log as JSON Lines, in-process on a temporary SQLite database, with the
// events the CLI itself records (keys rotate, admin-keys) and those a server on the same database records.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { recordSecurityEvent, type SecurityEventJson } from '../../src/oauth/security-events.ts';
import { openStorage } from '../../src/storage/open.ts';
import { existingSqliteUrl, messages, runCliCaptured } from '../helpers/cli.ts';
import { TEST_SECRET } from '../helpers/server.ts';

const parse = (stdout: string): SecurityEventJson[] =>
  stdout === ''
    ? []
    : stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as SecurityEventJson);

describe('gatehouse events', () => {
  let dir: string;
  let env: Record<string, string>;
  const T = Date.UTC(2020, 5, 1);
  let alice: { id: string; email: string };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-events-'));
    env = {
      DATABASE_URL: existingSqliteUrl(path.join(dir, 'gatehouse.db')),
      GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
      GATEHOUSE_SECRET: TEST_SECRET,
      GATEHOUSE_PASSWORD_COST: '10',
      LOG_LEVEL: 'silent',
    };
    const added = await runCliCaptured(['users', 'add', 'alice@example.com'], env);
    assert.equal(added.code, 0, added.stderr);
    const { storage } = await openStorage(env.DATABASE_URL!);
    try {
      const user = await storage.users.findByEmail('alice@example.com');
      assert.ok(user?.email);
      alice = { id: user.id, email: user.email };
      // What a server on this database would have recorded: one event a minute for ten minutes.
      for (let n = 0; n < 10; n++) {
        await recordSecurityEvent(storage, T + n * 60_000, n % 2 ? 'login_failed' : 'login_succeeded', {
          userId: n < 6 ? alice.id : null,
          clientId: n % 3 === 0 ? 'client-3' : null,
          clientName: n % 3 === 0 ? 'Three' : null,
          ip: `203.0.113.${n}`,
          detail: { n },
        });
      }
    } finally {
      await storage.close();
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints every event as one JSON line, newest first, including what the CLI itself recorded', async () => {
    const created = await runCliCaptured(
      ['admin-keys', 'create', '--name', 'SIEM', '--scope', 'events:read'],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    const run = await runCliCaptured(['events'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(messages(run.stderr), '');
    const events = parse(run.stdout);
    assert.deepEqual(
      events[0]?.type,
      'admin_key_created',
      'the newest: recorded now, after the seeded 2020 ones',
    );
    assert.deepEqual(events[0]?.actor, { kind: 'cli' });
    assert.deepEqual(events[0]?.detail.scope, 'events:read');
    const seeded = events.filter((event) => event.created_at.startsWith('2020-'));
    assert.deepEqual(
      seeded.map((event) => event.detail.n),
      [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    );
    assert.deepEqual(seeded.at(-1), {
      ...seeded.at(-1),
      type: 'login_succeeded',
      created_at: '2020-06-01T00:00:00.000Z',
      ip: '203.0.113.0',
      client_id: 'client-3',
      client_name: 'Three',
      user_id: alice.id,
      user_email: alice.email,
    });
  });

  it('filters by --type, --user (id or email), --client, --since, --until, and stops at --limit', async () => {
    const ns = async (...args: string[]) => {
      const run = await runCliCaptured(['events', ...args], env);
      assert.equal(run.code, 0, run.stderr);
      return parse(run.stdout).map((event) => event.detail.n);
    };
    assert.deepEqual(await ns('--type', 'login_failed', '--until', '2031-01-01'), [9, 7, 5, 3, 1]);
    // The newest is user_created, which `gatehouse users add` recorded (it has no n).
    assert.deepEqual(await ns('--user', alice.id), [undefined, 5, 4, 3, 2, 1, 0]);
    assert.deepEqual(await ns('--user', 'Alice@Example.com'), [undefined, 5, 4, 3, 2, 1, 0]);
    assert.deepEqual(await ns('--client', 'client-3'), [9, 6, 3, 0]);
    assert.deepEqual(await ns('--since', '2020-06-01T00:03:00Z', '--until', '2020-06-01T00:05:00Z'), [4, 3]);
    assert.deepEqual(await ns('--user', alice.id, '--type', 'login_succeeded', '--limit', '2'), [4, 2]);
    assert.deepEqual(await ns('--type', 'nothing_like_this'), []);
  });

  it('a malformed option is a usage error (exit 2); an unknown email exits 1', async () => {
    for (const [args, message] of [
      [['--since', 'last tuesday'], /^--since must be an ISO 8601 date/],
      [['--limit', '0'], /^--limit must be a whole number/],
      [['--type', 'Login Failed'], /^--type must be an event type/],
      [['--user', ''], /^--user must be 1 to 255 characters/],
      [['--bogus'], /Unknown option '--bogus'/],
    ] as const) {
      const run = await runCliCaptured(['events', ...args], env);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.match(run.stderr, /Usage: gatehouse events/);
      assert.equal(run.stdout, '');
    }
    const unknown = await runCliCaptured(['events', '--user', 'nobody@example.com'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /No user with the email nobody@example.com/);
  });
});
