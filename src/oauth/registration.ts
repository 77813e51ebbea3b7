// RFC 7591 (dynamic client registration) and RFC 7592 (management): from a JSON request to a client, and from a
// client back to the JSON a developer sees. The same rules as the CLI and the portal (client-metadata.ts);
// privileged fields (client_id, client_secret, PKCE opt-outs, non-expiring tokens) are never taken from here.
import type { Config } from '../config.ts';
import { OAuthError } from '../errors.ts';
import type { Client, ClientDisplayMetadata, TokenEndpointAuthMethod } from '../storage/storage.ts';
import { epochSeconds } from '../util/clock.ts';
import type { ClientInput } from './client-metadata.ts';
import { formatScope, parseScope } from './scope.ts';

const MAX_STRING = 2000;

function metadataError(description: string): OAuthError {
  return new OAuthError('invalid_client_metadata', description);
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > MAX_STRING)
    throw metadataError(`${field} must be a string`);
  return value;
}

function stringList(body: Record<string, unknown>, field: string, max: number): string[] | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (
    !Array.isArray(value) ||
    value.length > max ||
    !value.every((item) => typeof item === 'string' && item.length <= MAX_STRING)
  ) {
    throw metadataError(`${field} must be a list of at most ${max} strings`);
  }
  return value as string[];
}

export interface RegistrationRequest {
  input: ClientInput;
  /** Scopes asked for but beyond the policy, trimmed from the granted scope. */
  trimmedScopes: string[];
}

/** Reads a registration (or RFC 7592 update) request body into client input, applying the scope policy. */
export function readRegistrationRequest(body: unknown, config: Config): RegistrationRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw metadataError('The body must be a JSON object');
  }
  const fields = body as Record<string, unknown>;
  const responseTypes = stringList(fields, 'response_types', 5);
  if (responseTypes?.some((type) => type !== 'code')) {
    throw metadataError('Only the "code" response type is supported');
  }
  const redirectUris = stringList(fields, 'redirect_uris', 20) ?? [];
  const method = (optionalString(fields, 'token_endpoint_auth_method') ??
    'client_secret_basic') as TokenEndpointAuthMethod;
  const applicationType = optionalString(fields, 'application_type');
  if (applicationType !== undefined && applicationType !== 'web' && applicationType !== 'native') {
    throw metadataError('application_type must be "web" or "native"');
  }
  const requested = parseScope(optionalString(fields, 'scope') ?? config.registrationScopes.join(' '));
  const allowed = new Set(config.registrationScopes);
  const granted = requested.filter((scope) => allowed.has(scope));
  const trimmedScopes = requested.filter((scope) => !allowed.has(scope));
  // Read AI's registration answer lists the audiences the scopes open: a resource whose scopes were granted.
  const resources = config.resources
    .filter(
      (resource) =>
        resource.uri !== config.issuer && resource.scopes.some((scope) => granted.includes(scope)),
    )
    .map((resource) => resource.uri);
  const metadata: ClientDisplayMetadata = {
    client_uri: optionalString(fields, 'client_uri'),
    logo_uri: optionalString(fields, 'logo_uri'),
    policy_uri: optionalString(fields, 'policy_uri'),
    tos_uri: optionalString(fields, 'tos_uri'),
    contacts: stringList(fields, 'contacts', 5),
  };
  for (const key of Object.keys(metadata) as (keyof ClientDisplayMetadata)[]) {
    if (metadata[key] === undefined) delete metadata[key];
  }
  return {
    trimmedScopes,
    input: {
      name: optionalString(fields, 'client_name') ?? 'Unnamed application',
      redirectUris,
      scope: formatScope(granted),
      grantTypes: stringList(fields, 'grant_types', 5) ?? ['authorization_code'],
      tokenEndpointAuthMethod: method,
      applicationType: applicationType as 'web' | 'native' | undefined,
      allowedCorsOrigins: stringList(fields, 'allowed_cors_origins', 10) ?? [],
      allowedResources: resources,
      metadata,
      registeredVia: 'dcr',
      withRegistrationToken: true,
      scopesNeedingApproval: config.scopes
        .filter((scope) => scope.requiresApproval)
        .map((scope) => scope.name),
      allowedAuthMethods: config.clientAuthMethods,
    },
  };
}

/** The client as RFC 7591 §3.2.1 shows it (never its secret hash). */
export function registrationResponse(client: Client, config: Config): Record<string, unknown> {
  return {
    client_id: client.id,
    client_id_issued_at: epochSeconds(client.createdAt),
    client_name: client.name,
    redirect_uris: client.redirectUris,
    grant_types: client.grantTypes,
    response_types: client.grantTypes.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    application_type: client.applicationType,
    scope: client.scope,
    ...(client.requestedScope ? { requested_scope: client.requestedScope } : {}),
    allowed_cors_origins: client.allowedCorsOrigins,
    audience: [config.issuer, ...client.allowedResources],
    ...client.metadata,
    registration_client_uri: `${config.issuer}${config.paths.register}/${encodeURIComponent(client.id)}`,
    ...(client.status === 'pending' ? { approval_status: 'pending' } : {}),
  };
}
