import { configFrom } from '../../config-file.ts';
import { OAuthError } from '../../errors.ts';
import { openDeps } from '../../main.ts';
import { buildClient } from '../../oauth/client-metadata.ts';
import type { Command } from '../command.ts';

export const clientsAdd: Command = {
  words: ['clients', 'add'],
  summary: 'Register a client and print it as JSON, with its secret (shown once)',
  usage:
    'gatehouse clients add --name NAME --redirect-uri URI [--redirect-uri URI…] [--public] [--scope "openid profile…"]\n' +
    '                      [--auth-method client_secret_basic|client_secret_post] [--no-refresh] [--pkce-optional]\n' +
    '                      [--cors-origin https://app.example…] [--grant client_credentials…] [--resource URI…]\n' +
    '                      [--non-expiring] [--resource-server] [--application-type web|native]\n\n' +
    "--resource-server: the client is an API (resource server) that may introspect every client's tokens\n" +
    '(RFC 7662 §4); without it, a client may introspect only its own tokens.\n' +
    '--application-type: native when every redirect URI is http://localhost, http://127.0.0.1, http://[::1] or a\n' +
    'private-use scheme (com.example.app:/cb), web otherwise (OpenID Connect Registration §2).',
  options: {
    name: { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    public: { type: 'boolean' },
    scope: { type: 'string' },
    'auth-method': { type: 'string' },
    'no-refresh': { type: 'boolean' },
    'pkce-optional': { type: 'boolean' },
    'cors-origin': { type: 'string', multiple: true },
    grant: { type: 'string', multiple: true },
    resource: { type: 'string', multiple: true },
    'non-expiring': { type: 'boolean' },
    'resource-server': { type: 'boolean' },
    'application-type': { type: 'string' },
  },
  async run({ values }, io) {
    const config = configFrom(io.env);
    const deps = await openDeps(config);
    try {
      const isPublic = values.public === true;
      const applicationType = values['application-type'];
      if (applicationType !== undefined && applicationType !== 'web' && applicationType !== 'native') {
        throw new OAuthError('invalid_client_metadata', '--application-type must be web or native');
      }
      const { client, secret } = buildClient(
        {
          name: String(values.name ?? ''),
          redirectUris: (values['redirect-uri'] as string[] | undefined) ?? [],
          scope: typeof values.scope === 'string' ? values.scope : undefined,
          grantTypes:
            (values.grant as string[] | undefined) ??
            (values['no-refresh'] ? ['authorization_code'] : ['authorization_code', 'refresh_token']),
          allowedResources: (values.resource as string[] | undefined) ?? [],
          nonExpiringTokens: values['non-expiring'] === true,
          resourceServer: values['resource-server'] === true,
          tokenEndpointAuthMethod: isPublic
            ? 'none'
            : ((values['auth-method'] as 'client_secret_basic' | 'client_secret_post' | undefined) ??
              'client_secret_basic'),
          applicationType,
          requirePkce: values['pkce-optional'] ? false : undefined,
          allowedCorsOrigins: (values['cors-origin'] as string[] | undefined) ?? [],
          // On a loopback http issuer its own pages (the playground) are registrable (docs/security.md A-07).
          issuer: config.issuer,
        },
        deps.clock.now(),
      );
      await deps.storage.clients.create(client);
      const output: Record<string, unknown> = {
        client_id: client.id,
        client_name: client.name,
        redirect_uris: client.redirectUris,
        grant_types: client.grantTypes,
        scope: client.scope,
        token_endpoint_auth_method: client.tokenEndpointAuthMethod,
        application_type: client.applicationType,
        require_pkce: client.requirePkce,
      };
      if (client.allowedResources.length) output.resources = client.allowedResources;
      if (client.allowedCorsOrigins.length) output.allowed_cors_origins = client.allowedCorsOrigins;
      if (client.nonExpiringTokens) output.non_expiring_tokens = true;
      if (client.resourceServer) output.resource_server = true;
      if (secret) output.client_secret = secret;
      io.stdout(`${JSON.stringify(output, null, 2)}\n`);
      if (secret) io.stderr('The client_secret is shown once: store it now.\n');
      return 0;
    } catch (error) {
      if (error instanceof OAuthError) {
        io.stderr(`${error.description ?? error.code}\n`);
        return 1;
      }
      throw error;
    } finally {
      await deps.storage.close();
    }
  },
};
