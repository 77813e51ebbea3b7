import { html, type SafeHtml } from './html.ts';

export interface LayoutOptions {
  title: string;
  productName: string;
  body: SafeHtml;
  /** The signed-in user's email, to show the Sign out button. */
  signedInAs?: string | null;
  csrfToken?: string;
  logoUrl?: string;
  /** Links shown in the header for signed-in users (portal, admin, connected apps). */
  nav?: { href: string; label: string }[];
}

export function layout(options: LayoutOptions): string {
  const signOut = options.signedInAs
    ? html`<form class="signout" method="post" action="/logout">
        <input type="hidden" name="_csrf" value="${options.csrfToken ?? ''}">
        <span>${options.signedInAs}</span> <button type="submit" class="link">Sign out</button>
      </form>`
    : null;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${options.title} · ${options.productName}</title>
<link rel="stylesheet" href="/assets/gatehouse.css">
${
  // The copy buttons' script, only on pages that have one (sign-in and consent load no script at all).
  options.body.value.includes(' data-copy="') ? html`<script src="/assets/copy.js" defer></script>` : null
}
</head>
<body>
<header><a class="brand" href="/">${options.logoUrl ? html`<img src="${options.logoUrl}" alt="" class="logo">` : null}${options.productName}</a>${
    options.nav?.length
      ? html`<nav>${options.nav.map((link) => html`<a href="${link.href}">${link.label}</a>`)}</nav>`
      : null
  }${signOut}</header>
<main>${options.body}</main>
</body>
</html>`.value;
}
