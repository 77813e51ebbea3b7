// Connected apps: every application the user has given access to, with its scopes and when it last got a
// token, and a "Remove access" button that does what Dialpad's deauthorize does.
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../../deps.ts';
import { deauthorize } from '../../oauth/deauthorize.ts';
import { describeScope, parseScope } from '../../oauth/scope.ts';
import { chrome, signedInUser, toLogin } from '../account.ts';
import { html } from '../html.ts';
import { layout } from '../layout.ts';
import { confirmationView } from '../parts.ts';
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
        <p><a class="button danger" href="/account/apps/${clientId}/remove">Remove access…</a></p>
      </li>`);
    }
    const body = html`<section class="card wide">
      <h1>Connected apps</h1>
      ${rows.length ? html`<ul class="apps">${rows}</ul>` : html`<p>No application has access to your account.</p>`}
    </section>`;
    return sendPage(reply, layout({ ...frame, body }));
  });

  // Removing access is confirmed on a page of its own (works with JavaScript off); the POST without
  // confirm=yes comes back here.
  app.get<{ Params: { clientId: string } }>('/account/apps/:clientId/remove', async (request, reply) => {
    const user = await signedInUser(deps, request);
    if (!user) return toLogin(request, reply);
    const client = await deps.storage.clients.find(request.params.clientId);
    if (!client) return reply.callNotFound();
    const frame = chrome(deps, reply, user, 'Remove access?');
    const body = confirmationView({
      title: `Remove ${client.name}'s access?`,
      consequence: `${client.name} can no longer act for you: every token it holds stops working, and it has to ask for your consent again to come back.`,
      action: `/account/apps/${encodeURIComponent(client.id)}/remove`,
      button: 'Remove access',
      cancel: '/account/apps',
      csrfToken: frame.csrfToken ?? '',
    });
    return sendPage(reply, layout({ ...frame, body }));
  });

  app.post<{ Params: { clientId: string }; Body: Record<string, string> }>(
    '/account/apps/:clientId/remove',
    { preHandler: app.csrfProtection },
    async (request, reply) => {
      const user = await signedInUser(deps, request);
      if (!user) return toLogin(request, reply);
      if (request.body?.confirm !== 'yes') {
        return reply.redirect(`/account/apps/${encodeURIComponent(request.params.clientId)}/remove`, 303);
      }
      await deauthorize(deps.storage, user.id, request.params.clientId, deps.clock.now(), {
        actor: { kind: 'user', id: user.id, name: user.email },
        ip: request.ip,
      });
      return reply.redirect('/account/apps', 303);
    },
  );
}
