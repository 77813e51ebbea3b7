// RFC 6750 §3: how a protected resource says no. One error type, and the WWW-Authenticate header it implies.
//
// One code is not RFC 6750's: `temporarily_unavailable` (503, the RFC 6749 §4.1.2.1 code) when the token could
// not be checked at all (the authorization server or its database is down). A 401 there would tell the client
// its token is bad, and a client throws a bad token away; a 503 with Retry-After tells it to try again.

import { DPOP_ALGORITHMS } from './dpop.ts';

export type BearerErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'temporarily_unavailable'
  // RFC 9449 §7.1, §9: a DPoP proof is missing or wrong; the resource wants a (new) server nonce in it.
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce';

const STATUS: Record<BearerErrorCode, number> = {
  invalid_request: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  temporarily_unavailable: 503,
  invalid_dpop_proof: 401,
  use_dpop_nonce: 401,
};

/** The authentication scheme a challenge names: RFC 6750's, or RFC 9449's for DPoP-bound tokens. */
export type AuthScheme = 'Bearer' | 'DPoP';

/** Seconds a client is asked to wait (Retry-After) when the token could not be checked. */
export const RETRY_AFTER_SECONDS = 5;

function quoted(value: string): string {
  // RFC 7230 quoted-string: escape backslash and double quote; drop control characters.
  let out = '';
  for (const char of value) {
    const code = char.charCodeAt(0);
    if (code < 0x20 || code === 0x7f) continue;
    out += char === '"' || char === '\\' ? `\\${char}` : char;
  }
  return `"${out}"`;
}

export interface ChallengeOptions {
  realm?: string | undefined;
  /** RFC 9728 §5.1: where clients find this resource's metadata (MCP clients follow it). */
  resourceMetadata?: string | undefined;
  /** RFC 9449 §7.1: the algs a DPoP challenge lists (`algs`); DPOP_ALGORITHMS when unset. */
  dpopAlgorithms?: readonly string[] | undefined;
}

export class BearerError extends Error {
  readonly code: BearerErrorCode | undefined;
  readonly status: number;
  readonly description: string | undefined;
  readonly scope: string | undefined;
  /** The scheme the challenge names: `DPoP` when the request used it or the token is DPoP-bound. */
  scheme: AuthScheme = 'Bearer';

  /** `code` undefined = the request had no credentials at all: a bare challenge (RFC 6750 §3.1). */
  constructor(code: BearerErrorCode | undefined, description?: string, scope?: string) {
    super(description ?? code ?? 'authentication required');
    this.name = 'BearerError';
    this.code = code;
    this.status = code ? STATUS[code] : 401;
    this.description = description;
    this.scope = scope;
  }

  /** The token could not be checked (the authorization server or its storage failed): 503, never 401. */
  static unavailable(cause: unknown): BearerError {
    const error = new BearerError(
      'temporarily_unavailable',
      'The access token could not be checked right now',
    );
    (error as { cause?: unknown }).cause = cause;
    return error;
  }

  /** The same error, challenged with another scheme (RFC 9449 §7.1: a DPoP request gets a DPoP challenge). */
  withScheme(scheme: AuthScheme): this {
    this.scheme = scheme;
    return this;
  }

  /** The response headers for this error: the challenge (RFC 6750 §3), or Retry-After on a 503. */
  headers(options: ChallengeOptions = {}): Record<string, string> {
    if (this.code === 'temporarily_unavailable') return { 'retry-after': String(RETRY_AFTER_SECONDS) };
    return { 'www-authenticate': this.challenge(options) };
  }

  /** The WWW-Authenticate header value for this error. */
  challenge(options: ChallengeOptions = {}): string {
    const params: string[] = [];
    if (options.realm) params.push(`realm=${quoted(options.realm)}`);
    if (this.code) params.push(`error=${quoted(this.code)}`);
    if (this.description) params.push(`error_description=${quoted(this.description)}`);
    if (this.scope) params.push(`scope=${quoted(this.scope)}`);
    if (options.resourceMetadata) params.push(`resource_metadata=${quoted(options.resourceMetadata)}`);
    if (this.scheme === 'DPoP') {
      params.push(`algs=${quoted((options.dpopAlgorithms ?? DPOP_ALGORITHMS).join(' '))}`);
    }
    return params.length ? `${this.scheme} ${params.join(', ')}` : this.scheme;
  }

  /** The JSON body sent with the error. */
  body(): Record<string, string> {
    const body: Record<string, string> = {};
    if (this.code) body.error = this.code;
    if (this.description) body.error_description = this.description;
    return body;
  }
}

/** A failed check as an HTTP answer: what every adapter sends. */
export interface BearerAnswer {
  status: number;
  headers: Record<string, string>;
  /** JSON: `{"error": …, "error_description": …}`, or `{}` for a bare challenge. */
  body: string;
}

/**
 * The answer for an error thrown by a check. Anything that is not a BearerError (it should not happen: the
 * verifier turns every failure into one) is answered as an invalid token, so that nothing gets through.
 */
export function bearerAnswer(error: unknown, options: ChallengeOptions = {}): BearerAnswer {
  const bearer =
    error instanceof BearerError ? error : new BearerError('invalid_token', 'The access token is invalid');
  return {
    status: bearer.status,
    headers: {
      ...bearer.headers(options),
      'cache-control': 'no-store',
      'content-type': 'application/json; charset=utf-8',
    },
    body: JSON.stringify(bearer.body()),
  };
}
