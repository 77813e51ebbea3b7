// What an operator reviews of a self-registered client (RFC 7591 §3.2.1 lets the server replace requested
// metadata; RFC 7592 §2.2 updates; docs/security.md H-02). The operations that apply a review (approve, reject)
// are in applications/clients.ts.
//
// The rule, in full:
// - A self-registered client (dynamic registration or the portal) may give itself authorization_code and
//   refresh_token under every policy: they act for a person who consents at /authorize. client_credentials
//   acts for no one, and the device grant (RFC 8628) asks a person to approve a request whose answer goes to
//   no redirect URI the consent page could show, only to whoever holds the device code: a name a stranger
//   typed at registration would be all the person sees (remote phishing, RFC 8628 §5.4). So only an operator
//   grants either: a client made with the CLI, or a self-registered one an administrator approved
//   (`reviewedAt`). Under `approval` a registration may ask for them (the client waits for an administrator
//   anyway); under `open` and `token` they are dropped from the registration.
// - Once a client is approved (under `approval`, or under any policy by an administrator's approve), a change to
//   what the administrator saw (name, redirect URIs, grant types, scope, authentication method, application
//   type, CORS origins, display URIs) waits in `pendingChanges` while the approved registration stays in force;
//   the administrator approves or rejects it. A change touching nothing reviewed (contacts) applies at once; so
//   does any change to a client nobody approved under `open` or `token` (nothing was vouched for).
import type { RegistrationPolicy } from '../config.ts';
import type { Client, ClientChanges, ClientDisplayMetadata } from '../storage/storage.ts';
import { sha256 } from '../util/hash.ts';
import { DEVICE_CODE_GRANT_TYPE } from './device-code.ts';

/** Grants only an operator hands out (see the rule above). */
const OPERATOR_GRANTS = new Set(['client_credentials', DEVICE_CODE_GRANT_TYPE]);

/** The grant types a self-registered client may give itself under `policy` (the rest need an operator). */
export function selfAssignableGrantTypes(policy: RegistrationPolicy): readonly string[] {
  return policy === 'approval'
    ? ['authorization_code', 'refresh_token', ...OPERATOR_GRANTS]
    : ['authorization_code', 'refresh_token'];
}

/** The operator-only grant types a client holds (what an administrator's approval unlocks). */
export function operatorGrantsOf(client: Pick<Client, 'grantTypes'>): string[] {
  return client.grantTypes.filter((grant) => OPERATOR_GRANTS.has(grant));
}

/**
 * Splits requested grant types into those kept and those dropped because they need an operator. A client
 * keeps what it already holds by an operator's approval (`current`, for RFC 7592 updates). Unknown grant
 * types are kept, for buildClient to refuse with invalid_client_metadata.
 */
export function grantTypesFor(
  requested: readonly string[],
  policy: RegistrationPolicy,
  current?: Client,
): { kept: string[]; dropped: string[] } {
  const allowed = new Set(selfAssignableGrantTypes(policy));
  if (current && isOperatorApproved(current)) for (const grant of current.grantTypes) allowed.add(grant);
  const dropped = requested.filter((grant) => OPERATOR_GRANTS.has(grant) && !allowed.has(grant));
  return { kept: requested.filter((grant) => !dropped.includes(grant)), dropped };
}

/** Made by an operator, or approved by one: may use the operator-only grants (client_credentials, device). */
export function isOperatorApproved(client: Pick<Client, 'registeredVia' | 'reviewedAt'>): boolean {
  return client.registeredVia === 'cli' || client.reviewedAt !== null;
}

/**
 * Whether a change to this client's reviewed metadata must wait for an administrator: under `approval` for
 * every active self-registered client, and under any policy for one an administrator approved (for
 * client_credentials, say). An approval vouches for the registration as it was shown; a change applied at once
 * would keep that trust (A-09's redirects, client_credentials) for redirect URIs nobody looked at.
 */
export function changesNeedReview(client: Client, policy: RegistrationPolicy): boolean {
  if (client.registeredVia === 'cli') return false;
  return (policy === 'approval' && client.status === 'active') || client.reviewedAt !== null;
}

type ReviewedFields = Omit<ClientChanges, 'proposedAt' | 'secretHash'>;

/** The reviewed fields of a client, as a proposed change carries them. */
export function reviewedFieldsOf(client: Client | ClientChanges): ReviewedFields {
  return {
    name: client.name,
    redirectUris: [...client.redirectUris],
    grantTypes: [...client.grantTypes],
    scope: client.scope,
    requestedScope: client.requestedScope,
    allowedResources: [...client.allowedResources],
    tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
    applicationType: client.applicationType,
    allowedCorsOrigins: [...client.allowedCorsOrigins],
    metadata: { ...client.metadata },
  };
}

/** Contacts are for the operator to reach the developer; they change nothing a user or an API relies on. */
function withoutContacts(metadata: ClientDisplayMetadata): ClientDisplayMetadata {
  const { contacts: _contacts, ...reviewed } = metadata;
  return reviewed;
}

function sameReviewed(a: ReviewedFields, b: ReviewedFields): boolean {
  const sorted = (list: readonly string[]) => [...list].sort();
  const scopes = (scope: string) => sorted(scope.split(' ').filter(Boolean));
  const key = (fields: ReviewedFields) =>
    JSON.stringify([
      fields.name,
      fields.redirectUris,
      sorted(fields.grantTypes),
      scopes(fields.scope),
      scopes(fields.requestedScope),
      sorted(fields.allowedResources),
      fields.tokenEndpointAuthMethod,
      fields.applicationType,
      sorted(fields.allowedCorsOrigins),
      Object.entries(withoutContacts(fields.metadata)).sort(([x], [y]) => (x < y ? -1 : 1)),
    ]);
  return key(a) === key(b);
}

/**
 * The client to store when `current` is changed to `proposed` (a client with the same id). Where the change
 * needs review and touches reviewed fields, the approved registration stays (only `keep`, the fields that are
 * no registration metadata, such as a new registration access token, are taken) and the change waits;
 * otherwise `proposed` applies, and any change that was waiting is dropped (RFC 7592 replaces the metadata
 * as a whole, so the newest request is the proposal).
 */
export function proposeChange(
  current: Client,
  proposed: Client,
  options: { review: boolean; now: number; keep?: Partial<Client>; newSecretHash?: string },
): Client {
  const fields = reviewedFieldsOf(proposed);
  if (!options.review || sameReviewed(fields, reviewedFieldsOf(current))) {
    return { ...proposed, pendingChanges: null };
  }
  return {
    ...current,
    ...options.keep,
    pendingChanges: {
      ...fields,
      ...(options.newSecretHash ? { secretHash: options.newSecretHash } : {}),
      proposedAt: options.now,
    },
  };
}

/** The client once its pending change is in force. */
export function withChangesApplied(client: Client, changes: ClientChanges, now: number): Client {
  const { proposedAt: _proposedAt, secretHash, ...fields } = changes;
  const isPublic = fields.tokenEndpointAuthMethod === 'none';
  return {
    ...client,
    ...fields,
    secretHash: isPublic ? null : (secretHash ?? client.secretHash),
    previousSecretHash: isPublic ? null : client.previousSecretHash,
    previousSecretExpiresAt: isPublic ? null : client.previousSecretExpiresAt,
    // Public clients can never skip PKCE (client-metadata.ts), nor introspect (RFC 7662 §2.1).
    requirePkce: isPublic ? true : client.requirePkce,
    resourceServer: !isPublic && client.resourceServer,
    pendingChanges: null,
    reviewedAt: now,
  };
}

/** The reviewed fields under their RFC 7591 names (display metadata one by one), for people to compare. */
export function reviewedValues(client: Client | ClientChanges): Record<string, unknown> {
  return {
    client_name: client.name,
    redirect_uris: client.redirectUris,
    grant_types: client.grantTypes,
    scope: client.scope,
    requested_scope: client.requestedScope,
    audience: client.allowedResources,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    application_type: client.applicationType,
    allowed_cors_origins: client.allowedCorsOrigins,
    client_uri: client.metadata.client_uri,
    logo_uri: client.metadata.logo_uri,
    policy_uri: client.metadata.policy_uri,
    tos_uri: client.metadata.tos_uri,
    contacts: client.metadata.contacts,
    post_logout_redirect_uris: client.metadata.post_logout_redirect_uris,
    require_pushed_authorization_requests: client.metadata.require_pushed_authorization_requests,
    jwks_uri: client.metadata.jwks_uri,
    userinfo_signed_response_alg: client.metadata.userinfo_signed_response_alg,
    backchannel_logout_uri: client.metadata.backchannel_logout_uri,
    backchannel_logout_session_required: client.metadata.backchannel_logout_session_required,
  };
}

/** The RFC 7591 names of the fields a pending change alters, for the console, the CLI and the event log. */
export function changedFields(client: Client, changes: ClientChanges): string[] {
  const now = reviewedValues(client);
  const next = reviewedValues(changes);
  return Object.keys(now).filter((field) => JSON.stringify(now[field]) !== JSON.stringify(next[field]));
}

/**
 * What an administrator saw of a registration or a change (its reviewed fields): the console's Approve buttons
 * carry it, so that a client that changed itself after the page was shown is not approved unseen.
 */
export function reviewFingerprint(client: Client | ClientChanges): string {
  return sha256(JSON.stringify(reviewedValues(client)));
}
