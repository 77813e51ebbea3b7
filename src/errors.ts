// One error type for every RFC error code, and one table that maps each code to its HTTP status
// when the error is returned directly (not redirected). http/oauth-errors.ts is the only serializer.

export const ERROR_STATUS = {
  invalid_request: 400, // RFC 6749 §5.2, RFC 6750 §3.1
  invalid_client: 401, // RFC 6749 §5.2: MUST with an Authorization header, MAY otherwise; we always send 401
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  unsupported_response_type: 400, // RFC 6749 §4.1.2.1 (normally redirected)
  access_denied: 400, // redirected at /authorize
  server_error: 500,
  temporarily_unavailable: 503,
  invalid_token: 401, // RFC 6750 §3.1
  insufficient_scope: 403, // RFC 6750 §3.1
  unsupported_token_type: 400, // RFC 7009 §2.2.1
  invalid_target: 400, // RFC 8707 §2
  invalid_redirect_uri: 400, // RFC 7591 §3.2.2
  invalid_client_metadata: 400,
  login_required: 400, // OIDC Core §3.1.2.6 (normally redirected)
  consent_required: 400,
  interaction_required: 400,
  account_selection_required: 400,
  request_not_supported: 400,
  request_uri_not_supported: 400,
  registration_not_supported: 400,
  invalid_dpop_proof: 400, // RFC 9449 §5 (at the token and PAR endpoints; a resource answers 401)
  use_dpop_nonce: 400, // RFC 9449 §8
  authorization_pending: 400, // RFC 8628 §3.5 (the device polls on)
  slow_down: 400,
  expired_token: 400,
  // Not an RFC code: Readmill's legacy name for access_denied, sent only when its switch is on.
  user_denied: 400,
} as const;

export type OAuthErrorCode = keyof typeof ERROR_STATUS;

export interface OAuthErrorOptions {
  /** Logged only, never sent (node-oidc-provider's error_detail). */
  detail?: string;
  cause?: unknown;
  /** Overrides ERROR_STATUS[code], e.g. 401 at a resource endpoint. */
  status?: number;
  /** Extra response headers, e.g. Retry-After. */
  headers?: Record<string, string>;
}

/** An error the protocol defines. `description` is sent to the client; keep it plain ASCII without CR/LF. */
export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly status: number;
  readonly description: string | undefined;
  readonly detail: string | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(code: OAuthErrorCode, description?: string, options: OAuthErrorOptions = {}) {
    super(description ? `${code}: ${description}` : code, { cause: options.cause });
    this.name = 'OAuthError';
    this.code = code;
    this.status = options.status ?? ERROR_STATUS[code];
    this.description = description;
    this.detail = options.detail;
    this.headers = options.headers;
  }
}

/**
 * RFC 6749 §5.2 and §4.1.2.1: error_description is limited to %x20-21 / %x23-5B / %x5D-7E. Every description
 * that leaves the server, in a JSON body or in an error redirect's query, goes through this one function: a
 * description may quote what the client sent (a parameter's name), which can hold quotes, `<`, bidi controls
 * or line breaks.
 */
export function safeDescription(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, ' ').slice(0, 300);
}

/**
 * A rate limit's answer: HTTP 429 with Retry-After (RFC 6585 §4) and the registered code
 * temporarily_unavailable (RFC 6749 §4.1.2.1, "the server is currently unable to handle the request due to a
 * temporary overloading"), so a client that knows only the registered codes still reads it as "try later".
 * The one place a 429 is made: limits call this, never pick the status themselves.
 */
export function tooManyRequests(
  retryAfterSeconds: number,
  description = 'Too many requests; try again later',
) {
  return new OAuthError('temporarily_unavailable', description, {
    status: 429,
    headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
  });
}

/** Thrown by storage when the database cannot be reached: every endpoint fails closed with 503. */
export class StorageUnavailableError extends OAuthError {
  constructor(cause: unknown) {
    super('temporarily_unavailable', 'The service is temporarily unavailable', {
      cause,
      detail: cause instanceof Error ? cause.message : String(cause),
    });
    this.name = 'StorageUnavailableError';
  }
}
