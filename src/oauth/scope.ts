// Scopes (RFC 6749 §3.3): space-delimited, order-insensitive, case-sensitive.

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

/** The consent page's words for a scope: its catalogue description, or its name. */
export function describeScope(
  catalogue: readonly { name: string; description: string }[],
  scope: string,
): string {
  return catalogue.find((entry) => entry.name === scope)?.description ?? scope;
}
