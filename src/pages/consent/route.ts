// The consent page: the app's name and each requested scope; "Allow access" or "Deny".
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Deps, flowDeps } from '../../deps.ts';
import { currentSession, existingBrowserBinding } from '../../http/session.ts';
import { acceptConsent, authenticatedUser, load, reject } from '../../interaction/flow.ts';
import { parseScope } from '../../oauth/scope.ts';
import { csrfToken, sendPage } from '../render.ts';
import { consentPage } from './view.ts';

/** Where the user will be sent: the origin of a web redirect, the whole URI of an app's private-use scheme. */
function returnTarget(redirectUri: string): string {
  const origin = URL.parse(redirectUri)?.origin;
  return origin && origin !== 'null' ? origin : redirectUri;
}

export function registerConsent(app: FastifyInstance, deps: Deps) {
  const flow = flowDeps(deps);
  const resume = (id: string) => `${flow.resumePath}?interaction=${encodeURIComponent(id)}`;

  /** The interaction, its client and the signed-in user it acts for; undefined when any is missing. */
  async function context(request: FastifyRequest, interactionId: string | undefined) {
    const interaction = await load(flow, interactionId, existingBrowserBinding(deps, request));
    if (!interaction) return undefined;
    const session = await currentSession(deps, request);
    const who = authenticatedUser(
      interaction,
      session,
      deps.clock.now(),
      flow.externalLoginUrl !== undefined,
    );
    const user = who && (await deps.storage.users.findById(who.userId));
    const client = await deps.storage.clients.find(interaction.clientId);
    if (!client) return undefined;
    return { interaction, user, client };
  }

  app.get<{ Querystring: { interaction?: string } }>('/consent', async (request, reply) => {
    const found = await context(request, request.query.interaction);
    if (!found) return reply.redirect(flow.resumePath, 303);
    const { interaction, user, client } = found;
    if (!user) return reply.redirect(resume(interaction.id), 303);
    return sendPage(
      reply,
      consentPage({
        productName: deps.config.productName,
        csrfToken: csrfToken(reply),
        interactionId: interaction.id,
        clientName: client.name,
        redirectOrigin: returnTarget(interaction.request.redirectUri),
        scopes: parseScope(interaction.request.scope),
        userEmail: user.email ?? user.name ?? user.id,
        catalogue: deps.config.scopes,
        logoUrl: deps.config.logoUrl,
      }),
    );
  });

  app.post<{ Body: { interaction?: string; action?: string } }>(
    '/consent',
    { preHandler: app.csrfProtection },
    async (request, reply) => {
      const found = await context(request, request.body?.interaction);
      if (!found) return reply.redirect(flow.resumePath, 303);
      const { interaction, user, client } = found;
      if (user && request.body?.action === 'allow') await acceptConsent(flow, interaction, user, client);
      else if (user && request.body?.action === 'deny') await reject(flow, interaction);
      return reply.redirect(resume(interaction.id), 303);
    },
  );
}
