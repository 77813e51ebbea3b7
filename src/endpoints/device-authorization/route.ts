// RFC 8628 §3.1 and §3.2: the device authorization endpoint. A device that cannot show a browser (a CLI, a TV)
// authenticates as at the token endpoint (public clients send only client_id), asks for scopes and a resource
// as an authorization request would (RFC 6749 §3.3, RFC 8707), and gets a device code to poll with and a user
// code for the person to type at the verification URI. Only the codes' keys are stored (oauth/device-code.ts).
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../../deps.ts';
import { OAuthError } from '../../errors.ts';
import type { FormParams } from '../../http/form-body.ts';
import { ipRateLimit } from '../../http/rate-limit.ts';
import { isOperatorApproved } from '../../oauth/client-review.ts';
import {
  DEVICE_CODE_GRANT_TYPE,
  DEVICE_CODE_TTL_S,
  formatUserCode,
  mintUserCode,
  POLL_INTERVAL_S,
  userCodeKey,
} from '../../oauth/device-code.ts';
import { mintTimeOrderedToken, TOKEN_PREFIX, timeOrderedTokenKey } from '../../oauth/opaque-token.ts';
import { resolveResource } from '../../oauth/resource.ts';
import { formatScope, requestedScopes } from '../../oauth/scope.ts';
import { authenticatedClient, noStore } from '../client-request.ts';

/** Fresh user codes drawn when one collides with a stored one (about one in 10^7 at 2,500 live codes). */
const USER_CODE_ATTEMPTS = 5;
/**
 * Every request stores a row, which a public client can ask for with its client_id alone: per client IP, at
 * most this many a minute (a household or office of TVs and CLIs starts a few; a loop filling the table does not).
 */
const REQUESTS_PER_MINUTE = 60;

export function registerDeviceAuthorization(app: FastifyInstance, deps: Deps) {
  const { paths, issuer } = deps.config;
  const defaultScopes = deps.config.scopes.filter((scope) => scope.isDefault).map((scope) => scope.name);

  const limit = ipRateLimit(deps.storage, () => deps.clock.now(), {
    name: 'device-authorization',
    max: REQUESTS_PER_MINUTE,
    windowMs: 60_000,
  });
  app.post(paths.deviceAuthorization, { onRequest: limit }, async (request, reply) => {
    noStore(reply);
    if (typeof request.body !== 'object' || request.body === null) {
      throw new OAuthError('invalid_request', 'The body must be application/x-www-form-urlencoded');
    }
    const params = request.body as FormParams;
    const client = await authenticatedClient(deps, request, params);
    if (params.client_id !== undefined && params.client_id !== client.id) {
      throw new OAuthError('invalid_request', 'client_id differs from the authenticated client');
    }
    // §3.1 answers with the token endpoint's errors (RFC 6749 §5.2): a client not registered for the grant is
    // unauthorized_client, as it would be at /token.
    if (!client.grantTypes.includes(DEVICE_CODE_GRANT_TYPE)) {
      throw new OAuthError('unauthorized_client', 'This client may not use the device authorization grant');
    }
    // Only an operator grants the device grant (client-review.ts): whatever a self-registered client's stored
    // grant types say, it needs an administrator's approval (RFC 8628 §5.4, remote phishing).
    if (!isOperatorApproved(client)) {
      throw new OAuthError(
        'unauthorized_client',
        'This client was not approved by an administrator for the device authorization grant',
        { detail: `self-registered (${client.registeredVia}) and never approved` },
      );
    }
    const scope = formatScope(requestedScopes(params.scope, client.scope, defaultScopes));
    // http/form-body.ts joins a repeated `resource` with spaces; one audience per token (resource.ts).
    const resource = resolveResource(
      params.resource ? params.resource.split(' ') : [],
      client,
      deps.config.resources,
      issuer,
    );

    const now = deps.clock.now();
    const deviceCode = mintTimeOrderedToken(TOKEN_PREFIX.deviceCode, now);
    for (let attempt = 0; attempt < USER_CODE_ATTEMPTS; attempt++) {
      const userCode = mintUserCode();
      const created = await deps.storage.deviceAuthorizations.create({
        deviceCodeHash: timeOrderedTokenKey(deviceCode),
        userCodeHash: userCodeKey(deps.rotationKey, userCode),
        clientId: client.id,
        scope,
        resource,
        createdAt: now,
        expiresAt: now + DEVICE_CODE_TTL_S * 1000,
        interval: POLL_INTERVAL_S,
        lastPolledAt: null,
        status: 'pending',
        userId: null,
        grantId: null,
        authTime: null,
      });
      if (!created) continue;
      const verificationUri = `${issuer}${paths.device}`;
      const shown = formatUserCode(userCode);
      return {
        device_code: deviceCode,
        user_code: shown,
        verification_uri: verificationUri,
        // §3.3.1: the code in the URI (a QR code); the page still asks the person to confirm it (§5.4).
        verification_uri_complete: `${verificationUri}?user_code=${shown}`,
        expires_in: DEVICE_CODE_TTL_S,
        interval: POLL_INTERVAL_S,
      };
    }
    throw new OAuthError('temporarily_unavailable', 'Could not allocate a user code; try again', {
      detail: `${USER_CODE_ATTEMPTS} user codes in a row collided`,
    });
  });

  app.get(paths.deviceAuthorization, async (_request, reply) => {
    reply.header('allow', 'POST');
    throw new OAuthError('invalid_request', 'Use POST for the device authorization endpoint', {
      status: 405,
    });
  });
}
