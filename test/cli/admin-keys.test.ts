// gatehouse admin-keys create|list|revoke, in-process on a temporary SQLite database, checked against the real
// server on the same database: the printed key opens the interactions admin API, then stops at once when revoked.
// Only the key's SHA-256 is stored (docs/security.md D-11).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isWellFormedOpaqueToken, TOKEN_PREFIX } from '../../src/oauth/opaque-token.ts';
import { sha256 } from '../../src/util/hash.ts';
import { existingSqliteUrl, runCliCaptured } from '../helpers/cli.ts';
import { buildTestServer, TEST_SECRET } from '../helpers/server.ts';

describe('gatehouse admin-keys', () => {
  let dir: string;
  let env: Record<string, string>;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-admin-keys-'));
    env = {
      DATABASE_URL: existingSqliteUrl(path.join(dir, 'gatehouse.db')),
      GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
      GATEHOUSE_SECRET: TEST_SECRET,
      LOG_LEVEL: 'silent',
    };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('create prints the key once; it opens the interactions API; list never shows it; revoke stops it at once', async () => {
    const created = await runCliCaptured(
      ['admin-keys', 'create', '--name', 'Company login app', '--scope', 'interactions'],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    const printed = JSON.parse(created.stdout);
    assert.ok(isWellFormedOpaqueToken(printed.admin_key, TOKEN_PREFIX.adminKey), printed.admin_key);
    assert.equal(printed.scope, 'interactions');
    assert.equal(printed.status, 'active');
    assert.match(created.stderr, /shown once/);
    const bytes = Buffer.concat(
      ['gatehouse.db', 'gatehouse.db-wal']
        .map((file) => path.join(dir, file))
        .filter(existsSync)
        .map((file) => readFileSync(file)),
    );
    assert.equal(bytes.includes(Buffer.from(printed.admin_key)), false, 'the key is not stored');
    assert.equal(bytes.includes(Buffer.from(sha256(printed.admin_key))), true, 'its SHA-256 is');

    const server = await buildTestServer({}, { databaseUrl: env.DATABASE_URL });
    const call = () =>
      server.app.inject({
        method: 'GET',
        url: '/api/v1/interactions/login?challenge=ghi_unknown',
        headers: { authorization: `Bearer ${printed.admin_key}` },
      });
    try {
      assert.equal((await call()).statusCode, 404, 'authenticated: the challenge is what is unknown');

      const listed = await runCliCaptured(['admin-keys', 'list', '--json'], env);
      assert.equal(listed.code, 0);
      assert.equal(listed.stdout.includes(printed.admin_key), false);
      assert.deepEqual(
        JSON.parse(listed.stdout).map((key: { id: string; status: string }) => [key.id, key.status]),
        [[printed.id, 'active']],
      );

      const revoked = await runCliCaptured(['admin-keys', 'revoke', printed.id], env);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.equal((await call()).statusCode, 401);
      assert.equal((await runCliCaptured(['admin-keys', 'revoke', printed.id], env)).code, 1);
      const events = (await server.deps.storage.securityEvents.list(10)).map((event) => event.type);
      assert.deepEqual(events.sort(), ['admin_key_created', 'admin_key_revoked']);
    } finally {
      await server.close();
    }
  });

  it('refuses an unknown scope (exit 1, nothing stored) and a missing --scope or --name (exit 2)', async () => {
    const unknown = await runCliCaptured(
      ['admin-keys', 'create', '--name', 'x', '--scope', 'everything'],
      env,
    );
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /Unknown admin scope "everything"; admin scopes are: interactions/);
    assert.equal((await runCliCaptured(['admin-keys', 'create', '--name', 'x'], env)).code, 2);
    assert.equal((await runCliCaptured(['admin-keys', 'create', '--scope', 'interactions'], env)).code, 2);
    const listed = JSON.parse((await runCliCaptured(['admin-keys', 'list', '--json'], env)).stdout);
    assert.equal(listed.filter((key: { name: string }) => key.name === 'x').length, 0);
  });
});
