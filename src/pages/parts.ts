// Pieces several pages share: the words for a client's status, table headers, a value with a copy button,
// the one-time message of a post/redirect/get, and the confirmation page of a destructive action.
import type { Client, User } from '../storage/storage.ts';
import type { Flash } from './flash.ts';
import { html, type SafeHtml } from './html.ts';

/** The one wording of a client's status, in the portal and the console alike. */
export function clientStatusWords(client: Pick<Client, 'disabledAt' | 'status'>): string {
  if (client.disabledAt !== null) return 'disabled';
  return client.status === 'pending' ? 'pending approval' : 'active';
}

/**
 * The host of a client known by its Client ID Metadata Document (the one proven thing about it: its document
 * was fetched from there), or undefined for any other client. Pages name such a client by it, never by the
 * name its document asserts alone.
 */
export function documentHostOf(client: Pick<Client, 'id' | 'registeredVia'>): string | undefined {
  return client.registeredVia === 'cimd' ? (URL.parse(client.id)?.host ?? undefined) : undefined;
}

/** The name a page shows for a client: the host of a metadata-document client, else its registered name. */
export function shownClientName(client: Pick<Client, 'id' | 'name' | 'registeredVia'>): string {
  return documentHostOf(client) ?? client.name;
}

/** Who registered a client, as a person reads it: the developer's email (or name), or the way it came in. */
export function registeredByWords(client: Pick<Client, 'registeredVia'>, owner: User | undefined): string {
  const who = owner ? (owner.email ?? owner.name ?? owner.id) : undefined;
  if (client.registeredVia === 'portal') return who ? `${who} (developer portal)` : 'developer portal';
  if (client.registeredVia === 'dcr') return who ? `${who} (dynamic registration)` : 'dynamic registration';
  if (client.registeredVia === 'cimd') return 'its client ID metadata document';
  return who ? `${who} (operator)` : 'an operator (CLI)';
}

/** A table's header row: every column named, with scope="col" for screen readers (WCAG 1.3.1). */
export function tableHead(...columns: string[]): SafeHtml {
  return html`<thead><tr>${columns.map((column) => html`<th scope="col">${column}</th>`)}</tr></thead>`;
}

/**
 * A value to copy (a client id, a secret): the text, and a Copy button that assets/copy.js reveals, so that
 * without JavaScript nobody sees a button that does nothing.
 */
export function copyable(value: string, id: string, label: string): SafeHtml {
  return html`<code id="${id}" data-testid="${id}">${value}</code> <button type="button" class="secondary small" data-copy="${id}" aria-label="Copy ${label}" hidden>Copy</button>`;
}

/** The one-time message a post/redirect/get carried here (flash.ts). */
export function flashView(flash: Flash | undefined): SafeHtml | null {
  if (!flash) return null;
  if (!flash.secrets?.length) {
    return html`<p class="notice card wide" role="status" data-testid="flash">${flash.message}</p>`;
  }
  return html`<section class="notice card wide" role="status" data-testid="flash">
    <h2>${flash.message}</h2>
    <dl>${flash.secrets.map(
      (secret) => html`<dt>${secret.label}</dt><dd>${copyable(secret.value, secret.id, secret.label)}</dd>`,
    )}</dl>
    ${flash.note ? html`<p><strong>${flash.note}</strong></p>` : null}
  </section>`;
}

export interface Confirmation {
  title: string;
  /** What will happen, in plain words. */
  consequence: string | SafeHtml;
  /** Where the form posts (the action itself, with confirm=yes). */
  action: string;
  button: string;
  cancel: string;
  csrfToken: string;
  /** Extra hidden fields the action needs. */
  fields?: Record<string, string>;
}

/**
 * The confirmation of a destructive action (disable, delete, revoke, rotate), as its own page: it works with
 * JavaScript off, unlike window.confirm. The action's POST without confirm=yes comes here instead of acting.
 */
export function confirmationView(confirmation: Confirmation): SafeHtml {
  return html`<section class="card">
    <h1>${confirmation.title}</h1>
    <p>${confirmation.consequence}</p>
    <form method="post" action="${confirmation.action}">
      <input type="hidden" name="_csrf" value="${confirmation.csrfToken}">
      <input type="hidden" name="confirm" value="yes">
      ${Object.entries(confirmation.fields ?? {}).map(
        ([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`,
      )}
      <div class="actions">
        <a class="button secondary" href="${confirmation.cancel}">Cancel</a>
        <button type="submit" class="danger">${confirmation.button}</button>
      </div>
    </form>
  </section>`;
}
