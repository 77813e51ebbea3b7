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
import { type Flash, redirectWithFlash, takeFlash } from '../flash.ts';
import { html, type SafeHtml } from '../html.ts';
import { layout } from '../layout.ts';
import {
  type Confirmation,
  clientStatusWords,
  confirmationView,
  flashView,
  registeredByWords,
  tableHead,
} from '../parts.ts';
import { csrfToken, sendPage } from '../render.ts';
import { EVENT_COLUMNS, eventRow } from './events-view.ts';

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

  /**
   * A destructive action (disable, reject, reset, unlink) is a link to its confirmation page, which works with
   * JavaScript off; the action's POST without confirm=yes lands there too.
   */
  const confirmLink = (href: string, label: string) =>
    html`<a class="button danger" href="${href}">${label}</a>`;

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
    const registeredBy = (client: Client) =>
      registeredByWords(client, client.ownerUserId === null ? undefined : owners.get(client.ownerUserId));
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
      <td data-label="Application">${client.name}<br><code>${client.id}</code></td><td data-label="Registered by">${registeredBy(client)}</td>
      <td data-label="Status">${clientStatusWords(client)}${
        unapprovedMachine(client)
          ? html`<br><span class="badge">client_credentials not approved</span>`
          : null
      }</td>
      <td data-label="Actions" class="row-actions">${
        client.disabledAt === null
          ? confirmLink(`/admin/clients/${client.id}/disable`, 'Disable…')
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
      return html`<tr><td data-label="Application">${client.name}<br><code>${client.id}</code><br><span class="muted">proposed ${when(changes.proposedAt)}</span></td>
        <td data-label="Changes"><table>${tableHead('Field', 'Approved', 'Proposed')}<tbody>${changedFields(
          client,
          changes,
        ).map(
          (field) =>
            html`<tr><td>${field}</td><td>${show(now[field])}</td><td>${show(next[field])}</td></tr>`,
        )}</tbody></table></td>
        <td data-label="Actions" class="row-actions">${button(reply, `/admin/clients/${client.id}/approve-changes`, 'Approve changes', '', extra)} ${button(reply, `/admin/clients/${client.id}/reject-changes`, 'Reject changes', 'danger')}</td></tr>`;
    };
    const body = html`
      ${notice ?? null}${flashView(flash)}
      <section class="card wide"><h1>Admin console</h1>
        <h2>Applications waiting for approval</h2>
        ${
          pending.length
            ? html`<table class="stack">${tableHead('Application', 'Registered by', 'Redirect URIs', 'Actions')}<tbody>${pending.map(
                (
                  client,
                ) => html`<tr><td data-label="Application">${client.name}<br><code>${client.id}</code></td>
                  <td data-label="Registered by">${registeredBy(client)}</td>
                  <td data-label="Redirect URIs">${client.redirectUris.map((uri) => html`<code>${uri}</code> `)}</td>
                  <td data-label="Actions" class="row-actions">${button(reply, `/admin/clients/${client.id}/approve`, 'Approve', '', seenField(reviewFingerprint(client)))} ${confirmLink(`/admin/clients/${client.id}/reject`, 'Reject…')}</td></tr>`,
              )}</tbody></table>`
            : html`<p class="muted">None.</p>`
        }
        <h2>Changes waiting for approval</h2>
        <p class="muted">The approved registration stays in force until a change is approved.</p>
        ${
          changeRequests.length
            ? html`<table class="stack">${tableHead('Application', 'Changes', 'Actions')}<tbody>${changeRequests.map(changeRow)}</tbody></table>`
            : html`<p class="muted">None.</p>`
        }
        <h2>Scope requests</h2>
        ${
          scopeRequests.length
            ? html`<table class="stack">${tableHead('Application', 'Scopes requested', 'Actions')}<tbody>${scopeRequests.map(
                (
                  client,
                ) => html`<tr><td data-label="Application">${client.name}<br><code>${client.id}</code></td>
                  <td data-label="Scopes requested">${parseScope(client.requestedScope).map((scope) => html`<code>${scope}</code> `)}</td>
                  <td data-label="Actions" class="row-actions">${button(reply, `/admin/clients/${client.id}/approve-scopes`, 'Approve scopes', '')} ${button(reply, `/admin/clients/${client.id}/reject-scopes`, 'Reject scopes', 'danger')}</td></tr>`,
              )}</tbody></table>`
            : html`<p class="muted">None.</p>`
        }
        <h2>Applications</h2>
        <p class="muted">Newest first.</p>
        <table class="stack">${tableHead('Application', 'Registered by', 'Status', 'Actions')}<tbody>${clients.map(clientRow)}</tbody></table>
        ${pageLinks('clients', clients, 'Older applications')}
      </section>
      <section class="card wide"><h2>Users</h2>
        <table class="stack">${tableHead('Email', 'Role', 'Status', 'Actions')}<tbody>${users.map(
          (person) => html`<tr><td data-label="Email">${
            // A subject your own sign-in pages signed in (docs/architecture.md "External sign-in and consent").
            person.email ?? html`${person.id} <span class="muted">(your sign-in page)</span>`
          }${
            upstreamNames.size > 0
              ? html`<br><a href="/admin/users/${encodeURIComponent(person.id)}/identities">Linked sign-ins</a>`
              : null
          }</td><td data-label="Role">${person.isAdmin ? 'admin' : 'user'}</td>
            <td data-label="Status">${person.disabledAt === null ? 'active' : 'disabled'}</td>
            <td data-label="Actions" class="row-actions">${
              person.id === user.id
                ? html`<span class="muted">you</span>`
                : html`${
                    person.disabledAt === null
                      ? confirmLink(`/admin/users/${encodeURIComponent(person.id)}/disable`, 'Disable…')
                      : button(reply, `/admin/users/${encodeURIComponent(person.id)}/enable`, 'Enable')
                  } ${
                    // External subjects have no Gatehouse password: their own sign-in page checks theirs.
                    person.claims === null
                      ? confirmLink(
                          `/admin/users/${encodeURIComponent(person.id)}/reset-password`,
                          'Reset password…',
                        )
                      : null
                  }`
            }</td></tr>`,
        )}</tbody></table>
        ${pageLinks('users', users, 'Older users')}
        <h3>Create a user</h3>
        <form method="post" action="/admin/users">
          <input type="hidden" name="_csrf" value="${csrfToken(reply)}">
          <label for="new-email">Email</label><input id="new-email" name="email" type="email" required value="${newUser.email}">
          <label for="new-name">Name</label><input id="new-name" name="name" type="text" value="${newUser.name}">
          <label class="inline"><input type="checkbox" name="admin" value="yes" ${newUser.admin ? 'checked' : ''}> Administrator</label>
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
            ? html`<table class="stack">${tableHead(...EVENT_COLUMNS)}<tbody>${events.map((event) =>
                eventRow(event, when),
              )}</tbody></table>`
            : html`<p class="muted">No events yet.</p>`
        }
      </section>`;
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
  userAction('disable', (id, acting) => disableUser(storage, clock.now(), id, acting));
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
