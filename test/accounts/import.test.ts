// Importing users with their password hashes (issue 13): the matching rule, idempotent re-runs, per-line errors
// that never stop the file, streaming in batches, concurrent writers, and an imported user's first sign-in
// through the real login page (verified with the old algorithm once, rehashed to Gatehouse's scrypt, `sub`
// unchanged). On SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { type ImportOptions, type ImportSummary, importUsers } from '../../src/accounts/import.ts';
import { hashCost, hashPassword, NO_PASSWORD_HASH, verifyPassword } from '../../src/accounts/password.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { Agent, csrfFrom, signedInAgent } from '../helpers/agent.ts';
import { exchangeCode, runAuthorizationFlow } from '../helpers/flow.ts';
import { type FreshDatabase, freshDatabase, postgresOrSkipReason } from '../helpers/postgres.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';

const { postgres, skip: postgresSkip } = await postgresOrSkipReason();
const databases: FreshDatabase[] = [];
after(async () => {
  await Promise.all(databases.map((database) => database.drop()));
  await postgres?.stop();
});

interface Fixture {
  format: string;
  password: string;
  hash: string;
}
const fixtures = JSON.parse(
  readFileSync(new URL('../fixtures/password-hashes.json', import.meta.url), 'utf8'),
) as Fixture[];
const fixture = (format: string, made: RegExp = /./) =>
  fixtures.find((candidate) => candidate.format === format && made.test(JSON.stringify(candidate)))!;
const BCRYPTJS = fixture('bcrypt $2b$', /bcryptjs/);

async function* linesOf(records: readonly (object | string)[]) {
  for (const record of records) yield typeof record === 'string' ? record : JSON.stringify(record);
}

interface Run {
  summary: ImportSummary;
  errors: [number, string][];
}

async function run(
  storage: Storage,
  records: readonly (object | string)[],
  options: Partial<ImportOptions> = {},
): Promise<Run> {
  const errors: [number, string][] = [];
  const summary = await importUsers(storage, linesOf(records), {
    now: () => Date.UTC(2026, 10, 22, 12, 0, 0),
    onLineError: (line, message) => errors.push([line, message]),
    ...options,
  });
  return { summary, errors };
}

function unique(prefix: string) {
  const tag = Math.random().toString(36).slice(2, 10);
  return { id: `${prefix}|${tag}`, email: `${prefix}-${tag}@example.com` };
}

async function signIn(server: TestServer, email: string, password: string) {
  const agent = new Agent(server.app);
  const page = await agent.get('/login');
  return agent.post('/login', { _csrf: csrfFrom(page.body), email, password });
}

for (const target of [
  { name: 'SQLite', skip: undefined as string | undefined },
  { name: 'PostgreSQL', skip: postgresSkip },
]) {
  describe(`gatehouse users import (${target.name})`, { skip: target.skip }, () => {
    let server: TestServer;
    let storage: Storage;

    it('creates users under their external ids; a second run changes nothing (idempotent)', async () => {
      let databaseUrl: string | undefined;
      if (target.name === 'PostgreSQL') {
        const database = await freshDatabase(postgres!.url);
        databases.push(database);
        databaseUrl = database.url;
      }
      server = await buildTestServer({}, { databaseUrl });
      storage = server.deps.storage;

      const alice = unique('auth0');
      const bob = unique('legacy');
      const records = [
        {
          external_id: alice.id,
          email: alice.email.toUpperCase(),
          name: 'Alice',
          email_verified: true,
          password_hash: BCRYPTJS.hash,
        },
        { external_id: 4711, email: bob.email, disabled: true, password_hash: null },
      ];
      const first = await run(storage, records);
      assert.deepEqual(first.errors, []);
      assert.deepEqual(first.summary, { lines: 2, created: 2, updated: 0, unchanged: 0, failed: 0 });
      const imported = await storage.users.findById(alice.id);
      assert.deepEqual(
        { ...imported, createdAt: 0, updatedAt: 0 },
        {
          id: alice.id,
          email: alice.email,
          name: 'Alice',
          passwordHash: BCRYPTJS.hash,
          isAdmin: false,
          emailVerified: true,
          createdAt: 0,
          updatedAt: 0,
          disabledAt: null,
          claims: null,
          phoneNumber: null,
          phoneNumberVerified: false,
          address: null,
        },
      );
      const numeric = await storage.users.findById('4711');
      assert.equal(numeric?.email, bob.email);
      assert.notEqual(numeric?.disabledAt, null);
      assert.equal(numeric?.passwordHash, NO_PASSWORD_HASH);
      assert.equal(numeric?.emailVerified, false);

      const second = await run(storage, records);
      assert.deepEqual(second.summary, { lines: 2, created: 0, updated: 0, unchanged: 2, failed: 0 });
      assert.deepEqual(await storage.users.findById(alice.id), imported);

      const events = (await storage.securityEvents.list(10)).filter(
        (event) => event.type === 'users_imported',
      );
      assert.equal(events.length, 2);
      assert.deepEqual(events.map((event) => event.detail).reverse(), [
        { created: 2, updated: 0, unchanged: 0, failed: 0 },
        { created: 0, updated: 0, unchanged: 2, failed: 0 },
      ]);
      assert.deepEqual(
        events.map((event) => event.actor),
        [{ kind: 'cli' }, { kind: 'cli' }],
      );
    });

    it('a re-run updates: new email and name, flags; absent fields keep their values; disabling ends sessions', async () => {
      const carol = unique('okta');
      await run(storage, [
        { external_id: carol.id, email: carol.email, name: 'Carol', password_hash: BCRYPTJS.hash },
      ]);
      const browser = await signedInAgent(server.app, { email: carol.email, password: BCRYPTJS.password });
      assert.match((await browser.get('/')).body, /You are signed in/);
      const signedIn = await storage.users.findById(carol.id);
      const newEmail = `renamed-${carol.email}`;
      const { summary, errors } = await run(storage, [
        { external_id: carol.id, email: newEmail, email_verified: true, disabled: true },
      ]);
      assert.deepEqual(errors, []);
      assert.equal(summary.updated, 1);
      const after = await storage.users.findById(carol.id);
      assert.equal(after?.email, newEmail);
      assert.equal(after?.name, 'Carol', 'an absent name is kept');
      assert.equal(after?.passwordHash, signedIn?.passwordHash, 'an absent password_hash is kept');
      assert.equal(after?.emailVerified, true);
      assert.notEqual(after?.disabledAt, null);
      assert.equal((await signIn(server, newEmail, BCRYPTJS.password)).statusCode, 401, 'disabled');
      assert.match((await browser.get('/')).body, /You are not signed in/, 'the session ended');
      // Enabled again, with the name cleared.
      await run(storage, [{ external_id: carol.id, email: newEmail, disabled: false, name: null }]);
      const enabled = await storage.users.findById(carol.id);
      assert.equal(enabled?.disabledAt, null);
      assert.equal(enabled?.name, null);
      assert.equal((await signIn(server, newEmail, BCRYPTJS.password)).statusCode, 303);
    });

    it('a line without external_id matches on email, or creates a user with a Gatehouse id', async () => {
      const dave = unique('x');
      const created = await run(storage, [{ email: dave.email, password_hash: BCRYPTJS.hash }]);
      assert.equal(created.summary.created, 1);
      const user = await storage.users.findByEmail(dave.email);
      assert.ok(user && user.id !== dave.id && /^[A-Za-z0-9][A-Za-z0-9_-]{21}$/.test(user.id), user?.id);
      const again = await run(storage, [{ email: dave.email, name: 'Dave' }]);
      assert.equal(again.summary.updated, 1);
      assert.equal((await storage.users.findById(user.id))?.name, 'Dave');
    });

    it('phone_number, phone_number_verified and address are imported; absent ones are kept, bad ones refused', async () => {
      const dana = unique('phone');
      const address = { street_address: '1 Main St\nFlat 2', locality: 'Springfield', country: 'US' };
      const first = await run(storage, [
        {
          external_id: dana.id,
          email: dana.email,
          phone_number: '+1 555 0100',
          phone_number_verified: true,
          address,
        },
      ]);
      assert.deepEqual(first.errors, []);
      let stored = await storage.users.findById(dana.id);
      assert.equal(stored?.phoneNumber, '+1 555 0100');
      assert.equal(stored?.phoneNumberVerified, true);
      assert.deepEqual(stored?.address, address);
      // A re-run without them keeps them (unchanged); null clears one.
      const again = await run(storage, [{ external_id: dana.id, email: dana.email }]);
      assert.equal(again.summary.unchanged, 1);
      const cleared = await run(storage, [{ external_id: dana.id, email: dana.email, address: null }]);
      assert.equal(cleared.summary.updated, 1);
      stored = await storage.users.findById(dana.id);
      assert.equal(stored?.address, null);
      assert.equal(stored?.phoneNumber, '+1 555 0100');
      const bad = await run(storage, [
        { email: 'p1@example.com', phone_number: 'call me' },
        { email: 'p2@example.com', phone_number_verified: 'yes' },
        { email: 'p3@example.com', address: 'Main St' },
        { email: 'p4@example.com', address: { planet: 'Mars' } },
        { email: 'p5@example.com', address: { locality: 'a\u0000b' } },
      ]);
      assert.deepEqual(
        bad.errors.map(([line]) => line),
        [1, 2, 3, 4, 5],
      );
      assert.match(Object.fromEntries(bad.errors)[4]!, /unknown member planet/);
    });

    it('every bad line is reported with its number and the rest of the file is imported', async () => {
      const taken = unique('taken');
      const other = unique('other');
      await run(storage, [
        { external_id: taken.id, email: taken.email },
        { external_id: other.id, email: other.email },
      ]);
      const good = [unique('good'), unique('good')];
      const { summary, errors } = await run(storage, [
        { external_id: good[0]!.id, email: good[0]!.email },
        'not json',
        '',
        '[1, 2]',
        { email: 'alice@example.com', emailVerified: true },
        { external_id: 'has space', email: 'space@example.com' },
        { external_id: 'x'.repeat(256), email: 'long@example.com' },
        { email: 'not-an-address' },
        { external_id: 'no-email' },
        { email: 'hash@example.com', password_hash: '5f4dcc3b5aa765d61d8327deb882cf99' },
        { email: 'cost@example.com', password_hash: BCRYPTJS.hash.replace('$10$', '$31$') },
        { email: 'flag@example.com', disabled: 'yes' },
        { email: 'ctl@example.com', name: 'a\u0007b' },
        { external_id: 'new-id', email: taken.email },
        { external_id: other.id, email: taken.email },
        { external_id: good[1]!.id, email: good[1]!.email },
      ]);
      assert.deepEqual(
        errors.map(([line]) => line),
        [2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
      );
      const messages = Object.fromEntries(errors);
      assert.equal(messages[2], 'not valid JSON');
      assert.equal(messages[4], 'not a JSON object');
      assert.equal(messages[5], 'unknown field "emailVerified"');
      assert.match(messages[6]!, /external_id must be 1–255 printable ASCII/);
      assert.match(messages[7]!, /external_id/);
      assert.equal(messages[8], 'email is not a valid address');
      assert.equal(messages[9], 'email is missing');
      assert.match(messages[10]!, /^password_hash: unknown password hash format/);
      assert.match(messages[11]!, /^password_hash: bcrypt cost 31 is outside 4–15/);
      assert.equal(messages[12], 'disabled must be true or false');
      assert.match(messages[13]!, /control characters/);
      assert.equal(
        messages[14],
        `a user with email ${taken.email} already has id ${taken.id}; an id never changes (give that external_id, or none to match on email)`,
      );
      assert.equal(messages[15], `email ${taken.email} belongs to another user (id ${taken.id})`);
      assert.deepEqual(summary, { lines: 16, created: 2, updated: 0, unchanged: 0, failed: 13 });
      for (const user of good) assert.equal((await storage.users.findById(user.id))?.email, user.email);
      assert.equal(await storage.users.findById('new-id'), undefined);
      assert.equal((await storage.users.findById(other.id))?.email, other.email);
    });

    it('re-import and passwords: a newer foreign hash replaces the old one until the first sign-in, never after', async () => {
      const erin = unique('erin');
      const pbkdf2 = fixture('django pbkdf2_sha256');
      await run(storage, [{ external_id: erin.id, email: erin.email, password_hash: BCRYPTJS.hash }]);
      // The old system changed the password before the switch: the next run brings the new hash.
      const changed = await run(storage, [
        { external_id: erin.id, email: erin.email, password_hash: pbkdf2.hash },
      ]);
      assert.equal(changed.summary.updated, 1);
      assert.equal((await storage.users.findById(erin.id))?.passwordHash, pbkdf2.hash);
      assert.equal((await signIn(server, erin.email, pbkdf2.password)).statusCode, 303);
      const rehashed = (await storage.users.findById(erin.id))!.passwordHash;
      assert.equal(hashCost(rehashed), 10);
      // From now on Gatehouse has the newer password: a later run never puts an import's hash back.
      const later = await run(storage, [
        { external_id: erin.id, email: erin.email, password_hash: BCRYPTJS.hash },
      ]);
      assert.equal(later.summary.unchanged, 1);
      assert.equal((await storage.users.findById(erin.id))?.passwordHash, rehashed);
    });

    it('the same user twice in one file: the later line updates what the earlier one created', async () => {
      const fay = unique('fay');
      const { summary } = await run(storage, [
        { external_id: fay.id, email: fay.email, name: 'First' },
        { external_id: fay.id, email: fay.email, name: 'Second' },
      ]);
      assert.deepEqual(summary, { lines: 2, created: 1, updated: 1, unchanged: 0, failed: 0 });
      assert.equal((await storage.users.findById(fay.id))?.name, 'Second');
    });

    it('streams: lines are pulled one batch at a time, and progress is reported after each batch', async () => {
      let pulled = 0;
      async function* generated() {
        for (let i = 0; i < 1050; i++) {
          pulled += 1;
          yield JSON.stringify({ email: `stream-${target.name}-${i}@example.com` });
        }
      }
      const progress: [number, number][] = [];
      const summary = await importUsers(storage, generated(), {
        now: () => Date.UTC(2026, 10, 22, 12, 0, 0),
        batchSize: 200,
        onLineError: (line, message) => assert.fail(`line ${line}: ${message}`),
        onProgress: (sofar) => progress.push([sofar.created, pulled]),
      });
      assert.equal(summary.created, 1050);
      assert.deepEqual(progress, [
        [200, 200],
        [400, 400],
        [600, 600],
        [800, 800],
        [1000, 1000],
        [1050, 1050],
      ]);
    });

    it('a dry run checks every line against the database and writes nothing', async () => {
      const gil = unique('gil');
      const existing = unique('existing');
      await run(storage, [{ external_id: existing.id, email: existing.email }]);
      const eventsBefore = (await storage.securityEvents.list(100)).length;
      const { summary, errors } = await run(
        storage,
        [
          { external_id: gil.id, email: gil.email },
          { external_id: existing.id, email: existing.email, name: 'New name' },
          { external_id: 'another', email: existing.email },
        ],
        { dryRun: true },
      );
      assert.deepEqual(summary, { lines: 3, created: 1, updated: 1, unchanged: 0, failed: 1 });
      assert.equal(errors.length, 1);
      assert.equal(await storage.users.findById(gil.id), undefined);
      assert.equal((await storage.users.findById(existing.id))?.name, null);
      assert.equal((await storage.securityEvents.list(100)).length, eventsBefore);
    });

    it('a concurrent writer: a sign-in’s rehash during the import is kept, a taken email fails only its line', async () => {
      const hal = unique('hal');
      const ivy = unique('ivy');
      const jon = unique('jon');
      await run(storage, [{ external_id: hal.id, email: hal.email, password_hash: BCRYPTJS.hash }]);
      const gatehouseHash = await hashPassword(BCRYPTJS.password, 10);
      // Between the batch's read and its write: hal signs in (rehash), and someone creates ivy's email.
      let interleaved = false;
      const racing: Storage = Object.create(storage, {
        transaction: {
          value: async <T>(work: (tx: Storage) => Promise<T>): Promise<T> => {
            if (!interleaved) {
              interleaved = true;
              assert.ok(await storage.users.rehashPassword(hal.id, BCRYPTJS.hash, gatehouseHash));
              await storage.users.create({
                ...(await storage.users.findById(hal.id))!,
                id: 'someone-else',
                email: ivy.email,
              });
            }
            return storage.transaction(work);
          },
        },
      });
      const { summary, errors } = await run(racing, [
        { external_id: hal.id, email: hal.email, name: 'Hal', password_hash: BCRYPTJS.hash },
        { external_id: ivy.id, email: ivy.email },
        { external_id: jon.id, email: jon.email },
      ]);
      assert.ok(interleaved);
      assert.deepEqual(errors, [
        [
          2,
          `a user with email ${ivy.email} already has id someone-else; an id never changes (give that external_id, or none to match on email)`,
        ],
      ]);
      assert.deepEqual(summary, { lines: 3, created: 1, updated: 1, unchanged: 0, failed: 1 });
      const hal2 = await storage.users.findById(hal.id);
      assert.equal(hal2?.name, 'Hal');
      assert.equal(hal2?.passwordHash, gatehouseHash, 'the rehash made meanwhile is not undone');
      assert.equal((await storage.users.findById(jon.id))?.email, jon.email);
      assert.equal(await storage.users.findById(ivy.id), undefined);
    });

    it('a batch of one line that collides with a concurrent writer is that line’s error, not the end of the import', async () => {
      const lee = unique('lee');
      const racing: Storage = Object.create(storage, {
        transaction: {
          value: async <T>(work: (tx: Storage) => Promise<T>): Promise<T> => {
            if (!(await storage.users.findByEmail(lee.email))) {
              await storage.users.create({
                id: `racer-${lee.id}`,
                email: lee.email,
                name: null,
                passwordHash: NO_PASSWORD_HASH,
                isAdmin: false,
                emailVerified: false,
                createdAt: 1,
                updatedAt: 1,
                disabledAt: null,
                claims: null,
              });
            }
            return storage.transaction(work);
          },
        },
      });
      const other = unique('other');
      const { summary, errors } = await run(
        racing,
        [
          { external_id: lee.id, email: lee.email },
          { external_id: other.id, email: other.email },
        ],
        { batchSize: 1 },
      );
      assert.deepEqual(
        errors.map(([line]) => line),
        [1],
      );
      assert.match(errors[0]![1], /already has id racer-/);
      assert.deepEqual(summary, { lines: 2, created: 1, updated: 0, unchanged: 0, failed: 1 });
    });

    it('an imported bcrypt user signs in through the login page and the code flow: same sub, hash now scrypt', async () => {
      const external = `auth0|${Math.random().toString(16).slice(2)}`;
      const email = `kim-${target.name.toLowerCase()}@example.com`;
      await run(storage, [
        { external_id: external, email, name: 'Kim', email_verified: true, password_hash: BCRYPTJS.hash },
      ]);
      const { client, secret } = await server.addClient();
      const user = { ...(await storage.users.findById(external))!, email, password: BCRYPTJS.password };

      // A wrong password first: refused, and the imported hash stays.
      assert.equal((await signIn(server, email, 'not the password')).statusCode, 401);
      assert.equal((await storage.users.findById(external))?.passwordHash, BCRYPTJS.hash);

      const flow = await runAuthorizationFlow(server, client, user);
      const tokens = (await exchangeCode(server, client, secret, flow)).json();
      assert.equal(decodeJwt(tokens.id_token).sub, external, 'third-party apps keep seeing the same sub');
      const userinfo = await server.app.inject({
        method: 'GET',
        url: '/userinfo',
        headers: { authorization: `Bearer ${tokens.access_token}` },
      });
      assert.equal(userinfo.json().sub, external);
      assert.equal(userinfo.json().email, email);

      const rehashed = (await storage.users.findById(external))!.passwordHash;
      assert.match(rehashed, /^scrypt\$10\$8\$1\$/);
      assert.equal(await verifyPassword(BCRYPTJS.password, rehashed), true);
      // The old password still works, now against Gatehouse's hash, which stays.
      await runAuthorizationFlow(server, client, user, { expectNoConsent: true });
      assert.equal((await storage.users.findById(external))!.passwordHash, rehashed);
      assert.equal((await signIn(server, email, `${BCRYPTJS.password}x`)).statusCode, 401);
    });

    for (const format of ['argon2id', 'passlib scrypt', 'django pbkdf2_sha256', 'django bcrypt_sha256']) {
      it(`an imported ${format} user signs in once with the old algorithm and is rehashed`, async () => {
        const { hash, password } = fixture(format);
        const email = `${format.replace(/\W/g, '-')}-${target.name}@example.com`.toLowerCase();
        const { errors } = await run(storage, [{ email, password_hash: hash }]);
        assert.deepEqual(errors, []);
        assert.equal((await signIn(server, email, password)).statusCode, 303);
        const rehashed = (await storage.users.findByEmail(email))!.passwordHash;
        assert.equal(hashCost(rehashed), 10);
        assert.equal((await signIn(server, email, password)).statusCode, 303);
      });
    }

    it('a user imported without a password cannot sign in with any password', async () => {
      const email = `nopassword-${target.name}@example.com`;
      await run(storage, [{ email, password_hash: null }]);
      assert.equal((await signIn(server, email, '!')).statusCode, 401);
      assert.equal((await signIn(server, email, '')).statusCode, 401);
      await server.close();
    });
  });
}

describe('external ids with URL characters work in the admin console', () => {
  it('an imported user with id "auth0|a/b?c#d&e" is disabled and enabled from the console', async () => {
    const server = await buildTestServer();
    try {
      const id = 'auth0|a/b?c#d&e';
      await run(server.deps.storage, [{ external_id: id, email: 'url@example.com' }]);
      const admin = await server.addUser({ isAdmin: true });
      const agent = await signedInAgent(server.app, admin);
      const page = await agent.get('/admin');
      const action = `/admin/users/${encodeURIComponent(id)}/disable`;
      assert.ok(
        page.body.includes(`href="${action.replaceAll('&', '&amp;')}"`),
        'the button links to the encoded id',
      );
      const confirmation = await agent.get(action);
      assert.equal(confirmation.statusCode, 200);
      assert.ok(
        confirmation.body.includes(`action="${action.replaceAll('&', '&amp;')}"`),
        'the confirmation posts to the encoded id',
      );
      const disabled = await agent.post(action, { _csrf: csrfFrom(confirmation.body), confirm: 'yes' });
      assert.equal(disabled.statusCode, 303);
      assert.notEqual((await server.deps.storage.users.findById(id))?.disabledAt, null);
    } finally {
      await server.close();
    }
  });
});
