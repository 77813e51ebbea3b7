// The admin console (administrators only): approve or reject pending clients and per-client scope requests,
// disable clients (their tokens stop working at once), manage users, issue initial access tokens, and read the
// security event log. Plain server-rendered HTML that works with JavaScript off.
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
import {
  changedFields,
  isOperatorApproved,
  reviewedValues,
  reviewFingerprint,
} from '../../oauth/client-review.ts';
import { parseScope } from '../../oauth/scope.ts';
import type { Acting } from '../../oauth/security-events.ts';
import type { Client, PageCursor, User } from '../../storage/storage.ts';
import { randomToken } from '../../util/random.ts';
import { chrome, signedInUser, toLogin } from '../account.ts';
import { errorPage } from '../error.ts';
import { html, type SafeHtml } from '../html.ts';
import { layout } from '../layout.ts';
import { csrfToken, sendPage } from '../render.ts';

const when = (ms: number) => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;

/** Rows per page of the console's application and user tables. */
export const ADMIN_PAGE_SIZE = 50;

/** `?clients=` / `?users=`: where the previous page ended, as "<created_at>.<id>". */
function cursorFrom(value: unknown): PageCursor | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(\d{1,16})\.(.{1,200})$/.exec(value);
  return match ? { createdAt: Number(match[1]), id: match[2]! } : undefined;
}

const cursorOf = (row: { createdAt: number; id: string }) => `${row.createdAt}.${row.id}`;

interface ConsolePages {
  clients?: PageCursor;
  users?: PageCursor;
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

  const button = (reply: FastifyReply, action: string, label: string, cls = 'secondary', extra?: SafeHtml) =>
    html`<form method="post" action="${action}" class="inline-form"><input type="hidden" name="_csrf" value="${csrfToken(reply)}">${extra ?? null}<button type="submit" class="${cls}">${label}</button></form>`;

  const seenField = (fingerprint: string) => html`<input type="hidden" name="seen" value="${fingerprint}">`;

  /** A self-registered client holding client_credentials that no operator approved: /token refuses it. */
  const unapprovedMachine = (client: Client) =>
    client.status === 'active' &&
    client.grantTypes.includes('client_credentials') &&
    !isOperatorApproved(client);

  async function renderConsole(
    reply: FastifyReply,
    user: User,
    notice?: SafeHtml,
    code = 200,
    pages: ConsolePages = {},
  ) {
    // Paged, newest first: a deployment with 100,000 clients would otherwise read (and send) every one.
    const clients = await storage.clients.listPage({ limit: ADMIN_PAGE_SIZE, before: pages.clients });
    const users = await storage.users.listPage({ limit: ADMIN_PAGE_SIZE, before: pages.users });
    const events = await storage.securityEvents.list(50);
    const awaiting = await storage.clients.listAwaitingReview();
    const pending = awaiting.filter((client) => client.status === 'pending');
    const scopeRequests = awaiting.filter((client) => client.status === 'active' && client.requestedScope);
    const changeRequests = awaiting.filter((client) => client.status === 'active' && client.pendingChanges);
    // Each table keeps the other's position, so paging one does not reset the other.
    const pageLinks = (
      table: 'clients' | 'users',
      rows: { createdAt: number; id: string }[],
      label: string,
    ) => {
      const other = table === 'clients' ? pages.users : pages.clients;
      const keep = other
        ? `${table === 'clients' ? 'users' : 'clients'}=${encodeURIComponent(cursorOf(other))}`
        : '';
      const links = [];
      if (pages[table]) links.push(html`<a href="/admin${keep ? `?${keep}` : ''}">Newest</a>`);
      const last = rows.at(-1);
      if (rows.length === ADMIN_PAGE_SIZE && last) {
        const next = `${table}=${encodeURIComponent(cursorOf(last))}`;
        links.push(html`<a href="/admin?${keep ? `${keep}&` : ''}${next}">${label}</a>`);
      }
      return links.length
        ? html`<p class="pager">${links.map((link, index) => (index ? html` · ${link}` : link))}</p>`
        : null;
    };
    const clientRow = (client: Client) => html`<tr>
      <td>${client.name}<br><code>${client.id}</code></td><td>${client.registeredVia}</td>
      <td>${client.disabledAt !== null ? 'disabled' : client.status}${
        unapprovedMachine(client)
          ? html`<br><span class="badge">client_credentials not approved</span>`
          : null
      }</td>
      <td>${
        client.disabledAt === null
          ? button(reply, `/admin/clients/${client.id}/disable`, 'Disable', 'danger')
          : button(reply, `/admin/clients/${client.id}/enable`, 'Enable')
      }${
        unapprovedMachine(client)
          ? html` ${button(reply, `/admin/clients/${client.id}/approve`, 'Approve client_credentials', 'secondary', seenField(reviewFingerprint(client)))}`
          : null
      }</td></tr>`;
    const changeRow = (client: Client) => {
      const changes = client.pendingChanges;
      if (!changes) return null;
      const now = reviewedValues(client);
      const next = reviewedValues(changes);
      const show = (value: unknown) =>
        value === undefined || value === ''
          ? html`<span class="muted">none</span>`
          : Array.isArray(value)
            ? value.map((item) => html`<code>${String(item)}</code> `)
            : html`<code>${String(value)}</code>`;
      const extra = seenField(reviewFingerprint(changes));
      return html`<tr><td>${client.name}<br><code>${client.id}</code><br><span class="muted">proposed ${when(changes.proposedAt)}</span></td>
        <td><table><thead><tr><th>Field</th><th>Approved</th><th>Proposed</th></tr></thead><tbody>${changedFields(
          client,
          changes,
        ).map(
          (field) =>
            html`<tr><td>${field}</td><td>${show(now[field])}</td><td>${show(next[field])}</td></tr>`,
        )}</tbody></table></td>
        <td>${button(reply, `/admin/clients/${client.id}/approve-changes`, 'Approve changes', '', extra)} ${button(reply, `/admin/clients/${client.id}/reject-changes`, 'Reject changes', 'danger')}</td></tr>`;
    };
    const body = html`
      ${notice ?? null}
      <section class="card wide"><h1>Admin console</h1>
        <h2>Applications waiting for approval</h2>
        ${
          pending.length
            ? html`<table><tbody>${pending.map(
                (client) => html`<tr><td>${client.name}<br><code>${client.id}</code></td>
                  <td>${client.redirectUris.map((uri) => html`<code>${uri}</code> `)}</td>
                  <td>${button(reply, `/admin/clients/${client.id}/approve`, 'Approve', '', seenField(reviewFingerprint(client)))} ${button(reply, `/admin/clients/${client.id}/reject`, 'Reject', 'danger')}</td></tr>`,
              )}</tbody></table>`
            : html`<p class="muted">None.</p>`
        }
        <h2>Changes waiting for approval</h2>
        <p class="muted">The approved registration stays in force until a change is approved.</p>
        ${
          changeRequests.length
            ? html`<table><tbody>${changeRequests.map(changeRow)}</tbody></table>`
            : html`<p class="muted">None.</p>`
        }
        <h2>Scope requests</h2>
        ${
          scopeRequests.length
            ? html`<table><tbody>${scopeRequests.map(
                (client) => html`<tr><td>${client.name}<br><code>${client.id}</code></td>
                  <td>${parseScope(client.requestedScope).map((scope) => html`<code>${scope}</code> `)}</td>
                  <td>${button(reply, `/admin/clients/${client.id}/approve-scopes`, 'Approve scopes', '')} ${button(reply, `/admin/clients/${client.id}/reject-scopes`, 'Reject scopes', 'danger')}</td></tr>`,
              )}</tbody></table>`
            : html`<p class="muted">None.</p>`
        }
        <h2>Applications</h2>
        <p class="muted">Newest first.</p>
        <table><thead><tr><th>Application</th><th>Registered by</th><th>Status</th><th></th></tr></thead><tbody>${clients.map(clientRow)}</tbody></table>
        ${pageLinks('clients', clients, 'Older applications')}
      </section>
      <section class="card wide"><h2>Users</h2>
        <table><thead><tr><th>Email</th><th>Role</th><th>Status</th><th></th></tr></thead><tbody>${users.map(
          (person) => html`<tr><td>${
            // A subject your own sign-in pages signed in (docs/architecture.md "External sign-in and consent").
            person.email ?? html`${person.id} <span class="muted">(your sign-in page)</span>`
          }${
            upstreamNames.size > 0
              ? html`<br><a href="/admin/users/${encodeURIComponent(person.id)}/identities">Linked sign-ins</a>`
              : null
          }</td><td>${person.isAdmin ? 'admin' : 'user'}</td>
            <td>${person.disabledAt === null ? 'active' : 'disabled'}</td>
            <td>${
              person.id === user.id
                ? html`<span class="muted">you</span>`
                : html`${
                    person.disabledAt === null
                      ? button(
                          reply,
                          `/admin/users/${encodeURIComponent(person.id)}/disable`,
                          'Disable',
                          'danger',
                        )
                      : button(reply, `/admin/users/${encodeURIComponent(person.id)}/enable`, 'Enable')
                  } ${
                    // External subjects have no Gatehouse password: their own sign-in page checks theirs.
                    person.claims === null
                      ? button(
                          reply,
                          `/admin/users/${encodeURIComponent(person.id)}/reset-password`,
                          'Reset password',
                        )
                      : null
                  }`
            }</td></tr>`,
        )}</tbody></table>
        ${pageLinks('users', users, 'Older users')}
        <h3>Create a user</h3>
        <form method="post" action="/admin/users">
          <input type="hidden" name="_csrf" value="${csrfToken(reply)}">
          <label for="new-email">Email</label><input id="new-email" name="email" type="email" required>
          <label for="new-name">Name</label><input id="new-name" name="name" type="text">
          <label class="inline"><input type="checkbox" name="admin" value="yes"> Administrator</label>
          <div class="actions"><button type="submit">Create user</button></div>
        </form>
      </section>
      <section class="card wide"><h2>Initial access tokens</h2>
        <p class="muted">For registration policy <code>token</code>: a developer sends one with <code>POST /oauth/register</code>.</p>
        <form method="post" action="/admin/registration-tokens">
          <input type="hidden" name="_csrf" value="${csrfToken(reply)}">
          <label for="uses">Registrations it allows</label><input id="uses" name="uses" type="text" inputmode="numeric" value="1">
          <div class="actions"><button type="submit">Issue a token</button></div>
        </form>
      </section>
      <section class="card wide"><h2>Security events</h2>
        ${
          events.length
            ? html`<table><thead><tr><th>When</th><th>Event</th><th>Client</th><th>User</th></tr></thead><tbody>${events.map(
                (event) =>
                  html`<tr><td>${when(event.createdAt)}</td><td>${event.type}</td><td><code>${event.clientId ?? ''}</code></td><td><code>${event.userId ?? ''}</code></td></tr>`,
              )}</tbody></table>`
            : html`<p class="muted">No events yet.</p>`
        }
      </section>`;
    return sendPage(reply, layout({ ...chrome(deps, reply, user, 'Admin'), body }), code);
  }

  app.get<{ Querystring: { clients?: string; users?: string } }>('/admin', async (request, reply) => {
    const user = await admin(request, reply);
    if (!user) return reply;
    return renderConsole(reply, user, undefined, 200, {
      clients: cursorFrom(request.query.clients),
      users: cursorFrom(request.query.users),
    });
  });

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
        return renderConsole(
          reply,
          user,
          html`<p class="notice card wide" role="status">Created ${created.email}. Password (shown once): <code data-testid="password">${password}</code></p>`,
        );
      } catch (error) {
        if (!(error instanceof UserInputError)) throw error;
        return renderConsole(
          reply,
          user,
          html`<p class="error card wide" role="alert">${error.message}</p>`,
          400,
        );
      }
    },
  );

  /** A console action on one user: one operation of accounts/users.ts, or a notice to show (a new password). */
  const userAction = (
    path: string,
    operation: (id: string, acting: Acting) => Promise<UserOutcome<{ notice?: SafeHtml }>>,
  ) =>
    app.post<{ Params: { id: string } }>(
      `/admin/users/:id/${path}`,
      { preHandler: app.csrfProtection },
      async (request, reply) => {
        const user = await admin(request, reply);
        if (!user) return reply;
        const outcome = await operation(request.params.id, by(request, user));
        if (outcome.status === 'not_found') return reply.callNotFound();
        if (outcome.status === 'conflict')
          return renderConsole(reply, user, conflictNotice(outcome.reason), 409);
        if (outcome.status === 'ok' && outcome.notice) return renderConsole(reply, user, outcome.notice);
        return reply.redirect('/admin', 303);
      },
    );
  userAction('disable', (id, acting) => disableUser(storage, clock.now(), id, acting));
  userAction('enable', (id, acting) => enableUser(storage, clock.now(), id, acting));
  userAction('reset-password', async (id, acting) => {
    // Revokes the user's grants (so their tokens) and sessions too, in one transaction (RFC 9700 §4.14.2).
    const outcome = await resetPassword(storage, clock.now(), id, acting, deps.config.passwordCost);
    if (outcome.status !== 'ok') return outcome;
    return {
      ...outcome,
      notice: html`<p class="notice card wide" role="status">New password for ${outcome.value.email} (shown once): <code data-testid="password">${outcome.password}</code></p>`,
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
          ? html`<table><thead><tr><th>Provider</th><th>Upstream account</th><th>Linked</th><th>Last used</th><th></th></tr></thead><tbody>${links.map(
              (link) => html`<tr><td>${upstreamNames.get(link.providerId) ?? link.providerId}</td>
                <td><code>${link.subject}</code>${link.email ? html`<br>${link.email}` : null}</td>
                <td>${when(link.createdAt)}</td><td>${link.lastUsedAt === null ? '' : when(link.lastUsedAt)}</td>
                <td>${button(
                  reply,
                  `/admin/users/${encodeURIComponent(person.id)}/identities/unlink`,
                  'Unlink',
                  'danger',
                  html`<input type="hidden" name="provider" value="${link.providerId}"><input type="hidden" name="subject" value="${link.subject}">`,
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
        return renderConsole(
          reply,
          user,
          html`<p class="notice card wide" role="status">Initial access token (shown once, valid 24 hours for ${issued.uses} registration${issued.uses === 1 ? '' : 's'}): <code data-testid="iat">${issued.token}</code></p>`,
        );
      } catch (error) {
        if (!(error instanceof UserInputError)) throw error;
        return renderConsole(reply, user, conflictNotice(error.message), 400);
      }
    },
  );
}
