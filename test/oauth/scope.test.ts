// Scopes (RFC 6749 §3.3): space-delimited, order-insensitive, case-sensitive, NQCHAR tokens.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatScope, isSubset, isValidScopeToken, parseScope } from '../../src/oauth/scope.ts';

describe('parseScope', () => {
  it('splits on spaces and drops empty entries', () => {
    assert.deepEqual(parseScope('openid  profile email '), ['openid', 'profile', 'email']);
    assert.deepEqual(parseScope(' openid'), ['openid']);
  });

  it('removes duplicates, keeping the first position', () => {
    assert.deepEqual(parseScope('email openid email'), ['email', 'openid']);
  });

  it('is case-sensitive', () => {
    assert.deepEqual(parseScope('openid OpenID'), ['openid', 'OpenID']);
  });

  it('an empty, null or undefined scope is the empty list', () => {
    assert.deepEqual(parseScope(''), []);
    assert.deepEqual(parseScope(null), []);
    assert.deepEqual(parseScope(undefined), []);
    assert.deepEqual(parseScope('   '), []);
  });

  it('does not split on tabs or newlines (they stay inside a token and make it invalid)', () => {
    const scopes = parseScope('openid\tprofile');
    assert.deepEqual(scopes, ['openid\tprofile']);
    assert.equal(scopes.every(isValidScopeToken), false);
  });
});

describe('isValidScopeToken (NQCHAR = %x21 / %x23-5B / %x5D-7E)', () => {
  const cases: [string, boolean][] = [
    ['openid', true],
    ['offline_access', true],
    ['https://api.example/read', true],
    ["a!#$%&'()*+,-./:;<=>?@[]^_`{|}~", true],
    ['', false],
    ['has space', false],
    ['quote"', false],
    ['back\\slash', false],
    ['tab\t', false],
    ['nl\n', false],
    ['del\x7f', false],
    ['nul\x00', false],
    ['é', false],
  ];
  for (const [token, valid] of cases) {
    it(`${JSON.stringify(token)} → ${valid}`, () => assert.equal(isValidScopeToken(token), valid));
  }
});

describe('isSubset', () => {
  it('is true when every requested scope is allowed, in any order', () => {
    assert.equal(isSubset(['email', 'openid'], ['openid', 'profile', 'email']), true);
    assert.equal(isSubset([], ['openid']), true);
  });

  it('is false when any requested scope is missing or differs in case', () => {
    assert.equal(isSubset(['openid', 'admin'], ['openid', 'profile']), false);
    assert.equal(isSubset(['OpenID'], ['openid']), false);
    assert.equal(isSubset(['openid'], []), false);
  });
});

describe('formatScope', () => {
  it('joins with single spaces and round-trips through parseScope', () => {
    assert.equal(formatScope(['openid', 'profile']), 'openid profile');
    assert.equal(formatScope(new Set(['a', 'b'])), 'a b');
    assert.equal(formatScope([]), '');
    assert.deepEqual(parseScope(formatScope(['openid', 'email'])), ['openid', 'email']);
  });
});
