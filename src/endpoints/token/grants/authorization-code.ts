// RFC 6749 §4.1.3, RFC 7636 §4.6, OAuth 2.1 "Token Endpoint Extension" and "Reuse of Authorization Codes".
import { OAuthError } from '../../../errors.ts';
import { isWellFormedOpaqueToken, TOKEN_PREFIX } from '../../../oauth/opaque-token.ts';
import { verifyPkce } from '../../../oauth/pkce.ts';
import { sha256 } from '../../../util/hash.ts';
import { issueTokens } from './issue.ts';
import type { GrantHandler } from './types.ts';

export const authorizationCode = {
  grantType: 'authorization_code',
  parameters: ['code', 'redirect_uri', 'code_verifier'],
  async handle(deps, client, params) {
    const invalid = (detail: string) =>
      new OAuthError('invalid_grant', 'The authorization code is invalid, expired or was already used', {
        detail,
      });
    const { code, redirect_uri: redirectUri, code_verifier: verifier } = params;
    if (!code) throw new OAuthError('invalid_request', 'The request has no code');
    // A mistyped or forged code is refused without touching the database.
    if (!isWellFormedOpaqueToken(code, TOKEN_PREFIX.authorizationCode)) throw invalid('malformed code');

    // Consumed in one atomic statement that commits on its own: a code that then fails a check stays burnt.
    const result = await deps.storage.authorizationCodes.consume(sha256(code), deps.clock.now());
    if (result.status === 'not_found') throw invalid('unknown or expired code');
    const stored = result.code;

    // These checks run for replays too, so that an attacker replaying a stolen code with the wrong client or
    // verifier cannot trigger the revocation below (a denial of service on the real client).
    if (stored.clientId !== client.id) throw invalid('code was issued to another client');
    if (stored.redirectUriProvided || redirectUri !== undefined) {
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

    if (result.status === 'reused') {
      // RFC 6749 §4.1.2: revoke everything issued from the first use, then refuse.
      await deps.storage.grants.revoke(stored.grantId, deps.clock.now());
      throw invalid('authorization code reused; its tokens were revoked');
    }

    const user = await deps.storage.users.findById(stored.userId);
    if (!user || user.disabledAt !== null) throw invalid('user no longer exists or is disabled');
    return issueTokens(deps, {
      client,
      user,
      grantId: stored.grantId,
      scope: stored.scope,
      authTime: stored.authTime,
      nonce: stored.nonce,
    });
  },
} satisfies GrantHandler;
