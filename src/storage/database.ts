// Row types of every table, as Kysely sees them: snake_case, times as epoch-ms integers, booleans as 0/1,
// lists as JSON text. Only storage/ sees rows; the rest of the code sees the domain types in storage.ts.

export interface ClientsTable {
  id: string;
  name: string;
  secret_hash: string | null;
  redirect_uris: string;
  grant_types: string;
  scope: string;
  token_endpoint_auth_method: string;
  application_type: string;
  require_pkce: number;
  allowed_cors_origins: string;
  id_token_signed_response_alg: string | null;
  allowed_resources: string;
  non_expiring_tokens: number;
  resource_server: number;
  status: string;
  registered_via: string;
  registration_access_token_hash: string | null;
  metadata: string;
  owner_user_id: string | null;
  requested_scope: string;
  previous_secret_hash: string | null;
  previous_secret_expires_at: number | null;
  created_at: number;
  disabled_at: number | null;
  reviewed_at: number | null;
  /** JSON of ClientChanges, or null. */
  pending_changes: string | null;
}

export interface ClientCorsOriginsTable {
  origin: string;
  client_id: string;
}

export interface UsersTable {
  id: string;
  /** null for a subject the company's login app signed in. */
  email: string | null;
  name: string | null;
  password_hash: string;
  is_admin: number;
  email_verified: number;
  created_at: number;
  updated_at: number;
  disabled_at: number | null;
  /** JSON of the claims the company's login app gave for an external subject; null for Gatehouse's own users. */
  claims: string | null;
  /** OIDC Core §5.1 phone_number (E.164 recommended), or null. */
  phone_number: string | null;
  phone_number_verified: number;
  /** JSON of the §5.1.1 address object, or null. */
  address: string | null;
}

export interface SessionsTable {
  id_hash: string;
  user_id: string;
  auth_time: number;
  created_at: number;
  expires_at: number;
  /** JSON list, or null. */
  amr: string | null;
  acr: string | null;
}

export interface LinkedIdentitiesTable {
  provider_id: string;
  subject: string;
  user_id: string;
  email: string | null;
  created_at: number;
  last_used_at: number | null;
}

export interface InteractionsTable {
  id: string;
  browser_hash: string;
  client_id: string;
  request: string;
  login_user_id: string | null;
  login_auth_time: number | null;
  consented_scope: string | null;
  denied: number;
  created_at: number;
  expires_at: number;
  /** SHA-256 of the current login or consent challenge handed to the company's pages; null when none. */
  challenge_hash: string | null;
  /** JSON of ExternalState, or null for flows that only Gatehouse's own pages served. */
  external: string | null;
}

export interface AuthorizationCodesTable {
  code_hash: string;
  grant_id: string;
  client_id: string;
  user_id: string;
  redirect_uri: string;
  redirect_uri_provided: number;
  scope: string;
  nonce: string | null;
  code_challenge: string | null;
  resource: string | null;
  auth_time: number;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
  /** JSON list, or null. */
  amr: string | null;
  acr: string | null;
  /** RFC 9449 §10: the authorization request's dpop_jkt; null when the code is not bound to a key. */
  dpop_jkt: string | null;
  sid: string | null;
  /** JSON of the validated OIDC §5.5 claims request, or null. */
  claims_request: string | null;
}

export interface DeviceAuthorizationsTable {
  device_code_hash: string;
  user_code_hash: string;
  client_id: string;
  scope: string;
  resource: string | null;
  created_at: number;
  expires_at: number;
  interval_seconds: number;
  last_polled_at: number | null;
  /** pending, approved, denied or redeemed. */
  status: string;
  user_id: string | null;
  grant_id: string | null;
  auth_time: number | null;
  /** JSON list, or null. */
  amr: string | null;
  acr: string | null;
}

export interface GrantsTable {
  id: string;
  client_id: string;
  user_id: string | null;
  scope: string;
  created_at: number;
  revoked_at: number | null;
  /** When the grant last issued tokens after its first exchange (a refresh), kept to the minute; null: never. */
  last_used_at: number | null;
  /** OIDC auth_time of the sign-in behind the grant; null for client_credentials and grants before 0018. */
  auth_time: number | null;
  /** JSON list, or null. */
  amr: string | null;
  acr: string | null;
  /** The login session's `sid` (ID tokens, back-channel logout). */
  sid: string | null;
  /** JSON of the validated OIDC §5.5 claims request, or null. */
  claims_request: string | null;
}

export interface AccessTokensTable {
  id: string;
  grant_id: string;
  client_id: string;
  user_id: string | null;
  scope: string;
  audience: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  /** RFC 9449: the cnf.jkt the token is bound to; null for a bearer token. */
  dpop_jkt: string | null;
}

export interface RefreshTokensTable {
  token_hash: string;
  id: string;
  grant_id: string;
  client_id: string;
  user_id: string;
  scope: string;
  resource: string | null;
  parent_id: string | null;
  created_at: number;
  expires_at: number;
  idle_expires_at: number | null;
  rotated_at: number | null;
  rotation_fingerprint: string | null;
  revoked_at: number | null;
  /** RFC 9449 §5: a public client's refresh token is bound to its DPoP key; null when unbound. */
  dpop_jkt: string | null;
}

export interface ApiKeysTable {
  id: string;
  key_hash: string;
  user_id: string;
  name: string;
  scope: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  /** Space-separated resource identifiers; null: Gatehouse's own endpoints only. */
  resources: string | null;
}

export interface InitialAccessTokensTable {
  token_hash: string;
  remaining_uses: number;
  created_at: number;
  expires_at: number;
}

export interface SecurityEventsTable {
  id: string;
  type: string;
  actor_kind: string | null;
  actor_id: string | null;
  actor_name: string | null;
  ip: string | null;
  client_id: string | null;
  client_name: string | null;
  user_id: string | null;
  user_email: string | null;
  grant_id: string | null;
  detail: string;
  created_at: number;
}

export interface ConsentsTable {
  user_id: string;
  client_id: string;
  scope: string;
  updated_at: number;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: string;
  private_jwk_encrypted: string;
  created_at: number;
  activates_at: number;
  rotated_at: number | null;
  retire_at: number | null;
}

/** One row (id 1): bumped with every change to signing_keys (migration 0012). */
export interface KeySetVersionTable {
  id: number;
  version: number;
}

export interface LoginThrottleTable {
  key: string;
  failures: number;
  last_failure_at: number;
  blocked_until: number;
}

export interface RateLimitsTable {
  key: string;
  hits: number;
  expires_at: number;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface AdminKeysTable {
  id: string;
  key_hash: string;
  name: string;
  scope: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

export interface Database {
  clients: ClientsTable;
  client_cors_origins: ClientCorsOriginsTable;
  users: UsersTable;
  sessions: SessionsTable;
  linked_identities: LinkedIdentitiesTable;
  interactions: InteractionsTable;
  authorization_codes: AuthorizationCodesTable;
  device_authorizations: DeviceAuthorizationsTable;
  grants: GrantsTable;
  access_tokens: AccessTokensTable;
  refresh_tokens: RefreshTokensTable;
  consents: ConsentsTable;
  api_keys: ApiKeysTable;
  security_events: SecurityEventsTable;
  initial_access_tokens: InitialAccessTokensTable;
  signing_keys: SigningKeysTable;
  key_set_version: KeySetVersionTable;
  login_throttle: LoginThrottleTable;
  rate_limits: RateLimitsTable;
  settings: SettingsTable;
  admin_keys: AdminKeysTable;
}
