// The admin console's routes (administrators only): approve or reject pending clients and per-client scope
// requests, disable clients (their tokens stop working at once), manage users, issue initial access tokens, and
// read the security event log. Each action is one operation of applications/ or accounts/users.ts; the page
// itself is view.ts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { unlinkIdentity } from '../../accounts/linked-identities.ts';
import {
  createUser,
  disableUser,
  enableUser,
  resetPassword,
  UserInputError,
  type UserOutcome,
} from '../../accounts/users.ts';
import {
  approveClient,
  approveClientChanges,
  approveClientScopes,
  type ClientOutcome,
  disableClient,
  enableClient,
  rejectClient,
  rejectClientChanges,
  rejectClientScopes,
} from '../../applications/clients.ts';
import { issueRegistrationToken } from '../../applications/registration-tokens.ts';
import type { Deps } from '../../deps.ts';
import { announceSignOutEverywhere } from '../../http/session.ts';
import type { Acting } from '../../oauth/security-events.ts';
import type { Client, PageCursor, User } from '../../storage/storage.ts';
import { randomToken } from '../../util/random.ts';
import { chrome, signedInUser, toLogin } from '../account.ts';
import { errorPage } from '../error.ts';
import { type Flash, redirectWithFlash, takeFlash } from '../flash.ts';
import { html, type SafeHtml } from '../html.ts';
import { layout } from '../layout.ts';
import { type Confirmation, confirmationView, tableHead } from '../parts.ts';
import { csrfToken, sendPage } from '../render.ts';
import { ADMIN_PAGE_SIZE, type ConsolePages, confirmLink, consoleBody, when } from './view.ts';

export { ADMIN_PAGE_SIZE };

/** `?clients=` / `?users=`: where the previous page ended, as "<created_at>.<id>". */
function cursorFrom(value: unknown): PageCursor | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(\d{1,16})\.(.{1,200})$/.exec(value);
  return match ? { createdAt: Number(match[1]), id: match[2]! } : undefined;
}

export function registerAdmin(app: FastifyInstance, deps: Deps) {
  const { storage, clock } = deps;
  const upstreamNames = new Map(deps.config.upstreams.map((upstream) => [upstream.id, upstream.name]));

  /** The signed-in administrator, or an answer already sent (sign-in page, or 403 for everyone else). */
  async function admin(request: FastifyRequest, reply: FastifyReply): Promise<User | undefined> {
    const user = await signedInUser(deps, request);
    if (!user) {
      await toLogin(request, reply);
      return undefined;
    }
    if (!user.isAdmin) {
      await sendPage(
        reply,
        errorPage(deps.config, 'Administrators only', 'This page is for administrators.'),
        403,
      );
      return undefined;
    }
    return user;
  }

  async function renderConsole(
    reply: FastifyReply,
    user: User,
    notice?: SafeHtml,
    code = 200,
    pages: ConsolePages = {},
    flash?: Flash,
    newUser: { email: string; name: string; admin: boolean } = { email: '', name: '', admin: false },
  ) {
    // Paged, newest first: a deployment with 100,000 clients would otherwise read (and send) every one.
    const clients = await storage.clients.listPage({ limit: ADMIN_PAGE_SIZE, before: pages.clients });
    const users = await storage.users.listPage({ limit: ADMIN_PAGE_SIZE, before: pages.users });
    const events = await storage.securityEvents.list({ limit: 50 });
    const awaiting = await storage.clients.listAwaitingReview();
    // "Registered by" names the developer: one lookup per distinct owner on this page (at most 50).
    const owners = new Map<string, User>();
    for (const ownerId of new Set(clients.map((client) => client.ownerUserId))) {
      const owner = ownerId === null ? undefined : await storage.users.findById(ownerId);
      if (owner) owners.set(owner.id, owner);
    }
    const body = consoleBody({
      csrfToken: csrfToken(reply),
      viewer: user,
      clients,
      users,
      events,
      awaiting,
      owners,
      pages,
      notice,
      flash,
      newUser,
      showLinkedSignIns: upstreamNames.size > 0,
    });
    return sendPage(reply, layout({ ...chrome(deps, reply, user, 'Admin'), body }), code);
  }

  app.get<{ Querystring: { clients?: string; users?: string } }>('/admin', async (request, reply) => {
    const user = await admin(request, reply);
    if (!user) return reply;
    return renderConsole(
      reply,
      user,
      undefined,
      200,
      { clients: cursorFrom(request.query.clients), users: cursorFrom(request.query.users) },
      takeFlash(deps, request, reply),
    );
  });

  /** What each destructive action says on its confirmation page (parts.ts confirmationView). */
  const clientConfirmations: Record<
    string,
    (client: Client) => Omit<Confirmation, 'action' | 'cancel' | 'csrfToken'>
  > = {
    disable: (client) => ({
      title: `Disable ${client.name}?`,
      consequence:
        'Its tokens stop working at once, and it cannot sign anyone in or get tokens until it is enabled again.',
      button: 'Disable application',
    }),
    reject: (client) => ({
      title: `Reject ${client.name}?`,
      consequence: 'The registration is deleted; the developer has to register again.',
      button: 'Reject and delete',
    }),
  };
  const userConfirmations: Record<
    string,
    (person: User) => Omit<Confirmation, 'action' | 'cancel' | 'csrfToken'>
  > = {
    disable: (person) => ({
      title: `Disable ${person.email ?? person.id}?`,
      consequence: 'They are signed out everywhere, and every token issued for them stops working at once.',
      button: 'Disable user',
    }),
    'reset-password': (person) => ({
      title: `Reset the password of ${person.email ?? person.id}?`,
      consequence:
        'A new password is generated and shown once. Their old password stops working, and every token and session they have is revoked.',
      button: 'Reset password',
    }),
  };
  const confirmationPage = (reply: FastifyReply, user: User, confirmation: Confirmation) =>
    sendPage(
      reply,
      layout({ ...chrome(deps, reply, user, confirmation.title), body: confirmationView(confirmation) }),
    );

  for (const [path, words] of Object.entries(clientConfirmations)) {
    app.get<{ Params: { id: string } }>(`/admin/clients/:id/${path}`, async (request, reply) => {
      const user = await admin(request, reply);
      if (!user) return reply;
      const client = await storage.clients.find(request.params.id);
      if (!client) return reply.callNotFound();
      return confirmationPage(reply, user, {
        ...words(client),
        action: `/admin/clients/${encodeURIComponent(client.id)}/${path}`,
        cancel: '/admin',
        csrfToken: csrfToken(reply),
      });
    });
  }
  for (const [path, words] of Object.entries(userConfirmations)) {
    app.get<{ Params: { id: string } }>(`/admin/users/:id/${path}`, async (request, reply) => {
      const user = await admin(request, reply);
      if (!user) return reply;
      const person = await storage.users.findById(request.params.id);
      if (!person || person.id === user.id) return reply.callNotFound();
      return confirmationPage(reply, user, {
        ...words(person),
        action: `/admin/users/${encodeURIComponent(person.id)}/${path}`,
        cancel: '/admin',
        csrfToken: csrfToken(reply),
      });
    });
  }

  const by = (request: FastifyRequest, user: User): Acting => ({
    actor: { kind: 'user', id: user.id, name: user.email },
    ip: request.ip,
  });
  const conflictNotice = (reason: string) => html`<p class="error card wide" role="alert">${reason}</p>`;

  // Each button is one operation of applications/clients.ts, which records its own event. The approve buttons
  // carry what the administrator was shown (`seen`): a client that changed itself since the page was rendered
  // is shown again instead of being approved unseen.
  const clientActions: Record<
    string,
    (id: string, acting: Acting, body: Record<string, string>) => Promise<ClientOutcome>
  > = {
    approve: (id, acting, body) => approveClient(storage, clock.now(), id, acting, body.seen),
    'approve-changes': (id, acting, body) =>
      approveClientChanges(storage, clock.now(), id, acting, body.seen),
    'reject-changes': (id, acting) => rejectClientChanges(storage, clock.now(), id, acting),
    reject: (id, acting) => rejectClient(storage, clock.now(), id, acting),
    disable: (id, acting) => disableClient(storage, clock.now(), id, acting),
    enable: (id, acting) => enableClient(storage, clock.now(), id, acting),
    'approve-scopes': (id, acting) => approveClientScopes(storage, clock.now(), id, acting),
    'reject-scopes': (id, acting) => rejectClientScopes(storage, clock.now(), id, acting),
  };
  for (const [path, operation] of Object.entries(clientActions)) {
    app.post<{ Params: { id: string }; Body: Record<string, string> }>(
      `/admin/clients/:id/${path}`,
      { preHandler: app.csrfProtection },
      async (request, reply) => {
        const user = await admin(request, reply);
        if (!user) return reply;
        if (path in clientConfirmations && request.body?.confirm !== 'yes') {
          return reply.redirect(`/admin/clients/${encodeURIComponent(request.params.id)}/${path}`, 303);
        }
        const outcome = await operation(request.params.id, by(request, user), request.body ?? {});
        if (outcome.status === 'not_found') return reply.callNotFound();
        if (outcome.status === 'conflict') {
          return renderConsole(reply, user, conflictNotice(outcome.reason), 409);
        }
        return reply.redirect('/admin', 303);
      },
    );
  }

  app.post<{ Body: Record<string, string> }>(
    '/admin/users',
    { preHandler: app.csrfProtection },
    async (request, reply) => {
      const user = await admin(request, reply);
      if (!user) return reply;
      const password = randomToken(12);
      try {
        const created = await createUser(
          storage,
          {
            email: request.body?.email ?? '',
            name: request.body?.name,
            password,
            isAdmin: request.body?.admin === 'yes',
          },
          clock.now(),
          deps.config.passwordCost,
          by(request, user),
        );
        // Post/redirect/get: a reload shows the console, not a second attempt; the password travels sealed.
        return redirectWithFlash(deps, reply, '/admin', {
          message: `Created ${created.email}.`,
          secrets: [{ label: 'Password', value: password, id: 'password' }],
          note: 'The password is shown only once: give it to them now.',
        });
      } catch (error) {
        if (!(error instanceof UserInputError)) throw error;
        return renderConsole(
          reply,
          user,
          html`<p class="error card wide" role="alert">${error.message}</p>`,
          400,
          {},
          undefined,
          {
            email: request.body?.email ?? '',
            name: request.body?.name ?? '',
            admin: request.body?.admin === 'yes',
          },
        );
      }
    },
  );

  /** A console action on one user: one operation of accounts/users.ts, and what to show once (a new password). */
  const userAction = (
    path: string,
    operation: (id: string, acting: Acting) => Promise<UserOutcome<{ flash?: Flash }>>,
  ) =>
    app.post<{ Params: { id: string }; Body: Record<string, string> }>(
      `/admin/users/:id/${path}`,
      { preHandler: app.csrfProtection },
      async (request, reply) => {
        const user = await admin(request, reply);
        if (!user) return reply;
        if (path in userConfirmations && request.body?.confirm !== 'yes') {
          return reply.redirect(`/admin/users/${encodeURIComponent(request.params.id)}/${path}`, 303);
        }
        const outcome = await operation(request.params.id, by(request, user));
        if (outcome.status === 'not_found') return reply.callNotFound();
        if (outcome.status === 'conflict') {
          return renderConsole(reply, user, conflictNotice(outcome.reason), 409);
        }
        if (outcome.status === 'ok' && outcome.flash) {
          return redirectWithFlash(deps, reply, '/admin', outcome.flash);
        }
        return reply.redirect('/admin', 303);
      },
    );
  userAction('disable', async (id, acting) => {
    const outcome = await disableUser(storage, clock.now(), id, acting);
    // Their sessions ended: the clients they signed in to hear so (Back-Channel Logout 1.0), not awaited.
    if (outcome.status === 'ok') announceSignOutEverywhere(deps, id, app.log);
    return outcome;
  });
  userAction('enable', (id, acting) => enableUser(storage, clock.now(), id, acting));
  userAction('reset-password', async (id, acting) => {
    // Revokes the user's grants (so their tokens) and sessions too, in one transaction (RFC 9700 §4.14.2).
    const outcome = await resetPassword(storage, clock.now(), id, acting, deps.config.passwordCost);
    if (outcome.status !== 'ok') return outcome;
    return {
      ...outcome,
      flash: {
        message: `New password for ${outcome.value.email}.`,
        secrets: [{ label: 'Password', value: outcome.password, id: 'password' }],
        note: 'The password is shown only once: give it to them now.',
      },
    };
  });

  // A user's linked upstream accounts, each with an Unlink button (docs/security.md U-09). Unlinking stops that
  // upstream account from signing in as the user; a later sign-in with the same verified email links again
  // (to keep someone out, disable the user).
  async function renderIdentities(reply: FastifyReply, admin: User, person: User, notice?: SafeHtml) {
    const links = await storage.linkedIdentities.listForUser(person.id);
    const body = html`${notice ?? null}<section class="card wide"><h1>Linked sign-ins</h1>
      <p>Upstream accounts that sign in as <strong>${person.email}</strong>.</p>
      ${
        links.length
          ? html`<table class="stack">${tableHead('Provider', 'Upstream account', 'Linked', 'Last used', 'Actions')}<tbody>${links.map(
              (
                link,
              ) => html`<tr><td data-label="Provider">${upstreamNames.get(link.providerId) ?? link.providerId}</td>
                <td data-label="Upstream account"><code>${link.subject}</code>${link.email ? html`<br>${link.email}` : null}</td>
                <td data-label="Linked">${when(link.createdAt)}</td><td data-label="Last used">${link.lastUsedAt === null ? '' : when(link.lastUsedAt)}</td>
                <td data-label="Actions" class="row-actions">${confirmLink(
                  `/admin/users/${encodeURIComponent(person.id)}/identities/unlink?${new URLSearchParams({ provider: link.providerId, subject: link.subject })}`,
                  'Unlink…',
                )}</td></tr>`,
            )}</tbody></table>`
          : html`<p class="muted">None.</p>`
      }
      <p><a href="/admin">Back to the admin console</a></p></section>`;
    return sendPage(reply, layout({ ...chrome(deps, reply, admin, 'Linked sign-ins'), body }));
  }

  app.get<{ Params: { id: string } }>('/admin/users/:id/identities', async (request, reply) => {
    const user = await admin(request, reply);
    if (!user) return reply;
    const person = await storage.users.findById(request.params.id);
    if (!person) return reply.callNotFound();
    return renderIdentities(reply, user, person);
  });

  app.get<{ Params: { id: string }; Querystring: { provider?: string; subject?: string } }>(
    '/admin/users/:id/identities/unlink',
    async (request, reply) => {
      const user = await admin(request, reply);
      if (!user) return reply;
      const person = await storage.users.findById(request.params.id);
      if (!person) return reply.callNotFound();
      const provider = String(request.query.provider ?? '');
      const subject = String(request.query.subject ?? '');
      const back = `/admin/users/${encodeURIComponent(person.id)}/identities`;
      return confirmationPage(reply, user, {
        title: `Unlink this sign-in from ${person.email ?? person.id}?`,
        consequence: html`The account <code>${subject}</code> at ${upstreamNames.get(provider) ?? provider} stops signing in as this user. A later sign-in with the same verified email links it again: to keep someone out, disable the user.`,
        action: `${back}/unlink`,
        button: 'Unlink',
        cancel: back,
        csrfToken: csrfToken(reply),
        fields: { provider, subject },
      });
    },
  );

  app.post<{ Params: { id: string }; Body: Record<string, string> }>(
    '/admin/users/:id/identities/unlink',
    { preHandler: app.csrfProtection },
    async (request, reply) => {
      const user = await admin(request, reply);
      if (!user) return reply;
      const person = await storage.users.findById(request.params.id);
      if (!person) return reply.callNotFound();
      const provider = String(request.body?.provider ?? '');
      const subject = String(request.body?.subject ?? '');
      if (request.body?.confirm !== 'yes') {
        const query = new URLSearchParams({ provider, subject });
        return reply.redirect(
          `/admin/users/${encodeURIComponent(person.id)}/identities/unlink?${query}`,
          303,
        );
      }
      const removed = await unlinkIdentity(storage, person.id, provider, subject, clock.now(), user.id);
      if (!removed) {
        return renderIdentities(
          reply,
          user,
          person,
          html`<p class="error card wide" role="alert">That sign-in was not linked to ${person.email}.</p>`,
        );
      }
      return reply.redirect(`/admin/users/${encodeURIComponent(person.id)}/identities`, 303);
    },
  );

  app.post<{ Body: Record<string, string> }>(
    '/admin/registration-tokens',
    { preHandler: app.csrfProtection },
    async (request, reply) => {
      const user = await admin(request, reply);
      if (!user) return reply;
      try {
        const issued = await issueRegistrationToken(
          storage,
          clock.now(),
          { uses: Number(request.body?.uses ?? '1') },
          by(request, user),
        );
        return redirectWithFlash(deps, reply, '/admin', {
          message: `Initial access token, valid 24 hours for ${issued.uses} registration${issued.uses === 1 ? '' : 's'}.`,
          secrets: [{ label: 'Initial access token', value: issued.token, id: 'iat' }],
          note: 'The token is shown only once.',
        });
      } catch (error) {
        if (!(error instanceof UserInputError)) throw error;
        return renderConsole(reply, user, conflictNotice(error.message), 400);
      }
    },
  );
}
