// The random values behind every token, code and id come from a pool refilled from node:crypto's CSPRNG.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomId, randomToken, timeOrderedId } from '../../src/util/random.ts';

describe('random values', () => {
  it('have the asked-for length and alphabet, across many pool refills', () => {
    for (let index = 0; index < 5_000; index++) {
      const token = randomToken();
      assert.match(token, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(token, 'base64url').length, 32);
      assert.match(randomId(), /^[A-Za-z0-9_-]{22}$/);
      assert.equal(Buffer.from(randomToken(12), 'base64url').length, 12);
    }
  });

  it('never repeat, and use every byte value (a zeroed or reused pool would show)', () => {
    const seen = new Set<string>();
    const counts = new Array<number>(256).fill(0);
    for (let index = 0; index < 20_000; index++) {
      const token = randomToken();
      assert.equal(seen.has(token), false);
      seen.add(token);
      for (const byte of Buffer.from(token, 'base64url')) counts[byte]! += 1;
    }
    // 640,000 bytes: each value is expected 2,500 times; a fair source never strays near these bounds.
    for (const [value, count] of counts.entries()) {
      assert.ok(count > 2_000 && count < 3_000, `byte ${value} seen ${count} times`);
    }
  });

  it('time-ordered ids sort by time, then carry 128 random bits', () => {
    const earlier = timeOrderedId(1_700_000_000_000);
    const later = timeOrderedId(1_700_000_000_001);
    assert.ok(earlier < later);
    assert.equal(earlier.length, 9 + 22);
    assert.notEqual(timeOrderedId(5).slice(9), timeOrderedId(5).slice(9));
  });

  it('ids never start with "-" or "_", so a command line never reads one as an option', () => {
    const firsts = new Set<string>();
    for (let index = 0; index < 20_000; index++) firsts.add(randomId()[0]!);
    assert.equal(firsts.has('-'), false);
    assert.equal(firsts.has('_'), false);
    assert.equal(firsts.size, 62, 'every letter and digit still occurs first');
  });

  it('refuses more than the pool holds at once', () => {
    assert.throws(() => randomToken(4096), RangeError);
  });
});
