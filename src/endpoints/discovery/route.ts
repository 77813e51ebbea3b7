// RFC 8414 (OAuth server metadata) and OpenID Connect Discovery 1.0 §3: one document, served at both
// well-known paths, listing only what this server really does. Built once at start-up.
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../../deps.ts';
import { SUPPORTED_CLAIMS } from '../../oauth/claims.ts';
import { ASSERTION_ALGS } from '../../oauth/client-auth.ts';
import { USERINFO_SIGNING_ALGS } from '../../oauth/client-metadata.ts';
import { DPOP_ALGORITHMS } from '../../oauth/dpop.ts';
import { GRANTS } from '../token/grants/index.ts';

export function discoveryDocument(deps: Deps): Record<string, unknown> {
  const { issuer, paths } = deps.config;
  const algs = [...new Set([deps.config.idTokenAlg, ...deps.keys.algs()])];
  return {
    issuer,
    authorization_endpoint: `${issuer}${paths.authorize}`,
    token_endpoint: `${issuer}${paths.token}`,
    userinfo_endpoint: `${issuer}${paths.userinfo}`,
    jwks_uri: `${issuer}${paths.jwks}`,
    end_session_endpoint: `${issuer}${paths.endSession}`,
    // OpenID Connect Back-Channel Logout 1.0 §2.1: logout tokens to backchannel_logout_uri, with sid.
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    pushed_authorization_request_endpoint: `${issuer}${paths.par}`,
    device_authorization_endpoint: `${issuer}${paths.deviceAuthorization}`,
    require_pushed_authorization_requests: deps.config.requirePushedAuthorizationRequests,
    revocation_endpoint: `${issuer}${paths.revoke}`,
    revocation_endpoint_auth_methods_supported: deps.config.clientAuthMethods,
    introspection_endpoint: `${issuer}${paths.introspect}`,
    ...(deps.config.registrationPolicy === 'closed'
      ? {}
      : { registration_endpoint: `${issuer}${paths.register}` }),
    introspection_endpoint_auth_methods_supported: deps.config.clientAuthMethods.filter(
      (method) => method !== 'none',
    ),
    scopes_supported: [
      ...new Set([
        ...deps.config.scopes.map((scope) => scope.name),
        ...deps.config.resources.flatMap((r) => r.scopes),
      ]),
    ],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: [...GRANTS.keys()],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: algs,
    userinfo_signing_alg_values_supported: algs.filter((alg) => USERINFO_SIGNING_ALGS.includes(alg)),
    token_endpoint_auth_methods_supported: deps.config.clientAuthMethods,
    ...(deps.config.clientAuthMethods.includes('private_key_jwt')
      ? {
          token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
          introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
          revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
        }
      : {}),
    code_challenge_methods_supported: ['S256'],
    // RFC 9449 §5.1: the token endpoint takes DPoP proofs with these algs (GATEHOUSE_DPOP decides if it must).
    dpop_signing_alg_values_supported: DPOP_ALGORITHMS,
    // draft-ietf-oauth-client-id-metadata-document §5: only where an https URL client_id is accepted.
    ...(deps.config.clientDocuments.metadataDocuments ? { client_id_metadata_document_supported: true } : {}),
    claims_supported: [
      ...SUPPORTED_CLAIMS,
      'iss',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'nonce',
      'at_hash',
      'azp',
      'sid',
      'amr',
      'acr',
    ],
    prompt_values_supported: ['none', 'login', 'consent'],
    authorization_response_iss_parameter_supported: true,
    claims_parameter_supported: true,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
  };
}

export function registerDiscovery(app: FastifyInstance, deps: Deps) {
  const body = JSON.stringify(discoveryDocument(deps));
  const send = async (_request: unknown, reply: import('fastify').FastifyReply) =>
    reply.header('cache-control', 'public, max-age=300').type('application/json; charset=utf-8').send(body);
  app.get('/.well-known/openid-configuration', send);
  app.get('/.well-known/oauth-authorization-server', send);
  // RFC 8414 §3.1: for an issuer with a path, the well-known segment goes between host and path
  // (https://example.com/.well-known/oauth-authorization-server/tenant); MCP clients also try OpenID
  // Connect's name that way. Served here too, for a proxy that forwards those paths as they are.
  const issuerPath = new URL(deps.config.issuer).pathname.replace(/\/$/, '');
  if (issuerPath) {
    app.get(`/.well-known/oauth-authorization-server${issuerPath}`, send);
    app.get(`/.well-known/openid-configuration${issuerPath}`, send);
  }
}
