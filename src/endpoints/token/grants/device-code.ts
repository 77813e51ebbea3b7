// RFC 8628 §3.4 and §3.5 (device access token request and response), §5.2 (device code brute forcing).
//
// The rule, in full: the device code is bound to the client it was issued to; another client's poll is
// invalid_grant and changes nothing for the real one. While the user has not decided, a poll is
// authorization_pending, or slow_down when it came sooner than the interval after the previous poll (the
// interval then grows by 5 s for good, remembered per device code). Past expires_in: expired_token. Denied:
// access_denied. Approved: exactly one poll redeems it (an atomic claim committed with the tokens); every other
// poll, concurrent or later, is invalid_grant. A second redemption revokes nothing: the device code never left
// the device that holds the tokens, and revoking would let a duplicate poll cut the real one's tokens.
import { OAuthError } from '../../../errors.ts';
import { DEVICE_CODE_GRANT_TYPE } from '../../../oauth/device-code.ts';
import { isWellFormedOpaqueToken, TOKEN_PREFIX, timeOrderedTokenKey } from '../../../oauth/opaque-token.ts';
import { parseScope } from '../../../oauth/scope.ts';
import { mintTokenSet, refreshAllowed } from './issue.ts';
import type { GrantHandler } from './types.ts';

const invalid = (detail: string) =>
  new OAuthError('invalid_grant', 'The device code is invalid, expired or was already used', { detail });

export const deviceCode = {
  grantType: DEVICE_CODE_GRANT_TYPE,
  parameters: ['device_code'],
  async handle(deps, client, params, request) {
    const presented = params.device_code;
    if (!presented) throw new OAuthError('invalid_request', 'The request has no device_code');
    // A mistyped or forged code (or another kind of token, docs/security.md C-10) is refused without a lookup.
    if (!isWellFormedOpaqueToken(presented, TOKEN_PREFIX.deviceCode)) throw invalid('malformed device code');
    const key = timeOrderedTokenKey(presented);
    const now = deps.clock.now();
    const found = await deps.storage.deviceAuthorizations.find(key);
    if (!found) throw invalid('unknown device code');
    // Checked before anything is recorded: another client's poll neither slows the real client down nor
    // learns the request's state.
    if (found.clientId !== client.id) throw invalid('device code was issued to another client');
    if (found.status === 'redeemed') throw invalid('device code already redeemed');
    if (found.expiresAt <= now) {
      throw new OAuthError('expired_token', 'The device code has expired; start again');
    }
    if (found.status === 'denied') throw new OAuthError('access_denied', 'The user denied the request');
    if (found.status === 'pending') {
      const poll = await deps.storage.deviceAuthorizations.poll(key, now);
      if (!poll) throw invalid('device code vanished while polled');
      if (poll.slowDown) {
        throw new OAuthError('slow_down', `Poll at most every ${poll.interval} seconds`);
      }
      throw new OAuthError('authorization_pending', 'The user has not answered yet');
    }

    // Approved.
    if (found.userId === null || found.grantId === null) throw invalid('approval without a user');
    const user = await deps.storage.users.findById(found.userId);
    if (!user || user.disabledAt !== null) throw invalid('user no longer exists or is disabled');
    // Minted before the claim so that the claim and the tokens commit together (as for authorization codes).
    const set = await mintTokenSet(deps, {
      client,
      userId: user.id,
      grantId: found.grantId,
      scope: found.scope,
      grantScope: found.scope,
      resource: found.resource,
      authTime: found.authTime ?? now,
      amr: found.amr,
      acr: found.acr,
      nonce: null,
      refresh: refreshAllowed(deps, client, parseScope(found.scope)) ? { kind: 'new' } : { kind: 'none' },
      // RFC 9449: a proof binds the tokens as at the code exchange (a public client's refresh token too).
      dpopJkt: request.dpopJkt,
      refreshDpopJkt: client.tokenEndpointAuthMethod === 'none' ? request.dpopJkt : undefined,
      idTokenFor: user,
    });
    const redeemed = await deps.storage.transaction(async (tx) => {
      const claimed = await tx.deviceAuthorizations.redeem(key, now);
      if (!claimed) return false;
      await tx.accessTokens.create(set.access);
      if (set.refresh) await tx.refreshTokens.create(set.refresh);
      return true;
    });
    if (!redeemed) throw invalid('device code redeemed by a concurrent poll, or its grant was revoked');
    return set.response;
  },
} satisfies GrantHandler;
