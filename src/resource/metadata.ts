// RFC 9728: Protected Resource Metadata, so that clients (MCP clients in particular) can find the
// authorization server from the resource alone.

export interface ProtectedResourceMetadataInput {
  resource: string;
  authorizationServers: string[];
  scopes?: string[];
  resourceName?: string;
}

export function protectedResourceMetadata(input: ProtectedResourceMetadataInput): Record<string, unknown> {
  const metadata: Record<string, unknown> = {
    resource: input.resource,
    authorization_servers: input.authorizationServers,
    bearer_methods_supported: ['header'],
  };
  if (input.scopes?.length) metadata.scopes_supported = input.scopes;
  if (input.resourceName) metadata.resource_name = input.resourceName;
  return metadata;
}

/** RFC 9728 §3.1: the well-known URL for a resource identifier (path appended after the well-known part). */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}/.well-known/oauth-protected-resource${path}${url.search}`;
}
