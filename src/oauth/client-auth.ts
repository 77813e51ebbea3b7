// Client authentication at the token endpoint (RFC 6749 §2.3): client_secret_basic, client_secret_post,
// private_key_jwt (RFC 7523 §2.2, OIDC Core §9), or none (public clients name themselves with client_id).
// Exactly one method per request, and it must be the one the client registered (RFC 7591 §2). Secrets are
// compared as SHA-256 hashes in constant time.
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { OAuthError } from '../errors.ts';
import type { Client, Storage, TokenEndpointAuthMethod } from '../storage/storage.ts';
import { hasControlCharacter } from '../util/control-characters.ts';
import { constantTimeEqual, sha256 } from '../util/hash.ts';
import { isUsable } from './client-metadata.ts';

export interface ClientCredentials {
  method: TokenEndpointAuthMethod;
  clientId: string;
  secret: string | undefined;
  /** private_key_jwt: the signed assertion. */
  assertion?: string;
}

/** RFC 7523 §2.2: the one client_assertion_type Gatehouse takes. */
export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Asymmetric algs only: a shared-secret MAC would need the secret stored in the clear. */
export const ASSERTION_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
/** The longest an assertion may live from now: its jti is remembered that long (replay, RFC 7523 §3 item 7). */
const MAX_ASSERTION_LIFETIME_S = 10 * 60;

const BASIC = /^Basic ([A-Za-z0-9+/]+={0,2})$/i;
const BASIC_CHALLENGE = { 'WWW-Authenticate': 'Basic realm="gatehouse", charset="UTF-8"' };

function invalidClient(basicUsed: boolean, detail: string): OAuthError {
  return new OAuthError('invalid_client', 'Client authentication failed', {
    detail,
    headers: basicUsed ? BASIC_CHALLENGE : undefined,
  });
}

function formDecode(value: string): string {
  // RFC 6749 §2.3.1: the id and secret are form-urlencoded before being put in the Basic header. Gatehouse's
  // own ids and secrets never need it, so most values skip the decoding (and its two string copies).
  if (!value.includes('%') && !value.includes('+')) return value;
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

/** Reads which credentials the request carries, without looking anything up. */
export function readClientCredentials(
  authorization: string | undefined,
  params: {
    client_id?: string;
    client_secret?: string;
    client_assertion?: string;
    client_assertion_type?: string;
  },
): ClientCredentials {
  const methods = [
    authorization !== undefined,
    params.client_secret !== undefined,
    params.client_assertion !== undefined,
  ];
  if (methods.filter(Boolean).length > 1) {
    throw new OAuthError('invalid_request', 'Use exactly one client authentication method');
  }
  if (params.client_assertion !== undefined) {
    if (params.client_assertion_type !== JWT_BEARER_ASSERTION) {
      throw new OAuthError('invalid_request', `client_assertion_type must be ${JWT_BEARER_ASSERTION}`);
    }
    // The client is named by client_id, or by the assertion's own iss (read unverified only to find its keys).
    let issuer: unknown;
    try {
      issuer = decodeJwt(params.client_assertion).iss;
    } catch {
      throw invalidClient(false, 'client_assertion is not a JWT');
    }
    const clientId = params.client_id ?? (typeof issuer === 'string' ? issuer : '');
    if (!clientId || hasControlCharacter(clientId)) throw invalidClient(false, 'no client named');
    return { method: 'private_key_jwt', clientId, secret: undefined, assertion: params.client_assertion };
  }
  if (authorization !== undefined) {
    const match = BASIC.exec(authorization);
    if (!match?.[1]) throw invalidClient(true, 'malformed Authorization header');
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw invalidClient(true, 'Basic credentials without a colon');
    let clientId: string;
    let secret: string;
    try {
      clientId = formDecode(decoded.slice(0, colon));
      secret = formDecode(decoded.slice(colon + 1));
    } catch {
      throw invalidClient(true, 'Basic credentials are not form-urlencoded');
    }
    // Decoded from base64 and the form encoding, so the header's own character checks no longer hold.
    if (hasControlCharacter(clientId) || hasControlCharacter(secret)) {
      throw invalidClient(true, 'control character in Basic credentials');
    }
    if (params.client_id !== undefined && params.client_id !== clientId) {
      throw new OAuthError('invalid_request', 'client_id does not match the Authorization header');
    }
    return { method: 'client_secret_basic', clientId, secret };
  }
  if (params.client_id === undefined || params.client_id === '') {
    throw invalidClient(false, 'no client credentials');
  }
  if (params.client_secret !== undefined) {
    return { method: 'client_secret_post', clientId: params.client_id, secret: params.client_secret };
  }
  return { method: 'none', clientId: params.client_id, secret: undefined };
}

export interface ClientAuthOptions {
  /** Legacy (Dialpad): a confidential client may use Basic or the body, whichever it registered. */
  anySecretMethod?: boolean;
  /** The methods this deployment allows at all (GATEHOUSE_CLIENT_AUTH_METHODS). */
  allowedMethods?: readonly TokenEndpointAuthMethod[];
  /**
   * What a private_key_jwt assertion's aud may name: the issuer, or the URL of the endpoint it is sent to
   * (RFC 7523 §3 item 3; OIDC Core §9 says the token endpoint).
   */
  assertionAudiences?: readonly string[];
  /**
   * Finds the client the credentials name (default: storage). The deployment's also fetches Client ID Metadata
   * Documents (oauth/client-id-metadata.ts); an OAuthError it throws (a refused document) answers as it is.
   */
  findClient?: (clientId: string) => Promise<Client | undefined>;
  /**
   * A private_key_jwt client's keys for an assertion with this kid (default: its registered `jwks`). The
   * deployment's also fetches a `jwks_uri`, once more when the kid is unknown.
   */
  clientKeys?: (client: Client, kid: string | undefined) => Promise<{ keys: Record<string, unknown>[] }>;
}

/** The deployment's client authentication options, from its configuration. */
export function clientAuthOptions(config: {
  legacy: { anySecretMethod: boolean };
  clientAuthMethods: readonly TokenEndpointAuthMethod[];
  issuer: string;
  paths: { token: string; introspect: string; revoke: string; par: string };
}): ClientAuthOptions {
  const { issuer, paths } = config;
  return {
    anySecretMethod: config.legacy.anySecretMethod,
    allowedMethods: config.clientAuthMethods,
    assertionAudiences: [
      issuer,
      ...[paths.token, paths.introspect, paths.revoke, paths.par].map((p) => `${issuer}${p}`),
    ],
  };
}

/**
 * private_key_jwt (RFC 7523 §3): the assertion is signed by one of the client's registered keys with an
 * asymmetric alg, iss and sub are the client, aud names this server, exp is present and at most
 * MAX_ASSERTION_LIFETIME_S away, and its jti has not been seen before. The jti is remembered in the database
 * (a rate-limit counter that must stay at 1 for the assertion's lifetime: one atomic upsert, shared by every
 * instance, purged by housekeeping), so a replayed assertion fails on any instance.
 */
async function checkAssertion(
  storage: Storage,
  client: Client,
  assertion: string,
  now: number,
  options: ClientAuthOptions,
): Promise<void> {
  const audiences = options.assertionAudiences ?? [];
  let kid: string | undefined;
  try {
    const header = decodeProtectedHeader(assertion);
    kid = typeof header.kid === 'string' ? header.kid : undefined;
  } catch {
    throw invalidClient(false, 'client_assertion is not a JWT');
  }
  let keys: { keys: Record<string, unknown>[] } | undefined;
  try {
    keys = options.clientKeys ? await options.clientKeys(client, kid) : client.metadata.jwks;
  } catch (error) {
    // A jwks_uri that could not be fetched or is no key set: the client cannot be authenticated (never a 5xx).
    if (error instanceof OAuthError && error.code === 'invalid_client') {
      throw invalidClient(false, `client keys unavailable: ${error.description}`);
    }
    throw error;
  }
  if (!keys || keys.keys.length === 0) throw invalidClient(false, 'client has no registered keys');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(assertion, createLocalJWKSet(keys as never), {
      issuer: client.id,
      subject: client.id,
      audience: [...audiences],
      algorithms: ASSERTION_ALGS,
      currentDate: new Date(now),
      requiredClaims: ['exp', 'jti'],
      clockTolerance: 30,
    }));
  } catch (error) {
    throw invalidClient(false, `client_assertion refused: ${(error as Error).message}`);
  }
  const expiresAt = Number(payload.exp) * 1000;
  if (expiresAt - now > MAX_ASSERTION_LIFETIME_S * 1000) {
    throw invalidClient(false, 'client_assertion lives too long');
  }
  const jti = String(payload.jti);
  if (jti.length === 0 || jti.length > 256) throw invalidClient(false, 'client_assertion jti malformed');
  const seen = await storage.rateLimits.hit(
    `client-assertion:${client.id}:${sha256(jti)}`,
    now,
    Math.max(1, expiresAt - now) + 30_000,
  );
  if (seen.count > 1) throw invalidClient(false, 'client_assertion replayed (jti seen before)');
}

export async function authenticateClient(
  storage: Storage,
  credentials: ClientCredentials,
  now: number = Date.now(),
  options: ClientAuthOptions = {},
): Promise<Client> {
  const basicUsed = credentials.method === 'client_secret_basic';
  let client: Client | undefined;
  try {
    client = options.findClient
      ? await options.findClient(credentials.clientId)
      : await storage.clients.find(credentials.clientId);
  } catch (error) {
    // A metadata document refused or out of reach: the client is not authenticated (RFC 6749 §5.2).
    if (error instanceof OAuthError && error.code === 'invalid_client') {
      throw new OAuthError('invalid_client', error.description, {
        headers: basicUsed ? BASIC_CHALLENGE : undefined,
      });
    }
    throw error;
  }
  if (!isUsable(client)) throw invalidClient(basicUsed, 'unknown, disabled or pending client');
  if (options.allowedMethods && !options.allowedMethods.includes(credentials.method)) {
    throw invalidClient(basicUsed, `${credentials.method} is not allowed here`);
  }
  const secretMethods: readonly string[] = ['client_secret_basic', 'client_secret_post'];
  const interchangeable =
    options.anySecretMethod === true &&
    secretMethods.includes(client.tokenEndpointAuthMethod) &&
    secretMethods.includes(credentials.method);
  if (client.tokenEndpointAuthMethod !== credentials.method && !interchangeable) {
    throw invalidClient(
      basicUsed,
      `client registered ${client.tokenEndpointAuthMethod}, request used ${credentials.method}`,
    );
  }
  if (credentials.method === 'private_key_jwt') {
    await checkAssertion(storage, client, credentials.assertion ?? '', now, options);
  } else if (credentials.method !== 'none') {
    if (client.secretHash === null || credentials.secret === undefined || credentials.secret === '') {
      throw invalidClient(basicUsed, 'missing secret');
    }
    const presented = sha256(credentials.secret);
    // After a rotation the previous secret keeps working for the configured overlap, then dies.
    const previousValid =
      client.previousSecretHash !== null &&
      client.previousSecretExpiresAt !== null &&
      client.previousSecretExpiresAt > now &&
      constantTimeEqual(presented, client.previousSecretHash);
    if (!constantTimeEqual(presented, client.secretHash) && !previousValid) {
      throw invalidClient(basicUsed, 'wrong secret');
    }
  }
  return client;
}
