// RFC 6749 §4.4, RFC 9068 §2.2 (sub is the client), RFC 8707. Machine to machine: no user, no refresh token.
import { OAuthError } from '../../../errors.ts';
import { isOperatorApproved } from '../../../oauth/client-review.ts';
import { resolveResource } from '../../../oauth/resource.ts';
import { formatScope, isSubset, isValidScopeToken, parseScope } from '../../../oauth/scope.ts';
import { mintTokenSet } from './issue.ts';
import type { GrantHandler } from './types.ts';

// Scopes about a person make no sense without one.
const USER_SCOPES = new Set(['openid', 'profile', 'email', 'phone', 'address', 'offline_access']);

// The client_credentials grants this process has seen committed, per storage. Grant rows are never deleted
// (revoking marks them), so once one exists it always will: the insert-if-missing is skipped from then on.
const knownGrantsByStorage = new WeakMap<object, Set<string>>();
const MAX_KNOWN_GRANTS = 100_000;
function knownGrants(storage: object): Set<string> {
  let known = knownGrantsByStorage.get(storage);
  if (!known) {
    known = new Set();
    knownGrantsByStorage.set(storage, known);
  }
  return known;
}

export const clientCredentials = {
  grantType: 'client_credentials',
  parameters: ['scope', 'resource'],
  async handle(deps, client, params, request) {
    if (client.tokenEndpointAuthMethod === 'none') {
      throw new OAuthError('unauthorized_client', 'Public clients cannot use client_credentials');
    }
    // No person consents to a machine token: only an operator grants this grant (client-review.ts). A
    // self-registered client needs an administrator's approval, whatever its stored grant types say (clients
    // stored before this rule could give it to themselves). The row is already loaded: no extra round trip.
    if (!isOperatorApproved(client)) {
      throw new OAuthError(
        'unauthorized_client',
        'This client was not approved by an administrator for client_credentials',
        { detail: `self-registered (${client.registeredVia}) and never approved` },
      );
    }
    const allowed = parseScope(client.scope).filter((scope) => !USER_SCOPES.has(scope));
    const requested = params.scope === undefined ? allowed : parseScope(params.scope);
    if (!requested.every(isValidScopeToken) || !isSubset(requested, allowed)) {
      throw new OAuthError('invalid_scope', 'The client may not request that scope');
    }
    const resource = resolveResource(
      params.resource ? params.resource.split(' ') : [],
      client,
      deps.config.resources,
      deps.config.issuer,
    );
    // One grant per client holds all of its client_credentials tokens: there is no user or consent to track
    // per token, and a grant per token was a second insert per request and a row that was never purged.
    // Revoking one of these tokens revokes only that token (RFC 7009); deleting the client revokes the grant.
    const grantId = `cc_${client.id}`;
    const scope = formatScope(requested);
    const set = await mintTokenSet(deps, {
      client,
      userId: null,
      grantId,
      scope,
      grantScope: scope,
      resource,
      refresh: { kind: 'none' },
      dpopJkt: request.dpopJkt,
    });
    const known = knownGrants(deps.storage);
    const grantKnown = known.has(grantId);
    await deps.storage.transaction(async (tx) => {
      if (!grantKnown) {
        await tx.grants.createIfMissing({
          id: grantId,
          clientId: client.id,
          userId: null,
          scope: '', // each token carries its own scope
          createdAt: deps.clock.now(),
          revokedAt: null,
          lastUsedAt: null,
        });
      }
      await tx.accessTokens.create(set.access);
    });
    if (!grantKnown) {
      if (known.size >= MAX_KNOWN_GRANTS) known.clear();
      known.add(grantId);
    }
    return set.response;
  },
} satisfies GrantHandler;
