// Connected apps: every application the user has given access to, with its scopes and when it last got a
// token, and a "Remove access" button that does what Dialpad's deauthorize does.
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../../deps.ts';
import { deauthorize } from '../../oauth/deauthorize.ts';
import { describeScope, parseScope } from '../../oauth/scope.ts';
import { chrome, signedInUser, toLogin } from '../account.ts';
import { html } from '../html.ts';
import { layout } from '../layout.ts';
import { sendPage } from '../render.ts';

const when = (ms: number | undefined) =>
  ms === undefined ? 'never' : `${new Date(ms).toISOString().replace('T', ' ').slice(0, 16)} UTC`;

export function registerConnectedApps(app: FastifyInstance, deps: Deps) {
  app.get('/account/apps', async (request, reply) => {
    const user = await signedInUser(deps, request);
    if (!user) return toLogin(request, reply);
    const grants = await deps.storage.grants.listActiveForUser(user.id);
    const lastUsed = await deps.storage.grants.lastUsedByClient(user.id);
    const byClient = new Map<string, { scopes: Set<string>; since: number }>();
    for (const grant of grants) {
      const entry = byClient.get(grant.clientId) ?? { scopes: new Set<string>(), since: grant.createdAt };
      for (const scope of parseScope(grant.scope)) entry.scopes.add(scope);
      entry.since = Math.min(entry.since, grant.createdAt);
      byClient.set(grant.clientId, entry);
    }
    const frame = chrome(deps, reply, user, 'Connected apps');
    const rows = [];
    for (const [clientId, entry] of byClient) {
      const client = await deps.storage.clients.find(clientId);
      if (!client) continue;
      rows.push(html`<li class="app">
        <h2>${client.name}</h2>
        <p class="muted">Connected ${when(entry.since)} · last used ${when(lastUsed.get(clientId))}</p>
        <ul class="scopes">${[...entry.scopes].map((scope) => html`<li>${describeScope(deps.config.scopes, scope)} <code>${scope}</code></li>`)}</ul>
        <form method="post" action="/account/apps/${clientId}/remove">
          <input type="hidden" name="_csrf" value="${frame.csrfToken}">
          <button type="submit" class="danger">Remove access</button>
        </form>
      </li>`);
    }
    const body = html`<section class="card wide">
      <h1>Connected apps</h1>
      ${rows.length ? html`<ul class="apps">${rows}</ul>` : html`<p>No application has access to your account.</p>`}
    </section>`;
    return sendPage(reply, layout({ ...frame, body }));
  });

  app.post<{ Params: { clientId: string } }>(
    '/account/apps/:clientId/remove',
    { preHandler: app.csrfProtection },
    async (request, reply) => {
      const user = await signedInUser(deps, request);
      if (!user) return toLogin(request, reply);
      await deauthorize(deps.storage, user.id, request.params.clientId, deps.clock.now(), {
        actor: { kind: 'user', id: user.id, name: user.email },
        ip: request.ip,
      });
      return reply.redirect('/account/apps', 303);
    },
  );
}
