// Scopes (RFC 6749 §3.3): space-delimited, order-insensitive, case-sensitive.
import { OAuthError } from '../errors.ts';

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export function parseScope(value: string | undefined | null): string[] {
  if (!value) return [];
  return [...new Set(value.split(' ').filter(Boolean))];
}

export function isValidScopeToken(token: string): boolean {
  return SCOPE_TOKEN.test(token);
}

export function formatScope(scopes: Iterable<string>): string {
  return [...scopes].join(' ');
}

export function isSubset(requested: readonly string[], allowed: readonly string[]): boolean {
  const set = new Set(allowed);
  return requested.every((scope) => set.has(scope));
}

/**
 * The scopes an authorization request asks for (/authorize, PAR, the device authorization endpoint): the
 * `scope` parameter, or when it is absent the catalogue's default scopes this client may have (RFC 6749
 * §3.3). Throws invalid_scope for a malformed scope or one the client may not request.
 */
export function requestedScopes(
  raw: string | undefined,
  clientScope: string,
  defaultScopes: readonly string[],
): string[] {
  const allowed = parseScope(clientScope);
  let scopes = parseScope(raw);
  if (scopes.length === 0 && raw === undefined) {
    const allowedSet = new Set(allowed);
    scopes = defaultScopes.filter((scope) => allowedSet.has(scope));
  }
  if (!scopes.every(isValidScopeToken)) throw new OAuthError('invalid_scope', 'The scope is malformed');
  if (!isSubset(scopes, allowed)) {
    throw new OAuthError('invalid_scope', 'The application may not request some of these scopes');
  }
  return scopes;
}

/** The consent page's words for a scope: its catalogue description, or its name. */
export function describeScope(
  catalogue: readonly { name: string; description: string }[],
  scope: string,
): string {
  return catalogue.find((entry) => entry.name === scope)?.description ?? scope;
}
