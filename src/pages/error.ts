import { html } from './html.ts';
import { layout } from './layout.ts';

/** The page shown for errors that must not be redirected (unknown client, unregistered redirect_uri). */
export interface Brand {
  productName: string;
  logoUrl?: string;
}

export interface PageLink {
  href: string;
  label: string;
}

/**
 * Where a person can go from an error: the home page lists what a signed-in person may use (connected apps,
 * portal, console) and offers sign-in to everyone else, so it is the one link every error page carries.
 */
const HOME: PageLink = { href: '/', label: 'Go to the home page' };

export function errorPage(
  brand: Brand | string,
  title: string,
  message: string,
  code?: string,
  links: readonly PageLink[] = [],
): string {
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
      <ul class="links">${[...links, HOME].map((link) => html`<li><a href="${link.href}">${link.label}</a></li>`)}</ul>
    </section>`,
  });
}

export function notFoundPage(brand: Brand): string {
  return errorPage(brand, 'Page not found', 'There is no page at this address.', undefined, [
    { href: '/account/apps', label: 'Your connected apps' },
    { href: '/portal', label: 'Developer portal' },
  ]);
}
