// OpenID Connect RP-Initiated Logout 1.0: the end_session_endpoint. A relying party sends the browser here (GET,
// or a form POST) to sign the person out of Gatehouse, and names where to come back to.
//
// The rules, in order:
// - id_token_hint, when present, must be an ID token this server signed (expired is fine, §2); it names the
//   client. client_id may name it too, and must then agree (§2).
// - post_logout_redirect_uri is followed only when it exactly matches one the client registered (§3.1,
//   `post_logout_redirect_uris`): anything else is an error page, never a redirect (an open redirect otherwise).
// - The session ends at once only when the hint's subject is the person signed in here. Otherwise (no hint, or
//   a hint for someone else) a confirmation page asks first (§2: "the OP SHOULD ask the End-User whether to log
//   out"); its form carries a CSRF token, so another site cannot sign a person out by linking here.
// - Then the browser goes to the registered URI with `state`, or sees a "signed out" page.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../../deps.ts';
import { currentSession, endSession } from '../../http/session.ts';
import { readIdTokenHint } from '../../oauth/id-token.ts';
import { chrome } from '../../pages/account.ts';
import { errorPage } from '../../pages/error.ts';
import { html } from '../../pages/html.ts';
import { layout } from '../../pages/layout.ts';
import { csrfToken, sendPage } from '../../pages/render.ts';

interface LogoutRequest {
  id_token_hint?: string;
  client_id?: string;
  post_logout_redirect_uri?: string;
  state?: string;
}

const FIELDS = ['id_token_hint', 'client_id', 'post_logout_redirect_uri', 'state'] as const;

/** The parameters as strings (a repeated or over-long one is refused: §2 allows each once). */
function parametersOf(source: unknown): LogoutRequest | string {
  const input = (source ?? {}) as Record<string, unknown>;
  const out: LogoutRequest = {};
  for (const field of FIELDS) {
    const value = input[field];
    if (value === undefined || value === '') continue;
    if (typeof value !== 'string') return `${field} is given more than once.`;
    if (value.length > (field === 'id_token_hint' ? 16_384 : 2_000)) return `${field} is too long.`;
    out[field] = value;
  }
  return out;
}

/** Where to send the browser afterwards, if anywhere; or why the request is refused. */
type Checked = { subject?: string; returnTo?: string; clientId?: string } | { refused: string };

async function check(deps: Deps, request: LogoutRequest): Promise<Checked> {
  const hint = request.id_token_hint
    ? await readIdTokenHint(deps.keys, deps.config.issuer, request.id_token_hint)
    : undefined;
  if (request.id_token_hint && !hint) {
    return { refused: 'The id_token_hint is not an ID token this server issued.' };
  }
  if (hint && request.client_id && request.client_id !== hint.clientId) {
    return { refused: 'The client_id does not match the ID token.' };
  }
  const clientId = hint?.clientId ?? request.client_id;
  if (!request.post_logout_redirect_uri) return { subject: hint?.subject, clientId };
  const client = clientId ? await deps.storage.clients.find(clientId) : undefined;
  if (!client) {
    return {
      refused: 'Signing out with a post_logout_redirect_uri needs the client (id_token_hint or client_id).',
    };
  }
  if (!(client.metadata.post_logout_redirect_uris ?? []).includes(request.post_logout_redirect_uri)) {
    return { refused: 'The post_logout_redirect_uri is not registered for this client.' };
  }
  const returnTo = new URL(request.post_logout_redirect_uri);
  if (request.state) returnTo.searchParams.append('state', request.state);
  return { subject: hint?.subject, clientId, returnTo: returnTo.href };
}

export function registerEndSession(app: FastifyInstance, deps: Deps) {
  const path = deps.config.paths.endSession;

  const refuse = (reply: FastifyReply, why: string) =>
    sendPage(reply, errorPage(deps.config, 'Sign-out request not accepted', why, 'invalid_request'), 400);

  async function signedOut(request: FastifyRequest, reply: FastifyReply, returnTo: string | undefined) {
    await endSession(deps, request, reply);
    if (returnTo) return reply.redirect(returnTo, 303);
    return sendPage(
      reply,
      layout({
        ...chrome(deps, reply, undefined, 'Signed out'),
        body: html`<section class="card"><h1>You are signed out</h1>
          <p>You are signed out of ${deps.config.productName}. You can close this window.</p>
          <p><a href="/login">Sign in again</a></p></section>`,
      }),
    );
  }

  async function handle(request: FastifyRequest, reply: FastifyReply, source: unknown) {
    reply.header('cache-control', 'no-store');
    const parameters = parametersOf(source);
    if (typeof parameters === 'string') return refuse(reply, parameters);
    const checked = await check(deps, parameters);
    if ('refused' in checked) return refuse(reply, checked.refused);
    const session = await currentSession(deps, request);
    // Nobody signed in here, or the RP's own user: nothing to ask.
    if (!session || (checked.subject !== undefined && checked.subject === session.userId)) {
      return signedOut(request, reply, checked.returnTo);
    }
    // The session read above says who is signed in: one lookup, not a second session read.
    const user = await deps.storage.users.findById(session.userId);
    const keep = (name: (typeof FIELDS)[number]) =>
      parameters[name] ? html`<input type="hidden" name="${name}" value="${parameters[name]}">` : null;
    return sendPage(
      reply,
      layout({
        ...chrome(deps, reply, user, 'Sign out'),
        body: html`<section class="card"><h1>Sign out?</h1>
          <p>An application asked to sign you out of ${deps.config.productName}${
            user?.email ? html` (<strong>${user.email}</strong>)` : null
          }.</p>
          <form method="post" action="${path}/confirm">
            <input type="hidden" name="_csrf" value="${csrfToken(reply)}">
            ${FIELDS.map(keep)}
            <div class="actions"><button type="submit" autofocus>Sign out</button>
            <a class="button secondary" href="/">Stay signed in</a></div>
          </form></section>`,
      }),
    );
  }

  app.get(path, (request, reply) => handle(request, reply, request.query));
  // §2: the RP may also POST the parameters as a form. Such a POST carries no CSRF token of ours, so it is
  // treated exactly like the GET (confirmation unless the hint names the person).
  app.post(path, (request, reply) => handle(request, reply, request.body));
  app.post(`${path}/confirm`, { preHandler: app.csrfProtection }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const parameters = parametersOf(request.body);
    if (typeof parameters === 'string') return refuse(reply, parameters);
    // Checked again: the form's hidden fields are the browser's to change.
    const checked = await check(deps, parameters);
    if ('refused' in checked) return refuse(reply, checked.refused);
    return signedOut(request, reply, checked.returnTo);
  });
}
