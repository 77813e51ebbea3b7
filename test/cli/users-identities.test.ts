// gatehouse users identities EMAIL and gatehouse users unlink EMAIL --provider --subject, in-process on a
// temporary SQLite database: the same links the admin console shows and the same unlink (docs/security.md U-09).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStorage } from '../../src/storage/open.ts';
import { existingSqliteUrl, runCliCaptured } from '../helpers/cli.ts';
import { TEST_SECRET } from '../helpers/server.ts';

let dir: string;
let env: Record<string, string>;

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-identities-'));
  env = {
    DATABASE_URL: existingSqliteUrl(path.join(dir, 'gatehouse.db')),
    GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
    GATEHOUSE_SECRET: TEST_SECRET,
    GATEHOUSE_PASSWORD_COST: '10',
    LOG_LEVEL: 'silent',
  };
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('gatehouse users identities / users unlink', () => {
  it('lists the links as JSON, unlinks one with a security event, and refuses what is not linked', async () => {
    const added = await runCliCaptured(['users', 'add', 'lin@example.com'], env);
    assert.equal(added.code, 0, added.stderr);
    const { storage } = await openStorage(env.DATABASE_URL!);
    try {
      const user = await storage.users.findByEmail('lin@example.com');
      assert.ok(user);
      await storage.linkedIdentities.create({
        providerId: 'okta',
        subject: '00u1abc',
        userId: user.id,
        email: 'lin@example.com',
        createdAt: Date.UTC(2026, 0, 2),
        lastUsedAt: null,
      });
    } finally {
      await storage.close();
    }
    const listed = await runCliCaptured(['users', 'identities', 'lin@example.com', '--json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout), [
      {
        provider: 'okta',
        subject: '00u1abc',
        email: 'lin@example.com',
        linked_at: '2026-01-02T00:00:00.000Z',
        last_used_at: null,
      },
    ]);
    const wrong = await runCliCaptured(
      ['users', 'unlink', 'lin@example.com', '--provider', 'okta', '--subject', 'someone-else'],
      env,
    );
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /is not linked/);
    const usage = await runCliCaptured(['users', 'unlink', 'lin@example.com'], env);
    assert.equal(usage.code, 2);
    const unlinked = await runCliCaptured(
      ['users', 'unlink', 'lin@example.com', '--provider', 'okta', '--subject', '00u1abc'],
      env,
    );
    assert.equal(unlinked.code, 0, unlinked.stderr);
    assert.deepEqual(
      JSON.parse((await runCliCaptured(['users', 'identities', 'lin@example.com', '--json'], env)).stdout),
      [],
    );
    const reopened = await openStorage(env.DATABASE_URL!);
    try {
      const events = await reopened.storage.securityEvents.list(10);
      assert.ok(events.some((event) => event.type === 'identity_unlinked' && event.actor?.kind === 'cli'));
    } finally {
      await reopened.storage.close();
    }
    const nobody = await runCliCaptured(['users', 'identities', 'nobody@example.com'], env);
    assert.equal(nobody.code, 1);
  });
});
