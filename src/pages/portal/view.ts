// The developer portal's pages, as views of what route.ts hands them: no storage, no decisions.
import type { ScopeConfig } from '../../config.ts';
import { describeScope, parseScope } from '../../oauth/scope.ts';
import type { Client } from '../../storage/storage.ts';
import type { Flash } from '../flash.ts';
import { html, type SafeHtml } from '../html.ts';
import { clientStatusWords, copyable, flashView, tableHead } from '../parts.ts';

export interface PortalContext {
  csrfToken: string;
  catalogue: readonly ScopeConfig[];
}

/** What the settings form shows: the stored settings, or what was just submitted when it was refused. */
export interface SettingsValues {
  name: string;
  redirect_uris: string;
  logo_uri: string;
  policy_uri: string;
  tos_uri: string;
  /** Chosen scopes, space-separated. */
  scope: string;
}

const typeWords = (client: Client) =>
  client.tokenEndpointAuthMethod === 'none' ? 'public' : `confidential (${client.tokenEndpointAuthMethod})`;

export function overlapText(seconds: number): string {
  if (seconds === 0) return 'no time at all';
  if (seconds % 3600 === 0) return seconds === 3600 ? '1 hour' : `${seconds / 3600} hours`;
  const minutes = Math.max(1, Math.round(seconds / 60));
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

export function appListView(clients: readonly Client[], flash: Flash | undefined): SafeHtml {
  return html`${flashView(flash)}<section class="card wide">
    <h1>Your applications</h1>
    ${
      clients.length
        ? html`<table class="stack">${tableHead('Name', 'Client ID', 'Type', 'Status')}<tbody>
          ${clients.map(
            (
              client,
            ) => html`<tr><td data-label="Name"><a href="/portal/apps/${client.id}">${client.name}</a></td>
              <td data-label="Client ID"><code>${client.id}</code></td>
              <td data-label="Type">${client.tokenEndpointAuthMethod === 'none' ? 'public' : 'confidential'}</td>
              <td data-label="Status">${clientStatusWords(client)}</td></tr>`,
          )}</tbody></table>`
        : html`<p>You have not registered an application yet.</p>`
    }
    <p><a class="button" href="/portal/apps/new">Register an application</a></p>
  </section>`;
}

function scopeChoices(context: PortalContext, chosen: ReadonlySet<string>): SafeHtml {
  return html`<fieldset><legend>Scopes</legend>
    ${context.catalogue.map(
      (
        scope,
      ) => html`<label class="inline"><input type="checkbox" name="scope_${scope.name}" value="1" ${chosen.has(scope.name) ? 'checked' : ''}>
        <code>${scope.name}</code> ${scope.description}${scope.requiresApproval ? html` <span class="badge">needs approval</span>` : null}</label>`,
    )}
  </fieldset>`;
}

const errorLine = (error: string | undefined) =>
  error ? html`<p class="error" role="alert">${error}</p>` : null;

export function newAppView(context: PortalContext, error?: string, values: Record<string, string> = {}) {
  const chosen = new Set(parseScope(values.scope ?? 'openid profile email'));
  return html`<section class="card wide">
    <h1>Register an application</h1>
    ${errorLine(error)}
    <form method="post" action="/portal/apps">
      <input type="hidden" name="_csrf" value="${context.csrfToken}">
      <label for="name">Application name</label>
      <input id="name" name="name" type="text" required maxlength="200" value="${values.name ?? ''}">
      <label for="redirect_uris">Redirect URIs (one per line)</label>
      <textarea id="redirect_uris" name="redirect_uris" rows="3" required>${values.redirect_uris ?? ''}</textarea>
      <fieldset><legend>Type</legend>
        <label class="inline"><input type="radio" name="type" value="confidential" ${values.type !== 'public' ? 'checked' : ''}> Confidential (a server that keeps a secret)</label>
        <label class="inline"><input type="radio" name="type" value="public" ${values.type === 'public' ? 'checked' : ''}> Public (a mobile, desktop or browser app; PKCE, no secret)</label>
      </fieldset>
      ${scopeChoices(context, chosen)}
      <div class="actions"><button type="submit">Register application</button></div>
    </form>
  </section>`;
}

export interface AppView {
  client: Client;
  /** The settings the form edits: the registration in force, or the change waiting for review. */
  settings: SettingsValues;
  /** True when a save waits for an administrator (GATEHOUSE_REGISTRATION=approval). */
  proposes: boolean;
  secretRotationOverlap: number;
  flash?: Flash;
  error?: string;
}

export function appView(context: PortalContext, view: AppView): SafeHtml {
  const { client, settings } = view;
  const chosen = new Set(parseScope(settings.scope));
  const field = (id: keyof SettingsValues, label: string, hint: string) =>
    html`<label for="${id}">${label}</label>
      <input id="${id}" name="${id}" type="url" inputmode="url" maxlength="2000" placeholder="https://" value="${settings[id]}">
      <p class="muted hint">${hint}</p>`;
  return html`${flashView(view.flash)}<section class="card wide">
    <h1>${client.name}</h1>
    <dl>
      <dt>Client ID</dt><dd>${copyable(client.id, 'client-id', 'client ID')}</dd>
      <dt>Type</dt><dd>${typeWords(client)}</dd>
      <dt>Status</dt><dd data-testid="status">${clientStatusWords(client)}</dd>
      <dt>Scopes</dt><dd>${parseScope(client.scope).map((scope) => html`<code title="${describeScope(context.catalogue, scope)}">${scope}</code> `)}</dd>
      ${client.requestedScope ? html`<dt>Waiting for approval</dt><dd>${parseScope(client.requestedScope).map((scope) => html`<code>${scope}</code> `)}</dd>` : null}
    </dl>
    ${
      client.pendingChanges
        ? html`<p class="notice" data-testid="pending-changes">A change waits for an administrator's approval; until then the approved settings stay in force, with these redirect URIs: ${client.redirectUris.map((uri) => html`<code>${uri}</code> `)}</p>`
        : null
    }
    <h2>Settings</h2>
    ${view.proposes ? html`<p class="muted">An administrator reviews every change before it applies.</p>` : null}
    ${errorLine(view.error)}
    <form method="post" action="/portal/apps/${client.id}/settings">
      <input type="hidden" name="_csrf" value="${context.csrfToken}">
      <label for="name">Application name</label>
      <input id="name" name="name" type="text" required maxlength="200" value="${settings.name}">
      <label for="redirect_uris">Redirect URIs (one per line)</label>
      <textarea id="redirect_uris" name="redirect_uris" rows="3" required>${settings.redirect_uris}</textarea>
      ${scopeChoices(context, chosen)}
      ${field('logo_uri', 'Logo URL', 'https; shown on the consent page once an administrator has approved the app.')}
      ${field('policy_uri', 'Privacy policy URL', 'https; linked from the consent page.')}
      ${field('tos_uri', 'Terms of service URL', 'https; linked from the consent page.')}
      <div class="actions"><button type="submit">Save changes</button></div>
    </form>
    ${
      client.tokenEndpointAuthMethod === 'none'
        ? null
        : html`<h2>Client secret</h2>
          <p class="muted">Rotating issues a new secret, shown once; the old one keeps working for ${overlapText(view.secretRotationOverlap)}.</p>
          <p><a class="button secondary" href="/portal/apps/${client.id}/rotate-secret">Rotate secret…</a></p>`
    }
    <h2>Delete</h2>
    <form method="post" action="/portal/apps/${client.id}/delete">
      <input type="hidden" name="_csrf" value="${context.csrfToken}">
      <label class="inline"><input type="checkbox" name="confirm" value="yes" required> I understand every token it holds stops working</label>
      <button type="submit" class="danger">Delete application</button>
    </form>
  </section>`;
}
