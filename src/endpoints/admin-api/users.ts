// /api/v1/users: the operations of accounts/users.ts over HTTP, and each user's authorizations (the live grants
// apps hold for them), which support can end one app at a time.
import type { FastifyInstance } from 'fastify';
import {
  createUser,
  deleteUser,
  disableUser,
  enableUser,
  parseContact,
  resetPassword,
  revokeUserTokens,
  signInKind,
  type UserOutcome,
  updateContact,
} from '../../accounts/users.ts';
import type { Deps } from '../../deps.ts';
import { OAuthError } from '../../errors.ts';
import { announceSignOutEverywhere } from '../../http/session.ts';
import { deauthorize } from '../../oauth/deauthorize.ts';
import type { Acting } from '../../oauth/security-events.ts';
import type { User } from '../../storage/storage.ts';
import { randomToken } from '../../util/random.ts';
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

/** One user as the admin API shows it: never the password hash. */
export function userView(user: User) {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    is_admin: user.isAdmin,
    email_verified: user.emailVerified,
    phone_number: user.phoneNumber ?? null,
    phone_number_verified: user.phoneNumberVerified ?? false,
    address: user.address ?? null,
    status: user.disabledAt === null ? 'active' : 'disabled',
    sign_in: signInKind(user),
    created_at: iso(user.createdAt),
    updated_at: iso(user.updatedAt),
    disabled_at: iso(user.disabledAt),
  };
}

export function registerAdminUsers(app: FastifyInstance, deps: Deps) {
  const { storage, clock } = deps;
  type WithId = { Params: { id: string } };

  app.get<{ Querystring: { limit?: string; cursor?: string; email?: string } }>(
    `${API_PREFIX}/users`,
    async (request, reply) => {
      await authorize(deps, request, reply, 'users:read');
      if (request.query.email !== undefined) {
        // An exact lookup (support finding a person), one row or none.
        const found = await storage.users.findByEmail(request.query.email.slice(0, 320));
        return { items: found ? [userView(found)] : [], next_cursor: null };
      }
      const limit = pageSize(request.query.limit);
      const rows = await storage.users.listPage({ limit, before: cursorFrom(request.query.cursor) });
      return page(rows, limit, userView);
    },
  );

  app.post(`${API_PREFIX}/users`, async (request, reply) => {
    const acting = await authorize(deps, request, reply, 'users:write');
    const body = bodyOf(request);
    for (const field of Object.keys(body)) {
      if (!['email', 'name', 'is_admin', 'password'].includes(field)) {
        throw new OAuthError('invalid_request', `Unknown field ${field.slice(0, 64)}`);
      }
    }
    const { email, name, is_admin: isAdmin, password } = body;
    if (
      typeof email !== 'string' ||
      (name !== undefined && typeof name !== 'string') ||
      (isAdmin !== undefined && typeof isAdmin !== 'boolean') ||
      (password !== undefined && typeof password !== 'string')
    ) {
      throw new OAuthError(
        'invalid_request',
        'email (string) is required; name, password strings; is_admin boolean',
      );
    }
    // Without a password one is generated and returned once, as the console and the CLI do.
    const generated = password === undefined ? randomToken(12) : undefined;
    const user = await withInput(() =>
      createUser(
        storage,
        { email, name, isAdmin, password: password ?? generated ?? '' },
        clock.now(),
        deps.config.passwordCost,
        acting,
      ),
    );
    return reply.code(201).send({ ...userView(user), ...(generated ? { password: generated } : {}) });
  });

  app.get<WithId>(`${API_PREFIX}/users/:id`, async (request, reply) => {
    await authorize(deps, request, reply, 'users:read');
    const user = await storage.users.findById(request.params.id);
    return user ? userView(user) : notFound(reply, 'user');
  });

  // The OIDC Core §5.1 profile fields the phone and address scopes release.
  app.patch<WithId>(`${API_PREFIX}/users/:id`, async (request, reply) => {
    const acting = await authorize(deps, request, reply, 'users:write');
    const body = bodyOf(request);
    for (const field of Object.keys(body)) {
      if (!['phone_number', 'phone_number_verified', 'address'].includes(field)) {
        throw new OAuthError('invalid_request', `Unknown field ${field.slice(0, 64)}`);
      }
    }
    const contact = await withInput(async () => parseContact(body));
    const outcome = await updateContact(storage, clock.now(), request.params.id, contact, acting);
    return sendOutcome(reply, outcome, 'user', ({ value }) => userView(value));
  });

  app.delete<WithId>(`${API_PREFIX}/users/:id`, async (request, reply) => {
    const acting = await authorize(deps, request, reply, 'users:write');
    const outcome = await deleteUser(storage, clock.now(), request.params.id, acting);
    if (outcome.status === 'ok') return reply.code(204).send();
    return sendOutcome(reply, outcome, 'user', ({ value }) => userView(value));
  });

  const actions: Record<string, (id: string, acting: Acting) => Promise<UserOutcome>> = {
    disable: (id, acting) => disableUser(storage, clock.now(), id, acting),
    enable: (id, acting) => enableUser(storage, clock.now(), id, acting),
  };
  for (const [action, operation] of Object.entries(actions)) {
    app.post<WithId>(`${API_PREFIX}/users/:id/${action}`, async (request, reply) => {
      const acting = await authorize(deps, request, reply, 'users:write');
      const outcome = await operation(request.params.id, acting);
      // Their sessions ended: the clients they signed in to hear so (Back-Channel Logout 1.0), not awaited.
      if (action === 'disable' && outcome.status === 'ok') {
        announceSignOutEverywhere(deps, outcome.value.id, request.log);
      }
      return sendOutcome(reply, outcome, 'user', ({ value }) => userView(value));
    });
  }

  app.post<WithId>(`${API_PREFIX}/users/:id/reset-password`, async (request, reply) => {
    const acting = await authorize(deps, request, reply, 'users:write');
    const outcome = await resetPassword(
      storage,
      clock.now(),
      request.params.id,
      acting,
      deps.config.passwordCost,
    );
    return sendOutcome(reply, outcome, 'user', (done) => ({
      ...userView(done.value),
      password: done.status === 'ok' ? done.password : undefined,
      revoked_grants: done.status === 'ok' ? done.revokedGrants : 0,
    }));
  });

  app.post<WithId>(`${API_PREFIX}/users/:id/revoke-tokens`, async (request, reply) => {
    const acting = await authorize(deps, request, reply, 'users:write');
    const outcome = await revokeUserTokens(storage, clock.now(), request.params.id, acting);
    return sendOutcome(reply, outcome, 'user', (done) => ({
      revoked_grants: done.status === 'ok' ? done.revokedGrants : 0,
    }));
  });

  app.get<WithId>(`${API_PREFIX}/users/:id/authorizations`, async (request, reply) => {
    await authorize(deps, request, reply, 'users:read');
    const user = await storage.users.findById(request.params.id);
    if (!user) return notFound(reply, 'user');
    const grants = await storage.grants.listActiveForUser(user.id);
    return {
      items: grants.map((grant) => ({
        grant_id: grant.id,
        client_id: grant.clientId,
        scope: grant.scope,
        created_at: iso(grant.createdAt),
        last_used_at: iso(grant.lastUsedAt),
      })),
    };
  });

  // What the user's own "Remove access" does: every token the app holds for them revoked, consent forgotten.
  app.delete<{ Params: { id: string; clientId: string } }>(
    `${API_PREFIX}/users/:id/authorizations/:clientId`,
    async (request, reply) => {
      const acting = await authorize(deps, request, reply, 'users:write');
      const user = await storage.users.findById(request.params.id);
      if (!user) return notFound(reply, 'user');
      const revoked = await deauthorize(storage, user.id, request.params.clientId, clock.now(), {
        actor: acting.actor,
        ip: acting.ip ?? '',
      });
      return { revoked_grants: revoked };
    },
  );
}
