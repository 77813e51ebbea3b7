// The admin console's page: its tables and forms, from what the route read (route.ts). Plain HTML that works
// with JavaScript off; destructive actions are links to their confirmation pages.
import {
  changedFields,
  isOperatorApproved,
  operatorGrantsOf,
  reviewedValues,
  reviewFingerprint,
} from '../../oauth/client-review.ts';
import { parseScope } from '../../oauth/scope.ts';
import type { Client, PageCursor, SecurityEvent, User } from '../../storage/storage.ts';
import type { Flash } from '../flash.ts';
import { html, type SafeHtml } from '../html.ts';
import { clientStatusWords, flashView, registeredByWords, tableHead } from '../parts.ts';
import { EVENT_COLUMNS, eventRow } from './events-view.ts';

export const when = (ms: number) => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;

/** Rows per page of the console's application and user tables. */
export const ADMIN_PAGE_SIZE = 50;

/** Where each table's page starts (`?clients=` / `?users=`); absent: the newest. */
export interface ConsolePages {
  clients?: PageCursor;
  users?: PageCursor;
}

export const cursorOf = (row: { createdAt: number; id: string }) => `${row.createdAt}.${row.id}`;

export interface ConsoleView {
  csrfToken: string;
  /** The administrator looking: their own row offers no actions. */
  viewer: User;
  clients: Client[];
  users: User[];
  events: SecurityEvent[];
  /** Clients waiting for an administrator (registrations, changes, scope requests). */
  awaiting: Client[];
  /** The developers who registered the clients on this page, by id. */
  owners: Map<string, User>;
  pages: ConsolePages;
  notice?: SafeHtml;
  flash?: Flash;
  /** What the create-user form shows (kept after a validation error). */
  newUser: { email: string; name: string; admin: boolean };
  /** Upstream identity providers are configured: users link to their linked sign-ins. */
  showLinkedSignIns: boolean;
}

/** A one-button form (approve, enable): the action needs no confirmation. */
export const button = (token: string, action: string, label: string, cls = 'secondary', extra?: SafeHtml) =>
  html`<form method="post" action="${action}" class="inline-form"><input type="hidden" name="_csrf" value="${token}">${extra ?? null}<button type="submit" class="${cls}">${label}</button></form>`;

/**
 * A destructive action (disable, reject, reset, unlink) is a link to its confirmation page, which works with
 * JavaScript off; the action's POST without confirm=yes lands there too.
 */
export const confirmLink = (href: string, label: string) =>
  html`<a class="button danger" href="${href}">${label}</a>`;

const seenField = (fingerprint: string) => html`<input type="hidden" name="seen" value="${fingerprint}">`;

/**
 * The operator-only grants (client_credentials, device) a self-registered client holds that no operator
 * approved: /token and the device endpoint refuse them. Empty when there are none.
 */
const unapprovedGrants = (client: Client) =>
  client.status === 'active' && !isOperatorApproved(client) ? operatorGrantsOf(client).join(' and ') : '';

/** The console's body. */
export function consoleBody(view: ConsoleView): SafeHtml {
  const {
    csrfToken: token,
    viewer,
    clients,
    users,
    events,
    awaiting,
    owners,
    pages,
    notice,
    flash,
    newUser,
  } = view;
  const { showLinkedSignIns } = view;
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
      unapprovedGrants(client)
        ? html`<br><span class="badge">${unapprovedGrants(client)} not approved</span>`
        : null
    }</td>
    <td data-label="Actions" class="row-actions">${
      client.disabledAt === null
        ? confirmLink(`/admin/clients/${encodeURIComponent(client.id)}/disable`, 'Disable…')
        : button(token, `/admin/clients/${encodeURIComponent(client.id)}/enable`, 'Enable')
    }${
      unapprovedGrants(client)
        ? html` ${button(token, `/admin/clients/${encodeURIComponent(client.id)}/approve`, `Approve ${unapprovedGrants(client)}`, 'secondary', seenField(reviewFingerprint(client)))}`
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
        (field) => html`<tr><td>${field}</td><td>${show(now[field])}</td><td>${show(next[field])}</td></tr>`,
      )}</tbody></table></td>
      <td data-label="Actions" class="row-actions">${button(token, `/admin/clients/${encodeURIComponent(client.id)}/approve-changes`, 'Approve changes', '', extra)} ${button(token, `/admin/clients/${encodeURIComponent(client.id)}/reject-changes`, 'Reject changes', 'danger')}</td></tr>`;
  };
  return html`
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
                <td data-label="Actions" class="row-actions">${button(token, `/admin/clients/${encodeURIComponent(client.id)}/approve`, 'Approve', '', seenField(reviewFingerprint(client)))} ${confirmLink(`/admin/clients/${encodeURIComponent(client.id)}/reject`, 'Reject…')}</td></tr>`,
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
                <td data-label="Actions" class="row-actions">${button(token, `/admin/clients/${encodeURIComponent(client.id)}/approve-scopes`, 'Approve scopes', '')} ${button(token, `/admin/clients/${encodeURIComponent(client.id)}/reject-scopes`, 'Reject scopes', 'danger')}</td></tr>`,
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
          showLinkedSignIns
            ? html`<br><a href="/admin/users/${encodeURIComponent(person.id)}/identities">Linked sign-ins</a>`
            : null
        }</td><td data-label="Role">${person.isAdmin ? 'admin' : 'user'}</td>
          <td data-label="Status">${person.disabledAt === null ? 'active' : 'disabled'}</td>
          <td data-label="Actions" class="row-actions">${
            person.id === viewer.id
              ? html`<span class="muted">you</span>`
              : html`${
                  person.disabledAt === null
                    ? confirmLink(`/admin/users/${encodeURIComponent(person.id)}/disable`, 'Disable…')
                    : button(token, `/admin/users/${encodeURIComponent(person.id)}/enable`, 'Enable')
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
        <input type="hidden" name="_csrf" value="${token}">
        <label for="new-email">Email</label><input id="new-email" name="email" type="email" required value="${newUser.email}">
        <label for="new-name">Name</label><input id="new-name" name="name" type="text" value="${newUser.name}">
        <label class="inline"><input type="checkbox" name="admin" value="yes" ${newUser.admin ? 'checked' : ''}> Administrator</label>
        <div class="actions"><button type="submit">Create user</button></div>
      </form>
    </section>
    <section class="card wide"><h2>Initial access tokens</h2>
      <p class="muted">For registration policy <code>token</code>: a developer sends one with <code>POST /oauth/register</code>.</p>
      <form method="post" action="/admin/registration-tokens">
        <input type="hidden" name="_csrf" value="${token}">
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
}
