// Configuration from environment variables: one typed object, validated once at start-up. A bad value stops
// start-up with a message that names the variable. Every key is documented where it is defined.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { DEFAULT_PASSWORD_COST } from './accounts/password.ts';
import { isHostPattern } from './http/outbound.ts';
import type { TokenEndpointAuthMethod } from './storage/storage.ts';

export type SigningAlg = 'ES256' | 'EdDSA' | 'RS256';
const SIGNING_ALGS: readonly SigningAlg[] = ['ES256', 'EdDSA', 'RS256'];

export type AccessTokenFormat = 'jwt' | 'opaque';
export type RegistrationPolicy = 'open' | 'token' | 'approval' | 'closed';
const REGISTRATION_POLICIES: readonly RegistrationPolicy[] = ['open', 'token', 'approval', 'closed'];

/** A protected resource (RFC 8707 audience) and the access token format its tokens use. */
export interface ResourceConfig {
  uri: string;
  /**
   * `exact` (the default): this one resource. `prefix`: every resource URI under `uri` (which ends with "/"),
   * such as each MCP server of a company at https://mcp.example.com/<name>/: the operator lists the origin once,
   * and each token's aud is the exact resource the client asked for (oauth/resource.ts).
   */
  match: 'exact' | 'prefix';
  format: AccessTokenFormat;
  /** Scopes that belong to this resource; informational, shown in its RFC 9728 metadata. */
  scopes: string[];
}

/** An entry of the scope catalogue: what consent shows, and whether each client needs approval for it. */
export interface ScopeConfig {
  name: string;
  description: string;
  /** Dialpad's per-app scope approval: a client asking for it waits for an administrator. */
  requiresApproval: boolean;
  /** Granted when an authorization request names no scope. */
  isDefault: boolean;
}

const BUILT_IN_SCOPES: ScopeConfig[] = [
  { name: 'openid', description: 'Confirm your identity', requiresApproval: false, isDefault: false },
  { name: 'profile', description: 'See your name', requiresApproval: false, isDefault: false },
  { name: 'email', description: 'See your email address', requiresApproval: false, isDefault: false },
  { name: 'phone', description: 'See your phone number', requiresApproval: false, isDefault: false },
  { name: 'address', description: 'See your postal address', requiresApproval: false, isDefault: false },
  {
    name: 'offline_access',
    description: 'Keep access while you are away',
    requiresApproval: false,
    isDefault: false,
  },
];

/** Where each endpoint lives (GATEHOUSE_PATH_<NAME>), so a deployment can keep a provider's documented URLs. */
export interface EndpointPaths {
  authorize: string;
  token: string;
  userinfo: string;
  jwks: string;
  revoke: string;
  introspect: string;
  register: string;
  deauthorize: string;
  testToken: string;
  playground: string;
  /** OpenID Connect RP-Initiated Logout 1.0: the end_session_endpoint. */
  endSession: string;
  /** RFC 9126: the pushed_authorization_request_endpoint. */
  par: string;
  /** RFC 8628 §3.1: the device_authorization_endpoint. */
  deviceAuthorization: string;
  /** RFC 8628 §3.2: the verification_uri, the page where a person types the code their device shows. */
  device: string;
  /** A `users/me`-style endpoint returning the token's user (Dialpad's GET /api/v2/users/me); off when unset. */
  userEndpoint: string | undefined;
}

export const DEFAULT_PATHS: EndpointPaths = {
  authorize: '/authorize',
  token: '/token',
  userinfo: '/userinfo',
  jwks: '/jwks',
  revoke: '/revoke',
  introspect: '/introspect',
  register: '/oauth/register',
  deauthorize: '/oauth/deauthorize',
  testToken: '/oauth/test-token-with-scopes',
  playground: '/playground',
  endSession: '/oauth/logout',
  par: '/oauth/par',
  deviceAuthorization: '/oauth/device_authorization',
  device: '/device',
  userEndpoint: undefined,
};

/**
 * An upstream identity provider users may sign in with ("Continue with …"): an OpenID Connect provider found
 * by discovery, or a plain OAuth 2.0 provider with a userinfo endpoint and a claim mapping (GitHub-style).
 */
export interface UpstreamConfig {
  /** In URLs and in stored links (`linked_identities.provider_id`): lowercase letters, digits and dashes. */
  id: string;
  /** The button says "Continue with <name>". */
  name: string;
  kind: 'oidc' | 'oauth2';
  /** oidc: the issuer, discovery at <issuer>/.well-known/openid-configuration. oauth2: an identifier only. */
  issuer: string;
  /** oauth2 only (oidc takes them from discovery). */
  authorizationEndpoint: string | undefined;
  tokenEndpoint: string | undefined;
  userinfoEndpoint: string | undefined;
  clientId: string;
  /** From an environment variable or a file, never from the configuration itself; not enumerable (never logged). */
  clientSecret: string;
  tokenEndpointAuthMethod: 'client_secret_basic' | 'client_secret_post';
  scopes: string[];
  /** Where each value is found in the upstream's claims (oauth2's userinfo answer; fixed for oidc). */
  claims: { subject: string; email: string; emailVerified: string | undefined; name: string };
  /**
   * `create`: a first sign-in with a verified email nobody has creates the user (just in time). `link-only`:
   * only users that already exist may sign in this way. Both link an existing user by verified email.
   */
  accounts: 'create' | 'link-only';
  /**
   * The operator vouches that every email this provider sends is verified (a workforce IdP that owns its
   * domains and sends no email_verified, e.g. Microsoft Entra ID with verified domains). Off: only
   * `email_verified: true` counts. A documented risk: an IdP that lets users type any address can then link.
   */
  trustEmails: boolean;
  /** Upstream `amr` values passed through to Gatehouse's ID tokens (the rest are dropped). */
  passAmr: string[];
  /** Upstream `acr` values passed through (none by default: an acr names the upstream's own policy). */
  passAcr: string[];
  /** The upstream lives on loopback or a private network (http/outbound.ts); never on by default. */
  allowPrivateNetwork: boolean;
}

/** RFC 8176's registered `amr` values: passed through by default. */
export const RFC8176_AMR = [
  'face',
  'fpt',
  'geo',
  'hwk',
  'iris',
  'kba',
  'mca',
  'mfa',
  'otp',
  'pin',
  'pop',
  'pwd',
  'rba',
  'retina',
  'sc',
  'sms',
  'swk',
  'tel',
  'user',
  'vbm',
  'wia',
];

/** Compatibility switches for documented legacy behaviour. Each is off by default and each is a risk. */
export interface LegacySwitches {
  /** Deny answers `error=user_denied` (Readmill) instead of RFC 6749's `access_denied`. */
  userDeniedError: boolean;
  /** The token endpoint also reads parameters from the query string of a POST (Readmill's examples): they end up in logs. */
  tokenParamsInQuery: boolean;
  /** Gatehouse's own protected endpoints accept `?access_token=` (RFC 6750 §2.3, discouraged: tokens leak into logs). */
  queryAccessToken: boolean;
  /** … and the `Authorization: OAuth <token>` scheme (Readmill). */
  oauthAuthScheme: boolean;
  /** A confidential client may send its secret by Basic or in the body whatever it registered (Dialpad). */
  anySecretMethod: boolean;
  /** An authorization request without response_type means `code`, the only type there is (Dialpad). */
  impliedResponseType: boolean;
  /**
   * A token request with a `code` and no grant_type is an authorization_code request, and it may leave out the
   * redirect_uri (Dialpad's documented exchange). The code stays bound to its client, PKCE and redirect URI.
   */
  impliedGrantType: boolean;
  /** The success redirect also echoes client_id, redirect_uri, response_type and scope (Dialpad's callback). */
  echoAuthorizationParams: boolean;
}

export interface Config {
  /** GATEHOUSE_ISSUER: the issuer identifier, byte-for-byte as it appears in tokens and discovery. */
  issuer: string;
  /** HOST / PORT: where the HTTP server listens. */
  host: string;
  port: number;
  /** DATABASE_URL: `postgres://…` or a SQLite file path (`sqlite:PATH` or a plain path). */
  databaseUrl: string;
  /** GATEHOUSE_DATA_DIR: where the embedded database and the generated secret live. */
  dataDir: string;
  /** GATEHOUSE_SECRET: encrypts private signing keys at rest; generated into the data folder when unset. */
  secret: string | undefined;
  /** GATEHOUSE_ACCESS_TOKEN_TTL (seconds, default 600). */
  accessTokenTtl: number;
  /** GATEHOUSE_CODE_TTL (seconds, default 60 as Dialpad; at most 600, OAuth 2.1's recommendation). */
  codeTtl: number;
  /** GATEHOUSE_ID_TOKEN_TTL (seconds, default 3600). */
  idTokenTtl: number;
  /** GATEHOUSE_REFRESH_TOKEN_TTL (seconds, default 30 days as Credal): absolute lifetime. */
  refreshTokenTtl: number;
  /** GATEHOUSE_REFRESH_TOKEN_IDLE_TTL (seconds, default 14 days; 0 = off): a refresh token unused this long dies. */
  refreshTokenIdleTtl: number;
  /**
   * GATEHOUSE_REFRESH_GRACE (seconds, default 10; 0 = strict as Credal): how long the immediately previous
   * refresh token, presented again, gets the same rotation result back instead of counting as reuse.
   */
  refreshGrace: number;
  /** GATEHOUSE_RESOURCES: JSON list of protected resources (audiences), each { uri, format, scopes? }. */
  resources: ResourceConfig[];
  /**
   * GATEHOUSE_REGISTRATION: who may register clients over HTTP (RFC 7591): `open` (anyone; the default, what MCP
   * clients expect), `token` (an initial access token from an administrator), `approval` (anyone, but the client
   * waits for an administrator), or `closed`. A self-registered client gives itself authorization_code and
   * refresh_token only; client_credentials needs an operator (`approval`, or `gatehouse clients add`), and under
   * `approval` changes to what was approved wait for review (oauth/client-review.ts).
   */
  registrationPolicy: RegistrationPolicy;
  /** GATEHOUSE_REGISTRATION_SCOPES: the most a dynamically registered client may ask for; the rest is trimmed. */
  registrationScopes: string[];
  /** GATEHOUSE_REGISTRATION_RATE_LIMIT (default 30): registrations per client IP per hour. */
  registrationRateLimit: number;
  /**
   * GATEHOUSE_EVENT_RETENTION_DAYS (default 365; 0 keeps every event): security events older than this are
   * purged with the other expired rows. Failed sign-ins are events, so without a bound anyone could grow the log.
   */
  eventRetentionDays: number;
  /**
   * GATEHOUSE_SCOPES: JSON list of scopes, each { name, description, requires_approval?, default? }, added to
   * (or overriding) the built-in OIDC scopes.
   */
  scopes: ScopeConfig[];
  /** GATEHOUSE_LOGO_URL: a logo shown on every page (https, or a path on this server). */
  logoUrl: string | undefined;
  /**
   * GATEHOUSE_LOGIN_URL (default unset: Gatehouse's own sign-in page): the company's own sign-in page. The
   * browser goes there with `?login_challenge=…` and the company's app answers over the admin API
   * (/api/v1/interactions/login). https, or plain http while the issuer itself is a loopback http address.
   */
  loginUrl: string | undefined;
  /** GATEHOUSE_CONSENT_URL (default unset: Gatehouse's consent page): the same for consent (`?consent_challenge=…`). */
  consentUrl: string | undefined;
  /** GATEHOUSE_SECRET_ROTATION_OVERLAP (seconds, default 1 day): how long a rotated client secret keeps working. */
  secretRotationOverlap: number;
  paths: EndpointPaths;
  legacy: LegacySwitches;
  /** GATEHOUSE_CLIENT_AUTH_METHODS: the token endpoint authentication methods clients may register and use. */
  clientAuthMethods: TokenEndpointAuthMethod[];
  /**
   * GATEHOUSE_PKCE (default `required`): `required` for every client (an operator may still relax one
   * confidential client), or `optional-for-confidential` (Credal: the secret binds the code).
   */
  pkcePolicy: 'required' | 'optional-for-confidential';
  /** GATEHOUSE_REALM (default the product name): the realm in WWW-Authenticate: Bearer answers. */
  realm: string;
  /** GATEHOUSE_SESSION_TTL (seconds, default 8 hours): browser sign-in sessions. */
  sessionTtl: number;
  /** GATEHOUSE_INTERACTION_TTL (seconds, default 30 minutes): a parked authorization request. */
  interactionTtl: number;
  /** GATEHOUSE_ACCESS_TOKEN_ALG (ES256 | EdDSA | RS256, default ES256): signs JWT access tokens. */
  accessTokenAlg: SigningAlg;
  /** GATEHOUSE_ID_TOKEN_ALG (default RS256, OpenID Connect's default for clients that do not register one). */
  idTokenAlg: SigningAlg;
  /** GATEHOUSE_REQUIRE_OFFLINE_ACCESS (default false): also require the offline_access scope for refresh tokens. */
  requireOfflineAccess: boolean;
  /** GATEHOUSE_REQUIRE_PAR: every authorization request must be pushed first (RFC 9126 §5). */
  requirePushedAuthorizationRequests: boolean;
  /**
   * GATEHOUSE_DPOP (default `allowed`): `allowed` binds tokens to a DPoP key (RFC 9449) when the client sends a
   * proof, or when it registered `dpop_bound_access_tokens`; `required` refuses token requests without one, from
   * every client.
   */
  dpop: 'allowed' | 'required';
  /**
   * GATEHOUSE_DPOP_NONCE (default true): DPoP proofs at the token and PAR endpoints must carry a server nonce
   * (RFC 9449 §8), so that a proof cannot be made ahead of time by whoever briefly holds the client's key.
   */
  dpopNonce: boolean;
  /** GATEHOUSE_ALLOW_INSECURE_ISSUER (default false): allow an http issuer that is not localhost. */
  allowInsecureIssuer: boolean;
  /**
   * GATEHOUSE_TRUST_PROXY (default off): the proxies in front of Gatehouse, whose X-Forwarded-For entries say
   * who the client is. Either how many there are (`1` for one load balancer: the client is the rightmost entry)
   * or their addresses and CIDR ranges (`10.0.0.0/8, 192.168.1.5`, also `loopback`, `linklocal`,
   * `uniquelocal`): the client is the rightmost entry not added by one of them. Every per-IP limit keys on it.
   */
  trustProxy: TrustProxy;
  /**
   * GATEHOUSE_SHUTDOWN_DRAIN (seconds, default 5): after SIGTERM, how long requests on open keep-alive
   * connections are still answered (with Connection: close) before idle connections are closed (R15).
   */
  shutdownDrain: number;
  /** GATEHOUSE_SHUTDOWN_TIMEOUT (seconds, default 15): from SIGTERM to exit at the latest, drain included. */
  shutdownTimeout: number;
  /** GATEHOUSE_PRODUCT_NAME: shown on every page. */
  productName: string;
  /** LOG_LEVEL (default info): one JSON line per request at info; health probes at debug. */
  logLevel: string;
  /**
   * GATEHOUSE_METRICS_ADDRESS (default unset: no metrics): `[host:]port` where GET /metrics answers in
   * Prometheus' text format, on a listener of its own, never the public port. A port alone listens on
   * 127.0.0.1; name another host (`0.0.0.0:9464`) only where the network keeps the metrics private.
   */
  metricsAddress: { host: string; port: number } | undefined;
  /**
   * GATEHOUSE_PASSWORD_COST (scrypt N as a power of two, default 17 = 128 MiB per hash, OWASP's minimum; about
   * 0.4 s of CPU per sign-in on a current 2-core VM, see accounts/password.ts). A change applies to new hashes,
   * and each user's hash is redone at the new cost on their next sign-in.
   */
  passwordCost: number;
  /**
   * GATEHOUSE_UPSTREAMS: JSON list of upstream identity providers (see UpstreamConfig); each one's client
   * secret comes from the variable its `clientSecretEnv` names (default GATEHOUSE_UPSTREAM_<ID>_SECRET) or the
   * file `clientSecretFile` names.
   */
  upstreams: UpstreamConfig[];
  /** Client ID Metadata Documents, and every document a client names (oauth/client-documents.ts). */
  clientDocuments: ClientDocumentsConfig;
}

export interface ClientDocumentsConfig {
  /**
   * GATEHOUSE_CLIENT_ID_METADATA_DOCUMENTS (on | off; default on when GATEHOUSE_REGISTRATION is open or
   * approval, off when token or closed): an https URL as client_id names the client's metadata document
   * (draft-ietf-oauth-client-id-metadata-document). Such a client is a stranger and is treated exactly as an
   * anonymous dynamic registration, so the default follows whether strangers may register at all.
   */
  metadataDocuments: boolean;
  /** GATEHOUSE_CLIENT_DOCUMENT_ALLOW_HOSTS: host patterns documents may come from (empty: any public host). */
  allowHosts: string[];
  /** GATEHOUSE_CLIENT_DOCUMENT_DENY_HOSTS: host patterns never fetched from; wins over the allow-list. */
  denyHosts: string[];
  /** GATEHOUSE_CLIENT_DOCUMENT_CACHE_MIN (seconds, default 60): the least a fetched document is kept. */
  cacheMinSeconds: number;
  /** GATEHOUSE_CLIENT_DOCUMENT_CACHE_MAX (seconds, default 86400): the most, whatever its Cache-Control says. */
  cacheMaxSeconds: number;
  /** GATEHOUSE_CLIENT_DOCUMENT_CACHE_ENTRIES (default 1000): documents held in memory per process. */
  cacheEntries: number;
  /** GATEHOUSE_CLIENT_DOCUMENT_MAX_BYTES (default 16384): the largest document accepted. */
  maxBytes: number;
  /** GATEHOUSE_OUTBOUND_HOST_RATE_LIMIT (default 30): fetches of client-named documents per host per minute. */
  hostRateLimit: number;
}

/** Which X-Forwarded-For entries to believe: none, the last `hops` proxies, or proxies at these addresses. */
export type TrustProxy = false | { hops: number } | { addresses: string[] };

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function shutdown(env: Env): { shutdownDrain: number; shutdownTimeout: number } {
  const shutdownDrain = integer(env, 'GATEHOUSE_SHUTDOWN_DRAIN', 5, 0, 600);
  const shutdownTimeout = integer(env, 'GATEHOUSE_SHUTDOWN_TIMEOUT', 15, 1, 3600);
  if (shutdownTimeout <= shutdownDrain) {
    throw new ConfigError('GATEHOUSE_SHUTDOWN_TIMEOUT', 'must be longer than GATEHOUSE_SHUTDOWN_DRAIN');
  }
  return { shutdownDrain, shutdownTimeout };
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

function hostPatterns(env: Env, name: string): string[] {
  const patterns = (env[name] ?? '').split(/[\s,]+/).filter(Boolean);
  for (const pattern of patterns) {
    if (!isHostPattern(pattern)) {
      throw new ConfigError(
        name,
        `"${pattern}" is not a host pattern (app.example.com, or *.example.com for every name under it)`,
      );
    }
  }
  return patterns;
}

function clientDocuments(env: Env, registrationPolicy: RegistrationPolicy): ClientDocumentsConfig {
  const cacheMinSeconds = integer(env, 'GATEHOUSE_CLIENT_DOCUMENT_CACHE_MIN', 60, 0, 86_400);
  const cacheMaxSeconds = integer(env, 'GATEHOUSE_CLIENT_DOCUMENT_CACHE_MAX', 86_400, 1, 7 * 86_400);
  if (cacheMaxSeconds < cacheMinSeconds) {
    throw new ConfigError(
      'GATEHOUSE_CLIENT_DOCUMENT_CACHE_MAX',
      'must not be less than GATEHOUSE_CLIENT_DOCUMENT_CACHE_MIN',
    );
  }
  return {
    // Strangers may register under open and approval: a metadata document is one more way to do the same.
    metadataDocuments: boolean(
      env,
      'GATEHOUSE_CLIENT_ID_METADATA_DOCUMENTS',
      registrationPolicy === 'open' || registrationPolicy === 'approval',
    ),
    allowHosts: hostPatterns(env, 'GATEHOUSE_CLIENT_DOCUMENT_ALLOW_HOSTS'),
    denyHosts: hostPatterns(env, 'GATEHOUSE_CLIENT_DOCUMENT_DENY_HOSTS'),
    cacheMinSeconds,
    cacheMaxSeconds,
    cacheEntries: integer(env, 'GATEHOUSE_CLIENT_DOCUMENT_CACHE_ENTRIES', 1000, 1, 1_000_000),
    maxBytes: integer(env, 'GATEHOUSE_CLIENT_DOCUMENT_MAX_BYTES', 16_384, 1024, 1_048_576),
    hostRateLimit: integer(env, 'GATEHOUSE_OUTBOUND_HOST_RATE_LIMIT', 30, 1, 100_000),
  };
}

const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isAddressOrRange(entry: string): boolean {
  if (NAMED_RANGES.has(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) >= 1 && Number(prefix) <= (family === 4 ? 32 : 128);
}

function trustProxy(env: Env): TrustProxy {
  const name = 'GATEHOUSE_TRUST_PROXY';
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '' || ['0', 'false', 'no', 'off'].includes(raw.toLowerCase()))
    return false;
  // `true` used to trust every entry, so the leftmost one, which the client writes itself, became its address
  // and a client rotating it escaped every per-IP limit. Guessing a hop count for it could be just as wrong
  // (spoofable when Gatehouse is also reachable directly), so the operator says what is in front.
  if (['true', 'yes', 'on'].includes(raw.toLowerCase())) {
    throw new ConfigError(
      name,
      `"${raw}" would believe whatever X-Forwarded-For a client sends; give the number of proxies in front of Gatehouse (e.g. 1) or their addresses (e.g. 10.0.0.0/8)`,
    );
  }
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops > 10) throw new ConfigError(name, `expected at most 10 proxies, got ${hops}`);
    return { hops };
  }
  const addresses = raw.split(/[\s,]+/).filter(Boolean);
  const bad = addresses.find((entry) => !isAddressOrRange(entry));
  if (bad !== undefined) {
    throw new ConfigError(
      name,
      `expected a number of proxies or their IP addresses and CIDR ranges, got "${bad}"`,
    );
  }
  return { addresses };
}

function metricsAddress(env: Env, publicPort: number): Config['metricsAddress'] {
  const name = 'GATEHOUSE_METRICS_ADDRESS';
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(raw);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) {
    throw new ConfigError(name, `expected [host:]port, such as 9464 or 127.0.0.1:9464, got "${raw}"`);
  }
  const host = match[1]?.replace(/^\[(.*)\]$/, '$1') ?? '127.0.0.1';
  if (match[1]?.startsWith('[') && isIP(host) !== 6)
    throw new ConfigError(name, `"${match[1]}" is not an IPv6 address`);
  if (port === publicPort) {
    throw new ConfigError(name, `port ${port} is the public port (PORT): metrics need a port of their own`);
  }
  return { host, port };
}

function alg(env: Env, name: string, fallback: SigningAlg): SigningAlg {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const found = SIGNING_ALGS.find((candidate) => candidate === raw);
  if (!found) throw new ConfigError(name, `expected one of ${SIGNING_ALGS.join(', ')}, got "${raw}"`);
  return found;
}

export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

function issuer(env: Env, port: number, allowInsecure: boolean): string {
  const raw = env.GATEHOUSE_ISSUER || `http://localhost:${port}`;
  // The URL parser forgives what a byte-for-byte issuer must not carry: check the raw string first.
  if (/[\s?#]/.test(raw)) {
    throw new ConfigError('GATEHOUSE_ISSUER', 'must not contain whitespace, "?" or "#"');
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('GATEHOUSE_ISSUER', `not a URL: "${raw}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError('GATEHOUSE_ISSUER', 'must be an https URL');
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname) && !allowInsecure) {
    throw new ConfigError(
      'GATEHOUSE_ISSUER',
      `"${raw}" is plain http on a non-local host; use https, or set GATEHOUSE_ALLOW_INSECURE_ISSUER=true`,
    );
  }
  // RFC 8414 §2: no trailing slash drift; keep the path but drop trailing "/"s.
  return raw.replace(/\/+$/, '');
}

function resources(env: Env, issuer: string): ResourceConfig[] {
  const raw = env.GATEHOUSE_RESOURCES;
  const list: ResourceConfig[] = [];
  if (raw) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new ConfigError('GATEHOUSE_RESOURCES', 'is not valid JSON');
    }
    if (!Array.isArray(parsed)) throw new ConfigError('GATEHOUSE_RESOURCES', 'must be a JSON array');
    for (const item of parsed as Record<string, unknown>[]) {
      const uri = item?.uri;
      const format = item?.format ?? 'jwt';
      if (typeof uri !== 'string' || !URL.canParse(uri) || uri.includes('#')) {
        throw new ConfigError('GATEHOUSE_RESOURCES', `each entry needs an absolute "uri" without a fragment`);
      }
      if (format !== 'jwt' && format !== 'opaque') {
        throw new ConfigError('GATEHOUSE_RESOURCES', `"format" of ${uri} must be "jwt" or "opaque"`);
      }
      const scopes = Array.isArray(item.scopes)
        ? item.scopes.filter((s): s is string => typeof s === 'string')
        : [];
      const match = item.match ?? 'exact';
      if (match !== 'exact' && match !== 'prefix') {
        throw new ConfigError('GATEHOUSE_RESOURCES', `"match" of ${uri} must be "exact" or "prefix"`);
      }
      if (match === 'prefix') {
        const parsedUri = new URL(uri);
        // A prefix is an origin and a path ending with "/", already in normal form, so that matching by string
        // cannot reach a sibling (https://mcp.example.com/a must not cover https://mcp.example.com/ab).
        if (parsedUri.href !== uri || !uri.endsWith('/') || parsedUri.search || parsedUri.username) {
          throw new ConfigError(
            'GATEHOUSE_RESOURCES',
            `a "prefix" uri must be a normalized URL ending with "/" and without a query, got ${uri}`,
          );
        }
      }
      list.push({ uri, match, format, scopes });
    }
  }
  // Gatehouse's own protected endpoints (userinfo, deauthorize) are a resource too: the default audience.
  if (!list.some((resource) => resource.uri === issuer)) {
    list.unshift({
      uri: issuer,
      match: 'exact',
      format: env.GATEHOUSE_ACCESS_TOKEN_FORMAT === 'opaque' ? 'opaque' : 'jwt',
      scopes: [],
    });
  }
  return list;
}

function scopeCatalogue(env: Env): ScopeConfig[] {
  const catalogue = new Map(BUILT_IN_SCOPES.map((scope) => [scope.name, scope]));
  const raw = env.GATEHOUSE_SCOPES;
  if (raw) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new ConfigError('GATEHOUSE_SCOPES', 'is not valid JSON');
    }
    if (!Array.isArray(parsed)) throw new ConfigError('GATEHOUSE_SCOPES', 'must be a JSON array');
    for (const item of parsed as Record<string, unknown>[]) {
      const name = item?.name;
      if (typeof name !== 'string' || !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(name)) {
        throw new ConfigError('GATEHOUSE_SCOPES', 'each entry needs a "name" that is a valid scope token');
      }
      catalogue.set(name, {
        name,
        description: typeof item.description === 'string' ? item.description : name,
        requiresApproval: item.requires_approval === true,
        isDefault: item.default === true,
      });
    }
  }
  return [...catalogue.values()];
}

function logoUrl(env: Env): string | undefined {
  const raw = env.GATEHOUSE_LOGO_URL;
  if (!raw) return undefined;
  if (!(raw.startsWith('https://') && URL.canParse(raw)) && !/^\/[\w./-]*$/.test(raw)) {
    throw new ConfigError('GATEHOUSE_LOGO_URL', 'must be an https URL or a path on this server');
  }
  return raw;
}

/** The company's own sign-in or consent page: https, or plain http only for local development. */
function companyPageUrl(env: Env, name: string, issuer: string): string | undefined {
  const raw = env[name];
  if (!raw) return undefined;
  const url = URL.parse(raw);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.hash || raw.includes('#')) {
    throw new ConfigError(name, `must be an absolute https URL without a fragment, got "${raw}"`);
  }
  if (url.username || url.password) throw new ConfigError(name, 'must not carry credentials');
  const issuerUrl = new URL(issuer);
  // The challenge travels in this URL: plain http only where the issuer itself is a developer's loopback one.
  if (url.protocol === 'http:' && !(issuerUrl.protocol === 'http:' && isLoopbackHost(issuerUrl.hostname))) {
    throw new ConfigError(name, `"${raw}" is plain http; use https (http only with a loopback http issuer)`);
  }
  return raw;
}

const PATH_ENV: Record<keyof EndpointPaths, string> = {
  authorize: 'GATEHOUSE_PATH_AUTHORIZE',
  token: 'GATEHOUSE_PATH_TOKEN',
  userinfo: 'GATEHOUSE_PATH_USERINFO',
  jwks: 'GATEHOUSE_PATH_JWKS',
  revoke: 'GATEHOUSE_PATH_REVOKE',
  introspect: 'GATEHOUSE_PATH_INTROSPECT',
  register: 'GATEHOUSE_PATH_REGISTER',
  deauthorize: 'GATEHOUSE_PATH_DEAUTHORIZE',
  testToken: 'GATEHOUSE_PATH_TEST_TOKEN',
  playground: 'GATEHOUSE_PATH_PLAYGROUND',
  userEndpoint: 'GATEHOUSE_PATH_USER_ENDPOINT',
  endSession: 'GATEHOUSE_PATH_END_SESSION',
  par: 'GATEHOUSE_PATH_PAR',
  deviceAuthorization: 'GATEHOUSE_PATH_DEVICE_AUTHORIZATION',
  device: 'GATEHOUSE_PATH_DEVICE',
};

function paths(env: Env): EndpointPaths {
  const result: EndpointPaths = { ...DEFAULT_PATHS };
  for (const [key, variable] of Object.entries(PATH_ENV) as [keyof EndpointPaths, string][]) {
    const raw = env[variable];
    if (raw === undefined || raw === '') continue;
    if (!/^\/[A-Za-z0-9\-._~/]*$/.test(raw) || raw.includes('//') || raw.startsWith('/.well-known/')) {
      throw new ConfigError(variable, `must be a plain absolute path such as /oauth/token, got "${raw}"`);
    }
    result[key] = raw;
  }
  const taken = Object.values(result).filter((value): value is string => value !== undefined);
  if (new Set(taken).size !== taken.length)
    throw new ConfigError('GATEHOUSE_PATH_*', 'two endpoints share a path');
  return result;
}

export const PATH_VARIABLES = PATH_ENV;

function pkcePolicy(env: Env): Config['pkcePolicy'] {
  const raw = env.GATEHOUSE_PKCE || 'required';
  if (raw !== 'required' && raw !== 'optional-for-confidential') {
    throw new ConfigError('GATEHOUSE_PKCE', `expected required or optional-for-confidential, got "${raw}"`);
  }
  return raw;
}

function dpopPolicy(env: Env): Config['dpop'] {
  const raw = env.GATEHOUSE_DPOP || 'allowed';
  if (raw !== 'allowed' && raw !== 'required') {
    throw new ConfigError('GATEHOUSE_DPOP', `expected allowed or required, got "${raw}"`);
  }
  return raw;
}

function clientAuthMethods(env: Env): Config['clientAuthMethods'] {
  const raw = env.GATEHOUSE_CLIENT_AUTH_METHODS;
  if (!raw) return ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'];
  const methods = raw.split(/[\s,]+/).filter(Boolean);
  const known = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;
  const result: Config['clientAuthMethods'] = [];
  for (const method of methods) {
    const found = known.find((candidate) => candidate === method);
    if (!found) throw new ConfigError('GATEHOUSE_CLIENT_AUTH_METHODS', `unknown method "${method}"`);
    result.push(found);
  }
  if (result.length === 0) throw new ConfigError('GATEHOUSE_CLIENT_AUTH_METHODS', 'name at least one method');
  return [...new Set(result)];
}

const UPSTREAM_KEYS = new Set([
  'id',
  'name',
  'kind',
  'issuer',
  'authorizationEndpoint',
  'tokenEndpoint',
  'userinfoEndpoint',
  'clientId',
  'clientSecretEnv',
  'clientSecretFile',
  'tokenEndpointAuthMethod',
  'scopes',
  'claims',
  'accounts',
  'trustEmails',
  'passAmr',
  'passAcr',
  'allowPrivateNetwork',
]);

/** The variable an upstream's secret is read from unless `clientSecretEnv` names another. */
export function upstreamSecretVariable(id: string): string {
  return `GATEHOUSE_UPSTREAM_${id.toUpperCase().replaceAll('-', '_')}_SECRET`;
}

function upstreams(env: Env, issuer: string): UpstreamConfig[] {
  const variable = 'GATEHOUSE_UPSTREAMS';
  const raw = env[variable];
  if (!raw) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(variable, 'is not valid JSON');
  }
  if (!Array.isArray(parsed)) throw new ConfigError(variable, 'must be a JSON array');
  const seen = new Set<string>();
  return parsed.map((item: Record<string, unknown>, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new ConfigError(variable, `entry ${index} must be an object`);
    }
    const id = item.id;
    if (typeof id !== 'string' || !/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/.test(id)) {
      throw new ConfigError(variable, `entry ${index} needs an "id" of lowercase letters, digits and dashes`);
    }
    const bad = (problem: string) => new ConfigError(variable, `upstream "${id}": ${problem}`);
    if (seen.has(id)) throw bad('the id is used twice');
    seen.add(id);
    const unknown = Object.keys(item).find((key) => !UPSTREAM_KEYS.has(key));
    if (unknown === 'clientSecret') {
      throw bad(
        'put the client secret in an environment variable (clientSecretEnv) or a file (clientSecretFile)',
      );
    }
    if (unknown !== undefined) throw bad(`unknown key "${unknown}"`);
    const text = (key: string, required: boolean): string | undefined => {
      const value = item[key];
      if (value === undefined && !required) return undefined;
      if (typeof value !== 'string' || value.trim() === '' || value.length > 2000) {
        throw bad(`"${key}" must be a non-empty string`);
      }
      return value;
    };
    const list = (key: string, fallback: string[]): string[] => {
      const value = item[key];
      if (value === undefined) return fallback;
      if (!Array.isArray(value) || !value.every((entry) => typeof entry === 'string' && entry !== '')) {
        throw bad(`"${key}" must be a list of strings`);
      }
      return value as string[];
    };
    const flag = (key: string): boolean => {
      const value = item[key] ?? false;
      if (typeof value !== 'boolean') throw bad(`"${key}" must be true or false`);
      return value;
    };
    const kind = item.kind ?? 'oidc';
    if (kind !== 'oidc' && kind !== 'oauth2') throw bad('"kind" must be "oidc" or "oauth2"');
    const allowPrivateNetwork = flag('allowPrivateNetwork');
    const url = (key: string, required: boolean): string | undefined => {
      const value = text(key, required);
      if (value === undefined) return undefined;
      if (!URL.canParse(value) || value.includes('#')) throw bad(`"${key}" must be an absolute URL`);
      const parsedUrl = new URL(value);
      // Plain http only where the operator said the upstream is on their own network (http/outbound.ts
      // refuses it anyway; saying so here stops start-up with the reason).
      if (parsedUrl.protocol !== 'https:' && !(parsedUrl.protocol === 'http:' && allowPrivateNetwork)) {
        throw bad(
          `"${key}" must be an https URL (plain http needs "allowPrivateNetwork": true and a loopback host)`,
        );
      }
      return value;
    };
    const issuerUrl = url('issuer', kind === 'oidc');
    const authorizationEndpoint = url('authorizationEndpoint', kind === 'oauth2');
    const tokenEndpoint = url('tokenEndpoint', kind === 'oauth2');
    const userinfoEndpoint = url('userinfoEndpoint', kind === 'oauth2');
    if (kind === 'oidc' && (authorizationEndpoint || tokenEndpoint || userinfoEndpoint)) {
      throw bad('an oidc upstream takes its endpoints from discovery: give only "issuer"');
    }
    if (issuerUrl !== undefined && issuerUrl.replace(/\/+$/, '') === issuer) {
      throw bad('the upstream cannot be this Gatehouse itself');
    }
    const secretEnv = text('clientSecretEnv', false);
    const secretFile = text('clientSecretFile', false);
    if (secretEnv !== undefined && secretFile !== undefined) {
      throw bad('give "clientSecretEnv" or "clientSecretFile", not both');
    }
    let clientSecret: string | undefined;
    if (secretFile !== undefined) {
      try {
        clientSecret = readFileSync(secretFile, 'utf8').trim();
      } catch (error) {
        throw bad(
          `cannot read clientSecretFile ${secretFile}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
        );
      }
    } else {
      const name = secretEnv ?? upstreamSecretVariable(id);
      clientSecret = env[name];
      if (!clientSecret) throw bad(`the client secret is missing: set ${name}`);
    }
    if (!clientSecret) throw bad('the client secret is empty');
    const method = item.tokenEndpointAuthMethod ?? 'client_secret_basic';
    if (method !== 'client_secret_basic' && method !== 'client_secret_post') {
      throw bad('"tokenEndpointAuthMethod" must be client_secret_basic or client_secret_post');
    }
    const accounts = item.accounts ?? 'link-only';
    if (accounts !== 'create' && accounts !== 'link-only')
      throw bad('"accounts" must be "create" or "link-only"');
    const mapping = (item.claims ?? {}) as Record<string, unknown>;
    if (typeof mapping !== 'object' || Array.isArray(mapping)) throw bad('"claims" must be an object');
    if (kind === 'oidc' && item.claims !== undefined) {
      throw bad('"claims" is for oauth2 upstreams; an oidc upstream uses the standard claims');
    }
    const claim = (key: string, fallback: string | undefined) => {
      const value = mapping[key] ?? fallback;
      if (value !== undefined && (typeof value !== 'string' || !/^[\w.:-]{1,100}$/.test(value))) {
        throw bad(`"claims.${key}" must be a claim name`);
      }
      return value as string | undefined;
    };
    const unknownClaim = Object.keys(mapping).find(
      (key) => !['subject', 'email', 'emailVerified', 'name'].includes(key),
    );
    if (unknownClaim !== undefined) throw bad(`unknown key "claims.${unknownClaim}"`);
    const upstream: UpstreamConfig = {
      id,
      name: text('name', true) as string,
      kind,
      // An oauth2 upstream has no issuer of its own: the origin of its authorization endpoint names it.
      issuer: issuerUrl ?? new URL(authorizationEndpoint as string).origin,
      authorizationEndpoint,
      tokenEndpoint,
      userinfoEndpoint,
      clientId: text('clientId', true) as string,
      clientSecret: '',
      tokenEndpointAuthMethod: method,
      scopes: list('scopes', kind === 'oidc' ? ['openid', 'email', 'profile'] : []),
      claims: {
        subject: claim('subject', 'sub') as string,
        email: claim('email', 'email') as string,
        emailVerified: claim('emailVerified', 'email_verified'),
        name: claim('name', 'name') as string,
      },
      accounts,
      trustEmails: flag('trustEmails'),
      passAmr: list('passAmr', RFC8176_AMR),
      passAcr: list('passAcr', []),
      allowPrivateNetwork,
    };
    if (kind === 'oidc' && !upstream.scopes.includes('openid')) throw bad('"scopes" must include openid');
    // Not enumerable: JSON.stringify, util.inspect and pino never show it.
    Object.defineProperty(upstream, 'clientSecret', { value: clientSecret, enumerable: false });
    return upstream;
  });
}

export function loadConfig(env: Env = process.env): Config {
  const port = integer(env, 'PORT', 3000, 0, 65535);
  const allowInsecureIssuer = boolean(env, 'GATEHOUSE_ALLOW_INSECURE_ISSUER', false);
  const dataDir = path.resolve(env.GATEHOUSE_DATA_DIR || 'data');
  const databaseUrl = env.DATABASE_URL || `sqlite:${path.join(dataDir, 'gatehouse.db')}`;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(databaseUrl)?.[1]?.toLowerCase();
  if (scheme !== undefined && !['postgres', 'postgresql', 'sqlite'].includes(scheme)) {
    throw new ConfigError(
      'DATABASE_URL',
      `unsupported scheme "${scheme}:"; expected postgres://… or a SQLite path`,
    );
  }
  if (scheme === undefined && databaseUrl !== ':memory:' && !/^[./\w~-]/.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'expected postgres://… or a SQLite file path');
  }
  const secret = env.GATEHOUSE_SECRET || undefined;
  if (secret !== undefined && secret.length < 32) {
    throw new ConfigError('GATEHOUSE_SECRET', 'must be at least 32 characters of random data');
  }
  const issuerUrl = issuer(env, port, allowInsecureIssuer);
  const format = env.GATEHOUSE_ACCESS_TOKEN_FORMAT;
  if (format !== undefined && format !== '' && format !== 'jwt' && format !== 'opaque') {
    throw new ConfigError('GATEHOUSE_ACCESS_TOKEN_FORMAT', `expected jwt or opaque, got "${format}"`);
  }
  const productName = env.GATEHOUSE_PRODUCT_NAME || 'Gatehouse';
  const policy = env.GATEHOUSE_REGISTRATION || 'open';
  const registrationPolicy = REGISTRATION_POLICIES.find((candidate) => candidate === policy);
  if (!registrationPolicy) {
    throw new ConfigError(
      'GATEHOUSE_REGISTRATION',
      `expected one of ${REGISTRATION_POLICIES.join(', ')}, got "${policy}"`,
    );
  }
  const resourceList = resources(env, issuerUrl);
  const catalogue = scopeCatalogue(env);
  const registrationScopes = env.GATEHOUSE_REGISTRATION_SCOPES
    ? env.GATEHOUSE_REGISTRATION_SCOPES.split(' ').filter(Boolean)
    : [...new Set([...catalogue.map((scope) => scope.name), ...resourceList.flatMap((r) => r.scopes)])];
  return {
    issuer: issuerUrl,
    host: env.HOST || 'localhost',
    port,
    databaseUrl,
    dataDir,
    secret,
    accessTokenTtl: integer(env, 'GATEHOUSE_ACCESS_TOKEN_TTL', 600, 1, 31_536_000),
    codeTtl: integer(env, 'GATEHOUSE_CODE_TTL', 60, 1, 600),
    idTokenTtl: integer(env, 'GATEHOUSE_ID_TOKEN_TTL', 3600, 1, 86_400),
    refreshTokenTtl: integer(env, 'GATEHOUSE_REFRESH_TOKEN_TTL', 30 * 86_400, 60, 366 * 86_400),
    refreshTokenIdleTtl: integer(env, 'GATEHOUSE_REFRESH_TOKEN_IDLE_TTL', 14 * 86_400, 0, 366 * 86_400),
    refreshGrace: integer(env, 'GATEHOUSE_REFRESH_GRACE', 10, 0, 300),
    resources: resourceList,
    registrationPolicy,
    registrationScopes,
    registrationRateLimit: integer(env, 'GATEHOUSE_REGISTRATION_RATE_LIMIT', 30, 1, 100_000),
    eventRetentionDays: integer(env, 'GATEHOUSE_EVENT_RETENTION_DAYS', 365, 0, 36_500),
    scopes: catalogue,
    logoUrl: logoUrl(env),
    loginUrl: companyPageUrl(env, 'GATEHOUSE_LOGIN_URL', issuerUrl),
    consentUrl: companyPageUrl(env, 'GATEHOUSE_CONSENT_URL', issuerUrl),
    secretRotationOverlap: integer(env, 'GATEHOUSE_SECRET_ROTATION_OVERLAP', 86_400, 0, 90 * 86_400),
    paths: paths(env),
    legacy: {
      userDeniedError: boolean(env, 'GATEHOUSE_LEGACY_USER_DENIED', false),
      tokenParamsInQuery: boolean(env, 'GATEHOUSE_LEGACY_TOKEN_PARAMS_IN_QUERY', false),
      queryAccessToken: boolean(env, 'GATEHOUSE_LEGACY_QUERY_ACCESS_TOKEN', false),
      oauthAuthScheme: boolean(env, 'GATEHOUSE_LEGACY_OAUTH_SCHEME', false),
      anySecretMethod: boolean(env, 'GATEHOUSE_LEGACY_ANY_SECRET_METHOD', false),
      impliedResponseType: boolean(env, 'GATEHOUSE_LEGACY_IMPLIED_RESPONSE_TYPE', false),
      impliedGrantType: boolean(env, 'GATEHOUSE_LEGACY_IMPLIED_GRANT_TYPE', false),
      echoAuthorizationParams: boolean(env, 'GATEHOUSE_LEGACY_ECHO_AUTHORIZATION_PARAMS', false),
    },
    clientAuthMethods: clientAuthMethods(env),
    pkcePolicy: pkcePolicy(env),
    realm: env.GATEHOUSE_REALM || productName,
    sessionTtl: integer(env, 'GATEHOUSE_SESSION_TTL', 8 * 3600, 60, 90 * 86_400),
    interactionTtl: integer(env, 'GATEHOUSE_INTERACTION_TTL', 1800, 60, 86_400),
    accessTokenAlg: alg(env, 'GATEHOUSE_ACCESS_TOKEN_ALG', 'ES256'),
    idTokenAlg: alg(env, 'GATEHOUSE_ID_TOKEN_ALG', 'RS256'),
    requireOfflineAccess: boolean(env, 'GATEHOUSE_REQUIRE_OFFLINE_ACCESS', false),
    requirePushedAuthorizationRequests: boolean(env, 'GATEHOUSE_REQUIRE_PAR', false),
    dpop: dpopPolicy(env),
    dpopNonce: boolean(env, 'GATEHOUSE_DPOP_NONCE', true),
    allowInsecureIssuer,
    trustProxy: trustProxy(env),
    ...shutdown(env),
    productName,
    logLevel: env.LOG_LEVEL || 'info',
    metricsAddress: metricsAddress(env, port),
    passwordCost: integer(env, 'GATEHOUSE_PASSWORD_COST', DEFAULT_PASSWORD_COST, 10, 20),
    upstreams: upstreams(env, issuerUrl),
    clientDocuments: clientDocuments(env, registrationPolicy),
  };
}
