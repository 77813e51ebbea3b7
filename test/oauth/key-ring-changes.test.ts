// docs/security.md R8, R10: what a running server's once-a-second key check (watchKeyChanges) does, on both
// databases, with two servers on one database: nothing but one version read while nothing changed; a re-read
// when another server rotated the keys; a re-read when a published key's retirement time has come.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rotateSigningKeys } from '../../src/oauth/keys.ts';
import { type FreshDatabase, freshDatabase, postgresOrSkipReason } from '../helpers/postgres.ts';
import { buildTestServer, TEST_SECRET, type TestServer } from '../helpers/server.ts';

const MINUTE = 60_000;
const { postgres, skip: postgresSkip } = await postgresOrSkipReason();
const databases: FreshDatabase[] = [];
let sqliteDir: string;
before(() => {
  sqliteDir = mkdtempSync(path.join(tmpdir(), 'gatehouse-key-ring-'));
});
after(async () => {
  await Promise.all(databases.map((database) => database.drop()));
  await postgres?.stop();
  rmSync(sqliteDir, { recursive: true, force: true });
});

const dialects = [
  { name: 'SQLite', skip: undefined as string | undefined },
  { name: 'PostgreSQL', skip: postgresSkip },
];
for (const dialect of dialects) {
  describe(`KeyRing.reloadIfChanged on ${dialect.name}`, { skip: dialect.skip }, () => {
    let a: TestServer;
    let b: TestServer;
    let listReads = 0;
    before(async () => {
      let url: string;
      if (dialect.name === 'SQLite') {
        url = `sqlite:${path.join(sqliteDir, `ring-${Date.now()}.db`)}`;
      } else {
        const database = await freshDatabase(postgres!.url);
        databases.push(database);
        url = database.url;
      }
      a = await buildTestServer({}, { databaseUrl: url });
      b = await buildTestServer({}, { databaseUrl: url });
      b.clock.advance(a.clock.now() - b.clock.now());
      const keys = a.deps.storage.keys;
      const list = keys.list.bind(keys);
      keys.list = () => {
        listReads++;
        return list();
      };
    });
    after(async () => {
      await a?.close();
      await b?.close();
    });

    const kids = (server: TestServer) => server.deps.keys.jwks().keys.map((key) => key.kid);

    it('while nothing changed: no re-read, the same JWKS object', async () => {
      const jwks = a.deps.keys.jwks();
      const reads = listReads;
      assert.equal(await a.deps.keys.reloadIfChanged(), false);
      assert.equal(await a.deps.keys.reloadIfChanged(), false);
      assert.equal(listReads, reads, 'only the version was read');
      assert.equal(a.deps.keys.jwks(), jwks);
    });

    it('after another server rotated the keys: re-reads them and publishes the new key', async () => {
      // Later than the keys the servers made at start, so that the new one is the newest.
      a.clock.advance(1000);
      b.clock.advance(1000);
      const [added] = await rotateSigningKeys(
        b.deps.storage,
        TEST_SECRET,
        ['ES256'],
        b.clock.now(),
        5 * MINUTE,
      );
      assert.ok(!kids(a).includes(added!.kid));
      assert.equal(await a.deps.keys.reloadIfChanged(), true);
      assert.ok(kids(a).includes(added!.kid));
      assert.equal(a.deps.keys.signingKey('ES256').kid, added!.kid, 'activated at once, it signs');
      assert.equal(await a.deps.keys.reloadIfChanged(), false, 'and then nothing changed');
    });

    it('when a published key’s retirement time comes: re-reads, and the key leaves the JWKS', async () => {
      const retiring = (await a.deps.storage.keys.list()).find(
        (key) => key.alg === 'ES256' && key.retireAt !== null && key.retireAt > a.clock.now(),
      );
      assert.ok(retiring, 'the key the rotation above retired');
      assert.ok(kids(a).includes(retiring.kid));
      a.clock.advance(retiring.retireAt! - a.clock.now() - 1);
      assert.equal(await a.deps.keys.reloadIfChanged(), false, 'not yet');
      a.clock.advance(1);
      assert.equal(await a.deps.keys.reloadIfChanged(), true);
      assert.ok(!kids(a).includes(retiring.kid));
    });
  });
}
