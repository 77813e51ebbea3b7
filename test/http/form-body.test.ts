// Form bodies (RFC 6749 §3.1, §3.2): parameters must not repeat, except `resource` (RFC 8707).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OAuthError } from '../../src/errors.ts';
import { allValues, MAX_FORM_BYTES, parseForm } from '../../src/http/form-body.ts';

function invalidRequest(pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof OAuthError, String(error));
    assert.equal(error.code, 'invalid_request');
    assert.equal(error.status, 400);
    if (pattern) assert.match(error.description ?? '', pattern);
    return true;
  };
}

describe('parseForm', () => {
  it('decodes percent-encoding and + as space', () => {
    assert.deepEqual(
      { ...parseForm('grant_type=authorization_code&redirect_uri=https%3A%2F%2Frp.example%2Fcb&x=a+b%2Bc') },
      { grant_type: 'authorization_code', redirect_uri: 'https://rp.example/cb', x: 'a b+c' },
    );
  });

  it('an empty body is no parameters', () => {
    assert.deepEqual({ ...parseForm('') }, {});
  });

  it('keeps empty values', () => {
    assert.deepEqual({ ...parseForm('client_secret=&a') }, { client_secret: '', a: '' });
  });

  for (const name of [
    'grant_type',
    'code',
    'client_id',
    'client_secret',
    'redirect_uri',
    'code_verifier',
    'scope',
  ]) {
    it(`a repeated ${name} → invalid_request naming it`, () => {
      assert.throws(() => parseForm(`${name}=a&${name}=b`), invalidRequest(new RegExp(name)));
    });
  }

  it('a repetition with an identical or empty value is still refused', () => {
    assert.throws(() => parseForm('code=a&code=a'), invalidRequest());
    assert.throws(() => parseForm('code=a&code='), invalidRequest());
    assert.throws(() => parseForm('code&code'), invalidRequest());
  });

  it('names differing only in case are different parameters', () => {
    assert.deepEqual({ ...parseForm('code=a&Code=b') }, { code: 'a', Code: 'b' });
  });

  it('resource may repeat (RFC 8707): parseForm keeps every value, space-joined; allValues returns all', () => {
    const body = 'resource=https%3A%2F%2Fa.example&grant_type=x&resource=https%3A%2F%2Fb.example';
    assert.equal(parseForm(body).resource, 'https://a.example https://b.example');
    assert.deepEqual(allValues(body, 'resource'), ['https://a.example', 'https://b.example']);
    assert.deepEqual(allValues(body, 'grant_type'), ['x']);
    assert.deepEqual(allValues(body, 'missing'), []);
  });

  it('the description of a hostile repeated name is printable ASCII and bounded', () => {
    const name = `a"\r\n\t\u0000é${'z'.repeat(200)}`;
    const encoded = encodeURIComponent(name);
    assert.throws(
      () => parseForm(`${encoded}=1&${encoded}=2`),
      (error: unknown) => {
        assert.ok(error instanceof OAuthError);
        const description = error.description ?? '';
        assert.match(description, /^[\x20-\x7e]*$/);
        assert.ok(description.length < 64 + 40, String(description.length));
        return true;
      },
    );
  });

  it('returns an object without a prototype, so __proto__ and constructor are plain parameters', () => {
    const params = parseForm('__proto__=x&constructor=y&toString=z');
    assert.equal(Object.getPrototypeOf(params), null);
    assert.equal(Object.getOwnPropertyDescriptor(params, '__proto__')?.value, 'x');
    assert.equal(params.constructor, 'y');
    assert.equal(params.toString, 'z');
    assert.equal(({} as Record<string, unknown>).x, undefined);
    // A repeated __proto__ is caught like any other parameter.
    assert.throws(() => parseForm('__proto__=x&__proto__=y'), invalidRequest());
  });

  it('the body limit is 64 KiB', () => {
    assert.equal(MAX_FORM_BYTES, 64 * 1024);
  });
});
