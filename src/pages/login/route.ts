// The sign-in page. When it continues an authorization request, a successful sign-in goes straight back to
// that request (/authorize/resume), so nobody is stranded after signing in.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { passwordCheck } from '../../accounts/password.ts';
import { recordSignedIn, recordSignInFailed, recordSignInThrottled } from '../../accounts/sign-in-events.ts';
import { recordSuccess, reserveAttempt, throttleKeys } from '../../accounts/throttle.ts';
import { type Deps, flowDeps } from '../../deps.ts';
import { createUpstream } from '../../federation/upstream.ts';
import { endSession, existingBrowserBinding, startSession } from '../../http/session.ts';
import { acceptLogin, load } from '../../interaction/flow.ts';
import { chrome, safeNext, signedInUser } from '../account.ts';
import { html } from '../html.ts';
import { layout } from '../layout.ts';
import { shownClientName } from '../parts.ts';
import { csrfToken, sendPage } from '../render.ts';
import { registerFederatedLogin } from './federated.ts';
import { loginPage } from './view.ts';

interface LoginBody {
  email?: string;
  password?: string;
  interaction?: string;
  next?: string;
}

/** Where a sign-in comes from, for its security event: the address, and the app it continues to. */
const where = (request: FastifyRequest, interaction: { clientId: string } | undefined) => ({
  ip: request.ip,
  clientId: interaction?.clientId,
});

export function registerLogin(app: FastifyInstance, deps: Deps) {
  const flow = flowDeps(deps);
  // Unknown emails are checked against a dummy hash of the configured cost, so they cost the same time as a
  // wrong password.
  const passwords = passwordCheck(deps.config.passwordCost);
  // One relying party per configured upstream, for this server's lifetime (each caches its discovery).
  const upstreams = new Map(deps.config.upstreams.map((config) => [config.id, createUpstream(config)]));
  const buttons = deps.config.upstreams.map(({ id, name }) => ({ id, name }));
  registerFederatedLogin(app, deps, upstreams, buttons);

  async function clientNameFor(interactionId: string | undefined, request: FastifyRequest) {
    const interaction = await load(flow, interactionId, existingBrowserBinding(deps, request));
    if (!interaction) return { interaction: undefined, clientName: undefined };
    const client = await deps.storage.clients.find(interaction.clientId);
    return { interaction, clientName: client && shownClientName(client) };
  }

  app.get<{ Querystring: { interaction?: string; next?: string } }>('/login', async (request, reply) => {
    const { interaction, clientName } = await clientNameFor(request.query.interaction, request);
    return sendPage(
      reply,
      loginPage({
        productName: deps.config.productName,
        logoUrl: deps.config.logoUrl,
        csrfToken: csrfToken(reply),
        interactionId: interaction?.id,
        next: safeNext(request.query.next),
        clientName,
        email: emailFromHint(interaction?.request.loginHint),
        upstreams: buttons,
      }),
    );
  });

  app.post<{ Body: LoginBody }>('/login', { preHandler: app.csrfProtection }, async (request, reply) => {
    const body = request.body ?? {};
    const email = String(body.email ?? '').slice(0, 320);
    const password = String(body.password ?? '').slice(0, 1024);
    const { interaction, clientName } = await clientNameFor(body.interaction, request);
    const again = (error: string, status: number) =>
      sendPage(
        reply,
        loginPage({
          productName: deps.config.productName,
          csrfToken: csrfToken(reply),
          interactionId: interaction?.id,
          next: safeNext(body.next),
          logoUrl: deps.config.logoUrl,
          clientName,
          email,
          error,
          upstreams: buttons,
        }),
        status,
      );

    const now = deps.clock.now();
    const keys = throttleKeys(email, request.ip);
    // Reserved before the KDF runs, atomically: concurrent attempts cannot all pass the check (docs/security.md R14).
    const wait = await reserveAttempt(deps.storage, keys, now);
    if (wait > 0) {
      await recordSignInThrottled(deps.storage, now, { email, waitMs: wait }, where(request, interaction));
      deps.metrics.login('throttled');
      const seconds = Math.ceil(wait / 1000);
      reply.header('retry-after', String(seconds));
      return again(`Too many attempts. Try again in ${seconds} second${seconds === 1 ? '' : 's'}.`, 429);
    }

    const user = await deps.storage.users.findByEmail(email);
    // An unknown email runs the same KDF against a dummy hash, then fails: same message, same time.
    const valid = await passwords.verify(password, user?.passwordHash);
    if (!user || !valid || user.disabledAt !== null) {
      request.log.info({ event: 'login_failed' }, 'failed sign-in');
      const reason = !user ? 'unknown_account' : !valid ? 'wrong_password' : 'account_disabled';
      await recordSignInFailed(deps.storage, now, { user, email, reason }, where(request, interaction));
      deps.metrics.login('failed');
      return again('Incorrect email or password.', 401);
    }
    await recordSuccess(deps.storage, keys);
    await recordSignedIn(deps.storage, now, user, { ...where(request, interaction), method: 'password' });
    deps.metrics.login('succeeded');
    // A hash made at another cost than GATEHOUSE_PASSWORD_COST is replaced, unless the password changed since.
    const rehashed = await passwords.rehash(password, user.passwordHash);
    if (rehashed) await deps.storage.users.rehashPassword(user.id, user.passwordHash, rehashed);
    const session = await startSession(deps, request, reply, user.id);
    if (interaction) {
      await acceptLogin(flow, interaction, user.id, session.authTime);
      return reply.redirect(`${flow.resumePath}?interaction=${encodeURIComponent(interaction.id)}`, 303);
    }
    return reply.redirect(safeNext(body.next) ?? '/', 303);
  });

  app.post('/logout', { preHandler: app.csrfProtection }, async (request, reply) => {
    await endSession(deps, request, reply);
    return reply.redirect('/', 303);
  });

  // A sign-out link someone bookmarked or typed: a page with the button (signing out is a POST with a CSRF
  // token, so that no other site can sign anyone out), or word that they are already signed out.
  app.get('/logout', async (request, reply) => {
    const user = await signedInUser(deps, request);
    const frame = chrome(deps, reply, user, 'Sign out');
    const body = user
      ? html`<section class="card"><h1>Sign out?</h1><p>You are signed in as <strong>${user.email ?? user.name ?? user.id}</strong>.</p>
          <form method="post" action="/logout"><input type="hidden" name="_csrf" value="${frame.csrfToken ?? ''}">
            <div class="actions"><a class="button secondary" href="/">Cancel</a><button type="submit">Sign out</button></div>
          </form></section>`
      : html`<section class="card"><h1>You are signed out</h1><p><a href="/login">Sign in</a> · <a href="/">Home</a></p></section>`;
    return sendPage(reply, layout({ ...frame, body }));
  });

  app.get('/', async (request, reply) => {
    const user = await signedInUser(deps, request);
    const body = user
      ? html`<section class="card"><h1>You are signed in</h1><p>Signed in as <strong>${user.email ?? user.name ?? user.id}</strong>.</p>
          <ul class="links">
            <li><a href="/account/apps">Connected apps</a>: the applications you have given access to</li>
            <li><a href="/portal">Developer portal</a>: register and manage your own applications</li>
            <li><a href="${deps.config.paths.playground}">OAuth playground</a>: run a flow and see every request</li>
            ${user.isAdmin ? html`<li><a href="/admin">Admin console</a></li>` : null}
          </ul></section>`
      : html`<section class="card"><h1>${deps.config.productName}</h1><p>You are not signed in.</p>
          <p><a href="/login">Sign in</a></p></section>`;
    return sendPage(reply, layout({ ...chrome(deps, reply, user, 'Account'), body }));
  });
}

/**
 * OIDC Core §3.1.2.1: login_hint "MAY" be the identifier the user signs in with. Gatehouse's is an email, so a hint
 * that looks like one fills the field (the person can still change it); a phone number or an opaque subject does
 * not. Only ever shown as an escaped attribute value; nothing is looked up with it.
 */
export function emailFromHint(hint: string | null | undefined): string | undefined {
  if (!hint || hint.length > 320 || /\s/.test(hint)) return undefined;
  return /^[^@]+@[^@]+$/.test(hint) ? hint : undefined;
}
