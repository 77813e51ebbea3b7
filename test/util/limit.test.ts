// util/limit.ts: the concurrency limit that keeps password hashing off some of libuv's threads.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashing, hashPassword } from '../../src/accounts/password.ts';
import { concurrencyLimit, threadPoolSize } from '../../src/util/limit.ts';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('concurrencyLimit', () => {
  it('runs at most `max` tasks at once, the rest in arrival order', async () => {
    const limit = concurrencyLimit(2);
    const started: number[] = [];
    const release: (() => void)[] = [];
    let peak = 0;
    const tasks = Array.from({ length: 5 }, (_, index) =>
      limit.run(async () => {
        started.push(index);
        peak = Math.max(peak, limit.running);
        await new Promise<void>((resolve) => release.push(resolve));
        return index;
      }),
    );
    await tick();
    assert.deepEqual(started, [0, 1]);
    while (started.length < 5 || release.length > 0) {
      release.shift()?.();
      await tick();
    }
    assert.deepEqual(await Promise.all(tasks), [0, 1, 2, 3, 4]);
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.equal(peak, 2);
    assert.equal(limit.running, 0);
  });

  it('a task that fails frees its slot for the next', async () => {
    const limit = concurrencyLimit(1);
    const failed = limit.run(async () => {
      throw new Error('boom');
    });
    const next = limit.run(async () => 'ran');
    await assert.rejects(failed, /boom/);
    assert.equal(await next, 'ran');
    assert.equal(limit.running, 0);
  });

  it('threadPoolSize reads UV_THREADPOOL_SIZE, else 4', () => {
    assert.equal(threadPoolSize({}), 4);
    assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '8' }), 8);
    assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: 'x' }), 4);
  });
});

describe('password hashing leaves threads for fs (and SQLite fdatasync)', () => {
  it('six concurrent hashes never run more than the pool size less two at once', async () => {
    let peak = 0;
    const watching = setInterval(() => {
      peak = Math.max(peak, hashing.running);
    }, 1);
    try {
      await Promise.all(Array.from({ length: 6 }, () => hashPassword('correct horse', 12)));
    } finally {
      clearInterval(watching);
    }
    assert.ok(peak >= 1, 'the watch saw hashing at work');
    assert.ok(peak <= Math.max(1, threadPoolSize() - 2), `peak ${peak}`);
  });
});
