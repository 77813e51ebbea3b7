// RFC 9728: Protected Resource Metadata, so that clients (MCP clients in particular) can find the authorization
// server from the resource alone. The adapters serve it in one line each.

export interface ProtectedResourceMetadataInput {
  /** This resource's identifier (the `aud` its tokens carry), an https URL. */
  resource: string;
  /** The authorization servers' issuer identifiers: Gatehouse's issuer. */
  authorizationServers: string[];
  /** The scopes this resource understands (shown to clients; optional). */
  scopes?: string[] | undefined;
  resourceName?: string | undefined;
  /** A page for people about this API (optional). */
  resourceDocumentation?: string | undefined;
  /** RFC 9728 §2 `dpop_signing_alg_values_supported`: the algs this resource takes in DPoP proofs (optional). */
  dpopSigningAlgorithms?: readonly string[] | undefined;
  /** RFC 9728 §2 `dpop_bound_access_tokens_required`: this resource accepts DPoP-bound tokens only. */
  dpopBoundAccessTokensRequired?: boolean | undefined;
}

/** The RFC 9728 §2 document. */
export function protectedResourceMetadata(input: ProtectedResourceMetadataInput): Record<string, unknown> {
  const metadata: Record<string, unknown> = {
    resource: input.resource,
    authorization_servers: input.authorizationServers,
    bearer_methods_supported: ['header'],
  };
  if (input.scopes?.length) metadata.scopes_supported = input.scopes;
  if (input.resourceName) metadata.resource_name = input.resourceName;
  if (input.resourceDocumentation) metadata.resource_documentation = input.resourceDocumentation;
  if (input.dpopSigningAlgorithms?.length) {
    metadata.dpop_signing_alg_values_supported = [...input.dpopSigningAlgorithms];
  }
  if (input.dpopBoundAccessTokensRequired) metadata.dpop_bound_access_tokens_required = true;
  return metadata;
}

/** RFC 9728 §3.1: the well-known URL for a resource identifier (path appended after the well-known part). */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  return `${url.origin}${protectedResourceMetadataPath(resource)}`;
}

/** The path (and query) part of protectedResourceMetadataUrl: where the API serves its metadata. */
export function protectedResourceMetadataPath(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `/.well-known/oauth-protected-resource${path}${url.search}`;
}

/** The headers the metadata document is served with: JSON, cacheable for an hour, readable from any origin. */
export const METADATA_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'public, max-age=3600',
  // Browser-based clients (MCP inspectors, SPAs) read it cross-origin; it holds nothing private.
  'access-control-allow-origin': '*',
};
