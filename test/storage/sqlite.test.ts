// The storage contract on SQLite (Node's built-in driver): in memory, and in a file in WAL mode.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { openStorage } from '../../src/storage/open.ts';
import { storageContract } from './contract.ts';

storageContract('SQLite in memory', async () => {
  const { storage, db, dialect } = await openStorage('sqlite::memory:');
  assert.equal(dialect, 'sqlite');
  return { storage, db, close: () => storage.close() };
});

storageContract('SQLite file (WAL)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-sqlite-'));
  const { storage, db, dialect } = await openStorage(`sqlite:${join(dir, 'gatehouse.db')}`);
  assert.equal(dialect, 'sqlite');
  const { rows } = await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(db);
  assert.equal(rows[0]?.journal_mode, 'wal');
  return {
    storage,
    db,
    async close() {
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('SQLite file database', () => {
  it('uses WAL and keeps what was written across a close and reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-sqlite-'));
    const url = `sqlite:${join(dir, 'nested', 'gatehouse.db')}`;
    try {
      const first = await openStorage(url);
      const { rows } = await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(first.db);
      assert.equal(rows[0]?.journal_mode, 'wal');
      await first.storage.settings.set('k', 'v');
      await first.storage.close();

      const second = await openStorage(url);
      try {
        assert.equal(await second.storage.settings.get('k'), 'v');
        const { rows: again } = await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(second.db);
        assert.equal(again[0]?.journal_mode, 'wal', 'WAL is persistent and re-applied');
      } finally {
        await second.storage.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
