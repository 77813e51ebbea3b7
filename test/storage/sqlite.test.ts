// The storage contract on SQLite (Node's built-in driver): in memory, and in a file in WAL mode.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { prepared } from '../../src/storage/kysely/prepared.ts';
import { openStorage } from '../../src/storage/open.ts';
import { openSqlite } from '../../src/storage/sqlite.ts';
import { newClient, storageContract } from './contract.ts';
import { migrationTests } from './migrations.ts';

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

migrationTests('SQLite', async () => {
  const { storage, db } = await openStorage('sqlite::memory:', { migrate: false });
  return { db, close: () => storage.close() };
});

describe('SQLite: deleting a popular client', () => {
  it('revokes more grants than one statement may have parameters (32,766)', async () => {
    const { storage, db } = await openStorage('sqlite::memory:');
    try {
      const client = newClient();
      await storage.clients.create(client);
      await sql`
        with recursive n(i) as (select 1 union all select i + 1 from n where i < 33000)
        insert into grants (id, client_id, user_id, scope, created_at, revoked_at, last_used_at)
        select 'g' || i, ${client.id}, 'u' || i, 'openid', 1, null, null from n`.execute(db);
      assert.equal(await storage.clients.delete(client.id, 5), true);
      const { live } = await db
        .selectFrom('grants')
        .select((eb) => eb.fn.countAll<number>().as('live'))
        .where('revoked_at', 'is', null)
        .executeTakeFirstOrThrow();
      assert.equal(Number(live), 0);
    } finally {
      await storage.close();
    }
  });
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

describe('SQLite durable commits: the WAL is synced off the event loop, and nothing answers before it', () => {
  /** A sync that waits until the test opens the gate, and counts how often it ran. */
  function gatedSync() {
    let open: () => void = () => {};
    let gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const state = {
      calls: 0,
      release() {
        open();
        gate = new Promise<void>((resolve) => {
          open = resolve;
        });
      },
      async sync(_fd: number) {
        state.calls++;
        await gate;
      },
    };
    return state;
  }
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

  it('runs synchronous=NORMAL only because it syncs the WAL itself (FULL in memory, where there is no WAL)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-sqlite-'));
    const file = openSqlite(join(dir, 'g.db'));
    const memory = openSqlite(':memory:');
    try {
      const synchronous = async (db: typeof file) =>
        (await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(db)).rows[0]?.synchronous;
      assert.equal(await synchronous(file), 1, 'NORMAL, with WalSync');
      assert.equal(await synchronous(memory), 2, 'FULL');
    } finally {
      await file.destroy();
      await memory.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a write, and any read after it, waits for the sync; one sync serves every commit made before it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-sqlite-'));
    const sync = gatedSync();
    const db = openSqlite(join(dir, 'g.db'), { syncFile: (fd) => sync.sync(fd) });
    try {
      // The DDL is a commit too: it is answered once the gate opens.
      const created = sql`create table t (v integer)`.execute(db);
      await settle();
      sync.release();
      await created;
      const before = sync.calls;

      const answered: string[] = [];
      const write1 = sql`insert into t values (1)`.execute(db).then(() => answered.push('write1'));
      const write2 = db
        .transaction()
        .execute((tx) => sql`insert into t values (2)`.execute(tx))
        .then(() => answered.push('write2'));
      await settle();
      const read = sql<{ n: number }>`select count(*) as n from t`.execute(db).then((result) => {
        answered.push('read');
        return result.rows[0]?.n;
      });
      await settle();
      assert.equal(answered.length, 0, 'nothing is answered while the commits are not on disk');
      assert.equal(sync.calls, before + 1, 'one sync at a time');

      sync.release(); // covers write1 only (write2 committed after that sync started)
      await settle();
      sync.release();
      await settle();
      await Promise.all([write1, write2]);
      assert.equal(await read, 2);
      assert.deepEqual(answered.slice(0, 1), ['write1']);
      assert.ok(answered.includes('read') && answered.includes('write2'));
      assert.ok(sync.calls - before <= 3, `${sync.calls - before} syncs for two commits`);

      // With nothing left to sync, a read answers at once.
      const calls = sync.calls;
      assert.equal((await sql<{ n: number }>`select count(*) as n from t`.execute(db)).rows[0]?.n, 2);
      assert.equal(sync.calls, calls);
    } finally {
      sync.release();
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('prepared: a Kysely query compiled once, run with new values', () => {
  it('replaces only the named values, keeps literal ones, and runs inside a transaction too', async () => {
    const db = openSqlite(':memory:') as unknown as Kysely<{ t: { k: string; v: number } }>;
    try {
      await sql`create table t (k text, v integer)`.execute(db);
      await sql`insert into t values ('a', 1), ('a', 7), ('b', 9)`.execute(db);
      const count = prepared((handle, { k }: { k: string }) =>
        (handle as unknown as typeof db)
          .selectFrom('t')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('k', '=', k)
          .where('v', '>', 5),
      );
      const n = async (handle: unknown, k: string) =>
        Number((await count(handle as never, { k })).rows[0]?.n);
      assert.equal(await n(db, 'a'), 1);
      assert.equal(await n(db, 'b'), 1);
      assert.equal(await n(db, 'c'), 0);
      await db.transaction().execute(async (tx) => {
        await sql`insert into t values ('c', 6)`.execute(tx);
        assert.equal(await n(tx, 'c'), 1);
      });
    } finally {
      await db.destroy();
    }
  });
});

describe('SQLite driver: prepared queries run directly only when the lock allows it', () => {
  type T = { t: { k: string; v: number } };
  const selectValue = prepared((handle, { k }: { k: string }) =>
    (handle as unknown as Kysely<T>).selectFrom('t').select('v').where('k', '=', k),
  );
  const insert = prepared(
    (handle, row: { k: string; v: number }) => (handle as unknown as Kysely<T>).insertInto('t').values(row),
    ['k', 'v'],
  );

  it('a read outside a transaction waits for the transaction holding the connection, and never sees its uncommitted rows', async () => {
    const db = openSqlite(':memory:') as unknown as Kysely<T>;
    try {
      await sql`create table t (k text primary key, v integer)`.execute(db);
      let finish: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        finish = resolve;
      });
      let inserted: () => void = () => {};
      const insertedYet = new Promise<void>((resolve) => {
        inserted = resolve;
      });
      const transaction = db.transaction().execute(async (tx) => {
        await insert(tx as never, { k: 'a', v: 1 });
        assert.equal(
          (await selectValue(tx as never, { k: 'a' })).rows[0]?.v,
          1,
          'the transaction sees its own row',
        );
        inserted();
        await gate;
      });
      await insertedYet;
      let answered = false;
      const outside = selectValue(db as never, { k: 'a' }).then((result) => {
        answered = true;
        return result.rows.map((row) => ({ ...row }));
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(answered, false, 'the outside read queued behind the open transaction');
      finish();
      await transaction;
      assert.deepEqual(await outside, [{ v: 1 }], 'and then saw the committed row');
    } finally {
      await db.destroy();
    }
  });

  it('a failing statement rejects its promise (it does not throw at the call), with the rest of the transaction intact', async () => {
    const db = openSqlite(':memory:') as unknown as Kysely<T>;
    try {
      await sql`create table t (k text primary key, v integer)`.execute(db);
      await insert(db as never, { k: 'a', v: 1 });
      let pending: Promise<unknown> | undefined;
      assert.doesNotThrow(() => {
        pending = insert(db as never, { k: 'a', v: 2 });
      });
      await assert.rejects(pending!, /UNIQUE constraint failed/);
      await db.transaction().execute(async (tx) => {
        await insert(tx as never, { k: 'b', v: 2 });
        await assert.rejects(insert(tx as never, { k: 'b', v: 3 }), /UNIQUE constraint failed/);
      });
      const rows = await db.selectFrom('t').selectAll().orderBy('k').execute();
      assert.deepEqual(
        rows.map((row) => ({ ...row })),
        [
          { k: 'a', v: 1 },
          { k: 'b', v: 2 },
        ],
      );
    } finally {
      await db.destroy();
    }
  });

  it('a direct read is answered only once the commits before it are on disk', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-sqlite-'));
    let open: () => void = () => {};
    let syncs = 0;
    const db = openSqlite(join(dir, 'g.db'), {
      syncFile: async () => {
        syncs++;
        await new Promise<void>((resolve) => {
          open = resolve;
        });
      },
    }) as unknown as Kysely<T>;
    try {
      const created = sql`create table t (k text primary key, v integer)`.execute(db);
      await new Promise((resolve) => setTimeout(resolve, 20));
      open();
      await created;
      const write = insert(db as never, { k: 'a', v: 1 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      let answered = false;
      const read = selectValue(db as never, { k: 'a' }).then((result) => {
        answered = true;
        return result.rows.map((row) => ({ ...row }));
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(answered, false, 'the read ran, but its answer waits for the sync of the write before it');
      assert.ok(syncs >= 2);
      open();
      await write;
      assert.deepEqual(await read, [{ v: 1 }]);
    } finally {
      open();
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a commit waiting for the disk lends the connection: the next write commits meanwhile, and is answered after its own sync', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-sqlite-'));
    let open: () => void = () => {};
    const file = join(dir, 'g.db');
    const db = openSqlite(file, {
      syncFile: () =>
        new Promise<void>((resolve) => {
          open = resolve;
        }),
    }) as unknown as Kysely<T>;
    const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
    const other = new DatabaseSync(file); // another connection sees only what is committed
    const committed = () => Number((other.prepare('select count(*) as n from t').get() as { n: number }).n);
    try {
      const created = sql`create table t (k text primary key, v integer)`.execute(db);
      await settle();
      open();
      await created;
      const answered: string[] = [];
      const first = sql`insert into t values ('a', 1)`.execute(db).then(() => answered.push('a'));
      await settle();
      const second = sql`insert into t values ('b', 2)`.execute(db).then(() => answered.push('b'));
      await settle();
      assert.equal(committed(), 2, 'the second write committed while the first waited for its sync');
      assert.deepEqual(answered, [], 'neither is answered before a sync');
      open();
      await settle();
      assert.deepEqual(answered, ['a']);
      open();
      await Promise.all([first, second]);
      assert.deepEqual(answered, ['a', 'b']);
    } finally {
      open();
      other.close();
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a connection that lent itself while syncing takes the lock back before its next statement', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-sqlite-'));
    let open: () => void = () => {};
    const db = openSqlite(join(dir, 'g.db'), {
      syncFile: () =>
        new Promise<void>((resolve) => {
          open = resolve;
        }),
    }) as unknown as Kysely<T>;
    const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
    try {
      const created = sql`create table t (k text primary key, v integer)`.execute(db);
      await settle();
      open();
      await created;
      let finish: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        finish = resolve;
      });
      let seen: unknown[] | undefined;
      const held = db.connection().execute(async (connection) => {
        await sql`insert into t values ('a', 1)`.execute(connection); // commits, lends while syncing
        // Someone else's transaction may now be open with an uncommitted row; this read must wait for it.
        seen = (await sql<{ k: string }>`select k from t order by k`.execute(connection)).rows.map(
          (r) => r.k,
        );
      });
      await settle();
      const other = db.transaction().execute(async (tx) => {
        await sql`insert into t values ('b', 2)`.execute(tx);
        await gate;
      });
      await settle();
      open(); // the first insert is durable; its next statement needs the lock the transaction holds
      await settle();
      assert.equal(seen, undefined, 'the second statement waits for the open transaction');
      finish();
      await settle();
      open();
      await Promise.all([held, other]);
      assert.deepEqual(seen, ['a', 'b'], 'and then sees its committed row, never an uncommitted one');
    } finally {
      open();
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('direct reads share one read transaction only until the event loop moves on; a direct write ends it and commits at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-sqlite-'));
    const file = join(dir, 'g.db');
    const db = openSqlite(file) as unknown as Kysely<T>;
    const other = new DatabaseSync(file);
    const count = prepared((handle, _: { none?: never }) =>
      (handle as unknown as Kysely<T>).selectFrom('t').select((eb) => eb.fn.countAll<number>().as('n')),
    );
    const countNow = async () => Number((await count(db as never, {})).rows[0]?.n);
    try {
      await sql`create table t (k text primary key, v integer)`.execute(db);
      assert.equal(await countNow(), 0);
      // A direct write right after a direct read commits on its own: another connection sees it at once.
      await insert(db as never, { k: 'a', v: 1 });
      assert.equal(Number((other.prepare('select count(*) as n from t').get() as { n: number }).n), 1);
      // Another process's commit is seen by the next turn of the event loop at the latest.
      assert.equal(await countNow(), 1);
      other.prepare("insert into t values ('b', 2)").run();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(await countNow(), 2);
      // And the read transaction never stops another process from writing.
      assert.equal(await countNow(), 2);
      other.prepare("insert into t values ('c', 3)").run();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(await countNow(), 3);
    } finally {
      other.close();
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an error is an answer too: a failing statement is told only after the commits before it are synced', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-sqlite-'));
    let open: () => void = () => {};
    const db = openSqlite(join(dir, 'g.db'), {
      syncFile: () =>
        new Promise<void>((resolve) => {
          open = resolve;
        }),
    }) as unknown as Kysely<T>;
    const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
    try {
      const created = sql`create table t (k text primary key, v integer)`.execute(db);
      await settle();
      open();
      await created;
      const first = insert(db as never, { k: 'a', v: 1 }); // committed, waiting for its sync
      await settle();
      let told = false;
      const conflict = insert(db as never, { k: 'a', v: 2 }).catch((error: Error) => {
        told = true;
        return error;
      });
      await settle();
      assert.equal(told, false, 'the UNIQUE conflict rests on a commit that is not on disk yet');
      open();
      await first;
      assert.match(String(await conflict), /UNIQUE constraint failed/);
    } finally {
      open();
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a failed WAL sync is final: every later query is refused as an outage, even if the disk recovers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-sqlite-'));
    let failNext = false;
    const db = openSqlite(join(dir, 'g.db'), {
      syncFile: async () => {
        if (failNext) {
          failNext = false;
          throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
        }
      },
    }) as unknown as Kysely<T>;
    try {
      await sql`create table t (k text primary key, v integer)`.execute(db);
      failNext = true;
      await assert.rejects(insert(db as never, { k: 'a', v: 1 }), /WAL sync failed/);
      assert.equal(failNext, false);
      await assert.rejects(selectValue(db as never, { k: 'a' }), /WAL sync failed/);
      await assert.rejects(insert(db as never, { k: 'b', v: 2 }), /WAL sync failed/);
      const { isUnavailable } = await import('../../src/storage/kysely/index.ts');
      const error = await selectValue(db as never, { k: 'a' }).catch((caught: unknown) => caught);
      assert.equal(isUnavailable(error), true, 'answered 503, not 500');
    } finally {
      await db.destroy().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a transaction handle used after its transaction ended never runs on the shared connection', async () => {
    const db = openSqlite(':memory:') as unknown as Kysely<T>;
    try {
      await sql`create table t (k text primary key, v integer)`.execute(db);
      let leaked: Kysely<T> | undefined;
      await db.transaction().execute(async (tx) => {
        leaked = tx;
        await insert(tx as never, { k: 'a', v: 1 });
      });
      let finish: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const other = db.transaction().execute(async (tx) => {
        await insert(tx as never, { k: 'b', v: 2 });
        await gate;
        throw new Error('roll back');
      });
      await new Promise((resolve) => setTimeout(resolve, 10));
      await assert.rejects(insert(leaked as never, { k: 'c', v: 3 }));
      finish();
      await assert.rejects(other, /roll back/);
      const rows = await db.selectFrom('t').select('k').orderBy('k').execute();
      assert.deepEqual(
        rows.map((row) => row.k),
        ['a'],
        'neither the rolled-back row nor the stray one',
      );
    } finally {
      await db.destroy();
    }
  });
});

describe('SQLite: clients are cached between lookups only while nothing can have changed them', () => {
  async function twoConnections() {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-client-cache-'));
    const url = `sqlite:${join(dir, 'gatehouse.db')}`;
    const server = await openStorage(url);
    const other = await openStorage(url);
    return {
      server: server.storage,
      other: other.storage,
      async close() {
        await server.storage.close();
        await other.storage.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }

  it("sees another connection's change at the next lookup (a CLI command, another worker)", async () => {
    const { server, other, close } = await twoConnections();
    try {
      const client = newClient();
      await server.clients.create(client);
      assert.equal((await server.clients.find(client.id))?.disabledAt, null);
      assert.equal((await server.clients.find(client.id))?.disabledAt, null, 'now served from the cache');
      await other.clients.update({ ...client, disabledAt: 5, status: 'pending' });
      const seen = await server.clients.find(client.id);
      assert.equal(seen?.disabledAt, 5);
      assert.equal(seen?.status, 'pending');
      assert.equal(await other.clients.delete(client.id, 6), true);
      assert.equal(await server.clients.find(client.id), undefined);
    } finally {
      await close();
    }
  });

  it("sees this process's own updates, and never a rolled-back transaction's", async () => {
    const { server, close } = await twoConnections();
    try {
      const client = newClient();
      await server.clients.create(client);
      await server.clients.find(client.id);
      await server.clients.update({ ...client, name: 'Renamed' });
      assert.equal((await server.clients.find(client.id))?.name, 'Renamed');

      await assert.rejects(
        server.transaction(async (tx) => {
          await tx.clients.update({ ...client, name: 'Uncommitted' });
          assert.equal((await tx.clients.find(client.id))?.name, 'Uncommitted');
          throw new Error('roll back');
        }),
        /roll back/,
      );
      assert.equal((await server.clients.find(client.id))?.name, 'Renamed');
    } finally {
      await close();
    }
  });

  it('a lookup that read the row before an update finished does not keep the old row', async () => {
    const { server, close } = await twoConnections();
    try {
      const client = newClient();
      await server.clients.create(client);
      // Started together: the lookup may read before the update commits, and must then not cache what it read.
      const [before] = await Promise.all([
        server.clients.find(client.id),
        server.clients.update({ ...client, name: 'After' }),
      ]);
      assert.ok(before);
      assert.equal((await server.clients.find(client.id))?.name, 'After');
      // The other order: the update's transaction takes the connection first, so the lookup queues behind it
      // and reads the committed row. (The FIFO lock makes both orders safe on its own; clientStore's drops
      // around each write keep the cache right without relying on it, which no test here can tell apart.)
      const [, during] = await Promise.all([
        server.clients.update({ ...client, name: 'Later' }),
        server.clients.find(client.id),
      ]);
      assert.ok(during);
      assert.equal((await server.clients.find(client.id))?.name, 'Later');
    } finally {
      await close();
    }
  });

  it("while this process's transaction holds an old read snapshot, a lookup still sees another connection's disable", async () => {
    const { server, other, close } = await twoConnections();
    try {
      const victim = newClient();
      const bystander = newClient();
      await server.clients.create(victim);
      await server.clients.create(bystander);
      await server.clients.find(victim.id);
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let snapshotTaken!: () => void;
      const taken = new Promise<void>((resolve) => {
        snapshotTaken = resolve;
      });
      // A transaction whose first statement is a read: its snapshot predates the other connection's commit.
      const transaction = server.transaction(async (tx) => {
        await tx.clients.find(bystander.id);
        snapshotTaken();
        await held;
      });
      await taken;
      await other.clients.update({ ...victim, disabledAt: 123 });
      const lookup = server.clients.find(victim.id);
      setTimeout(release, 50);
      assert.equal((await lookup)?.disabledAt, 123);
      await transaction;
    } finally {
      await close();
    }
  });

  it("a lookup between another caller's BEGIN and its first write does not break that transaction", async () => {
    const { server, other, close } = await twoConnections();
    try {
      const client = newClient();
      await server.clients.create(client);
      await server.clients.find(client.id);
      let begun!: () => void;
      const opened = new Promise<void>((resolve) => {
        begun = resolve;
      });
      const transaction = server.transaction(async (tx) => {
        begun();
        await new Promise((resolve) => setTimeout(resolve, 20));
        await tx.settings.set('k', 'v');
      });
      await opened;
      // Had the lookup started the transaction's read snapshot, this commit would make its write fail
      // with SQLITE_BUSY_SNAPSHOT.
      const lookup = server.clients.find(client.id);
      await other.settings.set('other', 'x');
      await transaction;
      assert.equal((await lookup)?.id, client.id);
      assert.equal(await server.settings.get('k'), 'v');
    } finally {
      await close();
    }
  });

  it('after a failed WAL sync, a cached client is refused like every other read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-client-cache-'));
    let failing = false;
    const db = openSqlite(join(dir, 'gatehouse.db'), {
      syncFile: async () => {
        if (failing) throw new Error('EIO');
      },
    });
    const { createKyselyStorage } = await import('../../src/storage/kysely/index.ts');
    const { migrate } = await import('../../src/storage/open.ts');
    await migrate(db);
    const storage = createKyselyStorage(db, { groupCommit: true });
    try {
      const client = newClient();
      await storage.clients.create(client);
      assert.ok(await storage.clients.find(client.id));
      failing = true;
      await assert.rejects(storage.settings.set('k', 'v'));
      await assert.rejects(storage.clients.find(client.id), /WAL sync failed|unavailable/i);
    } finally {
      await db.destroy().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('hands out frozen clients, so that no caller can change what the next one reads', async () => {
    const { server, close } = await twoConnections();
    try {
      const client = newClient();
      await server.clients.create(client);
      const found = await server.clients.find(client.id);
      assert.ok(found);
      assert.throws(() => {
        (found as { name: string }).name = 'x';
      }, TypeError);
      assert.throws(() => (found.redirectUris as string[]).push('https://evil.example/cb'), TypeError);
      assert.deepEqual((await server.clients.find(client.id))?.redirectUris, client.redirectUris);
    } finally {
      await close();
    }
  });
});
