// Minting a token response: access token (JWT or opaque, per resource), refresh token, ID token. Shared by
// every grant so that each issues tokens the same way; the grant decides how the records are stored.
import type { SigningAlg } from '../../../config.ts';
import type { Deps } from '../../../deps.ts';
import { userClaims } from '../../../oauth/claims.ts';
import { signIdToken } from '../../../oauth/id-token.ts';
import { mintTimeOrderedToken, TOKEN_PREFIX, timeOrderedTokenKey } from '../../../oauth/opaque-token.ts';
import { resourceConfig } from '../../../oauth/resource.ts';
import { parseScope } from '../../../oauth/scope.ts';
import { mintAccessToken } from '../../../oauth/tokens.ts';
import type { AccessTokenRecord, Client, RefreshTokenRecord, User } from '../../../storage/storage.ts';
import { timeOrderedId } from '../../../util/random.ts';
import type { TokenResponse } from './types.ts';

/** Readmill's non-expiring tokens: a hundred years, the value its documentation shows. */
const NON_EXPIRING_SECONDS = 3_155_673_599;

export interface TokenSetInput {
  client: Client;
  /** null for client_credentials. */
  userId: string | null;
  grantId: string;
  /** The access token's scope (a refresh may narrow it). */
  scope: string;
  /** The grant's full scope, carried by the refresh token. */
  grantScope: string;
  resource: string | null;
  /** OIDC auth_time, ms; null when unknown (the ID token then has none). */
  authTime?: number | null;
  /** The login session, for the ID token's `sid`. */
  sid?: string | undefined;
  /**
   * How the user authenticated, for the ID token (OIDC Core §2): what an upstream identity provider said, or what
   * the company's login app reported.
   */
  amr?: string[] | undefined;
  acr?: string | undefined;
  nonce?: string | null;
  /** How to produce the refresh token: a new random one, a given successor, or none. */
  refresh:
    | { kind: 'new' }
    | { kind: 'successor'; token: string; parent: RefreshTokenRecord }
    | { kind: 'none' };
  /** The user whose claims an ID token carries, when one is issued (the scope must also hold openid). */
  idTokenFor?: User;
  /** RFC 9449: the DPoP key the access token is bound to (the request's proof); unset for a bearer token. */
  dpopJkt?: string | undefined;
  /** RFC 9449 §5: the DPoP key a new refresh token is bound to (public clients); unset when unbound. */
  refreshDpopJkt?: string | undefined;
}

export interface TokenSet {
  response: TokenResponse;
  access: AccessTokenRecord;
  refresh: RefreshTokenRecord | undefined;
}

export function refreshAllowed(deps: Deps, client: Client, scopes: readonly string[]): boolean {
  if (!client.grantTypes.includes('refresh_token')) return false;
  if (nonExpiring(client, scopes)) return false;
  // MCP clients register for the refresh grant and never ask for offline_access; OIDC's stricter reading
  // (offline_access required) is a setting.
  return !deps.config.requireOfflineAccess || scopes.includes('offline_access');
}

function nonExpiring(client: Client, scopes: readonly string[]): boolean {
  return client.nonExpiringTokens && scopes.includes('non-expiring');
}

export async function mintTokenSet(deps: Deps, input: TokenSetInput): Promise<TokenSet> {
  const { config, clock, keys } = deps;
  const now = clock.now();
  const scopes = parseScope(input.scope);
  const resource = resourceConfig(config.resources, input.resource, config.issuer);
  const lifetime = nonExpiring(input.client, scopes) ? NON_EXPIRING_SECONDS : config.accessTokenTtl;
  const access = await mintAccessToken(keys, {
    format: resource.format,
    alg: config.accessTokenAlg,
    issuer: config.issuer,
    subject: input.userId ?? input.client.id,
    userId: input.userId,
    audience: resource.uri,
    clientId: input.client.id,
    grantId: input.grantId,
    scope: input.scope,
    authTime: input.authTime ?? undefined,
    issuedAt: now,
    expiresAt: now + lifetime * 1000,
    dpopJkt: input.dpopJkt,
  });

  let refreshToken: string | undefined;
  let refresh: RefreshTokenRecord | undefined;
  if (input.refresh.kind !== 'none' && input.userId !== null) {
    refreshToken =
      input.refresh.kind === 'new'
        ? mintTimeOrderedToken(TOKEN_PREFIX.refreshToken, now)
        : input.refresh.token;
    const parent = input.refresh.kind === 'successor' ? input.refresh.parent : undefined;
    refresh = {
      tokenHash: timeOrderedTokenKey(refreshToken),
      id: timeOrderedId(),
      grantId: input.grantId,
      clientId: input.client.id,
      userId: input.userId,
      scope: input.grantScope,
      resource: input.resource,
      parentId: parent?.id ?? null,
      createdAt: now,
      // The family's absolute end never moves; rotation only renews the idle window.
      expiresAt: parent?.expiresAt ?? now + config.refreshTokenTtl * 1000,
      idleExpiresAt: config.refreshTokenIdleTtl > 0 ? now + config.refreshTokenIdleTtl * 1000 : null,
      rotatedAt: null,
      rotationFingerprint: null,
      revokedAt: null,
      ...(input.refreshDpopJkt === undefined ? {} : { dpopJkt: input.refreshDpopJkt }),
    };
  }

  let idToken: string | undefined;
  if (input.idTokenFor && scopes.includes('openid')) {
    const alg = (input.client.idTokenSignedResponseAlg as SigningAlg | null) ?? config.idTokenAlg;
    idToken = await signIdToken(keys, alg, {
      issuer: config.issuer,
      subject: input.idTokenFor.id,
      clientId: input.client.id,
      nonce: input.nonce ?? null,
      authTime: input.authTime === undefined ? now : input.authTime,
      sid: input.sid,
      amr: input.amr,
      acr: input.acr,
      issuedAt: now,
      expiresAt: now + config.idTokenTtl * 1000,
      accessToken: access.token,
      claims: {
        ...userClaims(input.idTokenFor, scopes),
      },
    });
  }

  const response: TokenResponse = {
    access_token: access.token,
    token_type: input.dpopJkt === undefined ? 'Bearer' : 'DPoP',
    expires_in: lifetime,
    scope: input.scope,
  };
  if (refreshToken) response.refresh_token = refreshToken;
  if (idToken) response.id_token = idToken;
  return { response, access: access.record, refresh };
}
