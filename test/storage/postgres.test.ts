// The storage contract on a real PostgreSQL: a throwaway cluster (or DATABASE_URL_TEST), one fresh database
// per suite. Outside CI a machine without PostgreSQL skips; under CI=true a missing PostgreSQL fails.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { openStorage } from '../../src/storage/open.ts';
import { type FreshDatabase, freshDatabase, postgresOrSkipReason } from '../helpers/postgres.ts';
import { storageContract } from './contract.ts';
import { migrationTests } from './migrations.ts';

const { postgres: server, skip: skipReason } = await postgresOrSkipReason();

const databases: FreshDatabase[] = [];

after(async () => {
  // Drop first (needs the server), then stop it.
  await Promise.all(databases.map((database) => database.drop()));
  await server?.stop();
});

if (server === undefined) {
  test('storage contract: PostgreSQL', (t) => {
    t.skip(skipReason);
  });
} else {
  const baseUrl = server.url;
  storageContract('PostgreSQL', async () => {
    const database = await freshDatabase(baseUrl);
    databases.push(database);
    const { storage, db, dialect } = await openStorage(database.url);
    assert.equal(dialect, 'postgres');
    return { storage, db, close: () => storage.close() };
  });
  migrationTests('PostgreSQL', async () => {
    const database = await freshDatabase(baseUrl);
    databases.push(database);
    const { storage, db } = await openStorage(database.url, { migrate: false });
    return { db, close: () => storage.close() };
  });
}
