// THE storage contract: everything Gatehouse persists, and the guarantees each operation gives.
// One implementation (kysely/) serves SQLite and PostgreSQL; test/storage/contract.ts proves it on both.
// Times are epoch milliseconds. Secrets (tokens, codes, client secrets) arrive here only as SHA-256 hashes.

export type TokenEndpointAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'private_key_jwt'
  | 'none';
export type ApplicationType = 'web' | 'native';

export interface Client {
  id: string;
  name: string;
  /** SHA-256 of the secret; null for public clients. */
  secretHash: string | null;
  redirectUris: string[];
  grantTypes: string[];
  /** Space-separated scopes this client may request. */
  scope: string;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  applicationType: ApplicationType;
  /** Confidential clients may be allowed to skip PKCE (Credal's docs); public clients never. */
  requirePkce: boolean;
  /** Origins a browser-based client calls the token and userinfo endpoints from. */
  allowedCorsOrigins: string[];
  /** OIDC Registration: alg for ID tokens; null = the server default. */
  idTokenSignedResponseAlg: string | null;
  /** RFC 8707 resources (audiences) this client may ask for, besides the issuer itself. */
  allowedResources: string[];
  /** Legacy (Readmill's `non-expiring` scope): access tokens that never expire and no refresh token. Off by default. */
  nonExpiringTokens: boolean;
  /**
   * RFC 7662 §4: an operator marked this client as a resource server, so it may introspect any client's access
   * tokens. Unmarked clients learn only about their own tokens. Never self-assigned (registration, portal).
   */
  resourceServer: boolean;
  /** `pending` clients wait for an administrator's approval and cannot be used. */
  status: 'active' | 'pending';
  /**
   * How the client came to be: by an operator (cli), dynamic registration (dcr), the portal, or its Client ID
   * Metadata Document (cimd: the id is the document's https URL, and the row is rewritten from the document
   * whenever it is fetched again, oauth/client-id-metadata.ts).
   */
  registeredVia: 'cli' | 'dcr' | 'portal' | 'cimd';
  /** RFC 7592: SHA-256 of the registration access token; null when the client cannot manage itself. */
  registrationAccessTokenHash: string | null;
  /** Display metadata (RFC 7591 §2): client_uri, logo_uri, policy_uri, tos_uri, contacts. Never fetched. */
  metadata: ClientDisplayMetadata;
  /** The developer who registered it in the portal; null otherwise. */
  ownerUserId: string | null;
  /** Scopes asked for that need an administrator's approval (the scope catalogue says which); space-separated. */
  requestedScope: string;
  /** After a secret rotation, the old secret keeps working until previousSecretExpiresAt. */
  previousSecretHash: string | null;
  previousSecretExpiresAt: number | null;
  createdAt: number;
  disabledAt: number | null;
  /**
   * When an operator last approved this client's registration or a change to it (console or CLI); null when
   * no operator ever looked at it. A self-registered client (dcr, portal) uses client_credentials only once
   * approved (docs/security.md H-02); clients an operator made (cli) count as reviewed.
   */
  reviewedAt: number | null;
  /**
   * A change to what an administrator reviewed, proposed by the client (RFC 7592 PUT) or its developer (portal)
   * while GATEHOUSE_REGISTRATION=approval: it waits here, and the fields above stay in force until an
   * administrator approves it (or rejects it: then it is dropped). null when nothing waits.
   */
  pendingChanges: ClientChanges | null;
}

/**
 * The reviewed part of a client: what an administrator saw when approving it. A proposed change carries every
 * one of these fields (the whole new registration), so approving it is one replacement.
 */
export interface ClientChanges {
  name: string;
  redirectUris: string[];
  grantTypes: string[];
  scope: string;
  requestedScope: string;
  allowedResources: string[];
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  applicationType: ApplicationType;
  allowedCorsOrigins: string[];
  metadata: ClientDisplayMetadata;
  /** SHA-256 of the secret minted when the change makes a public client confidential; absent otherwise. */
  secretHash?: string;
  /** When the change was proposed. */
  proposedAt: number;
}

export interface ClientDisplayMetadata {
  client_uri?: string;
  logo_uri?: string;
  policy_uri?: string;
  tos_uri?: string;
  contacts?: string[];
  /**
   * OpenID Connect RP-Initiated Logout 1.0 §3.1: where the end-session endpoint may send the browser after
   * signing out, matched exactly like redirect URIs (and reviewed like them). Not display metadata, but kept in
   * the same JSON column: it needs no query of its own.
   */
  post_logout_redirect_uris?: string[];
  /** RFC 9126 §6: this client's authorization requests must be pushed first. */
  require_pushed_authorization_requests?: boolean;
  /** RFC 9449 §5.2: every token request of this client must carry a DPoP proof (its tokens are always bound). */
  dpop_bound_access_tokens?: boolean;
  /**
   * RFC 7591 §2 `jwks`: the public keys a `private_key_jwt` client signs its assertions with (RFC 7523, OIDC
   * Core §9). Public members only; checked by oauth/client-metadata.ts.
   */
  jwks?: { keys: Record<string, unknown>[] };
  /**
   * RFC 7591 §2 `jwks_uri`: where the client publishes those keys instead (https, fetched through the SSRF guard
   * and cached, oauth/client-documents.ts). A client has `jwks` or `jwks_uri`, never both.
   */
  jwks_uri?: string;
  /** OIDC Registration §2: UserInfo answers as a JWT signed with this alg (OIDC Core §5.3.2). */
  userinfo_signed_response_alg?: string;
  /**
   * OpenID Connect Back-Channel Logout 1.0 §2.2: where Gatehouse POSTs a logout token when the user signs out
   * (https; checked by oauth/client-metadata.ts, delivered through http/outbound.ts).
   */
  backchannel_logout_uri?: string;
  /** §2.2: the client needs `sid` in logout tokens (and so in ID tokens). */
  backchannel_logout_session_required?: boolean;
}

export interface User {
  /** For a subject the company's login app signed in: the company's subject, exactly the `sub` clients see. */
  id: string;
  /** null for an external subject (its email, if any, is among its claims). */
  email: string | null;
  name: string | null;
  passwordHash: string;
  isAdmin: boolean;
  emailVerified: boolean;
  createdAt: number;
  updatedAt: number;
  disabledAt: number | null;
  /**
   * The OpenID Connect claims the company's login app gave at the subject's latest sign-in (docs/architecture.md
   * "External sign-in and consent"); null for Gatehouse's own users, whose claims come from the fields above.
   */
  claims: Record<string, unknown> | null;
  /**
   * OIDC Core §5.1 claims the `phone` and `address` scopes release, for Gatehouse's own users (an external
   * subject's come with its claims). Always set on a user read from storage; left out when creating or
   * updating a user, they stay as they are (none, for a new user).
   */
  phoneNumber?: string | null;
  phoneNumberVerified?: boolean;
  address?: AddressClaim | null;
}

/** OIDC Core §5.1.1: the `address` claim. Every member optional; strings only. */
export interface AddressClaim {
  formatted?: string;
  street_address?: string;
  locality?: string;
  region?: string;
  postal_code?: string;
  country?: string;
}

/** OIDC Core §5.5.1: how one claim is requested (null: just "please", with no further condition). */
export interface ClaimRequest {
  essential?: boolean;
  value?: string | number | boolean;
  values?: (string | number | boolean)[];
}

/** OIDC Core §5.5: the `claims` request parameter, as validated (oauth/claims-request.ts). */
export interface ClaimsRequest {
  userinfo?: Record<string, ClaimRequest | null>;
  id_token?: Record<string, ClaimRequest | null>;
}

/**
 * What an ID token needs beyond the user, kept with a code and then with its grant, so that a refresh can issue
 * one (OIDC Core §12.2) from the row it reads anyway: when and how the user signed in, the login session's
 * `sid` (back-channel logout), and the claims the client asked for.
 */
export interface OpenIdContext {
  /** OIDC auth_time, ms; null when unknown (grants made before it was kept). */
  authTime: number | null;
  amr?: string[] | undefined;
  acr?: string | undefined;
  sid?: string | undefined;
  claimsRequest?: ClaimsRequest | undefined;
}

export interface Session {
  /** SHA-256 of the cookie value. */
  idHash: string;
  userId: string;
  /** When the user last proved who they are (OIDC auth_time), ms. */
  authTime: number;
  createdAt: number;
  expiresAt: number;
  /** How they proved it, when an upstream identity provider said so (RFC 8176 amr values); unset for passwords. */
  amr?: string[];
  /** The authentication context class the upstream reported, when its provider passes acr through. */
  acr?: string;
}

/** An account at an upstream identity provider that signs in as a Gatehouse user. */
export interface LinkedIdentity {
  /** The provider's configured id (GATEHOUSE_UPSTREAMS). */
  providerId: string;
  /** The upstream's subject identifier for the account (`sub`, or the mapped claim). */
  subject: string;
  userId: string;
  /** The email the upstream asserted when the link was made, for administrators to recognise it. */
  email: string | null;
  createdAt: number;
  lastUsedAt: number | null;
}

/** The parked state of one authorization request while the user signs in and consents (Hydra's "flow"). */
export interface Interaction {
  id: string;
  /** SHA-256 of the browser-binding cookie: only the browser that started the flow may continue it. */
  browserHash: string;
  clientId: string;
  /** The validated authorization request. */
  request: AuthorizationRequest;
  /** Set once the user signed in during this interaction (prompt=login, max_age). */
  loginUserId: string | null;
  loginAuthTime: number | null;
  /** Set when the user allowed access: the scope granted. */
  consentedScope: string | null;
  /** Set when the user pressed Deny. */
  denied: boolean;
  createdAt: number;
  expiresAt: number;
  /** SHA-256 of the challenge the company's login or consent app holds right now; null when none does. */
  challengeHash: string | null;
  /** What the company's pages said; null while only Gatehouse's own pages served the flow. */
  external: ExternalState | null;
}

/** The errors a login or consent app may end a flow with (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6). */
export const EXTERNAL_REJECT_ERRORS = [
  'access_denied',
  'login_required',
  'consent_required',
  'interaction_required',
  'account_selection_required',
  'temporarily_unavailable',
] as const;
export type ExternalRejectError = (typeof EXTERNAL_REJECT_ERRORS)[number];

/** Hydra's login and consent requests, as far as the company's pages have answered them. */
export interface ExternalState {
  /** The page the current challenge is for. */
  stage: 'login' | 'consent';
  /**
   * The external subject this browser's Gatehouse session already speaks for, when that session satisfies the
   * request (no prompt=login, within max_age): the login app may skip its form, and must accept this subject.
   */
  skipSubject: string | null;
  skipAuthTime: number | null;
  /** Set by an accepted login. */
  login: {
    remember: boolean;
    /** Seconds the Gatehouse session lasts when remembered. */
    rememberFor: number;
    acr: string | null;
    amr: string[] | null;
  } | null;
  /** Set by a rejected login or consent: the error the client gets. */
  rejection: { error: ExternalRejectError; description: string | null } | null;
}

export interface AuthorizationRequest {
  clientId: string;
  /** The redirect URI the response goes to (the requested one, or the only registered one). */
  redirectUri: string;
  /** Whether redirect_uri was present in the request: then the token request must repeat it. */
  redirectUriProvided: boolean;
  scope: string;
  state: string | null;
  nonce: string | null;
  codeChallenge: string | null;
  /** RFC 8707: the resource the tokens are for; null = the issuer's own endpoints. */
  resource: string | null;
  prompt: string[];
  maxAge: number | null;
  /** RFC 9449 §10: the thumbprint of the DPoP key the code is bound to (`dpop_jkt`, or the PAR request's proof). */
  dpopJkt?: string | undefined;
  /** OIDC Core §3.1.2.1 hints, passed to the company's login app (Gatehouse's own page ignores them). */
  loginHint?: string | null;
  uiLocales?: string[];
  acrValues?: string[];
  /** OIDC Core §5.5: the claims the client asked for individually. */
  claims?: ClaimsRequest;
}

export interface AuthorizationCode {
  codeHash: string;
  /** The authorization (token family) this code starts; every token minted from it carries it. */
  grantId: string;
  clientId: string;
  userId: string;
  redirectUri: string;
  redirectUriProvided: boolean;
  scope: string;
  nonce: string | null;
  codeChallenge: string | null;
  resource: string | null;
  authTime: number;
  createdAt: number;
  expiresAt: number;
  consumedAt: number | null;
  /** How the user authenticated, for the ID token: the sign-in session's amr and acr (upstream sign-ins), or
   * what the company's login app reported (external sign-in). Unset for password sign-ins. */
  amr?: string[] | undefined;
  acr?: string | undefined;
  /** RFC 9449 §10: the token request must carry a DPoP proof by this key; unset for an unbound code. */
  dpopJkt?: string | undefined;
  /** The login session the code came from (OIDC `sid`), when there was one. */
  sid?: string | undefined;
  /** OIDC Core §5.5: the claims the authorization request asked for. */
  claimsRequest?: ClaimsRequest | undefined;
}

/**
 * RFC 8628: one device authorization request, from the device's request (§3.1) to the token its poll redeems
 * (§3.4). `pending` until the user approves or denies it on the verification page; an approved one is
 * `redeemed` by exactly one poll.
 */
export interface DeviceAuthorization {
  /** The device code's time-ordered SHA-256 key (opaque-token.ts timeOrderedTokenKey). */
  deviceCodeHash: string;
  /** HMAC of the normalized user code under a server key (oauth/device-code.ts). */
  userCodeHash: string;
  clientId: string;
  scope: string;
  /** RFC 8707: the resource the tokens are for; null = the issuer's own endpoints. */
  resource: string | null;
  createdAt: number;
  /** The end of both codes' lifetime (expires_in). */
  expiresAt: number;
  /** Seconds the device must leave between polls; each slow_down adds 5 (RFC 8628 §3.5). */
  interval: number;
  lastPolledAt: number | null;
  status: 'pending' | 'approved' | 'denied' | 'redeemed';
  /** Set by the approval: who approved, the grant the tokens will carry, and how the user authenticated. */
  userId: string | null;
  grantId: string | null;
  authTime: number | null;
  amr?: string[] | undefined;
  acr?: string | undefined;
}

/** What the approval records (DeviceAuthorizationStore.approve). */
export interface DeviceApproval {
  userId: string;
  grantId: string;
  authTime: number;
  amr?: string[] | undefined;
  acr?: string | undefined;
}

export type ConsumeResult =
  | { status: 'ok'; code: AuthorizationCode }
  | { status: 'reused'; code: AuthorizationCode }
  | { status: 'not_found' };

export interface Grant {
  id: string;
  clientId: string;
  userId: string | null;
  scope: string;
  createdAt: number;
  revokedAt: number | null;
  /** When it last issued tokens after the first exchange (a refresh), to within GRANT_USE_RESOLUTION_MS. */
  lastUsedAt: number | null;
  /** The sign-in behind a user's grant, for the ID tokens its refreshes issue; absent for client_credentials. */
  openId?: OpenIdContext | undefined;
}

/** How stale a grant's lastUsedAt may be: refreshing a grant writes it at most once per this interval. */
export const GRANT_USE_RESOLUTION_MS = 60_000;

export interface AccessTokenRecord {
  /** The JWT's jti, or SHA-256 of an opaque token. */
  id: string;
  grantId: string;
  clientId: string;
  /** null for client_credentials tokens. */
  userId: string | null;
  scope: string;
  /** The resource (RFC 8707) the token is for: its `aud`. */
  audience: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  /** RFC 9449: the thumbprint of the key the token is bound to (its cnf.jkt); unset for a bearer token. */
  dpopJkt?: string | undefined;
}

export interface RefreshTokenRecord {
  tokenHash: string;
  id: string;
  grantId: string;
  clientId: string;
  userId: string;
  /** The full scope of the grant; a refresh may narrow the access token's scope, never this. */
  scope: string;
  /** The resource the refresh token's access tokens are for (RFC 8707), or null for the issuer's own. */
  resource: string | null;
  /** The refresh token this one replaced. */
  parentId: string | null;
  createdAt: number;
  /** Absolute end of the family: inherited from the first refresh token of the grant. */
  expiresAt: number;
  /** Idle end: createdAt + idle lifetime; null when idle expiry is off. */
  idleExpiresAt: number | null;
  /** Set when the token was exchanged for a successor (rotation). */
  rotatedAt: number | null;
  /** Identifies the request that rotated it (scope and resource asked for), for the grace-period replay rule. */
  rotationFingerprint: string | null;
  revokedAt: number | null;
  /**
   * RFC 9449 §5: a public client's refresh token is bound to the DPoP key of the request that started its family;
   * every refresh must prove that key. Unset when unbound (confidential clients: their authentication binds it).
   */
  dpopJkt?: string | undefined;
}

/** A refresh token as found, with the state of its grant and of its user (read in the same query). */
export interface FoundRefreshToken extends RefreshTokenRecord {
  grantRevoked: boolean;
  grantLastUsedAt: number | null;
  /** The user exists and is not disabled. */
  userActive: boolean;
  /** The grant's sign-in context (absent for grants made before it was kept). */
  openId: OpenIdContext | undefined;
  /** The user, read in the same query, for the refreshed ID token's claims; undefined when gone. */
  user: User | undefined;
}

export interface ApiKey {
  id: string;
  /** SHA-256 of the key. */
  keyHash: string;
  userId: string;
  name: string;
  scope: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  /**
   * The resources (RFC 8707 identifiers from the catalogue) the key may be used at besides Gatehouse's own
   * endpoints: introspection lists them in `aud`, which each API checks. Empty: Gatehouse's endpoints only.
   */
  resources: string[];
}

/**
 * A credential for the admin API (`ghm_…`): scopes say which part it opens (`interactions` for the login and
 * consent API); a later admin API adds scopes, not another kind of key.
 */
export interface AdminKey {
  id: string;
  /** SHA-256 of the key. */
  keyHash: string;
  name: string;
  /** Space-separated admin scopes. */
  scope: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

/**
 * Who caused a security event: a person signed in to a page (the console, the portal, their account), an admin
 * API key, a client (registration management, revocation, deauthorization), an operator at the CLI, or
 * Gatehouse itself (reuse detection). `name` is the user's email, the key's or the client's name at the time.
 */
export type SecurityEventActor =
  | { kind: 'user'; id: string; name?: string | null }
  | { kind: 'admin_key'; id: string; name?: string | null }
  | { kind: 'client'; id: string; name?: string | null }
  | { kind: 'cli' }
  | { kind: 'system' };

export interface SecurityEvent {
  id: string;
  /** e.g. login_failed, client_registered, refresh_token_reuse (the README lists them all). */
  type: string;
  /** Null for an anonymous request (a failed sign-in, an open registration). */
  actor: SecurityEventActor | null;
  /** The address the request came from (after GATEHOUSE_TRUST_PROXY); null without a request (the CLI). */
  ip: string | null;
  clientId: string | null;
  /** The client's name when the event happened: clients are renamed and deleted, the log keeps who it was. */
  clientName: string | null;
  userId: string | null;
  /** The user's email when the event happened (for a sign-in to an unknown account, the email tried). */
  userEmail: string | null;
  grantId: string | null;
  detail: Record<string, unknown>;
  createdAt: number;
}

/** Which events to list: every condition given must hold. */
export interface SecurityEventQuery {
  type?: string;
  userId?: string;
  clientId?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  limit: number;
  /** Continue after this event (the last one of the previous page). */
  before?: PageCursor;
}

export interface Consent {
  userId: string;
  clientId: string;
  scope: string;
  updatedAt: number;
}

export interface SigningKeyRecord {
  kid: string;
  alg: string;
  publicJwk: string;
  /** The private JWK, AES-256-GCM encrypted with a key derived from GATEHOUSE_SECRET. */
  privateJwkEncrypted: string;
  createdAt: number;
  /**
   * From when this key signs. A rotated-in key is published first and signs only later, so that verifiers
   * caching the JWKS have seen it before the first token it signs (docs/security.md R8).
   */
  activatesAt: number;
  /** When a newer key was added to take over; null while this is the newest key of its alg. */
  rotatedAt: number | null;
  /** After this instant the public key leaves the JWKS (every token it signed has expired). */
  retireAt: number | null;
}

export interface LoginThrottle {
  key: string;
  failures: number;
  lastFailureAt: number;
  blockedUntil: number;
}

/** Where a page of a newest-first listing ends: the last row's creation time and id. */
export interface PageCursor {
  createdAt: number;
  id: string;
}

/** A newest-first page: at most `limit` rows created before `before` (from the newest without it). */
export interface PageRequest {
  limit: number;
  before?: PageCursor;
}

export interface ClientStore {
  find(id: string): Promise<Client | undefined>;
  /** Every client, oldest first (`gatehouse clients list`, which runs in its own process). */
  list(): Promise<Client[]>;
  /** Newest first, one page at a time (the admin console). */
  listPage(page: PageRequest): Promise<Client[]>;
  /** Clients waiting for an administrator: pending registrations, scope requests and changes, oldest first. */
  listAwaitingReview(): Promise<Client[]>;
  listByOwner(userId: string): Promise<Client[]>;
  create(client: Client): Promise<void>;
  /** Replaces the client's fields (not its id or creation time), CORS origins included. */
  update(client: Client): Promise<void>;
  /** Deletes the client and revokes every grant it holds. Returns false when there was no such client. */
  delete(id: string, now: number): Promise<boolean>;
  /** Whether any active client registered this origin for browser-based (CORS) calls. */
  hasCorsOrigin(origin: string): Promise<boolean>;
}

export interface UserStore {
  findById(id: string): Promise<User | undefined>;
  /** Emails are compared lower-cased. */
  findByEmail(email: string): Promise<User | undefined>;
  /** Fails with an error if the email is taken. */
  create(user: User): Promise<void>;
  /** Whether any user exists (the first-run setup is offered only while none does). */
  exists(): Promise<boolean>;
  /** Newest first, one page at a time (the admin console). */
  listPage(page: PageRequest): Promise<User[]>;
  /** Replaces name, password hash, admin flag and disabled state (not id, email or creation time). */
  update(user: User): Promise<void>;
  /**
   * Compare-and-set of the password hash alone: replaced only while it is still `currentHash`, and nothing
   * else changes (not updatedAt). A sign-in upgrading a hash's cost never undoes a password change or a
   * disable made meanwhile. True when replaced.
   */
  rehashPassword(id: string, currentHash: string, newHash: string): Promise<boolean>;
  /**
   * Creates the users row of an external subject (no email, no usable password), or updates its claims and
   * name. Never touches a Gatehouse user: when `id` is one, nothing changes and the answer is false.
   */
  upsertExternal(
    id: string,
    claims: Record<string, unknown>,
    name: string | null,
    now: number,
  ): Promise<boolean>;
  /** Import matching: every user whose id is one of `ids` or whose email is one of `emails` (lower-cased). */
  findByIdsOrEmails(ids: readonly string[], emails: readonly string[]): Promise<User[]>;
  /** Inserts users in one statement (an import batch); fails if an id or email is taken. */
  createMany(users: readonly User[]): Promise<void>;
  /**
   * An import's update: replaces every field but id and creation time (email included), only while the row
   * still has the password hash and updatedAt the import read (`seen`), so it never undoes a sign-in's rehash, a
   * password reset or an administrator's change made meanwhile. True when replaced.
   */
  replaceUnlessChanged(user: User, seen: User): Promise<boolean>;
  /**
   * Deletes the user, in one transaction: every grant revoked (so every token), every session, consent, linked
   * identity and API key ended, and the apps they registered left without an owner (an administrator still
   * manages them). The security events that name the user stay. False when there was no such user.
   */
  delete(id: string, now: number): Promise<boolean>;
}

export interface SessionStore {
  create(session: Session): Promise<void>;
  /** Ends every session of a user (disabled account, password reset). */
  deleteForUser(userId: string): Promise<void>;
  /** Returns the session only while it has not expired. */
  find(idHash: string, now: number): Promise<Session | undefined>;
  delete(idHash: string): Promise<void>;
}

export interface LinkedIdentityStore {
  find(providerId: string, subject: string): Promise<LinkedIdentity | undefined>;
  /** A user's linked identities, by provider id. */
  listForUser(userId: string): Promise<LinkedIdentity[]>;
  /**
   * Links the upstream account to the user, unless that account is linked already (to anyone) or the user
   * already has an account at this provider: then nothing is written and the answer is false. Atomic across
   * processes: of concurrent calls for one account, or for one user and provider, at most one links.
   */
  create(link: LinkedIdentity): Promise<boolean>;
  /** Records a sign-in through the link. */
  markUsed(providerId: string, subject: string, now: number): Promise<void>;
  /** Removes the link if it belongs to `userId`; false when there was none. */
  delete(providerId: string, subject: string, userId: string): Promise<boolean>;
}

export interface InteractionStore {
  create(interaction: Interaction): Promise<void>;
  find(id: string, now: number): Promise<Interaction | undefined>;
  /** The interaction whether or not it has expired (the flow then ends at the client with an error). */
  findIncludingExpired(id: string): Promise<Interaction | undefined>;
  /** The interaction whose current challenge this is, whether or not it has expired. */
  findByChallenge(challengeHash: string): Promise<Interaction | undefined>;
  update(
    id: string,
    changes: Partial<
      Pick<
        Interaction,
        'loginUserId' | 'loginAuthTime' | 'consentedScope' | 'denied' | 'challengeHash' | 'external'
      >
    >,
  ): Promise<void>;
  /**
   * Accepting or rejecting a challenge: applies `changes` and clears the challenge, in one conditional UPDATE
   * that matches only while the challenge is current and the interaction has not expired. Atomic: of
   * concurrent calls for one challenge exactly one gets true; the others change nothing.
   */
  settleChallenge(
    challengeHash: string,
    now: number,
    changes: Partial<Pick<Interaction, 'loginUserId' | 'loginAuthTime' | 'consentedScope' | 'external'>>,
  ): Promise<boolean>;
  /**
   * Deletes the interaction and reports whether this call deleted it. Atomic: of two concurrent calls for
   * one interaction exactly one gets true, so one interaction yields at most one authorization response.
   */
  finish(id: string): Promise<boolean>;
}

export interface AuthorizationCodeStore {
  create(code: AuthorizationCode): Promise<void>;
  /**
   * Stores a new code with the grant (token family) it opens, atomically and durably on its own (call it
   * outside a transaction: it shares SQLite's group commit, and is one statement on PostgreSQL).
   */
  createWithGrant(code: AuthorizationCode, grant: Grant): Promise<void>;
  /** The code in whatever state it is (consumed or not, expired or not), or undefined if unknown. */
  find(codeHash: string): Promise<AuthorizationCode | undefined>;
  /**
   * Marks the code used and returns it, in one conditional statement that commits on its own. Atomic: of two
   * concurrent calls exactly one gets `ok`; the others get `reused`. Unknown or expired codes, and codes whose
   * grant was revoked before they were redeemed: `not_found`.
   */
  consume(codeHash: string, now: number, issued?: IssuedTokens): Promise<ConsumeResult>;
}

/**
 * The tokens a code redemption issues: with `consume`, stored in the same atomic step as the claim, and only
 * if the claim succeeds (call it outside a transaction: it shares SQLite's group commit, and is one statement
 * on PostgreSQL).
 */
export interface IssuedTokens {
  access: AccessTokenRecord;
  refresh: RefreshTokenRecord | undefined;
}

export interface DeviceAuthorizationStore {
  /**
   * Stores a new pending request. False when its user code's HMAC is already taken (by a live or an expired,
   * not yet purged request): nothing is written, and the caller mints another user code.
   */
  create(authorization: DeviceAuthorization): Promise<boolean>;
  /** The request in whatever state, or undefined if unknown (the token endpoint's poll). */
  find(deviceCodeHash: string): Promise<DeviceAuthorization | undefined>;
  /** The request a user code names, only while it is pending and unexpired (the verification page). */
  findPendingByUserCode(userCodeHash: string, now: number): Promise<DeviceAuthorization | undefined>;
  /**
   * Records a poll of a pending request. When it came sooner than `interval` seconds after the previous poll,
   * adds 5 s to the interval for this and every later poll (RFC 8628 §3.5) and answers slowDown. Atomic across
   * processes: of concurrent polls at most one is on time; the others are slow_down. Undefined if unknown.
   */
  poll(deviceCodeHash: string, now: number): Promise<{ slowDown: boolean; interval: number } | undefined>;
  /**
   * The user's approval: records who approved, in one conditional UPDATE that matches only a pending,
   * unexpired request. Atomic: of concurrent decisions on one request exactly one gets true.
   */
  approve(userCodeHash: string, now: number, approval: DeviceApproval): Promise<boolean>;
  /** The user's denial; the same conditions and atomicity as approve. */
  deny(userCodeHash: string, now: number): Promise<boolean>;
  /**
   * Marks an approved request redeemed and returns it, in one conditional statement. Atomic: of concurrent
   * polls exactly one gets the request; the others (and any later one) get undefined. Also undefined when it
   * expired, or its grant was revoked after the approval.
   */
  redeem(deviceCodeHash: string, now: number): Promise<DeviceAuthorization | undefined>;
}

export interface GrantStore {
  create(grant: Grant): Promise<void>;
  /** Creates the grant unless one with its id exists (whatever that one's state). */
  createIfMissing(grant: Grant): Promise<void>;
  find(id: string): Promise<Grant | undefined>;
  /**
   * Revokes the grant and every access and refresh token issued under it, in one transaction.
   * Idempotent. After it returns, none of the family's tokens is accepted anywhere.
   */
  revoke(id: string, now: number): Promise<void>;
  /** Revokes every live grant (and its tokens) of one user for one client. Returns how many. */
  revokeForUserAndClient(userId: string, clientId: string, now: number): Promise<number>;
  /**
   * Revokes every live grant of one user, whatever the client, and so every access and refresh token issued
   * under them (a password reset, RFC 9700 §4.14.2). One statement; returns how many grants it revoked.
   */
  revokeForUser(userId: string, now: number): Promise<number>;
  /** Revokes every live grant a client holds, whoever it acts for; one statement; returns how many. */
  revokeForClient(clientId: string, now: number): Promise<number>;
  /** The live grants of a user, newest first (for "connected apps"). */
  listActiveForUser(userId: string): Promise<Grant[]>;
  /** The live grants made through one login session (its `sid`): back-channel logout's recipients. */
  listActiveForSession(sid: string): Promise<Grant[]>;
  /** Records that the grant issued tokens at `now` (a refresh). */
  markUsed(id: string, now: number): Promise<void>;
  /**
   * When each client last got tokens for this user (epoch ms), by client id: the latest use or creation of its
   * grants. One indexed lookup, whatever the number of tokens.
   */
  lastUsedByClient(userId: string): Promise<Map<string, number>>;
}

export interface AccessTokenStore {
  create(token: AccessTokenRecord): Promise<void>;
  /**
   * The token's record if it is neither expired nor revoked, and its grant, client and user (if any) are live.
   * One round trip.
   */
  findActive(id: string, now: number): Promise<AccessTokenRecord | undefined>;
  /** Revokes one access token. */
  revoke(id: string, now: number): Promise<void>;
}

export interface RefreshTokenStore {
  create(token: RefreshTokenRecord): Promise<void>;
  /** The token in whatever state, with its grant's state; undefined if unknown. */
  find(tokenHash: string): Promise<FoundRefreshToken | undefined>;
  /**
   * Rotation, atomically and durably on its own (call it outside a transaction: it shares SQLite's group
   * commit, and is one statement on PostgreSQL): marks the parent rotated (only if it is still live and
   * unrotated) and stores its successor and the new access token, and with `markGrantUsed` sets the grant's
   * last use to `now`. Of concurrent calls for one parent exactly one gets true; the others write nothing and
   * get false.
   */
  rotate(
    parentHash: string,
    fingerprint: string,
    now: number,
    child: RefreshTokenRecord,
    access: AccessTokenRecord,
    markGrantUsed?: boolean,
  ): Promise<boolean>;
}

export interface AdminKeyStore {
  create(key: AdminKey): Promise<void>;
  /** The key if it is neither revoked nor expired. */
  findActive(keyHash: string, now: number): Promise<AdminKey | undefined>;
  /** Every key, newest first (`gatehouse admin-keys list`: a handful of rows). */
  list(): Promise<AdminKey[]>;
  /** Returns false when no live key has that id. */
  revoke(id: string, now: number): Promise<boolean>;
}

export interface ApiKeyStore {
  create(key: ApiKey): Promise<void>;
  /** The key if it is neither revoked nor expired. */
  findActive(keyHash: string, now: number): Promise<ApiKey | undefined>;
  list(userId?: string): Promise<ApiKey[]>;
  /** Returns false when no live key has that id. */
  revoke(id: string, now: number): Promise<boolean>;
}

/** RFC 7591 §3: tokens an administrator hands out that let a developer register a client. */
export interface InitialAccessTokenStore {
  create(tokenHash: string, uses: number, now: number, expiresAt: number): Promise<void>;
  /** Atomically uses one of the token's remaining uses; false when it is unknown, used up or expired. */
  consume(tokenHash: string, now: number): Promise<boolean>;
}

/**
 * An event as it is recorded: what a caller leaves out of actor, ip, clientName and userEmail is stored as null.
 * Write events through recordSecurityEvent (oauth/security-events.ts), which fills them in.
 */
export type NewSecurityEvent = Omit<SecurityEvent, 'actor' | 'ip' | 'clientName' | 'userEmail'> &
  Partial<Pick<SecurityEvent, 'actor' | 'ip' | 'clientName' | 'userEmail'>>;

export interface SecurityEventStore {
  record(event: NewSecurityEvent): Promise<void>;
  /**
   * Newest first (creation time, then id), at most `limit`, matching every condition of the query. Paging with
   * `before` set to the last event of a page neither repeats nor skips an event, whatever was recorded meanwhile
   * (new events are newer than the first page). Each filter is served by an index ending in (created_at, id).
   * A bare number is `{ limit }`.
   */
  list(query: SecurityEventQuery | number): Promise<SecurityEvent[]>;
}

export interface ConsentStore {
  find(userId: string, clientId: string): Promise<Consent | undefined>;
  /** Stores the union of what was granted before and `scope`. */
  grant(userId: string, clientId: string, scope: string, now: number): Promise<void>;
  /** Forgets the consent (deauthorize, "Remove access"). */
  forget(userId: string, clientId: string): Promise<void>;
}

export interface KeyStore {
  list(): Promise<SigningKeyRecord[]>;
  /**
   * A number that changes with every change to the keys (rotateIn, addFirst), made by this process or any
   * other: one primary-key read, so that running servers can check for a rotation every second.
   */
  version(): Promise<number>;
  /**
   * Adds a key that signs from its activatesAt on: older keys of that alg get rotatedAt = now and
   * retireAt = key.activatesAt + retireAfterMs, in one transaction.
   */
  rotateIn(key: SigningKeyRecord, now: number, retireAfterMs: number): Promise<void>;
  /**
   * Adds the first key of its alg: only if no key of that alg is current (rotatedAt null); returns whether it
   * was added. Atomic across processes (docs/security.md R10): servers started together on an empty database store
   * one key per alg, and the others read it back.
   */
  addFirst(key: SigningKeyRecord): Promise<boolean>;
  /**
   * Takes keys out of use and out of the JWKS at once (rotatedAt and retireAt = now, unless already earlier):
   * `gatehouse keys reset`, for keys whose private half can no longer be decrypted.
   */
  retire(kids: readonly string[], now: number): Promise<void>;
}

/**
 * How sign-in attempts on one key slow down: `freeAttempts` go through at once; the attempt that reaches that
 * count blocks the key for `firstDelayMs`, and each further one for twice the previous delay, at most
 * `maxDelayMs`. Attempts older than `windowMs` are forgotten.
 */
export interface LoginThrottleRule {
  freeAttempts: number;
  firstDelayMs: number;
  maxDelayMs: number;
  windowMs: number;
}

export type ThrottleReservation = { allowed: true } | { allowed: false; blockedUntil: number };

export interface LoginThrottleStore {
  find(key: string): Promise<LoginThrottle | undefined>;
  /**
   * Reserves one attempt before the password is checked, in one conditional upsert: unless the key is blocked
   * at `now`, counts the attempt (from 1 again when the last one is older than the window), blocks the key for
   * the delay that count earns (LoginThrottleRule) and answers allowed; a blocked key is left as it is and the
   * answer says until when. Atomic across processes: of any number of concurrent calls at one instant, exactly
   * `freeAttempts` are allowed.
   */
  reserve(key: string, now: number, rule: LoginThrottleRule): Promise<ThrottleReservation>;
  /**
   * Gives one reserved attempt back (it succeeded, or another key refused it); the block lifts once the count
   * is below `freeAttempts` again. Never below zero.
   */
  refund(key: string, freeAttempts: number): Promise<void>;
  clear(key: string): Promise<void>;
}

/** The count of one key's current window, and when that window ends (epoch ms). */
export interface RateLimitHit {
  count: number;
  resetAt: number;
}

/**
 * Fixed-window counters for limits that guard shared resources (registrations per client IP). They live in the
 * database so that every process and instance shares them and a restart does not reset them.
 */
export interface RateLimitStore {
  /**
   * Counts one hit on `key` in one atomic upsert. A window starts with the first hit after the previous window
   * ended and lasts `windowMs`. Atomic across processes: N concurrent hits in one window see the counts 1..N.
   */
  hit(key: string, now: number, windowMs: number): Promise<RateLimitHit>;
}

/** Small key/value facts about the installation (the one-time setup token's hash). */
export interface SettingStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<boolean>;
}

/** Deleting what has expired, in bounded batches. Safe to run from several processes at once. */
export interface HousekeepingStore {
  /**
   * Deletes up to `batchSize` expired rows of each kind and returns how many went, per table. Used codes stay
   * a day past expiry, so a late replay is still caught as reuse; device authorizations too (a late poll
   * hears expired_token). A refresh token row goes once it is expired
   * (family end or idle window) and older than `refreshTokenLifetimeMs`, the longest any one row can be
   * usable (the idle window, or the absolute lifetime without one): until then a used token stays, so its
   * replay is caught as reuse (a replay past the idle window is refused before that check anyway). Rate-limit
   * windows go once they have ended. With `eventsBefore`, security events created before it go too (the
   * retention setting); without it, every event is kept.
   */
  purgeExpired(
    now: number,
    batchSize: number,
    refreshTokenLifetimeMs: number,
    eventsBefore?: number,
  ): Promise<Record<string, number>>;
}

export interface Storage {
  clients: ClientStore;
  users: UserStore;
  sessions: SessionStore;
  linkedIdentities: LinkedIdentityStore;
  interactions: InteractionStore;
  authorizationCodes: AuthorizationCodeStore;
  deviceAuthorizations: DeviceAuthorizationStore;
  grants: GrantStore;
  accessTokens: AccessTokenStore;
  refreshTokens: RefreshTokenStore;
  consents: ConsentStore;
  apiKeys: ApiKeyStore;
  adminKeys: AdminKeyStore;
  securityEvents: SecurityEventStore;
  initialAccessTokens: InitialAccessTokenStore;
  keys: KeyStore;
  loginThrottle: LoginThrottleStore;
  rateLimits: RateLimitStore;
  settings: SettingStore;
  housekeeping: HousekeepingStore;
  /** Runs `work` in one database transaction; the Storage it receives writes inside it. */
  transaction<T>(work: (tx: Storage) => Promise<T>): Promise<T>;
  /** Resolves when the database answers; rejects otherwise. */
  ping(): Promise<void>;
  /**
   * Calls `listener` with the cause each time a storage call fails for an outage (the database unreachable, a
   * write refused: disk full, I/O error, a failed fsync), i.e. whenever a call rejects with
   * StorageUnavailableError. Readiness and the log watch it (docs/security.md R4).
   */
  onOutage(listener: (cause: unknown) => void): void;
  close(): Promise<void>;
}
