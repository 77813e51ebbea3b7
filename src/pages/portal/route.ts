// The developer portal: signed-in users register applications, see the client id and (once) the secret,
// rotate the secret with an overlap, edit redirect URIs, delete, and see the status. The same client rules as
// dynamic registration and the CLI (oauth/client-metadata.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { deleteClient, rotateClientSecret } from '../../applications/clients.ts';
import type { Deps } from '../../deps.ts';
import { OAuthError } from '../../errors.ts';
import { buildClient, checkRedirectUri } from '../../oauth/client-metadata.ts';
import { changesNeedReview, proposeChange, reviewedFieldsOf } from '../../oauth/client-review.ts';
import { describeScope, parseScope } from '../../oauth/scope.ts';
import { recordSecurityEvent } from '../../oauth/security-events.ts';
import type { Client, User } from '../../storage/storage.ts';
import { chrome, signedInUser, toLogin } from '../account.ts';
import { html, type SafeHtml } from '../html.ts';
import { layout } from '../layout.ts';
import { csrfToken, sendPage } from '../render.ts';

function status(client: Client): string {
  if (client.disabledAt !== null) return 'disabled';
  return client.status === 'pending' ? 'pending approval' : 'approved';
}

function overlapText(seconds: number): string {
  if (seconds === 0) return 'no time at all';
  if (seconds % 3600 === 0) return seconds === 3600 ? '1 hour' : `${seconds / 3600} hours`;
  const minutes = Math.max(1, Math.round(seconds / 60));
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

function lines(text: unknown): string[] {
  return String(text ?? '')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
}

export function registerPortal(app: FastifyInstance, deps: Deps) {
  /** Whether this user's edit of the app is a proposal for an administrator (GATEHOUSE_REGISTRATION=approval). */
  const proposesChanges = (user: User, client: Client) =>
    changesNeedReview(client, deps.config.registrationPolicy) && !user.isAdmin;

  const page = (reply: FastifyReply, user: User, title: string, body: SafeHtml, code = 200) =>
    sendPage(reply, layout({ ...chrome(deps, reply, user, title), body }), code);

  async function ownedClient(user: User, id: string): Promise<Client | undefined> {
    const client = await deps.storage.clients.find(id);
    return client && (client.ownerUserId === user.id || user.isAdmin) ? client : undefined;
  }

  /** The signed-in user and their app; otherwise the answer (sign-in, or not found) is already on its way. */
  async function ownerAndApp(request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) {
    const user = await signedInUser(deps, request);
    if (!user) {
      await toLogin(request, reply);
      return undefined;
    }
    const client = await ownedClient(user, request.params.id);
    if (!client) {
      await reply.callNotFound();
      return undefined;
    }
    return { user, client };
  }

  function newAppForm(reply: FastifyReply, error?: string, values: Record<string, string> = {}) {
    const chosen = new Set(parseScope(values.scope ?? 'openid profile email'));
    return html`<section class="card wide">
      <h1>Register an application</h1>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <form method="post" action="/portal/apps">
        <input type="hidden" name="_csrf" value="${csrfToken(reply)}">
        <label for="name">Application name</label>
        <input id="name" name="name" type="text" required maxlength="200" value="${values.name ?? ''}">
        <label for="redirect_uris">Redirect URIs (one per line)</label>
        <textarea id="redirect_uris" name="redirect_uris" rows="3" required>${values.redirect_uris ?? ''}</textarea>
        <fieldset><legend>Type</legend>
          <label class="inline"><input type="radio" name="type" value="confidential" ${values.type !== 'public' ? 'checked' : ''}> Confidential (a server that keeps a secret)</label>
          <label class="inline"><input type="radio" name="type" value="public" ${values.type === 'public' ? 'checked' : ''}> Public (a mobile, desktop or browser app; PKCE, no secret)</label>
        </fieldset>
        <fieldset><legend>Scopes</legend>
          ${deps.config.scopes.map(
            (
              scope,
            ) => html`<label class="inline"><input type="checkbox" name="scope_${scope.name}" value="1" ${chosen.has(scope.name) ? 'checked' : ''}>
              <code>${scope.name}</code> ${scope.description}${scope.requiresApproval ? html` <span class="badge">needs approval</span>` : null}</label>`,
          )}
        </fieldset>
        <div class="actions"><button type="submit">Register application</button></div>
      </form>
    </section>`;
  }

  app.get('/portal', async (request, reply) => {
    const user = await signedInUser(deps, request);
    if (!user) return toLogin(request, reply);
    const clients = await deps.storage.clients.listByOwner(user.id);
    return page(
      reply,
      user,
      'Developer portal',
      html`<section class="card wide">
        <h1>Your applications</h1>
        ${
          clients.length
            ? html`<table><thead><tr><th>Name</th><th>Client ID</th><th>Type</th><th>Status</th></tr></thead><tbody>
              ${clients.map(
                (
                  client,
                ) => html`<tr><td><a href="/portal/apps/${client.id}">${client.name}</a></td><td><code>${client.id}</code></td>
                  <td>${client.tokenEndpointAuthMethod === 'none' ? 'public' : 'confidential'}</td><td>${status(client)}</td></tr>`,
              )}</tbody></table>`
            : html`<p>You have not registered an application yet.</p>`
        }
        <p><a class="button" href="/portal/apps/new">Register an application</a></p>
      </section>`,
    );
  });

  app.get('/portal/apps/new', async (request, reply) => {
    const user = await signedInUser(deps, request);
    if (!user) return toLogin(request, reply);
    return page(reply, user, 'Register an application', newAppForm(reply));
  });

  app.post<{ Body: Record<string, string> }>(
    '/portal/apps',
    { preHandler: app.csrfProtection },
    async (request, reply) => {
      const user = await signedInUser(deps, request);
      if (!user) return toLogin(request, reply);
      const body = request.body ?? {};
      const scope = deps.config.scopes
        .filter((entry) => body[`scope_${entry.name}`] === '1')
        .map((entry) => entry.name)
        .join(' ');
      try {
        const isPublic = body.type === 'public';
        const { client, secret } = buildClient(
          {
            name: body.name ?? '',
            redirectUris: lines(body.redirect_uris),
            scope,
            // A confidential app uses the first secret method this deployment allows (Basic unless only post is).
            tokenEndpointAuthMethod: isPublic
              ? 'none'
              : (deps.config.clientAuthMethods.find((method) => method !== 'none') ?? 'client_secret_basic'),
            grantTypes: ['authorization_code', 'refresh_token'],
            registeredVia: 'portal',
            ownerUserId: user.id,
            status: deps.config.registrationPolicy === 'approval' ? 'pending' : 'active',
            scopesNeedingApproval: deps.config.scopes
              .filter((entry) => entry.requiresApproval)
              .map((entry) => entry.name),
            allowedAuthMethods: deps.config.clientAuthMethods,
            trustedRedirectUris: [`${deps.config.issuer}${deps.config.paths.playground}`],
          },
          deps.clock.now(),
        );
        await deps.storage.transaction(async (tx) => {
          await tx.clients.create(client);
          await recordSecurityEvent(tx, deps.clock.now(), 'client_registered', {
            actor: { kind: 'user', id: user.id, name: user.email },
            clientId: client.id,
            clientName: client.name,
            userId: user.id,
            userEmail: user.email,
            ip: request.ip,
            detail: { via: 'portal', status: client.status },
          });
        });
        return page(reply, user, 'Application registered', credentialsView(client, secret));
      } catch (error) {
        if (!(error instanceof OAuthError)) throw error;
        return page(
          reply,
          user,
          'Register an application',
          newAppForm(reply, error.description ?? error.code, { ...body, scope }),
          400,
        );
      }
    },
  );

  function credentialsView(client: Client, secret: string | undefined) {
    return html`<section class="card wide">
      <h1>${client.name} is registered</h1>
      <p>Client ID: <code data-testid="client-id">${client.id}</code></p>
      ${
        secret
          ? html`<p>Client secret: <code data-testid="client-secret">${secret}</code></p>
             <p class="notice">Copy the secret now: it is shown only once and cannot be retrieved later.</p>`
          : html`<p class="muted">A public client has no secret; it proves itself with PKCE.</p>`
      }
      ${client.status === 'pending' ? html`<p class="notice">An administrator must approve this application before it can be used.</p>` : null}
      <p><a href="/portal/apps/${client.id}">Manage ${client.name}</a></p>
    </section>`;
  }

  app.get<{ Params: { id: string } }>('/portal/apps/:id', async (request, reply) => {
    const found = await ownerAndApp(request, reply);
    if (!found) return reply;
    const { user, client } = found;
    const token = csrfToken(reply);
    const action = (
      path: string,
      label: string,
      extra?: SafeHtml,
      cls = '',
    ) => html`<form method="post" action="/portal/apps/${client.id}/${path}">
        <input type="hidden" name="_csrf" value="${token}">${extra ?? null}<button type="submit" class="${cls}">${label}</button></form>`;
    return page(
      reply,
      user,
      client.name,
      html`<section class="card wide">
        <h1>${client.name}</h1>
        <dl>
          <dt>Client ID</dt><dd><code>${client.id}</code></dd>
          <dt>Type</dt><dd>${client.tokenEndpointAuthMethod === 'none' ? 'public' : `confidential (${client.tokenEndpointAuthMethod})`}</dd>
          <dt>Status</dt><dd data-testid="status">${status(client)}</dd>
          <dt>Scopes</dt><dd>${parseScope(client.scope).map((scope) => html`<code title="${describeScope(deps.config.scopes, scope)}">${scope}</code> `)}</dd>
          ${client.requestedScope ? html`<dt>Waiting for approval</dt><dd>${parseScope(client.requestedScope).map((scope) => html`<code>${scope}</code> `)}</dd>` : null}
        </dl>
        <h2>Redirect URIs</h2>
        ${
          client.pendingChanges
            ? html`<p class="notice" data-testid="pending-changes">A change waits for an administrator's approval; until then these redirect URIs stay in force: ${client.redirectUris.map((uri) => html`<code>${uri}</code> `)}</p>`
            : null
        }
        ${action(
          'redirect-uris',
          'Save redirect URIs',
          html`<label for="redirect_uris">Redirect URIs (one per line)</label><textarea id="redirect_uris" name="redirect_uris" rows="3">${(proposesChanges(user, client) ? (client.pendingChanges ?? client) : client).redirectUris.join('\n')}</textarea>`,
        )}
        ${
          client.tokenEndpointAuthMethod === 'none'
            ? null
            : html`<h2>Client secret</h2>
              <p class="muted">Rotating issues a new secret; the old one keeps working for ${overlapText(deps.config.secretRotationOverlap)}.</p>
              ${action('rotate-secret', 'Rotate secret', undefined, 'secondary')}`
        }
        <h2>Delete</h2>
        ${action('delete', 'Delete application', html`<label class="inline"><input type="checkbox" name="confirm" value="yes" required> I understand every token it holds stops working</label>`, 'danger')}
      </section>`,
    );
  });

  app.post<{ Params: { id: string }; Body: Record<string, string> }>(
    '/portal/apps/:id/redirect-uris',
    { preHandler: app.csrfProtection },
    async (request, reply) => {
      const found = await ownerAndApp(request, reply);
      if (!found) return reply;
      const { user, client } = found;
      const redirectUris = lines(request.body?.redirect_uris);
      try {
        if (redirectUris.length === 0 || redirectUris.length > 20) {
          throw new OAuthError('invalid_redirect_uri', 'Register between 1 and 20 redirect URIs');
        }
        for (const uri of redirectUris) {
          checkRedirectUri(uri, client.applicationType, [
            `${deps.config.issuer}${deps.config.paths.playground}`,
          ]);
        }
      } catch (error) {
        if (!(error instanceof OAuthError)) throw error;
        return page(
          reply,
          user,
          client.name,
          html`<section class="card wide"><p class="error" role="alert">${error.description}</p>
          <p><a href="/portal/apps/${client.id}">Back</a></p></section>`,
          400,
        );
      }
      // Under `approval` a developer's edit waits for an administrator (client-review.ts), on top of any change
      // that already waits; the approved URIs keep working meanwhile. An administrator's own edit applies at
      // once to the registration in force (a change waiting stays for the console).
      const uris = [...new Set(redirectUris)];
      const updated = proposesChanges(user, client)
        ? proposeChange(
            client,
            { ...client, ...reviewedFieldsOf(client.pendingChanges ?? client), redirectUris: uris },
            { review: true, now: deps.clock.now(), newSecretHash: client.pendingChanges?.secretHash },
          )
        : { ...client, redirectUris: uris };
      await deps.storage.clients.update(updated);
      return reply.redirect(`/portal/apps/${client.id}`, 303);
    },
  );

  app.post<{ Params: { id: string } }>(
    '/portal/apps/:id/rotate-secret',
    { preHandler: app.csrfProtection },
    async (request, reply) => {
      const found = await ownerAndApp(request, reply);
      if (!found) return reply;
      const { user, client } = found;
      const outcome = await rotateClientSecret(
        deps.storage,
        deps.clock.now(),
        client.id,
        { actor: { kind: 'user', id: user.id, name: user.email }, ip: request.ip },
        deps.config.secretRotationOverlap,
      );
      if (outcome.status !== 'ok') return reply.callNotFound();
      const { secret } = outcome;
      return page(reply, user, client.name, credentialsView({ ...client }, secret));
    },
  );

  app.post<{ Params: { id: string }; Body: Record<string, string> }>(
    '/portal/apps/:id/delete',
    { preHandler: app.csrfProtection },
    async (request, reply) => {
      const found = await ownerAndApp(request, reply);
      if (!found) return reply;
      const { user, client } = found;
      if (request.body?.confirm !== 'yes') return reply.redirect(`/portal/apps/${client.id}`, 303);
      await deleteClient(deps.storage, deps.clock.now(), client.id, {
        actor: { kind: 'user', id: user.id, name: user.email },
        ip: request.ip,
      });
      return reply.redirect('/portal', 303);
    },
  );
}
