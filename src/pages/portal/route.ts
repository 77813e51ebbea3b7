// The developer portal: signed-in users register applications, see the client id and (once) the secret,
// rotate the secret with an overlap, edit the name, redirect URIs, scopes and display URIs, delete, and see the
// status. The same client rules as dynamic registration and the CLI (oauth/client-metadata.ts). Every POST
// answers with a redirect (post/redirect/get); what it has to say, a secret included, goes in a flash (flash.ts).
// The views are in view.ts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { deleteClient, rotateClientSecret } from '../../applications/clients.ts';
import type { Deps } from '../../deps.ts';
import { OAuthError } from '../../errors.ts';
import { buildClient, checkDisplayMetadata, checkRedirectUri } from '../../oauth/client-metadata.ts';
import { changesNeedReview, proposeChange, reviewedFieldsOf } from '../../oauth/client-review.ts';
import { formatScope, parseScope } from '../../oauth/scope.ts';
import { recordSecurityEvent } from '../../oauth/security-events.ts';
import type { Client, User } from '../../storage/storage.ts';
import { chrome, signedInUser, toLogin } from '../account.ts';
import { type Flash, redirectWithFlash, takeFlash } from '../flash.ts';
import type { SafeHtml } from '../html.ts';
import { layout } from '../layout.ts';
import { confirmationView } from '../parts.ts';
import { csrfToken, sendPage } from '../render.ts';
import {
  appListView,
  appView,
  newAppView,
  overlapText,
  type PortalContext,
  type SettingsValues,
} from './view.ts';

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

  const context = (reply: FastifyReply): PortalContext => ({
    csrfToken: csrfToken(reply),
    catalogue: deps.config.scopes,
  });
  /** The issuer's own pages (the playground) may be redirect URIs on a loopback dev issuer (client-metadata.ts). */
  const issuer = deps.config.issuer;

  /** The settings form's values for a client: the change waiting for review when this user's edits wait. */
  function settingsOf(client: Client, user: User): SettingsValues {
    const shown = proposesChanges(user, client) ? (client.pendingChanges ?? client) : client;
    return {
      name: shown.name,
      redirect_uris: shown.redirectUris.join('\n'),
      logo_uri: shown.metadata.logo_uri ?? '',
      policy_uri: shown.metadata.policy_uri ?? '',
      tos_uri: shown.metadata.tos_uri ?? '',
      scope: formatScope(new Set([...parseScope(shown.scope), ...parseScope(shown.requestedScope)])),
    };
  }

  function renderApp(
    reply: FastifyReply,
    user: User,
    client: Client,
    options: { flash?: Flash; error?: string; settings?: SettingsValues } = {},
  ) {
    return page(
      reply,
      user,
      client.name,
      appView(context(reply), {
        client,
        settings: options.settings ?? settingsOf(client, user),
        proposes: proposesChanges(user, client),
        secretRotationOverlap: deps.config.secretRotationOverlap,
        flash: options.flash,
        error: options.error,
      }),
      options.error ? 400 : 200,
    );
  }

  /** The chosen catalogue scopes of a submitted form (`scope_<name>=1`), space-separated. */
  const chosenScope = (body: Record<string, string>) =>
    deps.config.scopes
      .filter((entry) => body[`scope_${entry.name}`] === '1')
      .map((entry) => entry.name)
      .join(' ');

  app.get('/portal', async (request, reply) => {
    const user = await signedInUser(deps, request);
    if (!user) return toLogin(request, reply);
    const clients = await deps.storage.clients.listByOwner(user.id);
    return page(reply, user, 'Developer portal', appListView(clients, takeFlash(deps, request, reply)));
  });

  app.get('/portal/apps/new', async (request, reply) => {
    const user = await signedInUser(deps, request);
    if (!user) return toLogin(request, reply);
    return page(reply, user, 'Register an application', newAppView(context(reply)));
  });

  app.post<{ Body: Record<string, string> }>(
    '/portal/apps',
    { preHandler: app.csrfProtection },
    async (request, reply) => {
      const user = await signedInUser(deps, request);
      if (!user) return toLogin(request, reply);
      const body = request.body ?? {};
      const scope = chosenScope(body);
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
            issuer,
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
        // Post/redirect/get: a reload of the app's page cannot register it twice, and the secret is shown once.
        return redirectWithFlash(deps, reply, `/portal/apps/${client.id}`, credentialsFlash(client, secret));
      } catch (error) {
        if (!(error instanceof OAuthError)) throw error;
        return page(
          reply,
          user,
          'Register an application',
          newAppView(context(reply), error.description ?? error.code, { ...body, scope }),
          400,
        );
      }
    },
  );

  /** What registering (or rotating) says once: the client id and the secret, with copy buttons. */
  function credentialsFlash(client: Client, secret: string | undefined, rotated = false): Flash {
    const approval =
      client.status === 'pending'
        ? ' An administrator must approve this application before it can be used.'
        : '';
    return {
      message: rotated ? `${client.name} has a new client secret` : `${client.name} is registered`,
      secrets: [
        ...(rotated ? [] : [{ label: 'Client ID', value: client.id, id: 'new-client-id' }]),
        ...(secret ? [{ label: 'Client secret', value: secret, id: 'client-secret' }] : []),
      ],
      note: secret
        ? `Copy the secret now: it is shown only once and cannot be retrieved later.${approval}`
        : `A public client has no secret; it proves itself with PKCE.${approval}`,
    };
  }

  app.get<{ Params: { id: string } }>('/portal/apps/:id', async (request, reply) => {
    const found = await ownerAndApp(request, reply);
    if (!found) return reply;
    return renderApp(reply, found.user, found.client, { flash: takeFlash(deps, request, reply) });
  });

  // Name, redirect URIs, scopes and display URIs in one form, under the same rules as registration. Scopes that
  // need approval wait in requestedScope, as at registration; under `approval` the whole edit waits for an
  // administrator (client-review.ts), the approved registration staying in force meanwhile.
  app.post<{ Params: { id: string }; Body: Record<string, string> }>(
    '/portal/apps/:id/settings',
    { preHandler: app.csrfProtection },
    async (request, reply) => {
      const found = await ownerAndApp(request, reply);
      if (!found) return reply;
      const { user, client } = found;
      const body = request.body ?? {};
      const submitted: SettingsValues = {
        name: String(body.name ?? ''),
        redirect_uris: String(body.redirect_uris ?? ''),
        logo_uri: String(body.logo_uri ?? '').trim(),
        policy_uri: String(body.policy_uri ?? '').trim(),
        tos_uri: String(body.tos_uri ?? '').trim(),
        scope: chosenScope(body),
      };
      const proposes = proposesChanges(user, client);
      const base = proposes ? (client.pendingChanges ?? client) : client;
      let updated: Client;
      try {
        const name = submitted.name.trim();
        if (!name || name.length > 200) {
          throw new OAuthError(
            'invalid_client_metadata',
            'Give the application a name of 1 to 200 characters',
          );
        }
        const redirectUris = [...new Set(lines(submitted.redirect_uris))];
        if (redirectUris.length === 0 || redirectUris.length > 20) {
          throw new OAuthError('invalid_redirect_uri', 'Register between 1 and 20 redirect URIs');
        }
        for (const uri of redirectUris) checkRedirectUri(uri, client.applicationType, issuer);
        const metadata = checkDisplayMetadata({
          ...base.metadata,
          logo_uri: submitted.logo_uri || undefined,
          policy_uri: submitted.policy_uri || undefined,
          tos_uri: submitted.tos_uri || undefined,
        });
        // Granted scopes stay granted (and scopes outside the catalogue, which the form cannot show, stay);
        // a newly chosen scope that needs approval waits for an administrator.
        const catalogue = new Set(deps.config.scopes.map((entry) => entry.name));
        const needsApproval = new Set(
          deps.config.scopes.filter((entry) => entry.requiresApproval).map((entry) => entry.name),
        );
        const granted = new Set(parseScope(base.scope));
        const chosen = parseScope(submitted.scope);
        const scope = formatScope(
          new Set([
            ...[...granted].filter((entry) => !catalogue.has(entry)),
            ...chosen.filter((entry) => granted.has(entry) || !needsApproval.has(entry)),
          ]),
        );
        const requestedScope = formatScope(
          new Set(chosen.filter((entry) => !granted.has(entry) && needsApproval.has(entry))),
        );
        const edited = { name, redirectUris, scope, requestedScope, metadata };
        updated = proposes
          ? proposeChange(
              client,
              { ...client, ...reviewedFieldsOf(base), ...edited },
              { review: true, now: deps.clock.now(), newSecretHash: client.pendingChanges?.secretHash },
            )
          : { ...client, ...edited };
      } catch (error) {
        if (!(error instanceof OAuthError)) throw error;
        return renderApp(reply, user, client, {
          error: error.description ?? error.code,
          settings: submitted,
        });
      }
      await deps.storage.clients.update(updated);
      return redirectWithFlash(deps, reply, `/portal/apps/${client.id}`, {
        message:
          proposes && updated.pendingChanges
            ? 'Saved. The change waits for an administrator; the approved settings stay in force until then.'
            : 'Saved.',
      });
    },
  );

  app.get<{ Params: { id: string } }>('/portal/apps/:id/rotate-secret', async (request, reply) => {
    const found = await ownerAndApp(request, reply);
    if (!found) return reply;
    const { user, client } = found;
    if (client.secretHash === null) return reply.callNotFound();
    return page(
      reply,
      user,
      'Rotate the secret?',
      confirmationView({
        title: `Rotate the secret of ${client.name}?`,
        consequence: `A new secret is issued and shown once. The current secret keeps working for ${overlapText(deps.config.secretRotationOverlap)}; after that, only the new one does.`,
        action: `/portal/apps/${client.id}/rotate-secret`,
        button: 'Rotate secret',
        cancel: `/portal/apps/${client.id}`,
        csrfToken: csrfToken(reply),
      }),
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
          checkRedirectUri(uri, client.applicationType, issuer);
        }
      } catch (error) {
        if (!(error instanceof OAuthError)) throw error;
        return renderApp(reply, user, client, {
          error: error.description ?? error.code,
          settings: { ...settingsOf(client, user), redirect_uris: String(request.body?.redirect_uris ?? '') },
        });
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
      return redirectWithFlash(deps, reply, `/portal/apps/${client.id}`, { message: 'Saved.' });
    },
  );

  app.post<{ Params: { id: string }; Body: Record<string, string> }>(
    '/portal/apps/:id/rotate-secret',
    { preHandler: app.csrfProtection },
    async (request, reply) => {
      const found = await ownerAndApp(request, reply);
      if (!found) return reply;
      const { user, client } = found;
      if (client.secretHash === null) return reply.callNotFound();
      if (request.body?.confirm !== 'yes')
        return reply.redirect(`/portal/apps/${client.id}/rotate-secret`, 303);
      const outcome = await rotateClientSecret(
        deps.storage,
        deps.clock.now(),
        client.id,
        { actor: { kind: 'user', id: user.id, name: user.email }, ip: request.ip },
        deps.config.secretRotationOverlap,
      );
      if (outcome.status !== 'ok') return reply.callNotFound();
      return redirectWithFlash(
        deps,
        reply,
        `/portal/apps/${client.id}`,
        credentialsFlash(client, outcome.secret, true),
      );
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
      return redirectWithFlash(deps, reply, '/portal', { message: `${client.name} is deleted.` });
    },
  );
}
