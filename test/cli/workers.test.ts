// `gatehouse start --workers 2`: two processes (node:cluster) on one port and one SQLite file. Tokens issued by
// either are durable and distinct; the primary takes its workers down with it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../e2e/loopback.ts';
import { existingSqliteUrl, runCliCaptured } from '../helpers/cli.ts';
import { startGatehouse } from '../helpers/process.ts';

describe('gatehouse start --workers 2', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-workers-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('serves from two processes sharing one database, and stops them all on SIGTERM', async () => {
    const port = await freePort();
    const env = {
      DATABASE_URL: existingSqliteUrl(path.join(dir, 'gatehouse.db')),
      GATEHOUSE_DATA_DIR: dir,
      GATEHOUSE_PASSWORD_COST: '10',
      GATEHOUSE_ACCESS_TOKEN_FORMAT: 'opaque',
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      PORT: String(port),
    };
    const created = await runCliCaptured(
      ['clients', 'add', '--name', 'machine', '--grant', 'client_credentials', '--scope', 'api:read'],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    const { client_id: clientId, client_secret: secret } = JSON.parse(created.stdout);

    const server = startGatehouse({ env, port, workers: 2 });
    const base = server.base;
    try {
      await server.waitUntilReady();
      assert.match(server.output(), /\(2 worker processes\)/);

      const basic = `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;
      const answers = await Promise.all(
        Array.from({ length: 40 }, () =>
          fetch(`${base}/token`, {
            method: 'POST',
            headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
            body: 'grant_type=client_credentials',
          }).then(async (response) => ({
            status: response.status,
            body: (await response.json()) as Record<string, string>,
          })),
        ),
      );
      assert.deepEqual(
        answers.map((answer) => answer.status),
        answers.map(() => 200),
        JSON.stringify(answers.filter((answer) => answer.status !== 200).slice(0, 3)),
      );
      const tokens = new Set(answers.map((answer) => answer.body.access_token));
      assert.equal(tokens.size, 40);
      // Every token is durable in the shared database, whichever process issued it.
      const introspected = await fetch(`${base}/introspect`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: `token=${encodeURIComponent(answers[0]!.body.access_token!)}`,
      }).then((response) => response.json() as Promise<{ active: boolean }>);
      assert.equal(introspected.active, true);
    } finally {
      await server.stop();
    }
    assert.equal(await server.exited, 0);
    const stillUp = await fetch(`http://127.0.0.1:${port}/health`).then(
      () => true,
      () => false,
    );
    assert.equal(stillUp, false, 'no worker outlives the primary');
  });
});
