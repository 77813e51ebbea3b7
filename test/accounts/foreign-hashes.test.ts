// Other systems' password hashes (issue 13): every format is checked against hashes made by the libraries those
// ecosystems use (test/fixtures/password-hashes.json: bcryptjs, PHP, Django, passlib, argon2-cffi, pyca bcrypt,
// and published vectors of Django's and RustCrypto's test suites), not against hashes Gatehouse made; and every
// parameter that could make one sign-in expensive is refused at import.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { hashSync } from 'bcryptjs';
import { FOREIGN_HASH_LIMITS, parseForeignHash } from '../../src/accounts/foreign-hashes.ts';
import {
  hashPassword,
  isGatehouseHash,
  NO_PASSWORD_HASH,
  passwordCheck,
  passwordHashProblem,
  verifyPassword,
} from '../../src/accounts/password.ts';

interface Fixture {
  format: string;
  made_by: string;
  password: string;
  hash: string;
}

const fixtures = JSON.parse(
  readFileSync(new URL('../fixtures/password-hashes.json', import.meta.url), 'utf8'),
) as Fixture[];

describe('hashes made by other ecosystems’ libraries', { concurrency: true }, () => {
  it('the fixtures cover every supported format, ASCII and non-ASCII passwords', () => {
    const formats = new Set(fixtures.map((fixture) => fixture.format));
    for (const format of [
      'bcrypt $2a$',
      'bcrypt $2b$',
      'bcrypt $2y$',
      'argon2id',
      'argon2i',
      'argon2d',
      'passlib scrypt',
      'django scrypt',
      'django pbkdf2_sha256',
      'django pbkdf2_sha1',
      'django argon2',
      'django bcrypt',
      'django bcrypt_sha256',
      'passlib pbkdf2-sha256',
      'passlib pbkdf2-sha512',
      'passlib pbkdf2 (sha1)',
      'PHC pbkdf2-sha256 (i=, l=)',
    ]) {
      assert.ok(formats.has(format), format);
    }
    assert.ok(fixtures.some((fixture) => /[^\x20-\x7e]/.test(fixture.password)));
  });

  for (const [i, fixture] of fixtures.entries()) {
    it(`${fixture.format} by ${fixture.made_by} (#${i}): the password matches, a wrong one does not`, async () => {
      assert.equal(passwordHashProblem(fixture.hash), undefined);
      assert.equal(isGatehouseHash(fixture.hash), false);
      assert.equal(await verifyPassword(fixture.password, fixture.hash), true);
      // The first character changed: a near miss, the same length.
      const nearMiss = `${fixture.password[0] === 'a' ? 'b' : 'a'}${fixture.password.slice(1)}`;
      assert.equal(await verifyPassword(nearMiss, fixture.hash), false);
    });
  }
});

describe('refused at import, with the reason', () => {
  const bcrypt10 = fixtures.find((fixture) => fixture.format === 'bcrypt $2b$')!.hash;
  const cases: [string, string, RegExp][] = [
    ['an unknown format', 'md5$abc$def', /unknown password hash format/],
    ['plain text', 'hunter2', /unknown password hash format/],
    ['an empty string', '', /unknown password hash format/],
    ['bcrypt $2x$ (crypt_blowfish bug variant)', bcrypt10.replace('$2b$', '$2x$'), /not a bcrypt hash/],
    ['bcrypt cost 16', bcrypt10.replace('$10$', '$16$'), /bcrypt cost 16 is outside 4–15/],
    ['bcrypt cost 03', bcrypt10.replace('$10$', '$03$'), /bcrypt cost 3 is outside/],
    ['bcrypt truncated', bcrypt10.slice(0, -1), /not a bcrypt hash/],
    [
      'argon2 memory over 1 GiB',
      '$argon2id$v=19$m=2097152,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
      /over 1 GiB/,
    ],
    [
      'argon2 memory × passes over 3 GiB',
      '$argon2id$v=19$m=1048576,t=4,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
      /m × t/,
    ],
    ['argon2 t=11', '$argon2id$v=19$m=65536,t=11,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', /t=11 is over 10/],
    ['argon2 p=17', '$argon2id$v=19$m=65536,t=1,p=17$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', /p=17 is over 16/],
    ['argon2 version 1.0', '$argon2i$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', /version 19/],
    [
      'argon2 with a data parameter',
      '$argon2id$v=19$m=65536,t=1,p=1,data=eA$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
      /unexpected parameter/,
    ],
    [
      'argon2 with a short salt',
      '$argon2id$v=19$m=65536,t=1,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA',
      /salt must be/,
    ],
    ['argon2 with a non-base64 hash', '$argon2id$v=19$m=65536,t=1,p=1$c2FsdHNhbHQ$not*base64', /not base64/],
    [
      'PBKDF2 over 10M iterations',
      'pbkdf2_sha256$10000001$salt$aGFzaGhhc2hoYXNoaGFzaGhhc2g=',
      /over 10000000/,
    ],
    [
      'passlib PBKDF2 with an unknown digest',
      '$pbkdf2-md5$1000$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA',
      /not a PBKDF2/,
    ],
    [
      'PBKDF2 l= that does not match',
      '$pbkdf2-sha256$i=1000,l=32$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA',
      /l= does not/,
    ],
    ['scrypt over 1 GiB', '$scrypt$ln=21,r=8,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA', /over 1 GiB/],
    ['scrypt p=17', '$scrypt$ln=14,r=8,p=17$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA', /p=17 is over 16/],
    ['Django scrypt N not a power of 2', 'scrypt$10000$salt$8$1$aGFzaGhhc2hoYXNoaGFzaA==', /power of 2/],
    [
      'Gatehouse scrypt at log2 N 25',
      'scrypt$25$8$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA',
      /out of range/,
    ],
  ];
  for (const [name, hash, reason] of cases) {
    it(name, () => {
      assert.match(passwordHashProblem(hash) ?? 'accepted', reason);
    });
  }

  it('the limits are the documented ones', () => {
    assert.deepEqual(FOREIGN_HASH_LIMITS.bcryptCost, { min: 4, max: 15 });
    assert.equal(FOREIGN_HASH_LIMITS.pbkdf2Iterations, 10_000_000);
    assert.equal(FOREIGN_HASH_LIMITS.argon2MemoryKiB, 1024 * 1024);
  });

  it('an unparseable stored hash (or a user without a password) never verifies, and never throws', async () => {
    assert.equal(await verifyPassword('anything', 'md5$abc$def'), false);
    assert.equal(await verifyPassword('!', NO_PASSWORD_HASH), false);
    assert.equal(await verifyPassword('', NO_PASSWORD_HASH), false);
    const check = passwordCheck(10);
    assert.equal(await check.verify('!', NO_PASSWORD_HASH), false);
  });
});

describe('Gatehouse’s own hashes are unchanged', () => {
  it('a new hash is Gatehouse format, accepted by an import, and verifies', async () => {
    const hash = await hashPassword('a password', 10);
    assert.ok(isGatehouseHash(hash));
    assert.equal(passwordHashProblem(hash), undefined);
    assert.equal(await verifyPassword('a password', hash), true);
    assert.equal(await verifyPassword('a passwore', hash), false);
  });

  it('Django’s scrypt (scrypt$16384$salt$…) is told apart from Gatehouse’s (scrypt$<log2 N>$<r>$…)', () => {
    const django = fixtures.find((fixture) => fixture.format === 'django scrypt')!.hash;
    assert.equal(isGatehouseHash(django), false);
    assert.equal(parseForeignHash(django).algorithm, 'scrypt');
  });
});

describe('bcrypt runs off the event loop', () => {
  it('two cost-12 checks (about 0.4 s of CPU each in bcryptjs) keep the event loop idle', async () => {
    const hash = hashSync('the password', 12);
    // Event loop utilisation counts the time the loop spent running code, not time the process waited for the
    // CPU, so a busy machine does not move it; on the main thread, bcryptjs would be active the whole check.
    const before = performance.eventLoopUtilization();
    const started = performance.now();
    const [right, wrong] = await Promise.all([
      verifyPassword('the password', hash),
      verifyPassword('not the password', hash),
    ]);
    const took = performance.now() - started;
    const used = performance.eventLoopUtilization(before);
    assert.equal(right, true);
    assert.equal(wrong, false);
    assert.ok(took > 100, `the checks took ${took} ms: too fast to tell`);
    assert.ok(used.active < 150, `the event loop ran for ${used.active} ms of the ${took} ms`);
  });
});
