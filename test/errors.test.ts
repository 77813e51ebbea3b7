// ERROR_STATUS pinned against the RFCs that define each code, and the OAuthError / safeDescription contract.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ERROR_STATUS,
  OAuthError,
  StorageUnavailableError,
  safeDescription,
  tooManyRequests,
} from '../src/errors.ts';

describe('ERROR_STATUS', () => {
  // code → [status, where it comes from]
  const expected: Record<string, [number, string]> = {
    invalid_request: [400, 'RFC 6749 §5.2, RFC 6750 §3.1'],
    invalid_client: [401, 'RFC 6749 §5.2 (401 with WWW-Authenticate when the Authorization header was used)'],
    invalid_grant: [400, 'RFC 6749 §5.2'],
    unauthorized_client: [400, 'RFC 6749 §5.2'],
    unsupported_grant_type: [400, 'RFC 6749 §5.2'],
    invalid_scope: [400, 'RFC 6749 §5.2'],
    unsupported_response_type: [400, 'RFC 6749 §4.1.2.1'],
    access_denied: [400, 'RFC 6749 §4.1.2.1'],
    server_error: [500, 'RFC 6749 §4.1.2.1 (the status it stands for)'],
    temporarily_unavailable: [503, 'RFC 6749 §4.1.2.1 (the status it stands for)'],
    invalid_token: [401, 'RFC 6750 §3.1'],
    insufficient_scope: [403, 'RFC 6750 §3.1'],
    unsupported_token_type: [400, 'RFC 7009 §2.2.1'],
    invalid_target: [400, 'RFC 8707 §2'],
    invalid_redirect_uri: [400, 'RFC 7591 §3.2.2'],
    invalid_client_metadata: [400, 'RFC 7591 §3.2.2'],
    login_required: [400, 'OIDC Core §3.1.2.6'],
    consent_required: [400, 'OIDC Core §3.1.2.6'],
    interaction_required: [400, 'OIDC Core §3.1.2.6'],
    account_selection_required: [400, 'OIDC Core §3.1.2.6'],
    request_not_supported: [400, 'OIDC Core §3.1.2.6'],
    request_uri_not_supported: [400, 'OIDC Core §3.1.2.6'],
    registration_not_supported: [400, 'OIDC Core §3.1.2.6'],
    invalid_dpop_proof: [400, 'RFC 9449 §5 (at the token and PAR endpoints)'],
    use_dpop_nonce: [400, 'RFC 9449 §8'],
    authorization_pending: [400, 'RFC 8628 §3.5'],
    slow_down: [400, 'RFC 8628 §3.5'],
    expired_token: [400, 'RFC 8628 §3.5'],
    user_denied: [400, "Readmill's legacy alias of access_denied (redirected, only behind its switch)"],
  };

  for (const [code, [status, source]] of Object.entries(expected)) {
    it(`${code} → ${status} (${source})`, () => {
      assert.equal(ERROR_STATUS[code as keyof typeof ERROR_STATUS], status);
    });
  }

  it('has no codes beyond the pinned ones', () => {
    assert.deepEqual(Object.keys(ERROR_STATUS).sort(), Object.keys(expected).sort());
  });

  it('every status is a 4xx or 5xx', () => {
    for (const status of Object.values(ERROR_STATUS)) assert.ok(status >= 400 && status < 600);
  });
});

describe('tooManyRequests', () => {
  it('is the registered temporarily_unavailable, with HTTP 429 and Retry-After in whole seconds', () => {
    const error = tooManyRequests(12.2);
    assert.equal(error.code, 'temporarily_unavailable');
    assert.equal(error.status, 429);
    assert.deepEqual(error.headers, { 'Retry-After': '13' });
    assert.equal(
      tooManyRequests(0).headers?.['Retry-After'],
      '1',
      'never "0": that invites an instant retry',
    );
  });
});

describe('OAuthError', () => {
  it('takes its status from ERROR_STATUS unless overridden', () => {
    assert.equal(new OAuthError('invalid_grant').status, 400);
    assert.equal(new OAuthError('invalid_client').status, 401);
    assert.equal(new OAuthError('invalid_request', 'x', { status: 405 }).status, 405);
  });

  it('keeps the description (sent) apart from the detail (logged only)', () => {
    const error = new OAuthError('invalid_grant', 'The code is invalid', {
      detail: 'code was issued to another client',
      headers: { 'Retry-After': '5' },
    });
    assert.equal(error.code, 'invalid_grant');
    assert.equal(error.description, 'The code is invalid');
    assert.equal(error.detail, 'code was issued to another client');
    assert.deepEqual(error.headers, { 'Retry-After': '5' });
    assert.equal(error.message, 'invalid_grant: The code is invalid');
    assert.equal(error.name, 'OAuthError');
    assert.ok(error instanceof Error);
  });

  it('without a description the message is the code', () => {
    const error = new OAuthError('invalid_token');
    assert.equal(error.message, 'invalid_token');
    assert.equal(error.description, undefined);
  });

  it('StorageUnavailableError is a 503 temporarily_unavailable that hides the cause from clients', () => {
    const cause = new Error('connect ECONNREFUSED 10.0.0.5:5432');
    const error = new StorageUnavailableError(cause);
    assert.ok(error instanceof OAuthError);
    assert.equal(error.status, 503);
    assert.equal(error.code, 'temporarily_unavailable');
    assert.ok(!error.description?.includes('10.0.0.5'));
    assert.equal(error.detail, cause.message);
    assert.equal(error.cause, cause);
  });
});

describe('safeDescription (RFC 6749 §5.2 charset)', () => {
  it('replaces CR, LF, TAB, quote, backslash and non-ASCII with spaces', () => {
    assert.equal(safeDescription('a\r\nb\tc"d\\e\u00e9f\u0000'), 'a  b c d e f ');
  });

  it('keeps the allowed printable characters', () => {
    const allowed = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i))
      .filter((char) => char !== '"' && char !== '\\')
      .join('');
    assert.equal(safeDescription(allowed), allowed);
  });

  it('caps the length at 300 characters', () => {
    assert.equal(safeDescription('x'.repeat(1000)).length, 300);
  });
});
