// How the admin console shows a security event: what happened, who did it, to what (by name, with the id), and
// from which address. Every value is escaped by html``; names and emails are whatever their owners typed.
import type { SecurityEvent } from '../../storage/storage.ts';
import { html, type SafeHtml } from '../html.ts';

/** Plain words for the event types Gatehouse records; an unknown type is shown as it is. */
const TITLES: Record<string, string> = {
  login_succeeded: 'Signed in',
  login_failed: 'Sign-in failed',
  login_throttled: 'Sign-in throttled',
  upstream_sign_in_refused: 'Upstream sign-in refused',
  identity_linked: 'Upstream account linked',
  identity_unlinked: 'Upstream account unlinked',
  user_created_by_upstream: 'User created by upstream sign-in',
  admin_setup: 'Administrator set up',
  password_changed: 'Password changed',
  users_imported: 'Users imported',
  client_registered: 'App registered',
  client_updated: 'App changed',
  client_deleted: 'App deleted',
  client_approve: 'App approved',
  client_approve_changes: 'App changes approved',
  client_reject_changes: 'App changes rejected',
  client_disable: 'App disabled',
  client_enable: 'App enabled',
  client_created: 'App created by an operator',
  client_reject: 'App registration rejected',
  client_delete: 'App deleted',
  client_approve_scopes: 'App scopes approved',
  client_reject_scopes: 'App scopes refused',
  client_secret_rotated: 'App secret rotated',
  client_tokens_revoked: "App's tokens revoked",
  user_created: 'User created',
  user_disabled: 'User disabled',
  user_enabled: 'User enabled',
  user_updated: 'User profile updated',
  backchannel_logout_failed: 'Back-channel logout not delivered',
  user_deleted: 'User deleted',
  user_tokens_revoked: "User's tokens revoked",
  registration_token_issued: 'Registration token issued',
  signing_keys_rotated: 'Signing keys rotated',
  refresh_token_reuse: 'Refresh token reuse detected',
  authorization_code_reuse: 'Authorization code reuse detected',
  token_revoked: 'Token revoked',
  deauthorized: 'App access removed',
  admin_key_created: 'Admin key created',
  admin_key_revoked: 'Admin key revoked',
  interaction_login_accepted: 'Login accepted (admin API)',
  interaction_login_rejected: 'Login rejected (admin API)',
  interaction_consent_accepted: 'Consent accepted (admin API)',
  interaction_consent_rejected: 'Consent rejected (admin API)',
};

/** The part of `detail` worth a glance, in words. */
function detailText(event: SecurityEvent): string | undefined {
  const { detail } = event;
  const reason = typeof detail.reason === 'string' ? detail.reason.replaceAll('_', ' ') : undefined;
  switch (event.type) {
    case 'login_throttled':
      return typeof detail.retry_after === 'number' ? `for ${detail.retry_after} s` : undefined;
    case 'login_succeeded':
      return detail.method === 'upstream' && typeof detail.provider === 'string'
        ? `with ${detail.provider}`
        : undefined;
    case 'client_registered':
    case 'client_updated':
      return [
        typeof detail.via === 'string' ? `via ${detail.via.replaceAll('_', ' ')}` : undefined,
        detail.awaiting_review === true || detail.status === 'pending' ? 'awaiting approval' : undefined,
        Array.isArray(detail.fields) && detail.fields.length > 0
          ? `changed: ${detail.fields.join(', ')}`
          : undefined,
      ]
        .filter(Boolean)
        .join(', ');
    case 'signing_keys_rotated':
      return Array.isArray(detail.keys)
        ? (detail.keys as { alg?: unknown }[]).map((key) => String(key.alg)).join(', ')
        : undefined;
    case 'deauthorized':
      return typeof detail.grants === 'number' ? `${detail.grants} grant(s) revoked` : undefined;
    case 'token_revoked':
      return typeof detail.kind === 'string' ? detail.kind.replaceAll('_', ' ') : undefined;
    default:
      return reason;
  }
}

/** What happened, in words: "Sign-in failed (wrong password)". */
export function eventDescription(event: SecurityEvent): SafeHtml {
  const title = TITLES[event.type] ?? event.type;
  const more = detailText(event);
  return html`<span title="${event.type}">${title}</span>${more ? html` <span class="muted">(${more})</span>` : null}`;
}

/** Who did it: a person's email, a key's or an app's name, with the id; the CLI; Gatehouse itself; anonymous. */
export function eventActor(event: SecurityEvent): SafeHtml {
  const actor = event.actor;
  if (!actor) return html`<span class="muted">anonymous</span>`;
  if (actor.kind === 'cli') return html`CLI`;
  if (actor.kind === 'system') return html`Gatehouse`;
  const kind = { user: '', admin_key: 'admin key ', client: 'app ' }[actor.kind];
  return html`${kind}${actor.name ?? ''}<br><code>${actor.id}</code>`;
}

/** What it was about: the app and the user, each by name at the time and by id. */
export function eventTarget(event: SecurityEvent): SafeHtml {
  const parts: SafeHtml[] = [];
  if (event.clientId !== null || event.clientName !== null) {
    parts.push(
      html`${event.clientName ?? ''}${event.clientId ? html`<br><code>${event.clientId}</code>` : null}`,
    );
  }
  if (event.userId !== null || event.userEmail !== null) {
    parts.push(html`${event.userEmail ?? ''}${event.userId ? html`<br><code>${event.userId}</code>` : null}`);
  }
  return html`${parts.map((part, index) => (index ? html`<br>${part}` : part))}`;
}

/** The columns of the console's event table, in eventRow's order. */
export const EVENT_COLUMNS = ['When', 'Event', 'By', 'About', 'From'] as const;

/**
 * One row of the console's event table; `when` formats the time as the rest of the console does. Each cell names
 * its column (data-label), for the stacked layout tables take on a phone.
 */
export function eventRow(event: SecurityEvent, when: (ms: number) => string): SafeHtml {
  return html`<tr><td data-label="When">${when(event.createdAt)}</td><td data-label="Event">${eventDescription(event)}</td><td data-label="By">${eventActor(event)}</td><td data-label="About">${eventTarget(event)}</td><td data-label="From"><code>${event.ip ?? ''}</code></td></tr>`;
}
