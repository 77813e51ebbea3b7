// RFC 6750 §3: how a protected resource says no. One error type, and the WWW-Authenticate header it implies.

export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

const STATUS: Record<BearerErrorCode, number> = {
  invalid_request: 400,
  invalid_token: 401,
  insufficient_scope: 403,
};

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
  realm?: string;
  /** RFC 9728 §5.1: where clients find this resource's metadata (MCP clients follow it). */
  resourceMetadata?: string;
}

export class BearerError extends Error {
  readonly code: BearerErrorCode | undefined;
  readonly status: number;
  readonly description: string | undefined;
  readonly scope: string | undefined;

  /** `code` undefined = the request had no credentials at all: a bare challenge (RFC 6750 §3.1). */
  constructor(code: BearerErrorCode | undefined, description?: string, scope?: string) {
    super(description ?? code ?? 'authentication required');
    this.name = 'BearerError';
    this.code = code;
    this.status = code ? STATUS[code] : 401;
    this.description = description;
    this.scope = scope;
  }

  /** The WWW-Authenticate header value for this error. */
  challenge(options: ChallengeOptions = {}): string {
    const params: string[] = [];
    if (options.realm) params.push(`realm=${quoted(options.realm)}`);
    if (this.code) params.push(`error=${quoted(this.code)}`);
    if (this.description) params.push(`error_description=${quoted(this.description)}`);
    if (this.scope) params.push(`scope=${quoted(this.scope)}`);
    if (options.resourceMetadata) params.push(`resource_metadata=${quoted(options.resourceMetadata)}`);
    return params.length ? `Bearer ${params.join(', ')}` : 'Bearer';
  }

  /** The JSON body sent with the error. */
  body(): Record<string, string> {
    const body: Record<string, string> = {};
    if (this.code) body.error = this.code;
    if (this.description) body.error_description = this.description;
    return body;
  }
}
