// RFC 8414 (OAuth server metadata) and OpenID Connect Discovery 1.0 §3: one document, served at both
// well-known paths, listing only what this server really does. Built once at start-up.
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../../deps.ts';
import { SUPPORTED_CLAIMS } from '../../oauth/claims.ts';
import { GRANTS } from '../token/grants/index.ts';

export function discoveryDocument(deps: Deps): Record<string, unknown> {
  const { issuer } = deps.config;
  const algs = [...new Set([deps.config.idTokenAlg, ...deps.keys.algs()])];
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    userinfo_endpoint: `${issuer}/userinfo`,
    jwks_uri: `${issuer}/jwks`,
    revocation_endpoint: `${issuer}/revoke`,
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    introspection_endpoint: `${issuer}/introspect`,
    ...(deps.config.registrationPolicy === 'closed'
      ? {}
      : { registration_endpoint: `${issuer}/oauth/register` }),
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    scopes_supported: [
      ...new Set([
        'openid',
        'profile',
        'email',
        'offline_access',
        ...deps.config.resources.flatMap((r) => r.scopes),
      ]),
    ],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: [...GRANTS.keys()],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: algs,
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    code_challenge_methods_supported: ['S256'],
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
    ],
    prompt_values_supported: ['none', 'login', 'consent'],
    authorization_response_iss_parameter_supported: true,
    claims_parameter_supported: false,
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
}
