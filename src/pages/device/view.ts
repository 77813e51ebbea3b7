import type { Flash } from '../flash.ts';
import { html } from '../html.ts';
import { layout } from '../layout.ts';
import { flashView } from '../parts.ts';

export interface DeviceEntryView {
  productName: string;
  logoUrl?: string;
  csrfToken: string;
  /** The page's own path (GATEHOUSE_PATH_DEVICE): where the form posts. */
  action: string;
  userEmail: string;
  /** What goes in the field: the code from verification_uri_complete, or what the person typed last. */
  userCode?: string;
  error?: string;
  /** The answer to the last approval or denial (post/redirect/get). */
  flash?: Flash;
}

/** RFC 8628 §3.3: where a person types the code their device shows. */
export function deviceEntryPage(view: DeviceEntryView): string {
  return layout({
    title: 'Connect a device',
    productName: view.productName,
    logoUrl: view.logoUrl,
    signedInAs: view.userEmail,
    csrfToken: view.csrfToken,
    body: html`${flashView(view.flash)}<section class="card">
      <h1>Connect a device</h1>
      <p>Enter the code your device or command line shows you.</p>
      ${view.error ? html`<p class="error" role="alert" data-testid="error">${view.error}</p>` : null}
      <form method="post" action="${view.action}">
        <input type="hidden" name="_csrf" value="${view.csrfToken}">
        <label for="user_code">Code</label>
        <input id="user_code" name="user_code" type="text" class="user-code" required autofocus autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="20" placeholder="XXXX-XXXX" value="${view.userCode ?? ''}">
        <div class="actions"><button type="submit">Continue</button></div>
      </form>
    </section>`,
  });
}
