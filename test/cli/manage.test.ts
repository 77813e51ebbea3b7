// gatehouse users list|disable|enable|delete and clients disable|enable|delete|rotate-secret (issue 15 §1): the
// same operations as the console and the admin API, in-process on a temporary SQLite database, with their exit
// codes (0 done or already so, 1 no such record or a refusal, 2 a usage mistake such as a missing --yes) and
// the security events they record with the CLI as the actor.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStorage } from '../../src/storage/open.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { sha256 } from '../../src/util/hash.ts';
import { existingSqliteUrl, messages, runCliCaptured } from '../helpers/cli.ts';
import { TEST_SECRET } from '../helpers/server.ts';

describe('gatehouse users and clients management commands', () => {
  let dir: string;
  let env: Record<string, string>;
  let storage: Storage;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-manage-'));
    env = {
      DATABASE_URL: existingSqliteUrl(path.join(dir, 'gatehouse.db')),
      GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
      GATEHOUSE_SECRET: TEST_SECRET,
      GATEHOUSE_PASSWORD_COST: '10',
      LOG_LEVEL: 'silent',
    };
    assert.equal((await runCliCaptured(['migrate'], env)).code, 0);
    ({ storage } = await openStorage(env.DATABASE_URL!));
  });
  after(async () => {
    await storage?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => runCliCaptured(args, env);
  const eventsOf = async (type: string) =>
    (await storage.securityEvents.list(500)).filter((event) => event.type === type);

  it('users: list, disable (twice), enable, delete only with --yes; unknown users exit 1', async () => {
    assert.equal((await cli('users', 'add', 'dana@example.com', '--name', 'Dana')).code, 0);
    const table = await cli('users', 'list');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+EMAIL\s+NAME\s+ADMIN\s+STATUS/);
    assert.match(table.stdout, /dana@example\.com\s+Dana\s+false\s+active/);
    const listed = JSON.parse((await cli('users', 'list', '--json')).stdout) as {
      id: string;
      email: string;
    }[];
    const dana = listed.find((user) => user.email === 'dana@example.com');
    assert.ok(dana);
    assert.ok(!JSON.stringify(listed).includes('scrypt'), 'no password hash');

    const disabled = await cli('users', 'disable', 'dana@example.com');
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.equal(disabled.stdout, 'Disabled dana@example.com.\n');
    assert.notEqual((await storage.users.findById(dana.id))?.disabledAt, null);
    const again = await cli('users', 'disable', dana.id);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already disabled/);
    assert.equal((await eventsOf('user_disabled')).length, 1, 'a repeat records nothing');
    assert.deepEqual((await eventsOf('user_disabled'))[0]?.actor, { kind: 'cli' });
    assert.equal((await cli('users', 'enable', 'dana@example.com')).code, 0);
    assert.equal((await storage.users.findById(dana.id))?.disabledAt, null);

    const unconfirmed = await cli('users', 'delete', 'dana@example.com');
    assert.equal(unconfirmed.code, 2);
    assert.match(unconfirmed.stderr, /--yes/);
    assert.ok(await storage.users.findById(dana.id), 'nothing was deleted');
    const deleted = await cli('users', 'delete', 'dana@example.com', '--yes');
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(await storage.users.findById(dana.id), undefined);
    assert.equal((await eventsOf('user_deleted'))[0]?.userEmail, 'dana@example.com');

    const unknown = await cli('users', 'disable', 'nobody@example.com');
    assert.equal(unknown.code, 1);
    assert.equal(messages(unknown.stderr), 'No user nobody@example.com.\n');
    assert.equal((await cli('users', 'disable')).code, 2);
  });

  it('clients: rotate-secret prints the new secret once and keeps the old one for the overlap; 0 drops it', async () => {
    const added = await cli('clients', 'add', '--name', 'Nightly export', '--grant', 'client_credentials');
    assert.equal(added.code, 0, added.stderr);
    const { client_id: id, client_secret: first } = JSON.parse(added.stdout);

    const rotated = await cli('clients', 'rotate-secret', id, '--overlap-seconds', '3600');
    assert.equal(rotated.code, 0, rotated.stderr);
    const answer = JSON.parse(rotated.stdout);
    assert.match(answer.client_secret, /^ghs_/);
    assert.ok(Date.parse(answer.previous_secret_expires_at) > Date.now() + 3_500_000);
    let client = await storage.clients.find(id);
    assert.equal(client?.secretHash, sha256(answer.client_secret));
    assert.equal(client?.previousSecretHash, sha256(first));
    assert.equal((await eventsOf('client_secret_rotated')).length, 1);

    const leaked = await cli('clients', 'rotate-secret', id, '--overlap-seconds', '0');
    assert.equal(leaked.code, 0);
    client = await storage.clients.find(id);
    assert.equal(client?.previousSecretHash, null, 'the leaked secret stops at once');
    assert.equal(JSON.parse(leaked.stdout).previous_secret_expires_at, null);

    assert.equal((await cli('clients', 'rotate-secret', id, '--overlap-seconds', 'soon')).code, 2);
    const spa = JSON.parse(
      (await cli('clients', 'add', '--name', 'SPA', '--redirect-uri', 'https://spa.example/cb', '--public'))
        .stdout,
    ).client_id;
    const refused = await cli('clients', 'rotate-secret', spa);
    assert.equal(refused.code, 1);
    assert.match(messages(refused.stderr), /public client/);
  });

  it('clients: disable (twice), enable, delete only with --yes; unknown ids exit 1', async () => {
    const { client_id: id } = JSON.parse(
      (await cli('clients', 'add', '--name', 'Notes', '--redirect-uri', 'https://notes.example/cb')).stdout,
    );
    const disabled = await cli('clients', 'disable', id);
    assert.equal(disabled.stdout, `Disabled Notes (${id}).\n`);
    assert.notEqual((await storage.clients.find(id))?.disabledAt, null);
    assert.match((await cli('clients', 'disable', id)).stdout, /already disabled/);
    assert.equal((await cli('clients', 'enable', id)).code, 0);
    assert.equal((await storage.clients.find(id))?.disabledAt, null);
    assert.equal((await cli('clients', 'delete', id)).code, 2);
    assert.ok(await storage.clients.find(id));
    const deleted = await cli('clients', 'delete', id, '--yes');
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(await storage.clients.find(id), undefined);
    assert.deepEqual(
      (await eventsOf('client_delete')).map((event) => [event.clientName, event.actor]),
      [['Notes', { kind: 'cli' }]],
    );
    for (const verb of ['disable', 'enable', 'rotate-secret']) {
      const unknown = await cli('clients', verb, 'no-such-client');
      assert.equal(unknown.code, 1, verb);
      assert.equal(messages(unknown.stderr), 'No client with the id no-such-client.\n', verb);
    }
  });
});
