// The consent page: the app's name and each requested scope; "Allow access" or "Deny".
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Deps, flowDeps } from '../../deps.ts';
import { withImageSource } from '../../http/security-headers.ts';
import { currentSession, existingBrowserBinding } from '../../http/session.ts';
import { acceptConsent, authenticatedUser, load, reject } from '../../interaction/flow.ts';
import { isOperatorApproved } from '../../oauth/client-review.ts';
import { parseScope } from '../../oauth/scope.ts';
import { documentHostOf } from '../parts.ts';
import { csrfToken, sendPage } from '../render.ts';
import { consentPage } from './view.ts';

/** An https URL, or undefined (display URIs are checked at registration; this is the second lock). */
function httpsUrl(value: string | undefined): URL | undefined {
  const url = value ? URL.parse(value) : null;
  return url?.protocol === 'https:' ? url : undefined;
}

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
    const verified = isOperatorApproved(client);
    // The logo only of a client an operator vouched for: an unverified app's logo would lend it a brand it
    // may not own. https only (registration refuses anything else), and the page's CSP admits that one
    // origin for images, on this response alone (docs/security.md H-05: the server never fetches it).
    const logo = verified ? httpsUrl(client.metadata.logo_uri) : undefined;
    if (logo) {
      const csp = reply.getHeader('content-security-policy');
      if (typeof csp === 'string') reply.header('content-security-policy', withImageSource(csp, logo.origin));
    }
    return sendPage(
      reply,
      consentPage({
        productName: deps.config.productName,
        csrfToken: csrfToken(reply),
        form: { action: '/consent', fields: { interaction: interaction.id } },
        clientName: client.name,
        clientHost: documentHostOf(client),
        redirectOrigin: returnTarget(interaction.request.redirectUri),
        scopes: parseScope(interaction.request.scope),
        alreadyAllowed: parseScope((await deps.storage.consents.find(user.id, client.id))?.scope),
        userEmail: user.email ?? user.name ?? user.id,
        catalogue: deps.config.scopes,
        logoUrl: deps.config.logoUrl,
        verified,
        clientLogoUri: logo?.href,
        policyUri: httpsUrl(client.metadata.policy_uri)?.href,
        tosUri: httpsUrl(client.metadata.tos_uri)?.href,
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
