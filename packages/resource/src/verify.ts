// The framework-neutral core of the resource-server library: find the token in a request, check it, and
// return who it speaks for — or a BearerError that says exactly what RFC 6750 wants said.
//
// JWT access tokens (RFC 9068) are checked offline against the issuer's JWKS (fetched once, refetched when an
// unknown kid appears, at most every 30 s). Opaque tokens (gha_…, ghk_…) are first checked for their CRC32
// tail, so a mistyped token never costs a network call, then introspected (RFC 7662) with a short cache.
//
// DPoP (RFC 9449): a token bound to a key (`cnf.jkt` in the JWT or the introspection answer) is accepted only with
// the DPoP scheme and a proof signed by that key for this very request, remembered so it is accepted once; a
// bound token sent as Bearer is refused (the downgrade a thief would try). Unbound tokens work as before.
//
// Only web-standard APIs are used (fetch, TextEncoder, btoa, WebCrypto through jose), so the same code runs on
// Node.js, Deno, Bun and Cloudflare Workers.
import { createRemoteJWKSet, type JWTVerifyGetKey, errors as joseErrors, jwtVerify } from 'jose';
import {
  DPOP_FUTURE_TOLERANCE_SECONDS,
  type DpopReplayCache,
  memoryReplayCache,
  verifyDpopProof,
} from './dpop.ts';
import { BearerError, type ChallengeOptions } from './errors.ts';
import { ACCESS_TOKEN_PREFIX, API_KEY_PREFIX, isWellFormedOpaqueToken } from './opaque.ts';

export interface VerifiedToken {
  subject: string;
  clientId: string;
  scopes: string[];
  audience: string[];
  /** Epoch seconds; undefined for a token that does not expire (API keys without an end). */
  expiresAt: number | undefined;
  format: 'jwt' | 'opaque';
  claims: Record<string, unknown>;
  /**
   * RFC 9449: the thumbprint of the key the token is bound to (`cnf.jkt`); the request proved possession of it
   * with a DPoP proof. Undefined for a bearer token.
   */
  dpopJkt?: string | undefined;
}

/** RFC 7662 response (the fields the library reads). */
export interface IntrospectionResponse {
  active: boolean;
  sub?: string | undefined;
  client_id?: string | undefined;
  scope?: string | undefined;
  aud?: string | string[] | undefined;
  exp?: number | undefined;
  iss?: string | undefined;
  token_type?: string | undefined;
  [key: string]: unknown;
}

export interface VerifierOptions extends ChallengeOptions {
  /** The authorization server's issuer identifier. */
  issuer: string;
  /** This resource's identifier(s): a token must carry one of them in `aud`. */
  audience: string | string[];
  /** Where to get the issuer's keys: its jwks_uri, or a key-lookup function (jose's JWTVerifyGetKey). */
  jwks?: string | JWTVerifyGetKey | undefined;
  /**
   * How to introspect opaque tokens: the endpoint and this resource server's client credentials, or a function
   * (in-process use). When `introspectEverything` is true, JWTs are introspected too, which sees revocations.
   */
  introspection?: (RemoteIntrospection | ((token: string) => Promise<IntrospectionResponse>)) | undefined;
  introspectEverything?: boolean | undefined;
  /** Legacy APIs only (off by default): accept `Authorization: OAuth …` (Readmill). */
  allowOAuthScheme?: boolean | undefined;
  /** Legacy APIs only (off by default, RFC 6750 §2.3 discourages it): accept `?access_token=`. */
  allowQueryToken?: boolean | undefined;
  /** Seconds of clock skew tolerated on exp/iat. */
  clockTolerance?: number | undefined;
  /**
   * Seconds a verified JWT is remembered (default 30, as long as the introspection cache; 0 turns it off). A
   * client sends the same token on every request, and a cached one costs a map lookup instead of a signature
   * check. Never past the token's own exp; at most 10,000 tokens. Revocations are only seen through
   * introspection (`introspectEverything`), which this cache does not affect.
   */
  jwtCacheSeconds?: number | undefined;
  now?: (() => number) | undefined;
  /** DPoP (RFC 9449): how proofs are checked. DPoP-bound tokens are always held to their key; this tunes it. */
  dpop?: DpopOptions | undefined;
}

export interface DpopOptions {
  /**
   * Refuse every token that is not DPoP-bound (RFC 9728 `dpop_bound_access_tokens_required`). Default false:
   * bearer tokens are accepted, bound ones only with a proof.
   */
  required?: boolean | undefined;
  /**
   * Where accepted proofs are remembered, so each is accepted once. Default: memoryReplayCache(), this process's
   * memory. An API running as several processes or instances must pass a shared one (see the README).
   */
  replayCache?: DpopReplayCache | undefined;
  /** Seconds a proof is accepted after its iat (default 300). */
  maxAgeSeconds?: number | undefined;
  /**
   * The URL the client called, compared with the proof's `htu`. Default: the origin of the first `audience`
   * followed by the request's path, which is right when the resource identifier is the API's public URL. Never
   * build it from the Host header: a client or proxy chooses that.
   */
  requestUrl?: ((request: RequestLike) => string) | undefined;
}

/** RFC 7662 introspection over HTTP, authenticated as a resource-server client (client_secret_basic). */
export interface RemoteIntrospection {
  endpoint: string;
  clientId: string;
  clientSecret: string;
  /**
   * Seconds an active answer is remembered (default 30; 0 asks every time). This is how long a revoked token can
   * still be accepted here: the revocation delay. Never past the token's own exp; inactive answers are never
   * remembered; at most 10,000 tokens (the oldest go first).
   */
  cacheSeconds?: number | undefined;
  /** The fetch to call the endpoint with (default: the global fetch). */
  fetch?: typeof fetch | undefined;
}

export interface RequestLike {
  headers: Record<string, string | string[] | undefined>;
  /** Path and query, as in node's IncomingMessage.url. */
  url?: string | undefined;
  /** The HTTP method (DPoP proofs name it); GET when absent. */
  method?: string | undefined;
}

const HEADER = /^(Bearer|OAuth|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface Verifier {
  /** Checks the request's token; throws BearerError. */
  verifyRequest(request: RequestLike): Promise<VerifiedToken>;
  /**
   * Checks a token string; throws BearerError. A DPoP-bound token is refused here (its proof is in the request):
   * use verifyRequest.
   */
  verifyToken(token: string): Promise<VerifiedToken>;
  options: VerifierOptions;
}

/** Throws 403 insufficient_scope unless the token carries every scope named. */
export function requireScopes(token: VerifiedToken, ...scopes: string[]): void {
  const missing = scopes.filter((scope) => !token.scopes.includes(scope));
  if (missing.length) {
    throw new BearerError(
      'insufficient_scope',
      `The token lacks the scope ${missing.join(' ')}`,
      scopes.join(' '),
    );
  }
}

/** The bearer token of a request (RFC 6750 §2); a DPoP-scheme request counts as one without a bearer token. */
export function extractToken(
  request: RequestLike,
  options: Pick<VerifierOptions, 'allowOAuthScheme' | 'allowQueryToken'>,
): string {
  const { scheme, token } = extractCredentials(request, options);
  if (scheme === 'DPoP') throw new BearerError(undefined);
  return token;
}

function extractCredentials(
  request: RequestLike,
  options: Pick<VerifierOptions, 'allowOAuthScheme' | 'allowQueryToken'>,
): { scheme: 'Bearer' | 'DPoP'; token: string } {
  let header = request.headers.authorization;
  if (Array.isArray(header)) {
    if (header.length > 1) throw new BearerError('invalid_request', 'Send one Authorization header');
    header = header[0];
  }
  const query = options.allowQueryToken
    ? new URLSearchParams(request.url?.split('?')[1] ?? '').getAll('access_token')
    : [];
  if (header !== undefined) {
    if (query.length) throw new BearerError('invalid_request', 'Send the token one way only');
    const match = HEADER.exec(header);
    if (!match?.[2]) {
      if (/^(Bearer|OAuth|DPoP)\b/i.test(header))
        throw new BearerError('invalid_request', 'The Authorization header is malformed');
      throw new BearerError(undefined);
    }
    const scheme = match[1]?.toLowerCase();
    if (scheme === 'oauth' && !options.allowOAuthScheme) throw new BearerError(undefined);
    return { scheme: scheme === 'dpop' ? 'DPoP' : 'Bearer', token: match[2] };
  }
  if (query.length === 1 && query[0]) return { scheme: 'Bearer', token: query[0] };
  if (query.length > 1) throw new BearerError('invalid_request', 'access_token is repeated');
  throw new BearerError(undefined);
}

/** The `cnf.jkt` of a token's claims or introspection answer (RFC 9449 §6), if it is a usable thumbprint. */
function boundKey(claims: Record<string, unknown>): string | undefined {
  const cnf = claims.cnf;
  if (typeof cnf !== 'object' || cnf === null) return undefined;
  const jkt = (cnf as Record<string, unknown>).jkt;
  // A cnf with a jkt that is not a string still binds the token: to a key nobody can prove, so it is refused.
  if (jkt === undefined) return undefined;
  return typeof jkt === 'string' && jkt.length > 0 ? jkt : 'invalid';
}

function fromIntrospection(result: IntrospectionResponse, format: 'jwt' | 'opaque'): VerifiedToken {
  const dpopJkt = boundKey(result);
  return {
    ...(dpopJkt === undefined ? {} : { dpopJkt }),
    subject: String(result.sub ?? ''),
    clientId: String(result.client_id ?? ''),
    scopes: typeof result.scope === 'string' ? result.scope.split(' ').filter(Boolean) : [],
    audience: result.aud === undefined ? [] : Array.isArray(result.aud) ? result.aud : [result.aud],
    expiresAt: result.exp,
    format,
    claims: result,
  };
}

/** RFC 6749 §2.3.1: client id and secret are form-encoded before they are joined and base64-encoded. */
function basicCredentials(clientId: string, clientSecret: string): string {
  const form = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return btoa(`${form(clientId)}:${form(clientSecret)}`);
}

const CACHE_LIMIT = 10_000;

function remoteIntrospection(config: RemoteIntrospection, now: () => number) {
  const cache = new Map<string, { result: IntrospectionResponse; until: number }>();
  const credentials = basicCredentials(config.clientId, config.clientSecret);
  const ttl = (config.cacheSeconds ?? 30) * 1000;
  const fetchFunction = config.fetch ?? fetch;
  return async (token: string): Promise<IntrospectionResponse> => {
    const cached = cache.get(token);
    if (cached) {
      if (cached.until > now()) return cached.result;
      cache.delete(token);
    }
    const response = await fetchFunction(config.endpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${credentials}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ token }).toString(),
      redirect: 'error',
      signal: AbortSignal.timeout(5000),
    });
    if (!response.ok) throw new Error(`introspection answered ${response.status}`);
    const result = (await response.json()) as IntrospectionResponse;
    if (result.active === true && ttl > 0) {
      // Never cache past the token's own expiry; never cache "inactive" (a new token may appear at once).
      const until = Math.min(
        now() + ttl,
        typeof result.exp === 'number' ? result.exp * 1000 : Number.POSITIVE_INFINITY,
      );
      // Map keeps insertion order: when full, forget the oldest.
      if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
      cache.set(token, { result, until });
    }
    return result;
  };
}

export function createVerifier(options: VerifierOptions): Verifier {
  const now = options.now ?? Date.now;
  const audiences = Array.isArray(options.audience) ? options.audience : [options.audience];
  const keys: JWTVerifyGetKey | undefined =
    typeof options.jwks === 'string'
      ? createRemoteJWKSet(new URL(options.jwks), { cooldownDuration: 30_000, timeoutDuration: 5000 })
      : options.jwks;
  const introspect =
    typeof options.introspection === 'function'
      ? options.introspection
      : options.introspection
        ? remoteIntrospection(options.introspection, now)
        : undefined;

  function checkIntrospected(result: IntrospectionResponse, format: 'jwt' | 'opaque'): VerifiedToken {
    if (result.active !== true) {
      // An in-process introspection may say the token merely expired; over HTTP, RFC 7662 never says why.
      if (result.expired === true) throw new BearerError('invalid_token', 'The access token expired');
      throw new BearerError('invalid_token', 'The access token is not active');
    }
    const tokenType = result.token_type?.toLowerCase();
    if (tokenType !== undefined && tokenType !== 'bearer' && tokenType !== 'dpop') {
      throw new BearerError('invalid_token', 'This is not an access token');
    }
    if (result.iss !== undefined && result.iss !== options.issuer) {
      throw new BearerError('invalid_token', 'The access token comes from another issuer');
    }
    const verified = fromIntrospection(result, format);
    if (!verified.audience.some((aud) => audiences.includes(aud))) {
      throw new BearerError('invalid_token', 'The access token is not meant for this resource');
    }
    if (verified.expiresAt !== undefined && verified.expiresAt * 1000 <= now()) {
      throw new BearerError('invalid_token', 'The access token expired');
    }
    return verified;
  }

  async function callIntrospection(token: string, format: 'jwt' | 'opaque'): Promise<VerifiedToken> {
    if (!introspect) throw new BearerError('invalid_token', 'The access token is invalid');
    let result: IntrospectionResponse;
    try {
      result = await introspect(token);
    } catch (cause) {
      // The authorization server could not be asked: fail closed, and say it is not the client's fault (503,
      // not 401: a client drops a token refused with invalid_token).
      throw BearerError.unavailable(cause);
    }
    return checkIntrospected(result, format);
  }

  const jwtCacheMs = (options.jwtCacheSeconds ?? 30) * 1000;
  const toleranceSeconds = options.clockTolerance ?? 5;
  const verifiedJwts = new Map<string, { verified: VerifiedToken; until: number }>();
  // Each caller gets its own copy: a shared object could be changed by one request under another.
  const copy = (verified: VerifiedToken): VerifiedToken => ({
    ...verified,
    scopes: [...verified.scopes],
    audience: [...verified.audience],
    claims: { ...verified.claims },
  });
  function remember(token: string, verified: VerifiedToken) {
    if (jwtCacheMs <= 0) return;
    const until = Math.min(
      now() + jwtCacheMs,
      verified.expiresAt === undefined
        ? Number.POSITIVE_INFINITY
        : (verified.expiresAt + toleranceSeconds) * 1000,
    );
    // Map keeps insertion order: when full, forget the oldest.
    if (verifiedJwts.size >= CACHE_LIMIT) verifiedJwts.delete(verifiedJwts.keys().next().value as string);
    verifiedJwts.set(token, { verified, until });
  }

  /** Checks the token itself (signature or introspection, issuer, audience, expiry); not how it was sent. */
  async function checkToken(token: string): Promise<VerifiedToken> {
    if (token.startsWith(ACCESS_TOKEN_PREFIX) || token.startsWith(API_KEY_PREFIX)) {
      const prefix = token.startsWith(API_KEY_PREFIX) ? API_KEY_PREFIX : ACCESS_TOKEN_PREFIX;
      if (!isWellFormedOpaqueToken(token, prefix))
        throw new BearerError('invalid_token', 'The access token is malformed');
      return callIntrospection(token, 'opaque');
    }
    if (!JWT_SHAPE.test(token)) throw new BearerError('invalid_token', 'The access token is malformed');
    if (options.introspectEverything) return callIntrospection(token, 'jwt');
    if (!keys) throw new BearerError('invalid_token', 'The access token is invalid');
    const cached = verifiedJwts.get(token);
    if (cached) {
      if (cached.until > now()) return copy(cached.verified);
      verifiedJwts.delete(token);
    }
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        audience: audiences,
        typ: 'at+jwt',
        clockTolerance: toleranceSeconds,
        currentDate: new Date(now()),
        requiredClaims: ['exp', 'iat', 'sub', 'client_id'],
      });
      const dpopJkt = boundKey(payload);
      const verified: VerifiedToken = {
        ...(dpopJkt === undefined ? {} : { dpopJkt }),
        subject: String(payload.sub),
        clientId: String(payload.client_id),
        scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
        audience: Array.isArray(payload.aud) ? payload.aud : payload.aud ? [payload.aud] : [],
        expiresAt: payload.exp,
        format: 'jwt',
        claims: payload as Record<string, unknown>,
      };
      remember(token, verified);
      return copy(verified);
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired)
        throw new BearerError('invalid_token', 'The access token expired');
      // The same words as an introspected token's checks below, whichever way the token was checked.
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'aud')
        throw new BearerError('invalid_token', 'The access token is not meant for this resource');
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'iss')
        throw new BearerError('invalid_token', 'The access token comes from another issuer');
      // The keys could not be fetched (timeout, network, or a JWKS answer other than 200, which jose reports
      // as its generic error): the token is not known to be bad, so 503.
      if (
        error instanceof joseErrors.JWKSTimeout ||
        !(error instanceof joseErrors.JOSEError) ||
        error.code === 'ERR_JOSE_GENERIC'
      ) {
        throw BearerError.unavailable(error);
      }
      throw new BearerError('invalid_token', 'The access token is invalid');
    }
  }

  async function verifyToken(token: string): Promise<VerifiedToken> {
    const verified = await checkToken(token);
    // A token string alone proves nothing for a bound token: the proof is in the request.
    if (verified.dpopJkt !== undefined) {
      throw new BearerError(
        'invalid_token',
        'The access token is DPoP-bound: check the request, not the token',
      );
    }
    return verified;
  }

  const dpop = options.dpop ?? {};
  const replayCache = dpop.replayCache ?? memoryReplayCache({ now });
  const audienceOrigin = URL.canParse(audiences[0] ?? '') ? new URL(audiences[0] ?? '').origin : undefined;
  const requestUrl =
    dpop.requestUrl ??
    ((request: RequestLike) =>
      audienceOrigin === undefined ? '' : `${audienceOrigin}${(request.url ?? '/').split('?')[0]}`);
  const invalidProof = (description: string) =>
    new BearerError('invalid_dpop_proof', description).withScheme('DPoP');

  /** RFC 9449 §7.1: the token is bound to a key, and this request's proof is signed by it, for it, once. */
  async function checkProof(request: RequestLike, token: string, jkt: string): Promise<void> {
    const proof = await verifyDpopProof({
      header: request.headers.dpop,
      method: (request.method ?? 'GET').toUpperCase(),
      url: requestUrl(request),
      accessToken: token,
      now: now(),
      algorithms: options.dpopAlgorithms,
      maxAgeSeconds: dpop.maxAgeSeconds,
    });
    if (proof.jkt !== jkt)
      throw invalidProof('The DPoP proof is signed by another key than the token is bound to');
    let fresh: boolean;
    try {
      fresh = await replayCache.remember(
        `${proof.jkt}:${proof.jti}`,
        proof.acceptableUntil + DPOP_FUTURE_TOLERANCE_SECONDS * 1000,
      );
    } catch (cause) {
      throw BearerError.unavailable(cause);
    }
    if (!fresh) throw invalidProof('The DPoP proof was used before');
  }

  async function verifyRequest(request: RequestLike): Promise<VerifiedToken> {
    let credentials: { scheme: 'Bearer' | 'DPoP'; token: string };
    try {
      credentials = extractCredentials(request, options);
    } catch (error) {
      if (dpop.required && error instanceof BearerError && error.code === undefined)
        throw error.withScheme('DPoP');
      throw error;
    }
    const { scheme, token } = credentials;
    if (scheme === 'DPoP') {
      let verified: VerifiedToken;
      try {
        verified = await checkToken(token);
      } catch (error) {
        if (error instanceof BearerError) error.withScheme('DPoP');
        throw error;
      }
      if (verified.dpopJkt === undefined) {
        throw new BearerError('invalid_token', 'The access token is not DPoP-bound').withScheme('DPoP');
      }
      await checkProof(request, token, verified.dpopJkt);
      return verified;
    }
    const verified = await checkToken(token);
    if (verified.dpopJkt !== undefined) {
      throw new BearerError(
        'invalid_token',
        'The access token is DPoP-bound: send it with the DPoP scheme and a proof',
      ).withScheme('DPoP');
    }
    if (dpop.required) {
      throw new BearerError('invalid_token', 'This resource accepts DPoP-bound tokens only').withScheme(
        'DPoP',
      );
    }
    return verified;
  }

  return {
    options,
    verifyToken,
    // async, so that a request without a usable token rejects rather than throws (the Node adapter relies on it).
    verifyRequest: async (request) => verifyRequest(request),
  };
}
