// Checking Gatehouse's own access tokens for its protected endpoints (RFC 6750, RFC 9068): signature against
// our keys, typ at+jwt, issuer, audience, expiry, and the token's record (not revoked, grant still live).
import { createLocalJWKSet, type JSONWebKeySet, errors as joseErrors, jwtVerify } from 'jose';
import { OAuthError } from '../errors.ts';
import type { AccessTokenRecord, Storage } from '../storage/storage.ts';
import type { KeyRing } from './keys.ts';

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

function bearerError(code: 'invalid_token' | 'invalid_request', description?: string): OAuthError {
  const params = [`realm="gatehouse"`];
  if (description !== undefined) {
    params.push(`error="${code}"`, `error_description="${description}"`);
  }
  return new OAuthError(code, description, {
    status: code === 'invalid_token' ? 401 : 400,
    headers: { 'WWW-Authenticate': `Bearer ${params.join(', ')}` },
  });
}

export function readBearer(authorization: string | undefined): string {
  // RFC 6750 §3.1: a request without credentials gets a bare challenge, no error code.
  if (authorization === undefined) throw bearerError('invalid_token');
  const match = BEARER.exec(authorization);
  if (!match?.[1]) throw bearerError('invalid_request', 'The Authorization header is malformed');
  return match[1];
}

export function bearerVerifier(keys: KeyRing, storage: Storage, issuer: string, now: () => number) {
  let jwks = keys.jwks();
  let keySet = createLocalJWKSet(jwks as JSONWebKeySet);
  return async (token: string): Promise<AccessTokenRecord> => {
    if (keys.jwks() !== jwks) {
      jwks = keys.jwks();
      keySet = createLocalJWKSet(jwks as JSONWebKeySet);
    }
    let jti: unknown;
    try {
      const { payload } = await jwtVerify(token, keySet, {
        issuer,
        audience: issuer,
        typ: 'at+jwt',
        currentDate: new Date(now()),
      });
      jti = payload.jti;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired)
        throw bearerError('invalid_token', 'The access token expired');
      throw bearerError('invalid_token', 'The access token is invalid');
    }
    if (typeof jti !== 'string') throw bearerError('invalid_token', 'The access token is invalid');
    const record = await storage.accessTokens.findActive(jti, now());
    if (!record) throw bearerError('invalid_token', 'The access token was revoked');
    return record;
  };
}

export function insufficientScope(scope: string): OAuthError {
  return new OAuthError('insufficient_scope', `This endpoint needs the ${scope} scope`, {
    headers: {
      'WWW-Authenticate': `Bearer realm="gatehouse", error="insufficient_scope", error_description="This endpoint needs the ${scope} scope", scope="${scope}"`,
    },
  });
}
