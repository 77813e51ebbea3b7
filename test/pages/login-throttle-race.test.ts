// The sign-in throttle under concurrency (issue item 5, docs/security.md R14): every attempt is reserved in the
// database before the password is checked, so 30 concurrent wrong passwords for one account get at most the 5
// free checks and 429 for the rest, however many processes share the database. In-process on SQLite and
// PostgreSQL, then with real separate processes: `gatehouse start --workers 2` on one PostgreSQL database.
// PostgreSQL is a throwaway cluster or DATABASE_URL_TEST; skipped outside CI on a machine without one.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { freePort } from '../e2e/loopback.ts';
import { Agent, csrfFrom } from '../helpers/agent.ts';
import { runCliCaptured } from '../helpers/cli.ts';
import { freshDatabase, postgresOrSkipReason, type RunningPostgres } from '../helpers/postgres.ts';
import { startGatehouse } from '../helpers/process.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';

const ATTEMPTS = 30;
const FREE = 5;
/** The account's first delay; each later one doubles (accounts/throttle.ts ACCOUNT_POLICY). */
const FIRST_DELAY_MS = 1000;

function histogram(statuses: number[]): string {
  const counts = new Map<number, number>();
  for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
  return JSON.stringify(Object.fromEntries(counts));
}

const { postgres, skip: skipReason } = await postgresOrSkipReason();
const databases: { drop(): Promise<void> }[] = [];
after(async () => {
  await Promise.all(databases.map((database) => database.drop()));
  await postgres?.stop();
});

async function freshUrl(cluster: RunningPostgres): Promise<string> {
  const database = await freshDatabase(cluster.url);
  databases.push(database);
  return database.url;
}

function inProcess(name: string, databaseUrl: () => Promise<string | undefined>) {
  describe(`sign-in throttle under concurrency, in-process on ${name}`, () => {
    let server: TestServer;
    before(async () => {
      server = await buildTestServer({}, { databaseUrl: await databaseUrl() });
    });
    after(() => server?.close());

    it(`${ATTEMPTS} concurrent wrong passwords for one account: ${FREE} are checked, the rest get 429 with Retry-After`, async () => {
      const user = await server.addUser();
      const bystander = await server.addUser();
      const agent = new Agent(server.app);
      const csrf = csrfFrom((await agent.get('/login')).body);
      const answers = await Promise.all(
        Array.from({ length: ATTEMPTS }, (_, i) =>
          agent.post('/login', { _csrf: csrf, email: user.email, password: `wrong password ${i}` }),
        ),
      );
      const statuses = answers.map((answer) => answer.statusCode);
      // The clock does not move: exactly the free attempts, whatever the interleaving.
      assert.equal(statuses.filter((status) => status === 401).length, FREE, histogram(statuses));
      assert.equal(statuses.filter((status) => status === 429).length, ATTEMPTS - FREE, histogram(statuses));
      for (const answer of answers.filter((a) => a.statusCode === 429)) {
        assert.match(String(answer.headers['retry-after']), /^[1-9]\d*$/);
      }

      // The right password waits too; another account from the same address does not.
      const right = await agent.post('/login', { _csrf: csrf, email: user.email, password: user.password });
      assert.equal(right.statusCode, 429);
      const other = new Agent(server.app);
      const signedIn = await other.post('/login', {
        _csrf: csrfFrom((await other.get('/login')).body),
        email: bystander.email,
        password: bystander.password,
      });
      assert.equal(signedIn.statusCode, 303, signedIn.body.slice(0, 300));
      // Only the checked attempts stay counted against the address.
      assert.equal((await server.deps.storage.loginThrottle.find('ip:127.0.0.1'))?.failures, FREE);
    });
  });
}

inProcess('SQLite', async () => undefined);

if (postgres === undefined) {
  test('sign-in throttle on PostgreSQL (in-process, and two worker processes)', (t) => {
    t.skip(skipReason);
  });
} else {
  const cluster = postgres;
  inProcess('PostgreSQL', () => freshUrl(cluster));

  describe('sign-in throttle across processes: gatehouse start --workers 2 on one PostgreSQL database', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gh-throttle-workers-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it(`${ATTEMPTS} concurrent wrong passwords for one account, spread over two processes: at most the free ones are checked`, async () => {
      const port = await freePort();
      const env = {
        DATABASE_URL: await freshUrl(cluster),
        GATEHOUSE_DATA_DIR: dir,
        GATEHOUSE_SECRET: 'throttle-test-secret-throttle-test-secret-0123',
        // A real KDF cost, so that checks overlap as they do in production.
        GATEHOUSE_PASSWORD_COST: '13',
        LOG_LEVEL: 'silent',
        HOST: '127.0.0.1',
        PORT: String(port),
      };
      const email = 'victim@example.com';
      const password = 'the right password, long enough';
      for (const address of [email, 'warm-up@example.com']) {
        const created = await runCliCaptured(
          ['users', 'add', address, '--password-stdin'],
          env,
          `${password}\n`,
        );
        assert.equal(created.code, 0, created.stderr);
      }

      const server = startGatehouse({ env, port, workers: 2 });
      const base = server.base;
      try {
        await server.waitUntilReady();
        assert.match(server.output(), /\(2 worker processes\)/);

        const page = await fetch(`${base}/login`);
        const cookie = String(page.headers.get('set-cookie')).split(';')[0]!;
        const csrf = csrfFrom(await page.text());
        const signIn = (address: string, secret: string) =>
          fetch(`${base}/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
            body: new URLSearchParams({ _csrf: csrf, email: address, password: secret }).toString(),
            redirect: 'manual',
          }).then(async (response) => {
            await response.arrayBuffer();
            return response.status;
          });
        // Both workers open their database connections and compile their routes first, with sign-ins that
        // succeed (a success gives its attempt back to the address), so that the burst below is a burst.
        // Four at a time: an account has at most its free attempts in flight, successes included.
        for (let round = 0; round < 2; round++) {
          const warmUp = await Promise.all(
            Array.from({ length: 4 }, () => signIn('warm-up@example.com', password)),
          );
          assert.deepEqual(warmUp, [303, 303, 303, 303]);
        }
        const started = Date.now();
        const statuses = await Promise.all(
          Array.from({ length: ATTEMPTS }, (_, i) => signIn(email, `wrong password ${i}`)),
        );
        const elapsed = Date.now() - started;
        const checked = statuses.filter((status) => status !== 429).length;
        // The clock runs here: once the first delay (1 s, then 2 s, 4 s, ...) has passed the policy allows one
        // more check. So the bound is the free attempts plus what the burst's own duration earned, not a race.
        const earned = Math.floor(Math.log2(elapsed / FIRST_DELAY_MS + 1));
        assert.ok(
          checked <= FREE + earned,
          `${checked} checked (allowed ${FREE} + ${earned} in ${elapsed} ms): ${histogram(statuses)}`,
        );
        assert.ok(checked >= 1, histogram(statuses));
        assert.deepEqual(
          statuses.filter((status) => status !== 401 && status !== 429),
          [],
          histogram(statuses),
        );
      } finally {
        await server.stop();
      }
      assert.equal(await server.exited, 0, server.output());
    });
  });
}
