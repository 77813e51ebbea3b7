// RFC 7591 (dynamic client registration) and RFC 7592 (management): from a JSON request to a client, and from a
// client back to the JSON a developer sees. The same rules as the CLI and the portal (client-metadata.ts);
// privileged fields (client_id, client_secret, PKCE opt-outs, non-expiring tokens) are never taken from here.
import type { Config } from '../config.ts';
import { OAuthError } from '../errors.ts';
import type {
  Client,
  ClientChanges,
  ClientDisplayMetadata,
  TokenEndpointAuthMethod,
} from '../storage/storage.ts';
import { epochSeconds } from '../util/clock.ts';
import type { ClientInput } from './client-metadata.ts';
import { grantTypesFor } from './client-review.ts';
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
  /** Grant types asked for that only an operator grants under this policy (client-review.ts), dropped. */
  droppedGrantTypes: string[];
}

/**
 * Reads a registration (or RFC 7592 update of `current`) request body into client input, applying the scope
 * policy and the registration policy's grant types: RFC 7591 §3.2.1 lets the server replace requested
 * metadata, and the answer shows what was granted.
 */
export function readRegistrationRequest(
  body: unknown,
  config: Config,
  current?: Client,
): RegistrationRequest {
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
    post_logout_redirect_uris: stringList(fields, 'post_logout_redirect_uris', 20),
    jwks: fields.jwks as ClientDisplayMetadata['jwks'],
    // Checked by client-metadata.ts; fetched only through the SSRF guard, when an assertion needs it.
    jwks_uri: fields.jwks_uri as string | undefined,
    require_pushed_authorization_requests: fields.require_pushed_authorization_requests as
      | boolean
      | undefined,
    dpop_bound_access_tokens: fields.dpop_bound_access_tokens as boolean | undefined,
    userinfo_signed_response_alg: optionalString(fields, 'userinfo_signed_response_alg'),
    backchannel_logout_uri: optionalString(fields, 'backchannel_logout_uri'),
    backchannel_logout_session_required: fields.backchannel_logout_session_required as boolean | undefined,
  };
  for (const key of Object.keys(metadata) as (keyof ClientDisplayMetadata)[]) {
    if (metadata[key] === undefined) delete metadata[key];
  }
  const grants = grantTypesFor(
    stringList(fields, 'grant_types', 5) ?? ['authorization_code'],
    config.registrationPolicy,
    current,
  );
  if (grants.kept.length === 0) {
    throw metadataError(
      `${grants.dropped.join(', ')} is granted only by an operator; register with an administrator`,
    );
  }
  return {
    trimmedScopes,
    droppedGrantTypes: grants.dropped,
    input: {
      name: optionalString(fields, 'client_name') ?? 'Unnamed application',
      redirectUris,
      scope: formatScope(granted),
      grantTypes: grants.kept,
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
      issuer: config.issuer,
    },
  };
}

/** The registration metadata (RFC 7591 §2) of a client, or of a change waiting for review. */
function metadataOf(client: Client | ClientChanges, config: Config): Record<string, unknown> {
  return {
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
  };
}

/**
 * The client as RFC 7591 §3.2.1 shows it (never its secret hash). The standard fields are the registration in
 * force; a change waiting for an administrator is shown apart in `pending_changes` (RFC 7591 §3.2.1 allows
 * extra fields), with `proposed_at` and, when the change mints one, the new client_secret (`newSecret`).
 */
export function registrationResponse(
  client: Client,
  config: Config,
  newSecret?: string,
): Record<string, unknown> {
  const changes = client.pendingChanges;
  return {
    client_id: client.id,
    client_id_issued_at: epochSeconds(client.createdAt),
    ...metadataOf(client, config),
    registration_client_uri: `${config.issuer}${config.paths.register}/${encodeURIComponent(client.id)}`,
    ...(client.status === 'pending' ? { approval_status: 'pending' } : {}),
    ...(changes
      ? {
          pending_changes: {
            ...metadataOf(changes, config),
            ...(newSecret ? { client_secret: newSecret, client_secret_expires_at: 0 } : {}),
            approval_status: 'pending',
            proposed_at: epochSeconds(changes.proposedAt),
          },
        }
      : {}),
  };
}
