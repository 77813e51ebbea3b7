// RFC 6749 §4.1.3, RFC 7636 §4.6, RFC 8707 §2.2, OAuth 2.1 "Token Endpoint Extension" and "Reuse of
// Authorization Codes".
import type { Deps } from '../../../deps.ts';
import { OAuthError } from '../../../errors.ts';
import { isWellFormedOpaqueToken, TOKEN_PREFIX, timeOrderedTokenKey } from '../../../oauth/opaque-token.ts';
import { verifyPkce } from '../../../oauth/pkce.ts';
import { parseScope } from '../../../oauth/scope.ts';
import { recordSecurityEvent } from '../../../oauth/security-events.ts';
import type { AuthorizationCode, Client } from '../../../storage/storage.ts';
import { mintTokenSet, refreshAllowed } from './issue.ts';
import type { GrantHandler } from './types.ts';

const invalid = (detail: string) =>
  new OAuthError('invalid_grant', 'The authorization code is invalid, expired or was already used', {
    detail,
  });

/** The request must prove it is the client the code was issued to, at the same redirect URI, with the verifier. */
function checkBinding(
  stored: AuthorizationCode,
  client: Client,
  redirectUri: string | undefined,
  verifier: string | undefined,
  redirectUriOptional: boolean,
  dpopJkt: string | undefined,
) {
  if (stored.clientId !== client.id) throw invalid('code was issued to another client');
  // RFC 9449 §10: a code bound with dpop_jkt is redeemed only with a proof by that key.
  if (stored.dpopJkt !== undefined && stored.dpopJkt !== dpopJkt) {
    throw invalid('the DPoP proof key differs from the dpop_jkt of the authorization request');
  }
  // RFC 6749 §4.1.3 wants the redirect_uri repeated when the authorization request had one; OAuth 2.1 clients
  // (and Dialpad's legacy exchange) may leave it out. If it is sent, it must always match.
  if ((stored.redirectUriProvided && !redirectUriOptional) || redirectUri !== undefined) {
    if (redirectUri !== stored.redirectUri)
      throw invalid('redirect_uri differs from the authorization request');
  }
  if (stored.codeChallenge !== null) {
    if (verifier === undefined) throw invalid('code_verifier is missing');
    if (!verifyPkce(stored.codeChallenge, verifier)) throw invalid('code_verifier does not match');
  } else if (verifier !== undefined) {
    // RFC 9700 §4.8.2: a verifier without a challenge is a PKCE downgrade attempt.
    throw invalid('code_verifier sent, but the authorization request had no code_challenge');
  }
}

/** RFC 6749 §4.1.2: a second valid redemption revokes everything issued from the first, then fails. */
async function reused(
  deps: Deps,
  client: Client,
  stored: AuthorizationCode,
  now: number,
  ip: string,
): Promise<never> {
  deps.metrics.authorizationCodeReuse();
  await deps.storage.grants.revoke(stored.grantId, now);
  await recordSecurityEvent(deps.storage, now, 'authorization_code_reuse', {
    actor: { kind: 'system' },
    ip,
    clientId: client.id,
    clientName: client.name,
    userId: stored.userId,
    grantId: stored.grantId,
  });
  throw invalid('authorization code reused; its tokens were revoked');
}

export const authorizationCode = {
  grantType: 'authorization_code',
  parameters: ['code', 'redirect_uri', 'code_verifier', 'resource'],
  async handle(deps, client, params, request) {
    const { code, redirect_uri: redirectUri, code_verifier: verifier } = params;
    if (!code) throw new OAuthError('invalid_request', 'The request has no code');
    // A mistyped or forged code is refused without touching the database.
    if (!isWellFormedOpaqueToken(code, TOKEN_PREFIX.authorizationCode)) throw invalid('malformed code');
    const codeHash = timeOrderedTokenKey(code);
    const now = deps.clock.now();

    const stored = await deps.storage.authorizationCodes.find(codeHash);
    if (!stored || (stored.consumedAt === null && stored.expiresAt <= now))
      throw invalid('unknown or expired code');
    // Checked before the code is consumed, so a request with the wrong client, redirect URI or verifier
    // neither burns the code for the real client (docs/security.md B-07, C-04) nor triggers the revocation below
    // (a denial of service, C-03). Guessing the verifier is hopeless: it carries at least 256 bits.
    checkBinding(stored, client, redirectUri, verifier, request.impliedGrantType, request.dpopJkt);
    // RFC 8707 §2.2: the token request may repeat the resource; it cannot switch to another.
    if (params.resource !== undefined && params.resource !== (stored.resource ?? deps.config.issuer)) {
      throw new OAuthError('invalid_target', 'The resource differs from the one authorized');
    }

    if (stored.consumedAt !== null) return reused(deps, client, stored, now, request.ip);

    const user = await deps.storage.users.findById(stored.userId);
    if (!user || user.disabledAt !== null) throw invalid('user no longer exists or is disabled');
    // The tokens are minted before the code is claimed so that the claim and the tokens commit together, in
    // one transaction (one commit to wait for, not two). A lost race only wastes a signature.
    const set = await mintTokenSet(deps, {
      client,
      userId: user.id,
      grantId: stored.grantId,
      scope: stored.scope,
      grantScope: stored.scope,
      resource: stored.resource,
      authTime: stored.authTime,
      amr: stored.amr,
      acr: stored.acr,
      nonce: stored.nonce,
      sid: stored.sid,
      refresh: refreshAllowed(deps, client, parseScope(stored.scope)) ? { kind: 'new' } : { kind: 'none' },
      idTokenFor: user,
      dpopJkt: request.dpopJkt,
      // RFC 9449 §5: a public client's refresh token is bound to the key too (a confidential client's is bound
      // to its authentication already).
      refreshDpopJkt: client.tokenEndpointAuthMethod === 'none' ? request.dpopJkt : undefined,
    });
    // The atomic step: of concurrent redemptions exactly one moves consumed_at off NULL, and only that one
    // stores its tokens, in the same commit. The grant row already exists (it was created with the code), so a
    // revocation of the grant that races with this still covers the tokens.
    const { status: claim } = await deps.storage.authorizationCodes.consume(codeHash, now, {
      access: set.access,
      refresh: set.refresh,
    });
    if (claim === 'not_found') throw invalid('code expired');
    if (claim === 'reused') return reused(deps, client, stored, now, request.ip);
    return set.response;
  },
} satisfies GrantHandler;
