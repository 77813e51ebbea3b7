// Client authentication at the token endpoint (RFC 6749 §2.3): client_secret_basic, client_secret_post, or
// none (public clients name themselves with client_id). Exactly one method per request, and it must be the
// one the client registered (RFC 7591 §2). Secrets are compared as SHA-256 hashes in constant time.
import { OAuthError } from '../errors.ts';
import type { Client, Storage, TokenEndpointAuthMethod } from '../storage/storage.ts';
import { hasControlCharacter } from '../util/control-characters.ts';
import { constantTimeEqual, sha256 } from '../util/hash.ts';
import { isUsable } from './client-metadata.ts';

export interface ClientCredentials {
  method: TokenEndpointAuthMethod;
  clientId: string;
  secret: string | undefined;
}

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
  params: { client_id?: string; client_secret?: string; client_assertion?: string },
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
    throw invalidClient(false, 'client_assertion authentication is not enabled');
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
}

/** The deployment's client authentication options, from its configuration. */
export function clientAuthOptions(config: {
  legacy: { anySecretMethod: boolean };
  clientAuthMethods: readonly TokenEndpointAuthMethod[];
}): ClientAuthOptions {
  return { anySecretMethod: config.legacy.anySecretMethod, allowedMethods: config.clientAuthMethods };
}

export async function authenticateClient(
  storage: Storage,
  credentials: ClientCredentials,
  now: number = Date.now(),
  options: ClientAuthOptions = {},
): Promise<Client> {
  const basicUsed = credentials.method === 'client_secret_basic';
  const client = await storage.clients.find(credentials.clientId);
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
  if (credentials.method !== 'none') {
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
