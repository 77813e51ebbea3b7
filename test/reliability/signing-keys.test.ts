// docs/security.md R10: several servers on one database agree on the signing keys.
// (1) Three real `gatehouse start` processes started together on one empty PostgreSQL database store exactly one
//     key per alg, publish the same JWKS, and accept each other's JWTs.
// (2) Two servers on one database (SQLite file, PostgreSQL): a key one of them signs with before the other has
//     re-read its keys (`keys rotate --now`) is trusted by the other at once; a made-up kid costs at most one
//     key read per second.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeProtectedHeader, SignJWT } from 'jose';
import pg from 'pg';
import { rotateSigningKeys, UNKNOWN_KID_RELOAD_MS } from '../../src/oauth/keys.ts';
import { freePort } from '../e2e/loopback.ts';
import { runCliCaptured } from '../helpers/cli.ts';
import { basicAuth } from '../helpers/flow.ts';
import { type FreshDatabase, freshDatabase, postgresOrSkipReason } from '../helpers/postgres.ts';
import { startGatehouse } from '../helpers/process.ts';
import { buildTestServer, TEST_SECRET, type TestServer } from '../helpers/server.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

const { postgres, skip: postgresSkip } = await postgresOrSkipReason();
const databases: FreshDatabase[] = [];
let sqliteDir: string;
before(() => {
  sqliteDir = mkdtempSync(path.join(tmpdir(), 'gatehouse-signing-keys-'));
});
after(async () => {
  await Promise.all(databases.map((database) => database.drop()));
  await postgres?.stop();
  rmSync(sqliteDir, { recursive: true, force: true });
});

describe('R10: three processes started together on one empty PostgreSQL database', {
  skip: postgresSkip,
}, () => {
  it('store one key per alg, publish the same JWKS and accept each other’s JWTs', async () => {
    const database = await freshDatabase(postgres!.url);
    databases.push(database);
    const ports = [await freePort(), await freePort(), await freePort()];
    const env = {
      DATABASE_URL: database.url,
      GATEHOUSE_SECRET: TEST_SECRET,
      // One deployment behind one name: every process is the same issuer.
      GATEHOUSE_ISSUER: `http://127.0.0.1:${ports[0]}`,
      GATEHOUSE_DATA_DIR: sqliteDir,
      GATEHOUSE_PASSWORD_COST: '10',
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
    };
    const servers = ports.map((port) => startGatehouse({ env, port }));
    try {
      await Promise.all(servers.map((server) => server.waitUntilReady()));

      const pool = new pg.Pool({ connectionString: database.url, max: 1 });
      try {
        const { rows } = await pool.query<{ alg: string; n: string }>(
          'SELECT alg, count(*) AS n FROM signing_keys GROUP BY alg ORDER BY alg',
        );
        assert.deepEqual(
          rows.map((row) => [row.alg, Number(row.n)]),
          [
            ['ES256', 1],
            ['RS256', 1],
          ],
        );
      } finally {
        await pool.end();
      }

      const jwks = await Promise.all(
        servers.map((server) => fetch(`${server.base}/jwks`).then((response) => response.json())),
      );
      assert.deepEqual(jwks[1], jwks[0]);
      assert.deepEqual(jwks[2], jwks[0]);

      const created = await runCliCaptured(
        ['clients', 'add', '--name', 'machine', '--grant', 'client_credentials', '--scope', 'api:read'],
        env,
      );
      assert.equal(created.code, 0, created.stderr);
      const { client_id: clientId, client_secret: secret } = JSON.parse(created.stdout);
      const basic = basicAuth(clientId, secret);

      for (const [i, issuer] of servers.entries()) {
        const issued = await fetch(`${issuer.base}/token`, {
          method: 'POST',
          headers: { ...FORM, authorization: basic },
          body: 'grant_type=client_credentials',
        });
        const body = (await issued.json()) as { access_token: string };
        assert.equal(issued.status, 200, JSON.stringify(body));
        assert.equal(decodeProtectedHeader(body.access_token).typ, 'at+jwt');
        for (const [j, verifier] of servers.entries()) {
          if (i === j) continue;
          const introspected = await fetch(`${verifier.base}/introspect`, {
            method: 'POST',
            headers: { ...FORM, authorization: basic },
            body: `token=${encodeURIComponent(body.access_token)}`,
          }).then((response) => response.json() as Promise<{ active: boolean }>);
          assert.equal(introspected.active, true, `a JWT from process ${i} at process ${j}`);
          const checked = await fetch(`${verifier.base}/oauth/test-token-with-scopes`, {
            headers: { authorization: `Bearer ${body.access_token}` },
          });
          assert.equal(
            checked.status,
            200,
            `a JWT from process ${i} at process ${j}: ${await checked.text()}`,
          );
        }
      }
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
    }
  });
});

const dialects = [
  { name: 'SQLite', skip: undefined as string | undefined },
  { name: 'PostgreSQL', skip: postgresSkip },
];
for (const dialect of dialects) {
  describe(`R10 on ${dialect.name}: a key another server signs with is trusted at once`, {
    skip: dialect.skip,
  }, () => {
    let a: TestServer;
    let b: TestServer;
    let basic: string;
    before(async () => {
      let url: string;
      if (dialect.name === 'SQLite') {
        url = `sqlite:${path.join(sqliteDir, `two-nodes-${Date.now()}.db`)}`;
      } else {
        const database = await freshDatabase(postgres!.url);
        databases.push(database);
        url = database.url;
      }
      a = await buildTestServer({}, { databaseUrl: url });
      b = await buildTestServer({}, { databaseUrl: url });
      b.clock.advance(a.clock.now() - b.clock.now());
      const { client, secret } = await a.addClient({
        name: 'machine',
        redirectUris: [],
        grantTypes: ['client_credentials'],
        scope: 'api:read',
      });
      basic = basicAuth(client.id, secret!);
    });
    after(async () => {
      await a?.close();
      await b?.close();
    });

    async function clientCredentialsToken(server: TestServer): Promise<string> {
      const response = await server.app.inject({
        method: 'POST',
        url: '/token',
        headers: { ...FORM, authorization: basic },
        payload: 'grant_type=client_credentials',
      });
      assert.equal(response.statusCode, 200, response.body);
      return response.json().access_token;
    }

    it('`keys rotate --now` seen by one server: its new JWTs are active at the other before any reload', async () => {
      a.clock.advance(1000);
      b.clock.advance(1000);
      const [added] = await rotateSigningKeys(b.deps.storage, TEST_SECRET, ['ES256'], b.clock.now(), 60_000);
      await b.deps.keys.reload();
      const token = await clientCredentialsToken(b);
      assert.equal(decodeProtectedHeader(token).kid, added!.kid);
      assert.ok(!a.deps.keys.jwks().keys.some((key) => key.kid === added!.kid), 'a has not re-read its keys');

      const introspected = await a.app.inject({
        method: 'POST',
        url: '/introspect',
        headers: { ...FORM, authorization: basic },
        payload: `token=${encodeURIComponent(token)}`,
      });
      assert.equal(introspected.json().active, true, introspected.body);
      const checked = await a.app.inject({
        url: '/oauth/test-token-with-scopes',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(checked.statusCode, 200, checked.body);
      assert.ok(
        a.deps.keys.jwks().keys.some((key) => key.kid === added!.kid),
        'and now publishes it',
      );
    });

    it('a made-up kid makes at most one key read per second, however many requests carry it', async () => {
      const keys = a.deps.storage.keys;
      const list = keys.list.bind(keys);
      let reads = 0;
      keys.list = () => {
        reads++;
        return list();
      };
      try {
        a.clock.advance(UNKNOWN_KID_RELOAD_MS);
        const forged = async (n: number) =>
          new SignJWT({ client_id: 'x', jti: `j${n}` })
            .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: `made-up-${n}` })
            .setIssuer(a.config.issuer)
            .setIssuedAt()
            .setExpirationTime('10m')
            .sign(new Uint8Array(32));
        const answers = await Promise.all(
          Array.from({ length: 20 }, async (_, n) =>
            a.app.inject({
              method: 'POST',
              url: '/introspect',
              headers: { ...FORM, authorization: basic },
              payload: `token=${encodeURIComponent(await forged(n))}`,
            }),
          ),
        );
        for (const answer of answers) assert.deepEqual(answer.json(), { active: false });
        assert.equal(reads, 1);
        a.clock.advance(UNKNOWN_KID_RELOAD_MS);
        const later = await a.app.inject({
          method: 'POST',
          url: '/introspect',
          headers: { ...FORM, authorization: basic },
          payload: `token=${encodeURIComponent(await forged(99))}`,
        });
        assert.deepEqual(later.json(), { active: false });
        assert.equal(reads, 2);
      } finally {
        keys.list = list;
      }
    });
  });
}
