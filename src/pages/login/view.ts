import { html } from '../html.ts';
import { layout } from '../layout.ts';

export interface LoginView {
  productName: string;
  csrfToken: string;
  interactionId?: string;
  next?: string;
  logoUrl?: string;
  clientName?: string;
  email?: string;
  error?: string;
  /** Upstream identity providers, each a "Continue with <name>" button (a POST with CSRF, never a link). */
  upstreams?: { id: string; name: string }[];
}

export function loginPage(view: LoginView): string {
  return layout({
    title: 'Sign in',
    productName: view.productName,
    logoUrl: view.logoUrl,
    body: html`<section class="card">
      <h1>Sign in</h1>
      ${view.clientName ? html`<p class="muted">to continue to <strong>${view.clientName}</strong></p>` : null}
      ${view.error ? html`<p class="error" role="alert">${view.error}</p>` : null}
      <form method="post" action="/login">
        <input type="hidden" name="_csrf" value="${view.csrfToken}">
        ${view.interactionId ? html`<input type="hidden" name="interaction" value="${view.interactionId}">` : null}
        ${view.next ? html`<input type="hidden" name="next" value="${view.next}">` : null}
        <label for="email">Email</label>
        <input id="email" name="email" type="email" autocomplete="username" required value="${view.email ?? ''}"${view.email ? null : html` autofocus`}>
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required${view.email ? html` autofocus` : null}>
        <div class="actions"><button type="submit">Sign in</button></div>
      </form>
      ${
        view.upstreams?.length
          ? html`<div class="upstreams"><p class="divider">or</p>${view.upstreams.map(
              (upstream) => html`<form method="post" action="/login/federated/${upstream.id}">
                <input type="hidden" name="_csrf" value="${view.csrfToken}">
                ${view.interactionId ? html`<input type="hidden" name="interaction" value="${view.interactionId}">` : null}
                ${view.next ? html`<input type="hidden" name="next" value="${view.next}">` : null}
                <button type="submit" class="secondary">Continue with ${upstream.name}</button>
              </form>`,
            )}</div>`
          : null
      }
    </section>`,
  });
}
