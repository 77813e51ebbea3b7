import type { ScopeConfig } from '../../config.ts';
import { describeScope } from '../../oauth/scope.ts';
import { html } from '../html.ts';
import { layout } from '../layout.ts';

export interface ConsentView {
  productName: string;
  csrfToken: string;
  /** Where the answer posts, with the hidden fields that say what it answers (the interaction, a user code). */
  form: { action: string; fields: Record<string, string> };
  clientName: string;
  /** Where the user will be sent afterwards; absent for the device flow, whose answer goes to the device. */
  redirectOrigin?: string;
  /**
   * RFC 8628 §5.4 (remote phishing): the user code of a device request, shown for the person to compare with
   * the one on their device before they allow anything.
   */
  deviceUserCode?: string;
  /**
   * For a client known by its Client ID Metadata Document: the host of its client_id URL, the one thing about
   * it that is proven (the document was fetched from there). The page names the client by it, and shows the
   * name as the self-asserted claim it is.
   */
  clientHost?: string;
  scopes: string[];
  /**
   * Of `scopes`, those this user already allowed this client (step-up: an app asking for more than it has,
   * as MCP clients do after an insufficient_scope answer). The page asks about the others and lists these apart.
   */
  alreadyAllowed: string[];
  userEmail: string;
  catalogue: readonly ScopeConfig[];
  logoUrl?: string;
  /**
   * Whether an operator made or approved the client (client-review.ts isOperatorApproved). An unverified,
   * self-registered client's name is only its own claim: the page says so, and shows where the user will be
   * sent, as the big providers do for apps nobody reviewed.
   */
  verified: boolean;
  /** The client's registered logo, https (route.ts decides; the CSP allows that one origin on this page). */
  clientLogoUri?: string;
  /** OpenID Connect Registration §2: shown to the user, SHOULD be linked on consent. */
  policyUri?: string;
  tosUri?: string;
}

export function consentPage(view: ConsentView): string {
  const shownName = view.clientHost ?? view.clientName;
  const item = (scope: string) =>
    html`<li>${describeScope(view.catalogue, scope)} <code>${scope}</code></li>`;
  const allowed = new Set(view.alreadyAllowed);
  const added = view.scopes.filter((scope) => !allowed.has(scope));
  // More than before: ask about what is new, and list what the person already allowed apart.
  const stepUp = added.length > 0 && added.length < view.scopes.length;
  const scopeItems = stepUp
    ? added.map(item)
    : view.scopes.length
      ? view.scopes.map(item)
      : [html`<li>Know that you use ${shownName}</li>`];
  // Links to the client's own documents: a new browsing context would otherwise get a handle to this page
  // (window.opener) and the client would learn where the user came from; the page's policy is no-referrer anyway.
  const documents = [
    view.policyUri
      ? html`<a href="${view.policyUri}" rel="noopener noreferrer" target="_blank">privacy policy</a>`
      : null,
    view.tosUri
      ? html`<a href="${view.tosUri}" rel="noopener noreferrer" target="_blank">terms of service</a>`
      : null,
  ].filter((link) => link !== null);
  return layout({
    title: 'Allow access?',
    productName: view.productName,
    logoUrl: view.logoUrl,
    signedInAs: view.userEmail,
    csrfToken: view.csrfToken,
    body: html`<section class="card">
      ${view.clientLogoUri ? html`<img class="client-logo" src="${view.clientLogoUri}" alt="${view.clientName} logo" width="48" height="48">` : null}
      <h1><strong data-testid="client-name">${shownName}</strong> ${stepUp ? 'wants more access to your account' : 'wants to access your account'}</h1>
      ${
        view.deviceUserCode
          ? html`<div class="device-check" data-testid="device-check">
              <p>Check that your device shows this code: <strong class="user-code" data-testid="confirm-code">${view.deviceUserCode}</strong></p>
              <p class="muted">Allow access only if you started the sign-in on a device of your own just now. If someone sent you this code or this link, choose Deny: they would get access to your account.</p>
            </div>`
          : null
      }
      ${
        view.verified
          ? null
          : html`<div class="unverified" data-testid="unverified">
              ${
                view.clientHost
                  ? html`<p><span class="badge warning">Unverified app</span> ${view.productName} has not reviewed this app. It is published at <strong data-testid="client-host">${view.clientHost}</strong>; it calls itself “${view.clientName}”, a name it chose itself, which nobody checked.</p>`
                  : html`<p><span class="badge warning">Unverified app</span> ${view.productName} has not reviewed this app: its name is what its developer typed.</p>`
              }
              ${view.redirectOrigin ? html`<p>It will receive your answer at <strong data-testid="redirect-origin">${view.redirectOrigin}</strong>. Allow access only if you trust that site.</p>` : null}
            </div>`
      }
      ${view.clientHost && view.verified ? html`<p class="muted">${view.clientHost} calls itself “${view.clientName}”.</p>` : null}
      <p>This will ${stepUp ? 'also ' : ''}allow ${shownName} to:</p>
      <ul class="scopes" data-testid="scopes">${scopeItems}</ul>
      ${
        stepUp
          ? html`<p class="muted">You already allowed it to:</p><ul class="scopes muted" data-testid="already-allowed">${view.scopes.filter((scope) => allowed.has(scope)).map(item)}</ul>`
          : null
      }
      ${view.verified && view.redirectOrigin ? html`<p class="muted">You will be returned to ${view.redirectOrigin}.</p>` : null}
      ${
        documents.length
          ? html`<p class="muted" data-testid="client-documents">Before you allow access, read ${shownName}'s ${documents.map((link, index) => (index ? html` and ${link}` : link))}.</p>`
          : null
      }
      <form method="post" action="${view.form.action}">
        <input type="hidden" name="_csrf" value="${view.csrfToken}">
        ${Object.entries(view.form.fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
        <div class="actions">
          <button type="submit" name="action" value="deny" class="secondary">Deny</button>
          <button type="submit" name="action" value="allow">Allow access</button>
        </div>
      </form>
    </section>`,
  });
}
