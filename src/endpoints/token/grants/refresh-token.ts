// RFC 6749 §6, OAuth 2.1 "Refresh Token Grant", RFC 9700 §4.14.2 (rotation and reuse detection), RFC 8707.
//
// The rule, in full: every refresh rotates the token. The old token then counts as reuse (the whole family is
// revoked and a security event is recorded) unless it is presented again within the grace period
// (GATEHOUSE_REFRESH_GRACE) by the same client asking for the same scope and resource, and its successor is
// still the live one: then the same successor comes back (idempotent replay, no second family). Only the
// immediate predecessor is covered; anything older is reuse. Expired tokens fail even inside the grace period.

import type { Deps } from '../../../deps.ts';
import { OAuthError } from '../../../errors.ts';
import { isWellFormedOpaqueToken, TOKEN_PREFIX, timeOrderedTokenKey } from '../../../oauth/opaque-token.ts';
import { rotationFingerprint, successorOf } from '../../../oauth/refresh-rotation.ts';
import { formatScope, isSubset, parseScope } from '../../../oauth/scope.ts';
import { recordSecurityEvent } from '../../../oauth/security-events.ts';
import { type Client, type FoundRefreshToken, GRANT_USE_RESOLUTION_MS } from '../../../storage/storage.ts';
import { mintTokenSet } from './issue.ts';
import type { GrantHandler, TokenResponse } from './types.ts';

const invalid = (detail: string) =>
  new OAuthError('invalid_grant', 'The refresh token is invalid, expired or revoked', { detail });

async function revokeFamily(
  deps: Deps,
  token: FoundRefreshToken,
  client: Client,
  reason: string,
  ip: string,
) {
  deps.metrics.refreshTokenReuse();
  const now = deps.clock.now();
  await deps.storage.grants.revoke(token.grantId, now);
  await recordSecurityEvent(deps.storage, now, 'refresh_token_reuse', {
    actor: { kind: 'system' },
    ip,
    clientId: client.id,
    clientName: client.name,
    userId: token.userId,
    grantId: token.grantId,
    detail: { reason },
  });
}

export const refreshToken = {
  grantType: 'refresh_token',
  parameters: ['refresh_token', 'scope', 'resource'],
  async handle(deps, client, params, request): Promise<TokenResponse> {
    const presented = params.refresh_token;
    if (!presented) throw new OAuthError('invalid_request', 'The request has no refresh_token');
    if (!isWellFormedOpaqueToken(presented, TOKEN_PREFIX.refreshToken)) throw invalid('malformed token');
    const now = deps.clock.now();
    const token = await deps.storage.refreshTokens.find(timeOrderedTokenKey(presented));
    if (!token) throw invalid('unknown token');
    // Bound to its client (E-01); another client's attempt changes nothing for the real one.
    if (token.clientId !== client.id) throw invalid('token belongs to another client');
    if (token.revokedAt !== null || token.grantRevoked) throw invalid('token or grant revoked');
    if (now >= token.expiresAt) throw invalid('token past its absolute lifetime');
    if (token.idleExpiresAt !== null && now >= token.idleExpiresAt) throw invalid('token idle too long');

    // The access token may be narrowed, never widened (E-02); the new refresh token keeps the full scope.
    const grantScopes = parseScope(token.scope);
    const requested = params.scope === undefined ? grantScopes : parseScope(params.scope);
    if (!isSubset(requested, grantScopes)) {
      throw new OAuthError('invalid_scope', 'The scope exceeds what was granted');
    }
    if (params.resource !== undefined && params.resource !== (token.resource ?? deps.config.issuer)) {
      throw new OAuthError('invalid_target', 'The resource differs from the one authorized');
    }
    if (!token.userActive) throw invalid('user no longer exists or is disabled');
    // RFC 9449 §5 (E-11): a bound refresh token works only with a proof by its key. Refused without revoking anything:
    // whoever lacks the key cannot hurt the family (no reuse detection to trip).
    if (token.dpopJkt !== undefined && token.dpopJkt !== request.dpopJkt) {
      throw invalid('the refresh token is bound to another DPoP key, or the request has no proof');
    }

    const fingerprint = rotationFingerprint(params.scope, params.resource);
    // OIDC Core §12.2: with openid granted, a refresh returns an ID token for the same subject, audience and
    // sign-in (auth_time, amr, acr, sid as at the code exchange) and no nonce. Everything it needs came with
    // the token's row (the grant's sign-in context and the user): no further read.
    const openId = token.openId;
    const mint = (parent: FoundRefreshToken, successor: string) =>
      mintTokenSet(deps, {
        client,
        userId: token.userId,
        grantId: token.grantId,
        scope: formatScope(requested),
        grantScope: token.scope,
        resource: token.resource,
        refresh: { kind: 'successor', token: successor, parent },
        dpopJkt: request.dpopJkt,
        refreshDpopJkt: token.dpopJkt,
        idTokenFor: token.user,
        authTime: openId?.authTime ?? null,
        amr: openId?.amr,
        acr: openId?.acr,
        sid: openId?.sid,
        nonce: null,
      });

    if (token.rotatedAt === null) {
      const set = await mint(token, successorOf(deps.rotationKey, token.id, now));
      // "Last used" on the connected-apps page, written at most once per GRANT_USE_RESOLUTION_MS per grant.
      const markUsed =
        token.grantLastUsedAt === null || now - token.grantLastUsedAt >= GRANT_USE_RESOLUTION_MS;
      const rotated = await deps.storage.refreshTokens.rotate(
        token.tokenHash,
        fingerprint,
        now,
        set.refresh!,
        set.access,
        markUsed,
      );
      if (rotated) return set.response;
      // Lost a race with a concurrent rotation of the same token: judge it as the replay it now is.
    }

    const current = token.rotatedAt === null ? await deps.storage.refreshTokens.find(token.tokenHash) : token;
    const graceMs = deps.config.refreshGrace * 1000;
    if (current && current.rotatedAt !== null && graceMs > 0 && now - current.rotatedAt <= graceMs) {
      // The successor the rotation issued: the same HMAC body, the time of that rotation.
      const successor = successorOf(deps.rotationKey, token.id, current.rotatedAt);
      const child = await deps.storage.refreshTokens.find(timeOrderedTokenKey(successor));
      const sameRequest = current.rotationFingerprint === fingerprint;
      if (
        sameRequest &&
        child &&
        child.rotatedAt === null &&
        child.revokedAt === null &&
        !child.grantRevoked
      ) {
        // Idempotent replay: the same successor again, with a fresh access token in the same family.
        const set = await mint(current, successor);
        await deps.storage.accessTokens.create(set.access);
        set.response.refresh_token = successor;
        return set.response;
      }
    }
    await revokeFamily(
      deps,
      token,
      client,
      token.rotatedAt === null ? 'concurrent rotation' : 'rotated token reused',
      request.ip,
    );
    throw invalid('refresh token reused; the token family was revoked');
  },
} satisfies GrantHandler;
