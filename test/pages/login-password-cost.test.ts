// GATEHOUSE_PASSWORD_COST after a change (issue 12 item 12b): a user whose hash was made at another cost gets
// it rehashed at the configured cost by their next successful sign-in (compare-and-set, so a password changed
// meanwhile wins), and an unknown email is checked against a dummy of the configured cost, the cost every
// user converges on. On SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { hashCost, passwordCheck, verifyPassword } from '../../src/accounts/password.ts';
import { createUser } from '../../src/accounts/users.ts';
import { Agent, csrfFrom } from '../helpers/agent.ts';
import { type FreshDatabase, freshDatabase, postgresOrSkipReason } from '../helpers/postgres.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';

const { postgres, skip: postgresSkip } = await postgresOrSkipReason();
const databases: FreshDatabase[] = [];
after(async () => {
  await Promise.all(databases.map((database) => database.drop()));
  await postgres?.stop();
});

async function signIn(server: TestServer, email: string, password: string) {
  const agent = new Agent(server.app);
  const page = await agent.get('/login');
  return agent.post('/login', { _csrf: csrfFrom(page.body), email, password });
}

describe('the dummy hash for unknown emails', () => {
  it('is made at the configured cost, and an unknown email never verifies', async () => {
    for (const cost of [10, 11]) {
      const check = passwordCheck(cost);
      assert.equal(hashCost(check.dummyHash), cost);
      assert.equal(await check.verify('anything', undefined), false);
    }
  });
});

for (const target of [
  { name: 'SQLite', skip: undefined as string | undefined },
  { name: 'PostgreSQL', skip: postgresSkip },
]) {
  describe(`rehash on sign-in when GATEHOUSE_PASSWORD_COST changed (${target.name})`, {
    skip: target.skip,
  }, () => {
    let server: TestServer;
    const password = 'correct horse battery staple';

    async function userAtCost(cost: number) {
      return createUser(
        server.deps.storage,
        {
          email: `cost${cost}-${Math.random().toString(36).slice(2)}@example.com`,
          password,
          name: 'Old Hash',
        },
        server.clock.now(),
        cost,
      );
    }

    it('a user created at cost 10 signs in with cost 11 configured: the stored hash is now at 11', async () => {
      let databaseUrl: string | undefined;
      if (target.name === 'PostgreSQL') {
        const database = await freshDatabase(postgres!.url);
        databases.push(database);
        databaseUrl = database.url;
      }
      server = await buildTestServer({ GATEHOUSE_PASSWORD_COST: '11' }, { databaseUrl });
      const user = await userAtCost(10);
      assert.equal(hashCost(user.passwordHash), 10);

      const signedIn = await signIn(server, user.email, password);
      assert.equal(signedIn.statusCode, 303, signedIn.body.slice(0, 300));
      const after = await server.deps.storage.users.findById(user.id);
      assert.equal(hashCost(after!.passwordHash), 11);
      assert.ok(await verifyPassword(password, after!.passwordHash));
      assert.deepEqual({ ...after, passwordHash: '' }, { ...user, passwordHash: '' }, 'nothing else changed');

      // The next sign-in finds the hash current and leaves it alone.
      assert.equal((await signIn(server, user.email, password)).statusCode, 303);
      assert.equal((await server.deps.storage.users.findById(user.id))!.passwordHash, after!.passwordHash);
    });

    it('a wrong password does not rehash; a user already at the configured cost is not rehashed', async () => {
      const old = await userAtCost(10);
      assert.equal((await signIn(server, old.email, 'not the password')).statusCode, 401);
      assert.equal((await server.deps.storage.users.findById(old.id))!.passwordHash, old.passwordHash);

      const current = await userAtCost(11);
      assert.equal((await signIn(server, current.email, password)).statusCode, 303);
      assert.equal(
        (await server.deps.storage.users.findById(current.id))!.passwordHash,
        current.passwordHash,
      );
      await server.close();
    });
  });
}
