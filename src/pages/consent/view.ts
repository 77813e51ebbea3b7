import type { ScopeConfig } from '../../config.ts';
import { describeScope } from '../../oauth/scope.ts';
import { html } from '../html.ts';
import { layout } from '../layout.ts';

export interface ConsentView {
  productName: string;
  csrfToken: string;
  interactionId: string;
  clientName: string;
  redirectOrigin: string;
  scopes: string[];
  userEmail: string;
  catalogue: readonly ScopeConfig[];
  logoUrl?: string;
}

export function consentPage(view: ConsentView): string {
  const scopeItems = view.scopes.length
    ? view.scopes.map((scope) => html`<li>${describeScope(view.catalogue, scope)} <code>${scope}</code></li>`)
    : [html`<li>Know that you use ${view.clientName}</li>`];
  return layout({
    title: 'Allow access?',
    productName: view.productName,
    logoUrl: view.logoUrl,
    signedInAs: view.userEmail,
    csrfToken: view.csrfToken,
    body: html`<section class="card">
      <h1><strong>${view.clientName}</strong> wants to access your account</h1>
      <p>This will allow ${view.clientName} to:</p>
      <ul class="scopes">${scopeItems}</ul>
      <p class="muted">You will be returned to ${view.redirectOrigin}.</p>
      <form method="post" action="/consent">
        <input type="hidden" name="_csrf" value="${view.csrfToken}">
        <input type="hidden" name="interaction" value="${view.interactionId}">
        <div class="actions">
          <button type="submit" name="action" value="deny" class="secondary">Deny</button>
          <button type="submit" name="action" value="allow">Allow access</button>
        </div>
      </form>
    </section>`,
  });
}
