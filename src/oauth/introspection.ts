// What a token is, for the introspection endpoint (RFC 7662) and Gatehouse's own protected endpoints alike:
// one function, so that both always agree. Anything inactive (unknown, expired, revoked, malformed) is null,
// and nobody learns which.
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import type { Storage } from '../storage/storage.ts';
import { epochSeconds } from '../util/clock.ts';
import { sha256 } from '../util/hash.ts';
import type { KeyRing } from './keys.ts';
import { isWellFormedOpaqueToken, TOKEN_PREFIX, timeOrderedTokenKey } from './opaque-token.ts';

/** RFC 7662 §2.2, plus the token kind Gatehouse knows it by. */
export interface ActiveToken {
  active: true;
  kind: 'access_token' | 'refresh_token' | 'api_key';
  scope: string;
  client_id: string;
  sub: string;
  /** RFC 7662 §2.2: a string, or a list (an API key made for several resources). */
  aud: string | string[];
  iss: string;
  exp?: number;
  iat: number;
  /** `DPoP` for an access token bound to a DPoP key (RFC 9449 §6.2), which `cnf` names. */
  token_type: 'Bearer' | 'DPoP' | 'refresh_token';
  /** RFC 9449 §6.2 (RFC 7800): the thumbprint of the DPoP key the token is bound to. */
  cnf?: { jkt: string };
  /** The record id (jti of a JWT, id of an API key); internal, not sent by the endpoint. */
  recordId: string;
  grantId: string | null;
  userId: string | null;
}

export interface IntrospectionDeps {
  storage: Storage;
  keys: KeyRing;
  issuer: string;
  now: () => number;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function tokenIntrospector(deps: IntrospectionDeps) {
  let jwks = deps.keys.jwks();
  let keySet = createLocalJWKSet(jwks as JSONWebKeySet);
  const currentKeySet = () => {
    if (deps.keys.jwks() !== jwks) {
      jwks = deps.keys.jwks();
      keySet = createLocalJWKSet(jwks as JSONWebKeySet);
    }
    return keySet;
  };

  /** The access token's record if it is active at `at` (a past instant tells "expired" from "never valid"). */
  async function accessTokenRecord(token: string, at: number) {
    if (isWellFormedOpaqueToken(token, TOKEN_PREFIX.accessToken)) {
      return deps.storage.accessTokens.findActive(timeOrderedTokenKey(token), at);
    }
    if (token.length > 8192 || !JWT_SHAPE.test(token)) return undefined;
    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      if (header.typ !== 'at+jwt') return undefined;
      kid = header.kid;
    } catch {
      return undefined;
    }
    // docs/security.md R10: another process (or `keys rotate --now`) may sign with a key this one has not read yet.
    // Outside the try: a storage outage while reading the keys is an outage (503), not an inactive token.
    if (kid === undefined) return undefined;
    if (!deps.keys.jwks().keys.some((key) => key.kid === kid) && !(await deps.keys.knows(kid))) {
      return undefined;
    }
    try {
      const { payload } = await jwtVerify(token, currentKeySet(), {
        issuer: deps.issuer,
        typ: 'at+jwt',
        currentDate: new Date(at),
      });
      return typeof payload.jti === 'string'
        ? deps.storage.accessTokens.findActive(payload.jti, at)
        : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Whether an inactive access token is inactive only because it expired (genuine, not revoked), so that
   * Gatehouse's own endpoints can say "The access token expired" as Redbooth's API does. Never used by the
   * introspection endpoint, which must not say why.
   */
  async function expired(token: string): Promise<boolean> {
    const record = await accessTokenRecord(token, 0);
    return record !== undefined && record.expiresAt <= deps.now();
  }

  /** The active token, or null. `forClient` limits refresh tokens to the client that holds them. */
  async function introspect(token: string, forClient?: string): Promise<ActiveToken | null> {
    const now = deps.now();
    if (isWellFormedOpaqueToken(token, TOKEN_PREFIX.refreshToken)) {
      const found = await deps.storage.refreshTokens.find(timeOrderedTokenKey(token));
      if (
        !found ||
        found.clientId !== forClient ||
        found.revokedAt !== null ||
        found.rotatedAt !== null ||
        found.grantRevoked ||
        !found.userActive ||
        now >= found.expiresAt ||
        (found.idleExpiresAt !== null && now >= found.idleExpiresAt)
      ) {
        return null;
      }
      return {
        active: true,
        kind: 'refresh_token',
        scope: found.scope,
        client_id: found.clientId,
        sub: found.userId,
        aud: found.resource ?? deps.issuer,
        iss: deps.issuer,
        exp: epochSeconds(Math.min(found.expiresAt, found.idleExpiresAt ?? Number.POSITIVE_INFINITY)),
        iat: epochSeconds(found.createdAt),
        token_type: 'refresh_token',
        ...(found.dpopJkt === undefined ? {} : { cnf: { jkt: found.dpopJkt } }),
        recordId: found.id,
        grantId: found.grantId,
        userId: found.userId,
      };
    }
    if (isWellFormedOpaqueToken(token, TOKEN_PREFIX.apiKey)) {
      const key = await deps.storage.apiKeys.findActive(sha256(token), now);
      if (!key) return null;
      const user = await deps.storage.users.findById(key.userId);
      if (!user || user.disabledAt !== null) return null;
      return {
        active: true,
        kind: 'api_key',
        scope: key.scope,
        client_id: `api-key:${key.id}`,
        sub: key.userId,
        // Gatehouse's own endpoints, and the APIs the key was made for (`api-keys create --resource`).
        aud: key.resources.length === 0 ? deps.issuer : [deps.issuer, ...key.resources],
        iss: deps.issuer,
        exp: key.expiresAt === null ? undefined : epochSeconds(key.expiresAt),
        iat: epochSeconds(key.createdAt),
        token_type: 'Bearer',
        recordId: key.id,
        grantId: null,
        userId: key.userId,
      };
    }
    const record = await accessTokenRecord(token, now);
    if (!record) return null;
    return {
      active: true,
      kind: 'access_token',
      scope: record.scope,
      client_id: record.clientId,
      sub: record.userId ?? record.clientId,
      aud: record.audience,
      iss: deps.issuer,
      exp: epochSeconds(record.expiresAt),
      iat: epochSeconds(record.createdAt),
      token_type: record.dpopJkt === undefined ? 'Bearer' : 'DPoP',
      ...(record.dpopJkt === undefined ? {} : { cnf: { jkt: record.dpopJkt } }),
      recordId: record.id,
      grantId: record.grantId,
      userId: record.userId,
    };
  }

  return Object.assign(introspect, { expired });
}

export type Introspect = ReturnType<typeof tokenIntrospector>;
