import { OAuthError, StorageUnavailableError } from '../../errors.ts';
import { buildClient } from '../../oauth/client-metadata.ts';
import { DEVICE_CODE_GRANT_TYPE } from '../../oauth/device-code.ts';
import { type Command, CommandFailure, printJson } from '../command.ts';

export const clientsAdd: Command = {
  words: ['clients', 'add'],
  summary: 'Register a client and print it as JSON, with its secret (shown once)',
  options: {
    name: {
      type: 'string',
      value: 'NAME',
      description: 'The name people see on the consent page (required).',
    },
    'redirect-uri': {
      type: 'string',
      multiple: true,
      value: 'URI',
      description:
        'Where codes are sent, matched exactly (at least one for the code flow). https, or a loopback http URI or private-use scheme for native apps.',
    },
    public: {
      type: 'boolean',
      description: 'A public client (no secret: a browser or native app); PKCE is always required of it.',
    },
    scope: {
      type: 'string',
      value: '"A B…"',
      description: 'The scopes it may ask for, space-separated. Default: the built-in OpenID Connect scopes.',
    },
    'auth-method': {
      type: 'string',
      value: 'METHOD',
      description:
        'client_secret_basic (default) or client_secret_post: how a confidential client sends its secret.',
    },
    'no-refresh': { type: 'boolean', description: 'No refresh tokens: only the authorization_code grant.' },
    'pkce-optional': {
      type: 'boolean',
      description: 'Do not require PKCE of this confidential client (its secret binds the code).',
    },
    'cors-origin': {
      type: 'string',
      multiple: true,
      value: 'ORIGIN',
      description: 'A browser origin (https://app.example) allowed to call the token endpoint with CORS.',
    },
    grant: {
      type: 'string',
      multiple: true,
      value: 'GRANT',
      description:
        'The grant types (authorization_code, refresh_token, client_credentials, device_code for RFC 8628); replaces the default authorization_code + refresh_token.',
    },
    resource: {
      type: 'string',
      multiple: true,
      value: 'URI',
      description: 'An API (RFC 8707 resource from GATEHOUSE_RESOURCES) the client may get tokens for.',
    },
    'non-expiring': {
      type: 'boolean',
      description:
        'Granted the non-expiring scope, it gets an access token that does not expire and no refresh token (Readmill).',
    },
    'resource-server': {
      type: 'boolean',
      description:
        "The client is an API that may introspect every client's tokens (RFC 7662 §4); without it, only its own.",
    },
    dpop: {
      type: 'boolean',
      description:
        'Every token request must carry a DPoP proof (RFC 9449 dpop_bound_access_tokens): its tokens are always bound to its key.',
    },
    'application-type': {
      type: 'string',
      value: 'TYPE',
      description:
        'web or native (OpenID Connect Registration §2). Default: native when every redirect URI is loopback or a private-use scheme, else web.',
    },
  },
  database: 'existing',
  async run({ values, io, config, storage }) {
    const isPublic = values.public === true;
    const applicationType = values['application-type'];
    try {
      if (applicationType !== undefined && applicationType !== 'web' && applicationType !== 'native') {
        throw new OAuthError('invalid_client_metadata', '--application-type must be web or native');
      }
      const { client, secret } = buildClient(
        {
          name: String(values.name ?? ''),
          redirectUris: (values['redirect-uri'] as string[] | undefined) ?? [],
          scope: typeof values.scope === 'string' ? values.scope : undefined,
          // `device_code` is short for the device grant's URN (RFC 8628 §3.4), which nobody types twice.
          grantTypes:
            (values.grant as string[] | undefined)?.map((grant) =>
              grant === 'device_code' ? DEVICE_CODE_GRANT_TYPE : grant,
            ) ?? (values['no-refresh'] ? ['authorization_code'] : ['authorization_code', 'refresh_token']),
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
          ...(values.dpop === true ? { metadata: { dpop_bound_access_tokens: true } } : {}),
          // On a loopback http issuer its own pages (the playground) are registrable (docs/security.md A-07).
          issuer: config().issuer,
        },
        Date.now(),
      );
      await (await storage()).clients.create(client);
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
      if (client.metadata.dpop_bound_access_tokens) output.dpop_bound_access_tokens = true;
      if (secret) output.client_secret = secret;
      printJson(io, output);
      if (secret) io.stderr('The client_secret is shown once: store it now.\n');
      return 0;
    } catch (error) {
      if (error instanceof OAuthError && !(error instanceof StorageUnavailableError)) {
        throw new CommandFailure(error.description ?? error.code);
      }
      throw error;
    }
  },
};
