// RFC 6749 §3.2 and §5, OAuth 2.1 "Token Endpoint". Authenticates the client, picks the grant, and answers
// with no-store. Grants own their rules; this file owns only what every grant shares.
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../../deps.ts';
import { OAuthError } from '../../errors.ts';
import { allowCorsFor } from '../../http/cors.ts';
import { type FormParams, parseForm } from '../../http/form-body.ts';
import { currentNonce } from '../../oauth/dpop.ts';
import { authenticatedClient, dpopProof, noStore } from '../client-request.ts';
import { GRANTS } from './grants/index.ts';

export function registerToken(app: FastifyInstance, deps: Deps) {
  const { paths, legacy } = deps.config;
  app.post(paths.token, async (request, reply) => {
    noStore(reply);
    let params = (request.body ?? {}) as FormParams;
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    if (legacy.tokenParamsInQuery && query) {
      // Readmill's examples put everything in the query string of the POST. Off by default: it writes codes
      // and secrets into every access log on the way.
      const fromQuery = parseForm(query);
      for (const name of Object.keys(fromQuery)) {
        if (name in params) throw new OAuthError('invalid_request', `Parameter "${name}" is repeated`);
      }
      params = { ...fromQuery, ...params };
    } else if (typeof request.body !== 'object' || request.body === null) {
      throw new OAuthError('invalid_request', 'The body must be application/x-www-form-urlencoded');
    }
    const grantType =
      params.grant_type ??
      (legacy.impliedGrantType && params.code !== undefined ? 'authorization_code' : undefined);
    if (!grantType) throw new OAuthError('invalid_request', 'The request has no grant_type');
    const grant = GRANTS.get(grantType);
    if (!grant) throw new OAuthError('unsupported_grant_type', 'This grant type is not supported');

    const client = await authenticatedClient(deps, request, params);
    // From here on the answer (an error too) is for this client: readable by its registered origins only.
    allowCorsFor(request, client);
    if (!client.grantTypes.includes(grant.grantType)) {
      throw new OAuthError('unauthorized_client', 'This client may not use this grant type');
    }
    // RFC 9449 §5: a proof binds the tokens to its key. The deployment (GATEHOUSE_DPOP=required) or the client
    // (dpop_bound_access_tokens, §5.2) may insist on one.
    const dpopJkt = await dpopProof(deps, request, reply, paths.token);
    if (
      dpopJkt === undefined &&
      (deps.config.dpop === 'required' || client.metadata.dpop_bound_access_tokens === true)
    ) {
      throw new OAuthError('invalid_dpop_proof', 'This client must send a DPoP proof', {
        headers: deps.config.dpopNonce
          ? { 'dpop-nonce': currentNonce(deps.rotationKey, deps.clock.now()) }
          : {},
      });
    }
    const declared: FormParams = {};
    for (const name of grant.parameters) {
      const value = params[name];
      if (value !== undefined) declared[name] = value;
    }
    const answer = await grant.handle(deps, client, declared, {
      impliedGrantType: params.grant_type === undefined,
      ip: request.ip,
      dpopJkt,
    });
    deps.metrics.tokenIssued(grant.grantType);
    return answer;
  });

  // RFC 6749 §3.2: the token endpoint takes POST only; nothing is issued from a query string.
  app.get(paths.token, async (_request, reply) => {
    reply.header('allow', 'POST');
    throw new OAuthError('invalid_request', 'Use POST for the token endpoint', { status: 405 });
  });
}
