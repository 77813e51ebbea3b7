// docs/security.md R8, R10: a rotation reaches every running server within seconds. Two real `gatehouse start`
// processes on one database (SQLite file, PostgreSQL) and `gatehouse keys rotate` run from this (third)
// process: both servers publish the new keys in their JWKS, and after `--now` sign new tokens with them, well
// before their old once-a-minute reload would have (the deadlines are generous bounds for a loaded machine, not
// the expected timings: KEY_CHANGE_VISIBLE_WITHIN_MS is).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeProtectedHeader } from 'jose';
import { configFrom } from '../../src/config-file.ts';
import { openDeps } from '../../src/main.ts';
import { freePort } from '../e2e/loopback.ts';
import { runCliCaptured } from '../helpers/cli.ts';
import { basicAuth } from '../helpers/flow.ts';
import { type FreshDatabase, freshDatabase, postgresOrSkipReason } from '../helpers/postgres.ts';
import { type GatehouseProcess, startGatehouse } from '../helpers/process.ts';
import { TEST_SECRET } from '../helpers/server.ts';

/** Far below the minute a server used to take, far above the ~1–2 s it should. */
const SEEN_WITHIN_MS = 15_000;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

const { postgres, skip: postgresSkip } = await postgresOrSkipReason();
const databases: FreshDatabase[] = [];
let dataDir: string;
before(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'gatehouse-key-rotation-'));
});
after(async () => {
  await Promise.all(databases.map((database) => database.drop()));
  await postgres?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Polls until `check` returns a value (not undefined) or the deadline passes; returns the value and when. */
async function within<T>(
  what: string,
  check: () => Promise<T | undefined>,
): Promise<{ value: T; afterMs: number }> {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value !== undefined) return { value, afterMs: Date.now() - start };
    if (Date.now() - start > SEEN_WITHIN_MS) assert.fail(`${what}: not within ${SEEN_WITHIN_MS} ms`);
    await sleep(100);
  }
}

async function publishedKids(server: GatehouseProcess): Promise<string[]> {
  const response = await fetch(`${server.base}/jwks`);
  assert.equal(response.status, 200);
  const { keys } = (await response.json()) as { keys: { kid: string }[] };
  return keys.map((key) => key.kid);
}

const dialects = [
  { name: 'SQLite', skip: undefined as string | undefined },
  { name: 'PostgreSQL', skip: postgresSkip },
];
for (const dialect of dialects) {
  describe(`key rotation on ${dialect.name} reaches every running server within seconds`, {
    skip: dialect.skip,
  }, () => {
    let env: Record<string, string>;
    let servers: GatehouseProcess[] = [];
    let basic: string;
    before(async () => {
      let url: string;
      if (dialect.name === 'SQLite') {
        url = `sqlite:${path.join(dataDir, `rotation-${Date.now()}.db`)}`;
      } else {
        const database = await freshDatabase(postgres!.url);
        databases.push(database);
        url = database.url;
      }
      const ports = [await freePort(), await freePort()];
      env = {
        DATABASE_URL: url,
        GATEHOUSE_SECRET: TEST_SECRET,
        GATEHOUSE_ISSUER: `http://127.0.0.1:${ports[0]}`,
        GATEHOUSE_DATA_DIR: dataDir,
        GATEHOUSE_PASSWORD_COST: '10',
        LOG_LEVEL: 'silent',
        HOST: '127.0.0.1',
      };
      // Migrated and keyed before the servers start (as a first start does): two SQLite processes then never
      // race to create the keys.
      await (await openDeps(configFrom(env))).storage.close();
      const created = await runCliCaptured(
        ['clients', 'add', '--name', 'machine', '--grant', 'client_credentials', '--scope', 'api:read'],
        env,
      );
      assert.equal(created.code, 0, created.stderr);
      const { client_id: clientId, client_secret: secret } = JSON.parse(created.stdout);
      basic = basicAuth(clientId, secret);
      servers = ports.map((port) => startGatehouse({ env, port }));
      await Promise.all(servers.map((server) => server.waitUntilReady()));
    });
    after(async () => {
      await Promise.all(servers.map((server) => server.stop()));
    });

    async function tokenKid(server: GatehouseProcess): Promise<string> {
      const response = await fetch(`${server.base}/token`, {
        method: 'POST',
        headers: { ...FORM, authorization: basic },
        body: 'grant_type=client_credentials',
      });
      const body = (await response.json()) as { access_token: string };
      assert.equal(response.status, 200, JSON.stringify(body));
      return decodeProtectedHeader(body.access_token).kid!;
    }

    it('`keys rotate`: the new keys appear in every server’s JWKS; the old ones still sign', async (t) => {
      const signingBefore = await Promise.all(servers.map(tokenKid));
      const run = await runCliCaptured(['keys', 'rotate'], env);
      assert.equal(run.code, 0, run.stderr);
      assert.match(
        run.stdout,
        /Running servers check for key changes every 1 s: the new keys are published now/,
      );
      const added = [...run.stdout.matchAll(/New \S+ signing key (\S+)/g)].map((match) => match[1]!);
      assert.equal(added.length, 2, run.stdout);
      for (const [i, server] of servers.entries()) {
        const { afterMs } = await within(`server ${i} publishes ${added.join(', ')}`, async () => {
          const kids = await publishedKids(server);
          return added.every((kid) => kids.includes(kid)) ? true : undefined;
        });
        t.diagnostic(`server ${i} published the new keys ${afterMs} ms after keys rotate returned`);
        // Published ahead of signing (R8): the keys that signed before still do.
        assert.equal(await tokenKid(server), signingBefore[i]);
      }
    });

    it('`keys rotate --now`: every server signs new tokens with the new key', async (t) => {
      const run = await runCliCaptured(['keys', 'rotate', '--now'], env);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /sign at once/);
      const added = [...run.stdout.matchAll(/New \S+ signing key (\S+)/g)].map((match) => match[1]!);
      for (const [i, server] of servers.entries()) {
        const { value: kid, afterMs } = await within(`server ${i} signs with a new key`, async () => {
          const kid = await tokenKid(server);
          return added.includes(kid) ? kid : undefined;
        });
        t.diagnostic(`server ${i} signed with the new key ${afterMs} ms after keys rotate returned`);
        assert.ok((await publishedKids(server)).includes(kid));
      }
    });
  });
}
