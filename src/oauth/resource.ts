// RFC 8707 resource indicators: which audience a token is for, and whether this client may ask for it.
import type { ResourceConfig } from '../config.ts';
import { OAuthError } from '../errors.ts';
import type { Client } from '../storage/storage.ts';

/**
 * The catalogue entry a resource URI falls under: the entry with exactly that URI, or else the longest `prefix`
 * entry it is under. Under a prefix, the URI must be in normal form (URL parsing leaves it unchanged: no dot
 * segments, encoded or not, no upper-case host), have no query or fragment, and share the prefix's origin,
 * so that no spelling of a URI outside the prefix matches it.
 */
export function catalogueEntry(
  resources: readonly ResourceConfig[],
  uri: string,
): ResourceConfig | undefined {
  const exact = resources.find((entry) => entry.uri === uri);
  if (exact) return exact;
  const parsed = URL.parse(uri);
  if (!parsed || parsed.href !== uri || parsed.search || parsed.hash || parsed.username || parsed.password) {
    return undefined;
  }
  let best: ResourceConfig | undefined;
  for (const entry of resources) {
    if (entry.match !== 'prefix' || !uri.startsWith(entry.uri) || uri === entry.uri) continue;
    if (!best || entry.uri.length > best.uri.length) best = entry;
  }
  return best;
}

/**
 * The resource a request asks for (null when it names none), checked against the configured resources and the
 * client's allowed list (which names catalogue entries: a prefix entry allows every resource under it).
 * Gatehouse issues one audience per token, so several distinct values are refused.
 */
export function resolveResource(
  requested: readonly string[],
  client: Client,
  resources: readonly ResourceConfig[],
  issuer: string,
): string | null {
  const distinct = [...new Set(requested)];
  if (distinct.length === 0) return null;
  if (distinct.length > 1) throw new OAuthError('invalid_target', 'Ask for one resource per token');
  const uri = distinct[0] as string;
  if (uri === issuer) return null;
  const entry = catalogueEntry(resources, uri);
  if (!entry) throw new OAuthError('invalid_target', 'That resource is not served here');
  if (!client.allowedResources.includes(entry.uri)) {
    throw new OAuthError('invalid_target', 'This client may not ask for that resource');
  }
  return uri;
}

/** The configuration of a token's audience (the issuer's own entry when `resource` is null). */
export function resourceConfig(
  resources: readonly ResourceConfig[],
  resource: string | null,
  issuer: string,
): ResourceConfig {
  const uri = resource ?? issuer;
  const entry = catalogueEntry(resources, uri);
  // The token's audience is the exact resource asked for, whichever entry it fell under.
  return entry ? { ...entry, uri } : { uri, match: 'exact', format: 'jwt', scopes: [] };
}
