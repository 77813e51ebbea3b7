// The OAuth playground's pages, as views of what route.ts hands them: no cookies, no requests, no decisions.
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { html, type SafeHtml } from '../html.ts';

export interface PlaygroundContext {
  csrfToken: string;
  /** Where the playground is served (config.paths.playground): its forms post below it. */
  base: string;
}

export interface FormView {
  productName: string;
  /** The playground's own URL, which the application must have registered. */
  redirectUri: string;
  /** The signed-in developer's applications, offered as client ids. */
  apps: readonly { id: string; name: string }[];
  error?: string;
}

/** A token request as the page shows it: one curl command. */
export interface CurlRequest {
  /** The endpoint's absolute URL. */
  url: string;
  clientId: string;
  /** For a confidential client: the user-id:password pair curl -u sends in Basic, already form-encoded. */
  basic?: string;
  params: Record<string, string>;
}

/** Which next steps the flow's state allows. */
export interface NextSteps {
  refresh: boolean;
  introspect: boolean;
  revoke: boolean;
}

export interface ResultView {
  title: string;
  curl: string;
  result: { status: number; json: Record<string, unknown> };
  next: NextSteps;
}

/** Single-quotes a value for a POSIX shell. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function curlCommand(request: CurlRequest): string {
  const auth = request.basic
    ? `  -u ${shellQuote(request.basic)} \\\n`
    : `  -d ${shellQuote(`client_id=${request.clientId}`)} \\\n`;
  const fields = Object.entries(request.params)
    .map(([key, value]) => `  -d ${shellQuote(`${key}=${value}`)}`)
    .join(' \\\n');
  return `curl -X POST ${shellQuote(request.url)} \\\n${auth}${fields}`;
}

function decoded(token: string | undefined): SafeHtml | null {
  if (token?.split('.').length !== 3) return null;
  try {
    return html`<pre>${JSON.stringify({ header: decodeProtectedHeader(token), claims: decodeJwt(token) }, null, 2)}</pre>`;
  } catch {
    return null;
  }
}

/** A token from the response, decoded under its heading; nothing when it is not a JWT. */
function decodedSection(heading: string, token: unknown): SafeHtml | null {
  const shown = decoded(token as string | undefined);
  return shown ? html`<h2>${heading}</h2>${shown}` : null;
}

const action = (context: PlaygroundContext, path: string, label: string, cls = '') =>
  html`<form method="post" action="${context.base}/${path}" class="inline-form"><input type="hidden" name="_csrf" value="${context.csrfToken}"><button type="submit" class="${cls}">${label}</button></form>`;

export function formView(context: PlaygroundContext, view: FormView): SafeHtml {
  return html`<section class="card wide">
        <h1>OAuth playground</h1>
        <p>Run the authorization code flow with PKCE against ${view.productName}, step by step.
          Your application must have <code>${view.redirectUri}</code> registered as a redirect URI.</p>
        ${view.error ? html`<p class="error" role="alert">${view.error}</p>` : null}
        <form method="post" action="${context.base}/start">
          <input type="hidden" name="_csrf" value="${context.csrfToken}">
          <label for="client_id">Client ID</label>
          <input id="client_id" name="client_id" type="text" required list="my-apps" autocomplete="off">
          <datalist id="my-apps">${view.apps.map((app) => html`<option value="${app.id}">${app.name}</option>`)}</datalist>
          <label for="client_secret">Client secret (leave empty for a public client)</label>
          <input id="client_secret" name="client_secret" type="password" autocomplete="off">
          <label for="scope">Scopes</label>
          <input id="scope" name="scope" type="text" value="" placeholder="empty: every scope the application registered">
          <label for="redirect_uri">Redirect URI</label>
          <input id="redirect_uri" type="text" value="${view.redirectUri}" readonly>
          <div class="actions"><button type="submit">Start OAuth flow</button></div>
        </form>
      </section>`;
}

/** The authorization server sent the browser back with an error instead of a code. */
export function flowErrorView(
  base: string,
  answer: { error?: string; error_description?: string },
): SafeHtml {
  return html`<section class="card wide"><h1>The flow ended with an error</h1>
          <pre data-testid="response">${JSON.stringify(answer, null, 2)}</pre>
          <p><a href="${base}">Start over</a></p></section>`;
}

export function codeView(context: PlaygroundContext, code: string, codeTtl: number, curl: string): SafeHtml {
  return html`<section class="card wide">
        <h1>You have an authorization code</h1>
        <p>Code: <code data-testid="code">${code}</code></p>
        <p>Exchange it for tokens within ${codeTtl} seconds. The command:</p>
        <pre id="command" data-testid="curl">${curl}</pre>
        <div class="actions">
          <button type="button" class="secondary" data-copy="command">Copy Command</button>
          ${action(context, 'exchange', 'Run this request')}
        </div>
      </section>`;
}

export function resultView(context: PlaygroundContext, view: ResultView): SafeHtml {
  const { result, next } = view;
  return html`<section class="card wide">
      <h1>${view.title}</h1>
      <h2>Request</h2>
      <pre id="command" data-testid="curl">${view.curl}</pre>
      <button type="button" class="secondary" data-copy="command">Copy Command</button>
      <h2>Response <span class="badge">${result.status}</span></h2>
      <pre data-testid="response">${JSON.stringify(result.json, null, 2)}</pre>
      ${decodedSection('Access token, decoded', result.json.access_token)}
      ${decodedSection('ID token, decoded', result.json.id_token)}
      <div class="actions">
        ${next.refresh ? action(context, 'refresh', 'Refresh') : null}
        ${next.introspect ? action(context, 'introspect', 'Introspect', 'secondary') : null}
        ${next.revoke ? action(context, 'revoke', 'Revoke', 'danger') : null}
      </div>
      <p><a href="${context.base}">Start over</a></p>
    </section>`;
}
