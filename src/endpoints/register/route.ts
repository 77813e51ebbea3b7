// RFC 7591 (POST /oauth/register) and RFC 7592 (GET, PUT, DELETE on the registration_client_uri with the
// registration access token). Policy by GATEHOUSE_REGISTRATION: open, token (initial access token), approval
// (clients wait as pending), closed. Bodies are JSON, at most 16 KB; a per-IP rate limit keeps an open
// endpoint from being used to store junk.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../../deps.ts';
import { OAuthError } from '../../errors.ts';
import { acceptJsonBodies } from '../../http/json-body.ts';
import { ipRateLimit } from '../../http/rate-limit.ts';
import { buildClient } from '../../oauth/client-metadata.ts';
import {
  changedFields,
  changesNeedReview,
  proposeChange,
  reviewedFieldsOf,
} from '../../oauth/client-review.ts';
import { mintOpaqueToken, TOKEN_PREFIX } from '../../oauth/opaque-token.ts';
import { readRegistrationRequest, registrationResponse } from '../../oauth/registration.ts';
import { recordSecurityEvent } from '../../oauth/security-events.ts';
import type { Client } from '../../storage/storage.ts';
import { constantTimeEqual, sha256 } from '../../util/hash.ts';
import { randomToken } from '../../util/random.ts';

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return header === undefined ? undefined : BEARER.exec(header)?.[1];
}

function invalidToken(description: string): OAuthError {
  return new OAuthError('invalid_token', description, {
    headers: { 'WWW-Authenticate': `Bearer error="invalid_token", error_description="${description}"` },
  });
}

export function registerRegistration(app: FastifyInstance, deps: Deps) {
  const { config, storage, clock } = deps;
  app.register(async (scope) => {
    acceptJsonBodies(scope, {
      invalidJson: () => new OAuthError('invalid_client_metadata', 'The body is not valid JSON'),
      controlCharacter: () =>
        new OAuthError('invalid_client_metadata', 'The metadata contains a control character'),
    });
    scope.addHook('onSend', async (_request, reply, payload) => {
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      return payload;
    });

    /** RFC 7592 §3: the registration access token authenticates management requests for one client. */
    async function managedClient(request: FastifyRequest<{ Params: { clientId: string } }>): Promise<Client> {
      const token = bearerOf(request);
      if (!token) throw invalidToken('The registration access token is missing');
      const client = await storage.clients.find(request.params.clientId);
      if (
        !client?.registrationAccessTokenHash ||
        !constantTimeEqual(sha256(token), client.registrationAccessTokenHash)
      ) {
        throw invalidToken('The registration access token is invalid');
      }
      return client;
    }

    scope.post(
      config.paths.register,
      {
        // Counted in the database, so the limit holds across processes and restarts.
        onRequest: ipRateLimit(storage, () => clock.now(), {
          name: 'register',
          max: config.registrationRateLimit,
          windowMs: 3_600_000,
        }),
      },
      async (request, reply: FastifyReply) => {
        if (config.registrationPolicy === 'closed') {
          throw new OAuthError('access_denied', 'Registration is closed; ask an administrator for a client', {
            status: 403,
          });
        }
        const initialToken = config.registrationPolicy === 'token' ? bearerOf(request) : undefined;
        if (config.registrationPolicy === 'token' && !initialToken) {
          throw invalidToken('A valid initial access token is required to register');
        }
        const { input, trimmedScopes, droppedGrantTypes } = readRegistrationRequest(request.body, config);
        const { client, secret, registrationAccessToken } = buildClient(
          { ...input, status: config.registrationPolicy === 'approval' ? 'pending' : 'active' },
          clock.now(),
        );
        // A refused request does not use up the initial access token: it is spent together with the insert.
        await storage.transaction(async (tx) => {
          if (initialToken && !(await tx.initialAccessTokens.consume(sha256(initialToken), clock.now()))) {
            throw invalidToken('A valid initial access token is required to register');
          }
          await tx.clients.create(client);
          // Anonymous (or the holder of an initial access token): no actor, the address says where from.
          await recordSecurityEvent(tx, clock.now(), 'client_registered', {
            clientId: client.id,
            clientName: client.name,
            ip: request.ip,
            detail: {
              via: 'dynamic_registration',
              status: client.status,
              ...(trimmedScopes.length > 0 ? { trimmed_scopes: trimmedScopes } : {}),
              ...(droppedGrantTypes.length > 0 ? { dropped_grant_types: droppedGrantTypes } : {}),
            },
          });
        });
        request.log.info(
          { event: 'client_registered', clientId: client.id, trimmedScopes, droppedGrantTypes },
          'client registered',
        );
        deps.metrics.clientRegistered();
        return reply.code(201).send({
          ...registrationResponse(client, config),
          ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
          registration_access_token: registrationAccessToken,
        });
      },
    );

    scope.get<{ Params: { clientId: string } }>(`${config.paths.register}/:clientId`, async (request) =>
      registrationResponse(await managedClient(request), config),
    );

    scope.put<{ Params: { clientId: string } }>(`${config.paths.register}/:clientId`, async (request) => {
      const current = await managedClient(request);
      const body = request.body as Record<string, unknown> | undefined;
      // RFC 7592 §2.2: the body names the client it updates; it cannot set a secret or an id of its own.
      if (body?.client_id !== current.id) {
        throw new OAuthError('invalid_request', 'The body must carry this client_id');
      }
      // §2.2: the update echoes the metadata, and an echoed client_secret must be the current one.
      if (body.client_secret !== undefined && body.client_secret !== null) {
        // The secret of a change that waits for review counts too: the client was shown it.
        const echoed = typeof body.client_secret === 'string' ? sha256(body.client_secret) : undefined;
        const matches =
          echoed !== undefined &&
          [current.secretHash, current.pendingChanges?.secretHash].some(
            (hash) => typeof hash === 'string' && constantTimeEqual(echoed, hash),
          );
        if (!matches)
          throw new OAuthError('invalid_client_metadata', 'client_secret cannot be set by the client');
      }
      const { input, droppedGrantTypes } = readRegistrationRequest(body, config, current);
      const rebuilt = buildClient(input, current.createdAt).client;
      const becomesConfidential = rebuilt.tokenEndpointAuthMethod !== 'none' && current.secretHash === null;
      const secret = becomesConfidential ? mintOpaqueToken(TOKEN_PREFIX.clientSecret) : undefined;
      // docs/security.md H-10: every update hands out a new registration access token; the old one dies.
      const registrationAccessToken = randomToken(32);
      const registrationAccessTokenHash = sha256(registrationAccessToken);
      const proposed: Client = {
        ...rebuilt,
        id: current.id,
        createdAt: current.createdAt,
        status: current.status,
        disabledAt: current.disabledAt,
        registeredVia: current.registeredVia,
        ownerUserId: current.ownerUserId,
        // The operator's mark (`gatehouse clients resource-server`) is no client metadata; public clients
        // cannot introspect (RFC 7662 §2.1).
        resourceServer: rebuilt.tokenEndpointAuthMethod !== 'none' && current.resourceServer,
        reviewedAt: current.reviewedAt,
        previousSecretHash: current.previousSecretHash,
        previousSecretExpiresAt: current.previousSecretExpiresAt,
        secretHash:
          rebuilt.tokenEndpointAuthMethod === 'none' ? null : secret ? sha256(secret) : current.secretHash,
        registrationAccessTokenHash,
      };
      // Under `approval`, a change to what the administrator approved waits for them (client-review.ts);
      // the approved registration keeps working meanwhile.
      const updated = proposeChange(current, proposed, {
        review: changesNeedReview(current, config.registrationPolicy),
        now: clock.now(),
        keep: { registrationAccessTokenHash },
        newSecretHash: secret ? sha256(secret) : undefined,
      });
      await storage.transaction(async (tx) => {
        await tx.clients.update(updated);
        await recordSecurityEvent(tx, clock.now(), 'client_updated', {
          actor: { kind: 'client', id: current.id, name: current.name },
          clientId: current.id,
          clientName: current.name,
          ip: request.ip,
          detail: {
            via: 'registration_management',
            awaiting_review: updated.pendingChanges !== null,
            fields: changedFields(
              current,
              updated.pendingChanges ?? { ...reviewedFieldsOf(updated), proposedAt: clock.now() },
            ),
          },
        });
      });
      if (updated.pendingChanges || droppedGrantTypes.length > 0) {
        request.log.info(
          {
            event: 'client_update',
            clientId: current.id,
            awaitingReview: updated.pendingChanges !== null,
            droppedGrantTypes,
          },
          'client update',
        );
      }
      // A secret minted for a change that waits belongs to that change: it is shown inside pending_changes.
      const secretInForce = secret !== undefined && updated.pendingChanges === null;
      return {
        ...registrationResponse(updated, config, secretInForce ? undefined : secret),
        ...(secretInForce ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
        registration_access_token: registrationAccessToken,
      };
    });

    scope.delete<{ Params: { clientId: string } }>(
      `${config.paths.register}/:clientId`,
      async (request, reply) => {
        const client = await managedClient(request);
        await storage.transaction(async (tx) => {
          await tx.clients.delete(client.id, clock.now());
          await recordSecurityEvent(tx, clock.now(), 'client_deleted', {
            actor: { kind: 'client', id: client.id, name: client.name },
            clientId: client.id,
            clientName: client.name,
            ip: request.ip,
            detail: { via: 'registration_management' },
          });
        });
        return reply.code(204).send();
      },
    );
  });
}
