import { html } from './html.ts';
import { layout } from './layout.ts';

/** The page shown for errors that must not be redirected (unknown client, unregistered redirect_uri). */
export interface Brand {
  productName: string;
  logoUrl?: string;
}

export function errorPage(brand: Brand | string, title: string, message: string, code?: string): string {
  const { productName, logoUrl } =
    typeof brand === 'string' ? { productName: brand, logoUrl: undefined } : brand;
  return layout({
    title,
    productName,
    logoUrl,
    body: html`<section class="card">
      <h1>${title}</h1>
      <p>${message}</p>
      ${code ? html`<p class="muted">Error code: <code>${code}</code></p>` : null}
    </section>`,
  });
}
