// First run: a one-time link printed on the console lets the first person in create the admin account.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { checkNewUser, createUser, UserInputError } from '../../accounts/users.ts';
import type { Deps } from '../../deps.ts';
import { startSession } from '../../http/session.ts';
import { recordSecurityEvent } from '../../oauth/security-events.ts';
import { constantTimeEqual, sha256 } from '../../util/hash.ts';
import { randomToken } from '../../util/random.ts';
import { html } from '../html.ts';
import { layout } from '../layout.ts';
import { csrfToken, sendPage } from '../render.ts';

export const SETUP_TOKEN_SETTING = 'setup_token_hash';

/** Creates (or replaces) the setup token while no user exists; returns it, or undefined once set up. */
export async function issueSetupToken(deps: Pick<Deps, 'storage'>): Promise<string | undefined> {
  if (await deps.storage.users.exists()) return undefined;
  const token = randomToken(24);
  await deps.storage.settings.set(SETUP_TOKEN_SETTING, sha256(token));
  return token;
}

function setupPage(deps: Deps, reply: FastifyReply, token: string, error?: string, email = '', name = '') {
  return layout({
    title: 'Set up',
    productName: deps.config.productName,
    body: html`<section class="card">
      <h1>Create the administrator account</h1>
      <p class="muted">This link works once. The account you create here manages ${deps.config.productName}.</p>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <form method="post" action="/setup">
        <input type="hidden" name="_csrf" value="${csrfToken(reply)}">
        <input type="hidden" name="token" value="${token}">
        <label for="name">Name</label>
        <input id="name" name="name" type="text" autocomplete="name" value="${name}">
        <label for="email">Email</label>
        <input id="email" name="email" type="email" autocomplete="username" required value="${email}">
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="new-password" required minlength="8">
        <div class="actions"><button type="submit">Create account</button></div>
      </form>
    </section>`,
  });
}

export function registerSetup(app: FastifyInstance, deps: Deps) {
  async function tokenValid(token: string | undefined): Promise<boolean> {
    const stored = await deps.storage.settings.get(SETUP_TOKEN_SETTING);
    if (!token || !stored || !constantTimeEqual(sha256(token), stored)) return false;
    // The link is for the very first account only: once anyone exists (say, made with the CLI), it is dead.
    if (await deps.storage.users.exists()) {
      await deps.storage.settings.delete(SETUP_TOKEN_SETTING);
      return false;
    }
    return true;
  }
  // The link dies once any user exists, and the usual way that happens is `gatehouse users add` (the README's
  // walk-through): say how to make an administrator from there, and where to sign in.
  const gone = (reply: FastifyReply) =>
    sendPage(
      reply,
      layout({
        title: 'Setup link not valid',
        productName: deps.config.productName,
        logoUrl: deps.config.logoUrl,
        body: html`<section class="card">
          <h1>Setup link not valid</h1>
          <p>This setup link has been used or is not valid: it works only once, and only while ${deps.config.productName} has no users at all.</p>
          <p>To make an administrator, run this on the server, in the folder ${deps.config.productName} runs from:</p>
          <pre>npx gatehouse users add you@example.com --admin</pre>
          <p class="muted">It prints a generated password (or reads one with <code>--password-stdin</code>). An existing administrator can also create users, administrators among them, in the admin console.</p>
          <ul class="links"><li><a href="/login?next=%2Fadmin">Sign in</a></li><li><a href="/">Go to the home page</a></li></ul>
        </section>`,
      }),
      404,
    );

  app.get<{ Querystring: { token?: string } }>('/setup', async (request, reply) => {
    if (!(await tokenValid(request.query.token))) return gone(reply);
    return sendPage(reply, setupPage(deps, reply, String(request.query.token)));
  });

  app.post<{ Body: { token?: string; email?: string; password?: string; name?: string } }>(
    '/setup',
    { preHandler: app.csrfProtection },
    async (request, reply) => {
      const { token = '', email = '', password = '', name = '' } = request.body ?? {};
      if (!(await tokenValid(token))) return gone(reply);
      const input = { email, password, name, isAdmin: true };
      try {
        checkNewUser(input);
      } catch (error) {
        if (error instanceof UserInputError)
          return sendPage(reply, setupPage(deps, reply, token, error.message, email, name), 400);
        throw error;
      }
      // Deleting the token is the atomic step: of two concurrent submissions only one creates the admin.
      if (!(await deps.storage.settings.delete(SETUP_TOKEN_SETTING))) return gone(reply);
      const user = await createUser(deps.storage, input, deps.clock.now(), deps.config.passwordCost);
      await recordSecurityEvent(deps.storage, deps.clock.now(), 'admin_setup', {
        actor: { kind: 'user', id: user.id, name: user.email },
        userId: user.id,
        userEmail: user.email,
        ip: request.ip,
      });
      await startSession(deps, request, reply, user.id);
      return reply.redirect('/', 303);
    },
  );
}
