// Gatehouse as a relying party of an upstream identity provider, with oauth4webapi doing the protocol checks:
// the authorization request (state, nonce, PKCE S256), and the callback (state against the browser's sealed
// copy, RFC 9207 iss where the upstream supports it, the code exchange, the ID token's iss, aud, azp, exp,
// iat, nonce and signature against the upstream's JWKS; or, for plain OAuth 2.0, the userinfo answer through
// the provider's claim mapping). Every request goes through http/outbound.ts. The upstream's tokens live only
// in this function's variables: nothing of them is stored or logged (docs/security.md U-02, U-07).
import * as oauth from 'oauth4webapi';
import type { UpstreamIdentity } from '../accounts/linked-identities.ts';
import type { UpstreamConfig } from '../config.ts';
import { type OutboundInit, outboundFetch } from '../http/outbound.ts';

/**
 * Why an upstream sign-in did not finish. `unavailable`: the upstream could not be reached or answered
 * nonsense (discovery, network, timeouts); `cancelled`: the user (or the upstream) declined (access_denied);
 * `failed`: anything else the checks refused. `detail` is for the log only (never tokens or secrets).
 */
export class UpstreamError extends Error {
  readonly kind: 'unavailable' | 'cancelled' | 'failed';
  readonly detail: string;
  constructor(kind: UpstreamError['kind'], detail: string) {
    super(`upstream sign-in ${kind}: ${detail}`);
    this.name = 'UpstreamError';
    this.kind = kind;
    this.detail = detail;
  }
}

/** What the browser carries (sealed) between the start of an upstream sign-in and its callback. */
export interface PendingUpstreamSignIn {
  state: string;
  nonce: string | undefined;
  codeVerifier: string;
}

export interface UpstreamSignIn {
  identity: UpstreamIdentity;
  /** The upstream's amr, filtered to the provider's passAmr; undefined when nothing passes. */
  amr: string[] | undefined;
  /** The upstream's acr if the provider's passAcr lists it. */
  acr: string | undefined;
}

/** How long discovered metadata is used before it is fetched again. */
const METADATA_TTL_MS = 60 * 60 * 1000;

export interface Upstream {
  readonly config: UpstreamConfig;
  /** Starts a sign-in: the pending values to seal for the browser, and where to send it. */
  begin(
    redirectUri: string,
    options?: { forceLogin?: boolean },
  ): Promise<{
    pending: PendingUpstreamSignIn;
    location: URL;
  }>;
  /** Finishes a sign-in from the callback's query, checked against what the browser carried. */
  finish(
    redirectUri: string,
    callback: URLSearchParams,
    pending: PendingUpstreamSignIn,
  ): Promise<UpstreamSignIn>;
}

/** Reads `name` from a claims object; numbers become strings (GitHub's numeric user id). */
function claimText(claims: Record<string, unknown>, name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const value = claims[name];
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

function filterAmr(config: UpstreamConfig, amr: unknown): string[] | undefined {
  if (!Array.isArray(amr)) return undefined;
  const passed = amr.filter(
    (value): value is string => typeof value === 'string' && config.passAmr.includes(value),
  );
  return passed.length > 0 ? [...new Set(passed)] : undefined;
}

function filterAcr(config: UpstreamConfig, acr: unknown): string | undefined {
  return typeof acr === 'string' && config.passAcr.includes(acr) ? acr : undefined;
}

/** oauth4webapi's errors sorted into UpstreamError kinds; anything else is "unavailable" (network, outbound guard). */
function classify(error: unknown): UpstreamError {
  if (error instanceof UpstreamError) return error;
  if (error instanceof oauth.AuthorizationResponseError) {
    return new UpstreamError(
      error.error === 'access_denied' ? 'cancelled' : 'failed',
      `the upstream answered error=${error.error}`,
    );
  }
  if (error instanceof oauth.ResponseBodyError) {
    return new UpstreamError('failed', `the upstream's token endpoint answered error=${error.error}`);
  }
  if (
    error instanceof oauth.OperationProcessingError ||
    error instanceof oauth.WWWAuthenticateChallengeError
  ) {
    return new UpstreamError('failed', `${error.code ?? 'check failed'}: ${error.message}`);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new UpstreamError('unavailable', message);
}

export function createUpstream(config: UpstreamConfig): Upstream {
  const guardedFetch = outboundFetch({ allowPrivateNetwork: config.allowPrivateNetwork });
  const http = {
    [oauth.customFetch]: (url: string, options: oauth.CustomFetchOptions<string, unknown>) =>
      guardedFetch(url, {
        method: options.method,
        headers: options.headers,
        body: options.body as OutboundInit['body'],
        signal: options.signal,
      }),
    // oauth4webapi insists on https; the outbound guard decides instead (plain http only to loopback, and only
    // for an upstream the operator marked as on a private network).
    [oauth.allowInsecureRequests]: config.allowPrivateNetwork,
  };
  const jwksCache: oauth.JWKSCacheInput = {};
  const client: oauth.Client = { client_id: config.clientId };
  const clientAuth =
    config.tokenEndpointAuthMethod === 'client_secret_post'
      ? oauth.ClientSecretPost(config.clientSecret)
      : oauth.ClientSecretBasic(config.clientSecret);

  let cached: { server: oauth.AuthorizationServer; fetchedAt: number } | undefined;
  let inFlight: Promise<oauth.AuthorizationServer> | undefined;

  async function discover(): Promise<oauth.AuthorizationServer> {
    const issuer = new URL(config.issuer);
    const response = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...http });
    return oauth.processDiscoveryResponse(issuer, response);
  }

  /**
   * The upstream's metadata: fetched on first use, not at start-up (an upstream that is down must not stop
   * Gatehouse), kept an hour, and shared by concurrent requests. When a refresh fails, the last good metadata
   * keeps serving; with none, the sign-in fails as `unavailable`.
   */
  async function server(): Promise<oauth.AuthorizationServer> {
    if (config.kind === 'oauth2') {
      return {
        issuer: config.issuer,
        authorization_endpoint: config.authorizationEndpoint,
        token_endpoint: config.tokenEndpoint,
        userinfo_endpoint: config.userinfoEndpoint,
      };
    }
    if (cached && Date.now() - cached.fetchedAt < METADATA_TTL_MS) return cached.server;
    inFlight ??= discover()
      .then((fresh) => {
        cached = { server: fresh, fetchedAt: Date.now() };
        return fresh;
      })
      .finally(() => {
        inFlight = undefined;
      });
    try {
      return await inFlight;
    } catch (error) {
      if (cached) return cached.server;
      throw new UpstreamError('unavailable', `discovery failed: ${classify(error).detail}`);
    }
  }

  return {
    config,

    async begin(redirectUri, options = {}) {
      try {
        const as = await server();
        if (!as.authorization_endpoint) throw new UpstreamError('unavailable', 'no authorization_endpoint');
        const pending: PendingUpstreamSignIn = {
          state: oauth.generateRandomState(),
          nonce: config.kind === 'oidc' ? oauth.generateRandomNonce() : undefined,
          codeVerifier: oauth.generateRandomCodeVerifier(),
        };
        const location = new URL(as.authorization_endpoint);
        const params = location.searchParams;
        params.set('client_id', config.clientId);
        params.set('redirect_uri', redirectUri);
        params.set('response_type', 'code');
        if (config.scopes.length > 0) params.set('scope', config.scopes.join(' '));
        params.set('state', pending.state);
        if (pending.nonce) params.set('nonce', pending.nonce);
        params.set('code_challenge', await oauth.calculatePKCECodeChallenge(pending.codeVerifier));
        params.set('code_challenge_method', 'S256');
        // amr and acr are voluntary claims that some providers send only when asked (OIDC Core §5.5): ask, where
        // the provider takes the claims parameter and the configuration passes any of them through.
        if (
          config.kind === 'oidc' &&
          as.claims_parameter_supported === true &&
          (config.passAmr.length > 0 || config.passAcr.length > 0)
        ) {
          params.set('claims', JSON.stringify({ id_token: { amr: null, acr: null } }));
        }
        // The client asked Gatehouse to re-authenticate the user (prompt=login, max_age=0): so must the upstream.
        if (options.forceLogin && config.kind === 'oidc') params.set('prompt', 'login');
        return { pending, location };
      } catch (error) {
        throw classify(error);
      }
    },

    async finish(redirectUri, callback, pending) {
      try {
        const as = await server();
        // state (against the browser's copy), iss (RFC 9207, when the upstream advertises it), error answers.
        const params = oauth.validateAuthResponse(as, client, callback, pending.state);
        const response = await oauth.authorizationCodeGrantRequest(
          as,
          client,
          clientAuth,
          params,
          redirectUri,
          pending.codeVerifier,
          http,
        );
        if (config.kind === 'oidc') return await finishOidc(as, response, pending);
        return await finishOauth2(as, response);
      } catch (error) {
        throw classify(error);
      }
    },
  };

  async function finishOidc(
    as: oauth.AuthorizationServer,
    response: Response,
    pending: PendingUpstreamSignIn,
  ): Promise<UpstreamSignIn> {
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: pending.nonce ?? oauth.expectNoNonce,
      requireIdToken: true,
    });
    // The ID token came straight from the token endpoint, which OIDC Core §3.1.3.7 lets a client trust by TLS
    // alone; checked against the upstream's JWKS all the same (the endpoint may be plain http on a private
    // network, and a signature is what makes the ID token evidence).
    await oauth.validateApplicationLevelSignature(as, response, { ...http, [oauth.jwksCache]: jwksCache });
    const claims = oauth.getValidatedIdTokenClaims(result) as Record<string, unknown> & { sub: string };
    let profile: Record<string, unknown> = claims;
    // Providers may keep email and name out of the ID token (node-oidc-provider does by default): then the
    // userinfo answer, whose sub must be the ID token's.
    if ((claims.email === undefined || claims.email_verified === undefined) && as.userinfo_endpoint) {
      const userinfo = await oauth.processUserInfoResponse(
        as,
        client,
        claims.sub,
        await oauth.userInfoRequest(as, client, result.access_token, http),
      );
      profile = { ...userinfo, ...claims };
      for (const key of ['email', 'email_verified', 'name']) {
        if (claims[key] === undefined && userinfo[key] !== undefined) profile[key] = userinfo[key];
      }
    }
    return {
      identity: {
        providerId: config.id,
        subject: claims.sub,
        email: claimText(profile, 'email'),
        emailVerified: profile.email_verified === true,
        name: claimText(profile, 'name'),
      },
      amr: filterAmr(config, claims.amr),
      acr: filterAcr(config, claims.acr),
    };
  }

  async function finishOauth2(as: oauth.AuthorizationServer, response: Response): Promise<UpstreamSignIn> {
    const result = await oauth.processAuthorizationCodeResponse(as, client, response);
    if (!config.userinfoEndpoint) throw new UpstreamError('failed', 'no userinfo endpoint');
    const answer = await oauth.protectedResourceRequest(
      result.access_token,
      'GET',
      new URL(config.userinfoEndpoint),
      new Headers({ accept: 'application/json' }),
      null,
      http,
    );
    if (answer.status !== 200) throw new UpstreamError('failed', `userinfo answered HTTP ${answer.status}`);
    let claims: unknown;
    try {
      claims = await answer.json();
    } catch {
      throw new UpstreamError('failed', 'userinfo did not answer JSON');
    }
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
      throw new UpstreamError('failed', 'userinfo did not answer a JSON object');
    }
    const profile = claims as Record<string, unknown>;
    const subject = claimText(profile, config.claims.subject);
    if (!subject || subject.length > 255) {
      throw new UpstreamError('failed', `userinfo has no usable "${config.claims.subject}"`);
    }
    const verifiedClaim = config.claims.emailVerified;
    return {
      identity: {
        providerId: config.id,
        subject,
        email: claimText(profile, config.claims.email),
        emailVerified: verifiedClaim !== undefined && profile[verifiedClaim] === true,
        name: claimText(profile, config.claims.name),
      },
      amr: undefined,
      acr: undefined,
    };
  }
}
