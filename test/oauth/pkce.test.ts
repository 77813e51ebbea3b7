// RFC 7636 (S256 only): verifier and challenge syntax, the transform, and verification.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidS256Challenge, isValidVerifier, s256, verifyPkce } from '../../src/oauth/pkce.ts';

// RFC 7636 Appendix B.
const RFC_VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const RFC_CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

describe('s256', () => {
  it('matches the RFC 7636 Appendix B example', () => {
    assert.equal(s256(RFC_VERIFIER), RFC_CHALLENGE);
  });
});

describe('isValidVerifier (RFC 7636 §4.1: 43*128 unreserved)', () => {
  const cases: [string, string, boolean][] = [
    ['43 letters', 'a'.repeat(43), true],
    ['128 letters', 'a'.repeat(128), true],
    ['all unreserved symbols', `${'A1'.repeat(20)}-._~`, true],
    ['the RFC example', RFC_VERIFIER, true],
    ['empty', '', false],
    ['42 characters', 'a'.repeat(42), false],
    ['129 characters', 'a'.repeat(129), false],
    ['a plus sign', `${'a'.repeat(42)}+`, false],
    ['a slash', `${'a'.repeat(42)}/`, false],
    ['an equals sign', `${'a'.repeat(42)}=`, false],
    ['a percent sign', `${'a'.repeat(42)}%`, false],
    ['a space', `${'a'.repeat(42)} `, false],
    ['a newline at the end', `${'a'.repeat(43)}\n`, false],
    ['non-ASCII', `${'a'.repeat(42)}é`, false],
  ];
  for (const [label, verifier, valid] of cases) {
    it(`${label} → ${valid}`, () => assert.equal(isValidVerifier(verifier), valid));
  }
});

describe('isValidS256Challenge (43 base64url characters)', () => {
  const cases: [string, string, boolean][] = [
    ['the RFC example', RFC_CHALLENGE, true],
    ['42 characters', RFC_CHALLENGE.slice(1), false],
    ['44 characters', `${RFC_CHALLENGE}A`, false],
    ['with padding', `${RFC_CHALLENGE.slice(1)}=`, false],
    ['standard base64 +', `+${RFC_CHALLENGE.slice(1)}`, false],
    ['standard base64 /', `/${RFC_CHALLENGE.slice(1)}`, false],
    ['a dot (allowed in verifiers, not in challenges)', `.${RFC_CHALLENGE.slice(1)}`, false],
    ['empty', '', false],
  ];
  for (const [label, challenge, valid] of cases) {
    it(`${label} → ${valid}`, () => assert.equal(isValidS256Challenge(challenge), valid));
  }
});

describe('verifyPkce', () => {
  it('accepts the matching verifier', () => {
    assert.equal(verifyPkce(RFC_CHALLENGE, RFC_VERIFIER), true);
  });

  it('refuses another verifier', () => {
    assert.equal(verifyPkce(RFC_CHALLENGE, `${RFC_VERIFIER.slice(0, -1)}l`), false);
    assert.equal(verifyPkce(RFC_CHALLENGE, 'a'.repeat(43)), false);
  });

  it('refuses the challenge itself as verifier (plain downgrade)', () => {
    assert.equal(verifyPkce(RFC_CHALLENGE, RFC_CHALLENGE), false);
  });

  it('refuses a malformed verifier even when its hash matches', () => {
    assert.equal(verifyPkce(s256('a'), 'a'), false);
    const long = 'a'.repeat(129);
    assert.equal(verifyPkce(s256(long), long), false);
  });

  it('refuses against a malformed challenge without throwing', () => {
    assert.equal(verifyPkce('', RFC_VERIFIER), false);
    assert.equal(verifyPkce(`${RFC_CHALLENGE}=`, RFC_VERIFIER), false);
  });
});
