// /api/v1/clients and /api/v1/registration-tokens: the operations of applications/ over HTTP, for Terraform
// providers, CI pipelines and support tools. Field names follow RFC 7591 where one exists.
import type { FastifyInstance } from 'fastify';
import {
  approveClient,
  approveClientChanges,
  approveClientScopes,
  type ClientOutcome,
  createClient,
  deleteClient,
  disableClient,
  enableClient,
  rejectClient,
  rejectClientChanges,
  rejectClientScopes,
  revokeClientTokens,
  rotateClientSecret,
} from '../../applications/clients.ts';
import { issueRegistrationToken } from '../../applications/registration-tokens.ts';
import type { Deps } from '../../deps.ts';
import { OAuthError } from '../../errors.ts';
import { changedFields, reviewFingerprint } from '../../oauth/client-review.ts';
import type { Acting } from '../../oauth/security-events.ts';
import type { Client } from '../../storage/storage.ts';
import {
  API_PREFIX,
  authorize,
  bodyOf,
  cursorFrom,
  iso,
  notFound,
  page,
  pageSize,
  sendOutcome,
  withInput,
} from './auth.ts';

/** One client as the admin API shows it: everything but secrets and token hashes. */
export function clientView(client: Client) {
  return {
    client_id: client.id,
    client_name: client.name,
    status: client.disabledAt !== null ? 'disabled' : client.status,
    registered_via: client.registeredVia,
    owner_user_id: client.ownerUserId,
    created_at: iso(client.createdAt),
    reviewed_at: iso(client.reviewedAt),
    redirect_uris: client.redirectUris,
    grant_types: client.grantTypes,
    scope: client.scope,
    requested_scope: client.requestedScope,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    application_type: client.applicationType,
    require_pkce: client.requirePkce,
    allowed_cors_origins: client.allowedCorsOrigins,
    resources: client.allowedResources,
    resource_server: client.resourceServer,
    non_expiring_tokens: client.nonExpiringTokens,
    ...client.metadata,
    /** Send it back with approve: the client is approved only if it is still what you read. */
    review_fingerprint: reviewFingerprint(client),
    pending_changes: client.pendingChanges
      ? {
          fields: changedFields(client, client.pendingChanges),
          proposed_at: iso(client.pendingChanges.proposedAt),
          review_fingerprint: reviewFingerprint(client.pendingChanges),
        }
      : null,
  };
}

const strings = (value: unknown, field: string): string[] | undefined => {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new OAuthError('invalid_client_metadata', `${field} must be an array of strings`);
  }
  return value;
};

const optional = <T>(value: unknown, field: string, type: 'string' | 'boolean'): T | undefined => {
  if (value === undefined) return undefined;
  if (typeof value !== type) throw new OAuthError('invalid_client_metadata', `${field} must be a ${type}`);
  return value as T;
};

const CREATE_FIELDS = new Set([
  'client_name',
  'redirect_uris',
  'grant_types',
  'scope',
  'token_endpoint_auth_method',
  'application_type',
  'require_pkce',
  'allowed_cors_origins',
  'resources',
  'resource_server',
  'non_expiring_tokens',
]);

/** What an operator sends to create a client, as the CLI's `clients add` options. */
function clientInput(body: Record<string, unknown>) {
  const unknown = Object.keys(body).filter((field) => !CREATE_FIELDS.has(field));
  if (unknown.length > 0) {
    throw new OAuthError('invalid_client_metadata', `Unknown field ${unknown[0]!.slice(0, 64)}`);
  }
  const method = optional<string>(body.token_endpoint_auth_method, 'token_endpoint_auth_method', 'string');
  if (method !== undefined && !['none', 'client_secret_basic', 'client_secret_post'].includes(method)) {
    throw new OAuthError('invalid_client_metadata', 'Unsupported token_endpoint_auth_method');
  }
  const applicationType = optional<string>(body.application_type, 'application_type', 'string');
  if (applicationType !== undefined && applicationType !== 'web' && applicationType !== 'native') {
    throw new OAuthError('invalid_client_metadata', 'application_type must be web or native');
  }
  return {
    name: optional<string>(body.client_name, 'client_name', 'string') ?? '',
    redirectUris: strings(body.redirect_uris, 'redirect_uris') ?? [],
    grantTypes: strings(body.grant_types, 'grant_types'),
    scope: optional<string>(body.scope, 'scope', 'string'),
    tokenEndpointAuthMethod: (method ?? 'client_secret_basic') as
      | 'none'
      | 'client_secret_basic'
      | 'client_secret_post',
    applicationType: applicationType as 'web' | 'native' | undefined,
    requirePkce: optional<boolean>(body.require_pkce, 'require_pkce', 'boolean'),
    allowedCorsOrigins: strings(body.allowed_cors_origins, 'allowed_cors_origins') ?? [],
    allowedResources: strings(body.resources, 'resources') ?? [],
    resourceServer: optional<boolean>(body.resource_server, 'resource_server', 'boolean') ?? false,
    nonExpiringTokens: optional<boolean>(body.non_expiring_tokens, 'non_expiring_tokens', 'boolean') ?? false,
  };
}

/** `{"review_fingerprint": …}` in an approve body: approve only what the caller read. */
function seenIn(body: Record<string, unknown>): string | undefined {
  return optional<string>(body.review_fingerprint, 'review_fingerprint', 'string');
}

export function registerAdminClients(app: FastifyInstance, deps: Deps) {
  const { storage, clock } = deps;
  type WithId = { Params: { id: string } };

  app.get<{ Querystring: { limit?: string; cursor?: string; awaiting_review?: string } }>(
    `${API_PREFIX}/clients`,
    async (request, reply) => {
      await authorize(deps, request, reply, 'clients:read');
      if (request.query.awaiting_review === 'true') {
        // Few by nature (an administrator's queue): one answer, oldest first.
        const waiting = await storage.clients.listAwaitingReview();
        return { items: waiting.map(clientView), next_cursor: null };
      }
      const limit = pageSize(request.query.limit);
      const rows = await storage.clients.listPage({ limit, before: cursorFrom(request.query.cursor) });
      return page(rows, limit, clientView);
    },
  );

  app.post(`${API_PREFIX}/clients`, async (request, reply) => {
    const acting = await authorize(deps, request, reply, 'clients:write');
    const input = { ...clientInput(bodyOf(request)), issuer: deps.config.issuer };
    const { client, secret } = await createClient(storage, clock.now(), input, acting);
    return reply.code(201).send({ ...clientView(client), ...(secret ? { client_secret: secret } : {}) });
  });

  app.get<WithId>(`${API_PREFIX}/clients/:id`, async (request, reply) => {
    await authorize(deps, request, reply, 'clients:read');
    const client = await storage.clients.find(request.params.id);
    return client ? clientView(client) : notFound(reply, 'client');
  });

  app.delete<WithId>(`${API_PREFIX}/clients/:id`, async (request, reply) => {
    const acting = await authorize(deps, request, reply, 'clients:write');
    const outcome = await deleteClient(storage, clock.now(), request.params.id, acting);
    return outcome.status === 'ok' ? reply.code(204).send() : notFound(reply, 'client');
  });

  /** POST /clients/{id}/{action}: one operation each; the answer is the client as it is now. */
  const actions: Record<
    string,
    (id: string, acting: Acting, body: Record<string, unknown>) => Promise<ClientOutcome>
  > = {
    approve: (id, acting, body) => approveClient(storage, clock.now(), id, acting, seenIn(body)),
    reject: (id, acting) => rejectClient(storage, clock.now(), id, acting),
    'approve-changes': (id, acting, body) =>
      approveClientChanges(storage, clock.now(), id, acting, seenIn(body)),
    'reject-changes': (id, acting) => rejectClientChanges(storage, clock.now(), id, acting),
    'approve-scopes': (id, acting) => approveClientScopes(storage, clock.now(), id, acting),
    'reject-scopes': (id, acting) => rejectClientScopes(storage, clock.now(), id, acting),
    disable: (id, acting) => disableClient(storage, clock.now(), id, acting),
    enable: (id, acting) => enableClient(storage, clock.now(), id, acting),
  };
  for (const [action, operation] of Object.entries(actions)) {
    app.post<WithId>(`${API_PREFIX}/clients/:id/${action}`, async (request, reply) => {
      const acting = await authorize(deps, request, reply, 'clients:write');
      const outcome = await operation(request.params.id, acting, bodyOf(request));
      // A rejected registration is gone: its last state is the answer.
      return sendOutcome(reply, outcome, 'client', ({ value }) => clientView(value));
    });
  }

  app.post<WithId>(`${API_PREFIX}/clients/:id/revoke-tokens`, async (request, reply) => {
    const acting = await authorize(deps, request, reply, 'clients:write');
    const outcome = await revokeClientTokens(storage, clock.now(), request.params.id, acting);
    return sendOutcome(reply, outcome, 'client', (done) => ({
      revoked_grants: done.status === 'ok' ? done.revokedGrants : 0,
    }));
  });

  app.post<WithId>(`${API_PREFIX}/clients/:id/secret`, async (request, reply) => {
    const acting = await authorize(deps, request, reply, 'clients:write');
    const body = bodyOf(request);
    const overlap = body.overlap_seconds ?? deps.config.secretRotationOverlap;
    if (typeof overlap !== 'number')
      throw new OAuthError('invalid_request', 'overlap_seconds must be a number');
    const outcome = await withInput(() =>
      rotateClientSecret(storage, clock.now(), request.params.id, acting, overlap),
    );
    return sendOutcome(reply, outcome, 'client', (done) => ({
      client_id: done.value.id,
      client_secret: done.status === 'ok' ? done.secret : undefined,
      previous_secret_expires_at: iso(done.value.previousSecretExpiresAt),
    }));
  });

  app.post(`${API_PREFIX}/registration-tokens`, async (request, reply) => {
    const acting = await authorize(deps, request, reply, 'clients:write');
    const body = bodyOf(request);
    const uses = body.uses ?? 1;
    const hours = body.expires_in_hours;
    if (typeof uses !== 'number' || (hours !== undefined && typeof hours !== 'number')) {
      throw new OAuthError('invalid_request', 'uses and expires_in_hours must be numbers');
    }
    const issued = await withInput(() =>
      issueRegistrationToken(storage, clock.now(), { uses, hours }, acting),
    );
    return reply
      .code(201)
      .send({ token: issued.token, uses: issued.uses, expires_at: iso(issued.expiresAt) });
  });
}
