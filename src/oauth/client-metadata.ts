// Client metadata rules (RFC 7591 §2, RFC 8252, OAuth 2.1 "Client Redirection Endpoint"): one rule set for
// the CLI, and later for dynamic registration and the developer portal.
import { isLoopbackHost } from '../config.ts';
import { OAuthError } from '../errors.ts';
import type {
  ApplicationType,
  Client,
  ClientDisplayMetadata,
  TokenEndpointAuthMethod,
} from '../storage/storage.ts';
import { sha256 } from '../util/hash.ts';
import { randomId, randomToken } from '../util/random.ts';
import { DEVICE_CODE_GRANT_TYPE } from './device-code.ts';
import { mintOpaqueToken, TOKEN_PREFIX } from './opaque-token.ts';
import { isLoopbackRedirectUri } from './redirect-uri.ts';
import { isValidScopeToken, parseScope } from './scope.ts';

const SUPPORTED_GRANTS = new Set([
  'authorization_code',
  'refresh_token',
  'client_credentials',
  DEVICE_CODE_GRANT_TYPE,
]);
const AUTH_METHODS = new Set<TokenEndpointAuthMethod>([
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
  'none',
]);

/** JWK members that hold private key material: a registered key set carries none of them. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/**
 * A private_key_jwt client's `jwks` (RFC 7591 §2), or the set at its `jwks_uri`: 1 to 10 public signature keys of the kinds the assertion
 * algs use (RSA, EC P-256, Ed25519), no private members, at most 20 KB. jose checks each key again when an
 * assertion is verified; this refuses at registration what could never verify, and secrets sent by mistake.
 */
export function checkJwks(jwks: unknown): { keys: Record<string, unknown>[] } {
  const invalid = (why: string) => new OAuthError('invalid_client_metadata', `jwks ${why}`);
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray((jwks as { keys?: unknown }).keys)) {
    throw invalid('must be a JWK Set: {"keys": [...]}');
  }
  const keys = (jwks as { keys: unknown[] }).keys;
  if (keys.length === 0 || keys.length > 10) throw invalid('must hold 1 to 10 keys');
  if (JSON.stringify(jwks).length > 20_000) throw invalid('is too large');
  for (const key of keys) {
    if (typeof key !== 'object' || key === null) throw invalid('holds something that is not a JWK');
    const jwk = key as Record<string, unknown>;
    if (PRIVATE_MEMBERS.some((member) => member in jwk)) throw invalid('must hold public keys only');
    const kind =
      (jwk.kty === 'RSA' && typeof jwk.n === 'string' && typeof jwk.e === 'string') ||
      (jwk.kty === 'EC' && jwk.crv === 'P-256' && typeof jwk.x === 'string' && typeof jwk.y === 'string') ||
      (jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && typeof jwk.x === 'string');
    if (!kind) throw invalid('holds a key that is not RSA, EC P-256 or Ed25519');
    if (jwk.use !== undefined && jwk.use !== 'sig') throw invalid('keys must be for signatures (use "sig")');
  }
  return { keys: keys as Record<string, unknown>[] };
}
/**
 * A `jwks_uri` (RFC 7591 §2): an https URL without credentials or fragment. Whether its host may be reached is
 * decided when it is fetched (http/outbound.ts, with the operator's host lists), not here.
 */
function checkJwksUri(value: unknown): string {
  const url = typeof value === 'string' && value.length <= 2000 ? URL.parse(value) : null;
  if (url?.protocol !== 'https:' || url.username || url.password || url.hash || value !== url.href) {
    throw new OAuthError(
      'invalid_client_metadata',
      'jwks_uri must be an https URL in canonical form, without credentials or fragment',
    );
  }
  return url.href;
}
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:']);

export interface ClientInput {
  name: string;
  redirectUris: string[];
  scope?: string;
  grantTypes?: string[];
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  /** OpenID Connect Registration §2; when absent, defaultApplicationType decides. */
  applicationType?: ApplicationType;
  requirePkce?: boolean;
  allowedCorsOrigins?: string[];
  allowedResources?: string[];
  nonExpiringTokens?: boolean;
  /** RFC 7662 §4: may introspect other clients' tokens. Only an operator sets this (`clients add`). */
  resourceServer?: boolean;
  status?: Client['status'];
  registeredVia?: Client['registeredVia'];
  metadata?: ClientDisplayMetadata;
  /** RFC 7592: also mint a registration access token so the client can manage itself. */
  withRegistrationToken?: boolean;
  ownerUserId?: string | null;
  /** Scopes that need an administrator's approval per client: asked-for ones wait in requestedScope. */
  scopesNeedingApproval?: readonly string[];
  /** This server's issuer: on a plain-http loopback issuer, its own pages (the playground) may be redirect URIs. */
  issuer?: string;
  /** The deployment's allowed token endpoint authentication methods (GATEHOUSE_CLIENT_AUTH_METHODS). */
  allowedAuthMethods?: readonly TokenEndpointAuthMethod[];
}

function invalidRedirect(uri: string, why: string): OAuthError {
  return new OAuthError('invalid_redirect_uri', `Redirect URI "${uri.slice(0, 200)}" ${why}`);
}

/** RFC 8252 §7.1: a private-use scheme is a reverse domain name, so it contains a period. */
function isPrivateUseScheme(uri: string): boolean {
  if (!URL.canParse(uri)) return false;
  const { protocol } = new URL(uri);
  return !FORBIDDEN_SCHEMES.has(protocol) && protocol.slice(0, -1).includes('.');
}

/**
 * OpenID Connect Registration §2 defaults `application_type` to `web`, but most MCP clients in use never send it
 * (issue 16): a client whose every redirect URI only an app on the user's own device can receive (plain-http
 * loopback, a private-use scheme) cannot be a web client, so it is taken as the native client it is. With one
 * https URI among them it stays `web`, and its loopback URIs are refused with a message naming
 * `application_type`. The token endpoint authentication method does not decide: the MCP TypeScript SDK's example
 * registers `http://localhost:<port>/callback` with `client_secret_post`.
 */
export function defaultApplicationType(redirectUris: readonly string[]): ApplicationType {
  const nativeOnly = (uri: string) => isLoopbackRedirectUri(uri) || isPrivateUseScheme(uri);
  return redirectUris.length > 0 && redirectUris.every(nativeOnly) ? 'native' : 'web';
}

/**
 * Whether `uri` is a page of the issuer itself while the issuer is a developer's plain-http loopback one
 * (`http://localhost:3000`, the default): the playground's `<issuer>/playground`, for one. Such a URI may be
 * registered by a web client too, so that the CLI, dynamic registration and the portal all accept the
 * playground on a laptop (docs/security.md A-07). Safe because the code goes to the very server that minted it,
 * on the developer's own machine: whoever can read that origin runs the authorization server already. Tight on
 * purpose: only when the issuer is plain http on a loopback host (an https issuer's pages are https and need no
 * exception), only the issuer's exact origin (scheme, host spelling and port), and the rest of the checks
 * (no fragment, wildcard or credentials) still apply.
 */
function isLoopbackIssuerPage(uri: string, issuer: string | undefined): boolean {
  if (!issuer?.startsWith('http://')) return false;
  const issuerUrl = URL.parse(issuer);
  if (!issuerUrl || !isLoopbackHost(issuerUrl.hostname)) return false;
  return uri.startsWith(`${issuerUrl.origin}/`) && URL.parse(uri)?.origin === issuerUrl.origin;
}

/**
 * Throws invalid_redirect_uri unless the URI may be registered for a client of this type (OpenID Connect
 * Registration §2, RFC 8252 §7): https for everyone; plain-http loopback (`localhost`, 127.0.0.1, [::1], in the
 * spelling redirect-uri.ts accepts) and private-use schemes for native clients only; and, on a plain-http
 * loopback issuer, the issuer's own pages for every client (isLoopbackIssuerPage).
 */
export function checkRedirectUri(uri: string, applicationType: ApplicationType, issuer?: string): void {
  if (uri.length > 2000) throw invalidRedirect(uri, 'is too long');
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw invalidRedirect(uri, 'is not an absolute URI');
  }
  if (uri.includes('#')) throw invalidRedirect(uri, 'must not contain a fragment');
  if (uri.includes('*')) throw invalidRedirect(uri, 'must not contain wildcards');
  if (url.username || url.password) throw invalidRedirect(uri, 'must not contain credentials');
  if (url.protocol === 'https:') return;
  if (isLoopbackIssuerPage(uri, issuer)) return;
  if (url.protocol === 'http:') {
    if (!isLoopbackRedirectUri(uri)) {
      throw invalidRedirect(
        uri,
        'must use https (plain http only for http://localhost, http://127.0.0.1 or http://[::1] of native apps)',
      );
    }
    if (applicationType === 'native') return;
    throw invalidRedirect(
      uri,
      'is a loopback address, which only a native app may use (application_type "native")',
    );
  }
  if (FORBIDDEN_SCHEMES.has(url.protocol)) throw invalidRedirect(uri, 'uses a forbidden scheme');
  if (applicationType === 'native' && isPrivateUseScheme(uri)) return;
  throw invalidRedirect(uri, 'uses a scheme that is not allowed');
}

/** The algs a client may ask UserInfo to sign with (OIDC Core §5.3.2): those Gatehouse has keys for. */
export const USERINFO_SIGNING_ALGS: readonly string[] = ['RS256', 'ES256', 'EdDSA'];

/**
 * OpenID Connect Back-Channel Logout 1.0 §2.2: the back-channel logout URI is an absolute URL without a
 * fragment, which Gatehouse itself will POST to (through the SSRF guard, http/outbound.ts): https only, no
 * credentials. On a developer's plain-http loopback issuer, plain http to a loopback address is accepted too
 * (the same exception as isLoopbackIssuerPage); the guard still refuses to deliver there unless the operator's
 * allowance for loopback targets is on.
 */
export function checkBackchannelLogoutUri(uri: unknown, issuer: string | undefined): string {
  const refuse = (why: string) => new OAuthError('invalid_client_metadata', `backchannel_logout_uri ${why}`);
  if (typeof uri !== 'string' || uri.length > 2000) throw refuse('must be a URL of at most 2000 characters');
  const url = URL.parse(uri);
  if (!url) throw refuse('must be an absolute URL');
  if (url.hash || uri.includes('#')) throw refuse('must not have a fragment');
  if (url.username || url.password) throw refuse('must not carry credentials');
  const loopbackDev =
    url.protocol === 'http:' &&
    isLoopbackHost(url.hostname) &&
    issuer?.startsWith('http://') === true &&
    isLoopbackHost(URL.parse(issuer)?.hostname ?? '');
  if (url.protocol !== 'https:' && !loopbackDev) throw refuse('must be an https URL');
  return uri;
}

/** Display URIs are shown as links and never fetched by the server (docs/security.md H-05): https only. */
export function checkDisplayMetadata(metadata: ClientDisplayMetadata): ClientDisplayMetadata {
  const out: ClientDisplayMetadata = {};
  for (const field of ['client_uri', 'logo_uri', 'policy_uri', 'tos_uri'] as const) {
    const value = metadata[field];
    if (value === undefined) continue;
    if (
      typeof value !== 'string' ||
      value.length > 2000 ||
      !value.startsWith('https://') ||
      !URL.canParse(value)
    ) {
      throw new OAuthError('invalid_client_metadata', `${field} must be an https URL`);
    }
    out[field] = value;
  }
  if (metadata.contacts !== undefined) {
    const contacts = metadata.contacts;
    if (
      !Array.isArray(contacts) ||
      contacts.length > 5 ||
      !contacts.every((c) => typeof c === 'string' && c.length <= 320)
    ) {
      throw new OAuthError('invalid_client_metadata', 'contacts must be at most 5 strings');
    }
    out.contacts = contacts;
  }
  if (metadata.require_pushed_authorization_requests !== undefined) {
    if (typeof metadata.require_pushed_authorization_requests !== 'boolean') {
      throw new OAuthError(
        'invalid_client_metadata',
        'require_pushed_authorization_requests must be a boolean',
      );
    }
    if (metadata.require_pushed_authorization_requests) out.require_pushed_authorization_requests = true;
  }
  if (metadata.dpop_bound_access_tokens !== undefined) {
    if (typeof metadata.dpop_bound_access_tokens !== 'boolean') {
      throw new OAuthError('invalid_client_metadata', 'dpop_bound_access_tokens must be a boolean');
    }
    if (metadata.dpop_bound_access_tokens) out.dpop_bound_access_tokens = true;
  }
  if (metadata.jwks !== undefined && metadata.jwks_uri !== undefined) {
    // RFC 7591 §2: "MUST NOT both be present".
    throw new OAuthError('invalid_client_metadata', 'Register jwks or jwks_uri, not both');
  }
  if (metadata.jwks !== undefined) out.jwks = checkJwks(metadata.jwks);
  if (metadata.jwks_uri !== undefined) out.jwks_uri = checkJwksUri(metadata.jwks_uri);
  const userinfoAlg = metadata.userinfo_signed_response_alg;
  if (userinfoAlg !== undefined) {
    if (typeof userinfoAlg !== 'string' || !USERINFO_SIGNING_ALGS.includes(userinfoAlg)) {
      throw new OAuthError(
        'invalid_client_metadata',
        `userinfo_signed_response_alg must be one of ${USERINFO_SIGNING_ALGS.join(', ')}`,
      );
    }
    out.userinfo_signed_response_alg = userinfoAlg;
  }
  if (metadata.backchannel_logout_session_required !== undefined) {
    if (typeof metadata.backchannel_logout_session_required !== 'boolean') {
      throw new OAuthError(
        'invalid_client_metadata',
        'backchannel_logout_session_required must be a boolean',
      );
    }
    out.backchannel_logout_session_required = metadata.backchannel_logout_session_required;
  }
  // Checked in buildClient, which knows the issuer.
  if (metadata.backchannel_logout_uri !== undefined)
    out.backchannel_logout_uri = metadata.backchannel_logout_uri;
  // Checked with the redirect URIs in buildClient, which knows the application type.
  if (metadata.post_logout_redirect_uris !== undefined) {
    out.post_logout_redirect_uris = [...new Set(metadata.post_logout_redirect_uris)];
  }
  return out;
}

export interface NewClient {
  client: Client;
  /** Shown once, never stored. */
  secret: string | undefined;
  /** RFC 7592 registration access token, shown once, never stored. */
  registrationAccessToken: string | undefined;
}

export function buildClient(input: ClientInput, now: number): NewClient {
  const name = input.name.trim();
  if (!name || name.length > 200)
    throw new OAuthError('invalid_client_metadata', 'client_name is missing or too long');
  const method = input.tokenEndpointAuthMethod ?? 'client_secret_basic';
  if (!AUTH_METHODS.has(method) || (input.allowedAuthMethods && !input.allowedAuthMethods.includes(method))) {
    throw new OAuthError('invalid_client_metadata', 'Unsupported token_endpoint_auth_method');
  }
  const applicationType = input.applicationType ?? defaultApplicationType(input.redirectUris);
  const grantTypes = [...new Set(input.grantTypes ?? ['authorization_code', 'refresh_token'])];
  if (grantTypes.length === 0 || !grantTypes.every((grant) => SUPPORTED_GRANTS.has(grant))) {
    throw new OAuthError('invalid_client_metadata', 'Unsupported grant type');
  }
  if (method === 'none' && grantTypes.includes('client_credentials')) {
    // RFC 6749 §4.4: the client credentials grant is for clients that can authenticate.
    throw new OAuthError('invalid_client_metadata', 'A public client cannot use client_credentials');
  }
  if (
    method === 'private_key_jwt' &&
    input.metadata?.jwks === undefined &&
    input.metadata?.jwks_uri === undefined
  ) {
    throw new OAuthError(
      'invalid_client_metadata',
      'A private_key_jwt client registers its public keys (jwks or jwks_uri)',
    );
  }
  if (method === 'none' && input.resourceServer) {
    // RFC 7662 §2.1: introspection needs client authentication.
    throw new OAuthError('invalid_client_metadata', 'A public client cannot be a resource server');
  }
  const needsRedirect = grantTypes.includes('authorization_code');
  if ((needsRedirect && input.redirectUris.length === 0) || input.redirectUris.length > 20) {
    throw new OAuthError('invalid_redirect_uri', 'Register between 1 and 20 redirect URIs');
  }
  for (const uri of input.redirectUris) checkRedirectUri(uri, applicationType, input.issuer);
  const postLogout = input.metadata?.post_logout_redirect_uris;
  if (postLogout !== undefined) {
    if (!Array.isArray(postLogout) || postLogout.length > 20) {
      throw new OAuthError('invalid_client_metadata', 'post_logout_redirect_uris takes at most 20 URIs');
    }
    // The same rules as redirect URIs: the end-session endpoint redirects there (an open redirect otherwise).
    for (const uri of postLogout) checkRedirectUri(String(uri), applicationType, input.issuer);
  }
  if (input.metadata?.backchannel_logout_uri !== undefined) {
    checkBackchannelLogoutUri(input.metadata.backchannel_logout_uri, input.issuer);
  }
  for (const resource of input.allowedResources ?? []) {
    if (!URL.canParse(resource) || resource.includes('#') || resource.length > 2000) {
      throw new OAuthError(
        'invalid_client_metadata',
        'Each resource must be an absolute URI without a fragment',
      );
    }
  }
  const scopes = parseScope(input.scope ?? 'openid profile email offline_access');
  if (!scopes.every(isValidScopeToken)) throw new OAuthError('invalid_client_metadata', 'Malformed scope');
  const origins = [...new Set(input.allowedCorsOrigins ?? [])];
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {}
    if (!parsed || parsed.origin !== origin || !['https:', 'http:'].includes(parsed.protocol)) {
      throw new OAuthError(
        'invalid_client_metadata',
        `"${origin.slice(0, 200)}" is not an origin (scheme://host[:port])`,
      );
    }
  }
  const needsApproval = new Set(input.scopesNeedingApproval ?? []);
  const grantedScopes = scopes.filter((scope) => !needsApproval.has(scope));
  const pendingScopes = scopes.filter((scope) => needsApproval.has(scope));
  const isPublic = method === 'none';
  // Public clients can never skip PKCE; a confidential client may be relaxed by its operator.
  const requirePkce = isPublic ? true : (input.requirePkce ?? true);
  // A private_key_jwt client proves itself with its keys: it has no secret to leak.
  const secret =
    isPublic || method === 'private_key_jwt' ? undefined : mintOpaqueToken(TOKEN_PREFIX.clientSecret);
  const registrationAccessToken = input.withRegistrationToken ? randomToken(32) : undefined;
  return {
    secret,
    registrationAccessToken,
    client: {
      id: randomId(),
      name,
      secretHash: secret === undefined ? null : sha256(secret),
      redirectUris: [...new Set(input.redirectUris)],
      grantTypes,
      scope: grantedScopes.join(' '),
      tokenEndpointAuthMethod: method,
      applicationType,
      requirePkce,
      allowedCorsOrigins: origins,
      idTokenSignedResponseAlg: null,
      allowedResources: [...new Set(input.allowedResources ?? [])],
      nonExpiringTokens: input.nonExpiringTokens ?? false,
      resourceServer: input.resourceServer ?? false,
      status: input.status ?? 'active',
      registeredVia: input.registeredVia ?? 'cli',
      registrationAccessTokenHash:
        registrationAccessToken === undefined ? null : sha256(registrationAccessToken),
      metadata: checkDisplayMetadata(input.metadata ?? {}),
      ownerUserId: input.ownerUserId ?? null,
      requestedScope: pendingScopes.join(' '),
      previousSecretHash: null,
      previousSecretExpiresAt: null,
      createdAt: now,
      disabledAt: null,
      reviewedAt: null,
      pendingChanges: null,
    },
  };
}

/** Whether a client may be used at all: not disabled, not waiting for approval. */
export function isUsable(client: Client | undefined): client is Client {
  return client !== undefined && client.disabledAt === null && client.status === 'active';
}
