// The client cache on PostgreSQL (src/storage/kysely/clients.ts): each process keeps the clients it read and
// drops them when the clients table's trigger (migration 0019) notifies it of a commit, from any writer. Two
// storages on one database stand for two Gatehouse instances. A change is seen once its notification arrives,
// so the checks wait for it (eventually); the tests that disable the trigger show the cache is really used.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { type OpenedStorage, openStorage } from '../../src/storage/open.ts';
import { LISTENER_NAME } from '../../src/storage/postgres.ts';
import { type FreshDatabase, freshDatabase, postgresOrSkipReason } from '../helpers/postgres.ts';
import { newClient } from './contract.ts';

const { postgres, skip } = await postgresOrSkipReason();

/** Time for notifications already sent to arrive. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

/** Waits until `check` passes (the notification's trip), failing with its last error after five seconds. */
async function eventually(check: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

describe('PostgreSQL: every instance drops its cached clients when any writer changes one', { skip }, () => {
  let database: FreshDatabase;
  let server: OpenedStorage;
  let other: OpenedStorage;

  before(async () => {
    database = await freshDatabase(postgres!.url);
    server = await openStorage(database.url);
    other = await openStorage(database.url);
    // Both listeners up (their first notification-less moments use no cache at all).
    await eventually(async () => {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
        where datname = current_database() and application_name = ${LISTENER_NAME}`.execute(server.db);
      assert.equal(rows[0]?.n, 2);
    });
  });
  after(async () => {
    await server?.storage.close();
    await other?.storage.close();
    await database?.drop();
    await postgres?.stop();
  });

  it("sees another instance's update and delete", async () => {
    const client = newClient();
    await other.storage.clients.create(client);
    assert.equal((await server.storage.clients.find(client.id))?.disabledAt, null, 'read, and cached');
    await other.storage.clients.update({ ...client, disabledAt: 5, status: 'pending' });
    await eventually(async () => {
      const seen = await server.storage.clients.find(client.id);
      assert.equal(seen?.disabledAt, 5);
      assert.equal(seen?.status, 'pending');
    });
    assert.equal(await other.storage.clients.delete(client.id, 6), true);
    await eventually(async () => assert.equal(await server.storage.clients.find(client.id), undefined));
  });

  it('serves a lookup from the cache: a change that notifies nobody stays unseen', async () => {
    const client = newClient();
    await server.storage.clients.create(client);
    // The create's own notification, arriving after a first lookup, would drop it: let it come first.
    await settle();
    await server.storage.clients.find(client.id);
    await sql`alter table clients disable trigger clients_changed`.execute(other.db);
    try {
      await sql`update clients set name = 'Unannounced' where id = ${client.id}`.execute(other.db);
      // Nothing told the cache: it still answers with what it read (which is why the trigger must exist).
      await settle();
      assert.equal((await server.storage.clients.find(client.id))?.name, client.name);
    } finally {
      await sql`alter table clients enable trigger clients_changed`.execute(other.db);
    }
  });

  it('a hand-run UPDATE (any writer, not only Gatehouse) reaches the cache', async () => {
    const client = newClient();
    await server.storage.clients.create(client);
    await server.storage.clients.find(client.id);
    await sql`update clients set name = 'Edited by hand' where id = ${client.id}`.execute(other.db);
    await eventually(async () =>
      assert.equal((await server.storage.clients.find(client.id))?.name, 'Edited by hand'),
    );
  });

  it('losing the listening connection drops the cache: nothing read before is trusted after', async () => {
    const client = newClient();
    await server.storage.clients.create(client);
    await settle();
    await server.storage.clients.find(client.id);
    await sql`alter table clients disable trigger clients_changed`.execute(other.db);
    try {
      await sql`update clients set name = 'Changed while unheard' where id = ${client.id}`.execute(other.db);
      await sql`select pg_terminate_backend(pid) from pg_stat_activity
        where datname = current_database() and application_name = ${LISTENER_NAME}`.execute(other.db);
      // Whether the lookup comes while the listener is down (no cache) or after it is back (cache dropped on
      // reconnecting), it reads the row again.
      await eventually(async () =>
        assert.equal((await server.storage.clients.find(client.id))?.name, 'Changed while unheard'),
      );
    } finally {
      await sql`alter table clients enable trigger clients_changed`.execute(other.db);
    }
  });
});
