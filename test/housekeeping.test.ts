// purgeExpired: bounded batches, each followed by a rest that grows with the batch, unless told not to rest.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { purgeExpired } from '../src/housekeeping.ts';
import { openStorage } from '../src/storage/open.ts';

async function storageWithExpiredSessions(count: number) {
  const { storage } = await openStorage('sqlite::memory:');
  const now = Date.now();
  await storage.users.create({
    id: 'u1',
    email: 'u1@example.com',
    name: 'U',
    passwordHash: 'scrypt$test',
    isAdmin: false,
    emailVerified: false,
    createdAt: now,
    updatedAt: now,
    disabledAt: null,
    claims: null,
  });
  for (let i = 0; i < count; i++) {
    await storage.sessions.create({
      idHash: `expired-${i}`,
      userId: 'u1',
      authTime: now - 10_000,
      createdAt: now - 10_000,
      expiresAt: now - 1000,
    });
  }
  return storage;
}

const clock = { now: () => Date.now() };

describe('purgeExpired', () => {
  it('rests after every full batch, never less than pauseMs (and nine times the batch, when that is longer)', async () => {
    const storage = await storageWithExpiredSessions(7);
    const pauses: number[] = [];
    try {
      const totals = await purgeExpired(storage, clock, {
        batchSize: 2,
        pauseMs: 5,
        sleep: async (ms) => {
          pauses.push(ms);
        },
      });
      assert.equal(totals.sessions, 7);
      assert.equal(pauses.length, 3, 'after each of the three full batches; the fourth (1 row) ends the run');
      assert.ok(pauses.every((ms) => ms >= 5));
    } finally {
      await storage.close();
    }
  });

  it('rest: false purges the same rows without a single pause', async () => {
    const storage = await storageWithExpiredSessions(7);
    const pauses: number[] = [];
    try {
      const totals = await purgeExpired(storage, clock, {
        batchSize: 2,
        rest: false,
        sleep: async (ms) => {
          pauses.push(ms);
        },
      });
      assert.equal(totals.sessions, 7);
      assert.deepEqual(pauses, []);
    } finally {
      await storage.close();
    }
  });
});
