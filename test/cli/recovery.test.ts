// docs/operations.md "Recovery" and "Backups", through the real bin/gatehouse.js:
// - a changed server secret stops start-up with one line saying what to do; `gatehouse keys reset` retires the
//   keys it cannot decrypt and makes new ones; the server starts, its JWKS has only the new kids, a JWT the old
//   keys signed stops verifying, and a refresh token issued before still works (on SQLite and PostgreSQL);
// - `gatehouse backup FILE` copies the SQLite database while the server serves; the copy, restored into a fresh
//   data folder with the same secret, serves a refresh token issued before the backup.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../e2e/loopback.ts';
import { runBin } from '../helpers/cli.ts';
import { basicAuth, exchangeCode, runAuthorizationFlow } from '../helpers/flow.ts';
import { type FreshDatabase, freshDatabase, postgresOrSkipReason } from '../helpers/postgres.ts';
import { startGatehouse } from '../helpers/process.ts';
import { buildTestServer, ISSUER, TEST_SECRET } from '../helpers/server.ts';

const OTHER_SECRET = 'another-secret-another-secret-another-secret-42';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

const { postgres, skip: postgresSkip } = await postgresOrSkipReason();
const databases: FreshDatabase[] = [];
let dir: string;
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-recovery-'));
});
after(async () => {
  await Promise.all(databases.map((database) => database.drop()));
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Through the real endpoints (in-process, secret TEST_SECRET): a user's refresh token and JWT access token. */
async function issueTokens(databaseUrl: string) {
  const server = await buildTestServer({}, { databaseUrl });
  try {
    server.clock.advance(Date.now() - server.clock.now());
    const user = await server.addUser();
    const { client, secret } = await server.addClient({
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
    });
    const flow = await runAuthorizationFlow(server, client, user, { scope: 'openid offline_access' });
    const response = await exchangeCode(server, client, secret, flow);
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json() as { access_token: string; refresh_token: string };
    const kids = ((await server.app.inject('/jwks')).json() as { keys: { kid: string }[] }).keys.map(
      (k) => k.kid,
    );
    return {
      clientId: client.id,
      secret: secret!,
      refreshToken: body.refresh_token,
      accessToken: body.access_token,
      kids,
    };
  } finally {
    await server.close();
  }
}

function serverEnv(databaseUrl: string, dataDir: string, secret: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_SECRET: secret,
    // The issuer the tokens above were issued for; the server listens on 127.0.0.1:<port>.
    GATEHOUSE_ISSUER: ISSUER,
    GATEHOUSE_PASSWORD_COST: '10',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
  };
}

async function refresh(base: string, tokens: { clientId: string; secret: string; refreshToken: string }) {
  return fetch(`${base}/token`, {
    method: 'POST',
    headers: { ...FORM, authorization: basicAuth(tokens.clientId, tokens.secret) },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refreshToken }),
  });
}

async function jwksKids(base: string): Promise<string[]> {
  const jwks = (await (await fetch(`${base}/jwks`)).json()) as { keys: { kid: string }[] };
  return jwks.keys.map((key) => key.kid);
}

async function lostSecretRecovery(databaseUrl: string, dataDir: string) {
  const tokens = await issueTokens(databaseUrl);
  assert.equal(tokens.kids.length, 2);

  // Started with another secret: one line saying what happened and what to do, exit 1.
  const wrong = startGatehouse({
    env: serverEnv(databaseUrl, dataDir, OTHER_SECRET),
    port: await freePort(),
  });
  assert.equal(await wrong.exited, 1, wrong.output());
  const lines = wrong.output().trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line, no stack trace: ${wrong.output()}`);
  assert.match(
    lines[0]!,
    /^The server secret \(GATEHOUSE_SECRET\) is not the one the signing keys in the database were encrypted with\. .*gatehouse keys reset/,
  );

  const env = serverEnv(databaseUrl, dataDir, OTHER_SECRET);
  // keys rotate with that secret would make keys next to ones it cannot read: refused.
  const rotate = await runBin(['keys', 'rotate', '--now'], env, dir);
  assert.equal(rotate.code, 1, rotate.stderr);
  assert.match(rotate.stderr, /is not the one the signing keys in the database were encrypted with/);

  // Without --yes: what it would do, and nothing done.
  const asked = await runBin(['keys', 'reset'], env, dir);
  assert.equal(asked.code, 2, asked.stderr);
  for (const kid of tokens.kids) assert.ok(asked.stderr.includes(kid), asked.stderr);
  assert.match(asked.stderr, /Nothing was changed\. Run again with --yes/);

  const reset = await runBin(['keys', 'reset', '--yes', '--json'], env, dir);
  assert.equal(reset.code, 0, reset.stderr);
  const result = JSON.parse(reset.stdout) as {
    retired: { kid: string }[];
    added: { kid: string; alg: string }[];
  };
  assert.deepEqual(result.retired.map((key) => key.kid).sort(), [...tokens.kids].sort());
  assert.deepEqual(result.added.map((key) => key.alg).sort(), ['ES256', 'RS256']);

  const again = await runBin(['keys', 'reset', '--yes'], env, dir);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /nothing to reset/);

  const server = startGatehouse({ env, port: await freePort() });
  try {
    await server.waitUntilReady();
    const kids = await jwksKids(server.base);
    assert.deepEqual(
      kids.sort(),
      result.added.map((key) => key.kid).sort(),
      'only the new keys are published',
    );
    // A JWT the old keys signed no longer verifies …
    const userinfo = await fetch(`${server.base}/userinfo`, {
      headers: { authorization: `Bearer ${tokens.accessToken}` },
    });
    assert.equal(userinfo.status, 401);
    // … a refresh token issued before still works, and what it returns verifies.
    const refreshed = await refresh(server.base, tokens);
    assert.equal(refreshed.status, 200, await refreshed.clone().text());
    const body = (await refreshed.json()) as { access_token: string; refresh_token: string };
    assert.ok(body.refresh_token && body.refresh_token !== tokens.refreshToken);
    const fresh = await fetch(`${server.base}/userinfo`, {
      headers: { authorization: `Bearer ${body.access_token}` },
    });
    assert.equal(fresh.status, 200, await fresh.text());
  } finally {
    await server.stop();
  }
}

describe('a lost or changed server secret, then gatehouse keys reset', () => {
  it('SQLite', async () => {
    const dataDir = path.join(dir, 'sqlite-reset');
    await lostSecretRecovery(`sqlite:${path.join(dataDir, 'gatehouse.db')}`, dataDir);
  });

  it('PostgreSQL', { skip: postgresSkip }, async () => {
    const database = await freshDatabase(postgres!.url);
    databases.push(database);
    await lostSecretRecovery(database.url, path.join(dir, 'pg-reset'));
  });

  it('the data folder’s secret file gone: start generates a new one and says to restore it or reset', async () => {
    const dataDir = path.join(dir, 'lost-file');
    const databaseUrl = `sqlite:${path.join(dataDir, 'gatehouse.db')}`;
    await issueTokens(databaseUrl);
    const { GATEHOUSE_SECRET: _unset, ...env } = serverEnv(databaseUrl, dataDir, TEST_SECRET);
    const server = startGatehouse({ env, port: await freePort() });
    assert.equal(await server.exited, 1, server.output());
    assert.match(
      server.output(),
      /^There was no server secret \(GATEHOUSE_SECRET unset, no .*secret\), so a new one was generated, but the signing keys in the database were encrypted with another\. .*gatehouse keys reset.*\n$/,
    );
  });
});

describe('gatehouse backup', () => {
  it('copies the SQLite database while the server serves; the copy, restored, accepts an earlier refresh token', async () => {
    const live = path.join(dir, 'live');
    const databaseUrl = `sqlite:${path.join(live, 'gatehouse.db')}`;
    const tokens = await issueTokens(databaseUrl);
    const env = serverEnv(databaseUrl, live, TEST_SECRET);
    const server = startGatehouse({ env, port: await freePort() });
    const file = path.join(dir, 'backups', 'gatehouse-backup.db');
    mkdirSync(path.dirname(file));
    try {
      await server.waitUntilReady();
      // Machine traffic (each token is a write) all through the backup.
      let serving = true;
      const answers: number[] = [];
      const traffic = (async () => {
        while (serving) {
          const response = await fetch(`${server.base}/token`, {
            method: 'POST',
            headers: { ...FORM, authorization: basicAuth(tokens.clientId, tokens.secret) },
            body: new URLSearchParams({ grant_type: 'client_credentials' }),
          });
          answers.push(response.status);
          await response.arrayBuffer();
        }
      })();
      const run = await runBin(['backup', file], env, dir);
      serving = false;
      await traffic;
      assert.equal(run.code, 0, run.stderr);
      assert.match(
        run.stdout,
        /^Backed up .*gatehouse\.db to .*gatehouse-backup\.db \(\d+ pages, [\d.]+ s\)\.\n$/,
      );
      assert.match(run.stderr, /keep a copy of it, apart from the backup/);
      assert.ok(answers.length > 0 && answers.every((status) => status === 200), answers.join(','));
      assert.ok(!existsSync(`${file}-wal`), 'one self-contained file');

      const exists = await runBin(['backup', file], env, dir);
      assert.equal(exists.code, 1);
      assert.match(exists.stderr, /exists; give --force to replace it/);
    } finally {
      await server.stop();
    }

    // Restore: the copy into a fresh data folder, with the same secret.
    const restored = path.join(dir, 'restored');
    mkdirSync(restored);
    copyFileSync(file, path.join(restored, 'gatehouse.db'));
    const copy = startGatehouse({
      env: serverEnv(`sqlite:${path.join(restored, 'gatehouse.db')}`, restored, TEST_SECRET),
      port: await freePort(),
    });
    try {
      await copy.waitUntilReady();
      const refreshed = await refresh(copy.base, tokens);
      assert.equal(refreshed.status, 200, await refreshed.text());
    } finally {
      await copy.stop();
    }
  });

  it('on PostgreSQL: says pg_dump is the tool, exit 2, touches nothing', async () => {
    const file = path.join(dir, 'pg-backup.db');
    const run = await runBin(
      ['backup', file],
      { DATABASE_URL: 'postgres://gatehouse:pw@127.0.0.1:1/gatehouse' },
      dir,
    );
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /For PostgreSQL use its own tools: pg_dump --format=custom/);
    assert.ok(!run.stderr.includes(':pw@'));
    assert.ok(!existsSync(file));
  });

  it('no database there: exit 1, no file', async () => {
    const empty = path.join(dir, 'nothing-here');
    mkdirSync(empty);
    writeFileSync(path.join(empty, 'keep'), '');
    const run = await runBin(['backup', path.join(empty, 'b.db')], {}, empty);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /No database at .*: nothing to back up\./);
    assert.ok(!existsSync(path.join(empty, 'b.db')));
  });
});
