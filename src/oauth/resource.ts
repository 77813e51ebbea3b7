// RFC 8707 resource indicators: which audience a token is for, and whether this client may ask for it.
import type { ResourceConfig } from '../config.ts';
import { OAuthError } from '../errors.ts';
import type { Client } from '../storage/storage.ts';

/**
 * The resource a request asks for (null when it names none), checked against the configured resources and the
 * client's allowed list. Gatehouse issues one audience per token, so several distinct values are refused.
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
  if (!resources.some((resource) => resource.uri === uri) || !client.allowedResources.includes(uri)) {
    throw new OAuthError('invalid_target', 'This client may not ask for that resource');
  }
  return uri;
}

/** The configuration of a token's audience (the issuer's own entry when `resource` is null). */
export function resourceConfig(
  resources: readonly ResourceConfig[],
  resource: string | null,
  issuer: string,
) {
  const uri = resource ?? issuer;
  return resources.find((entry) => entry.uri === uri) ?? { uri, format: 'jwt' as const, scopes: [] };
}
