// The admin API (/api/v1/…): plain HTTP and JSON for the company's own apps, described by the OpenAPI 3.1
// document it serves at /api/v1/openapi.json (openapi.ts). Today it holds the login and consent interactions
// (interaction/external.ts); every route needs an admin key (`gatehouse admin-keys create`) with the route's
// scope, sent as `Authorization: Bearer ghm_…`. Challenges travel in the query string, never in the path: log
// lines carry the path only (server.ts), so a challenge never reaches a log.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../../deps.ts';
import { OAuthError } from '../../errors.ts';
import { acceptJsonBodies } from '../../http/json-body.ts';
import {
  acceptConsent,
  acceptLogin,
  consentRequest,
  type ExternalDeps,
  findChallenge,
  loginRequest,
  type Outcome,
  parseConsentAcceptance,
  parseLoginAcceptance,
  parseRejection,
  reject,
  type Stage,
} from '../../interaction/external.ts';
import { API_PREFIX, authenticate, bodyOf } from './auth.ts';
import { registerAdminClients } from './clients.ts';
import { registerAdminKeys } from './keys.ts';
import { OPENAPI_DOCUMENT } from './openapi.ts';
import { registerAdminUsers } from './users.ts';

export { API_PREFIX };

function externalDeps(deps: Deps): ExternalDeps {
  return {
    storage: deps.storage,
    clock: deps.clock,
    issuer: deps.config.issuer,
    resumePath: `${deps.config.paths.authorize}/resume`,
    sessionTtl: deps.config.sessionTtl,
    scopeDescriptions: new Map(deps.config.scopes.map((scope) => [scope.name, scope.description])),
  };
}

/**
 * Not found and expired are answers about the challenge, not protocol errors: 404, and 410 with the
 * `redirect_to` that ends the flow at the client (with access_denied), so the company's page has somewhere to
 * send the browser.
 */
function send(
  reply: FastifyReply,
  outcome: Outcome | Exclude<Awaited<ReturnType<typeof findChallenge>>, { status: 'ok' }>,
) {
  switch (outcome.status) {
    case 'ok':
      return reply.code(200).send({ redirect_to: outcome.redirectTo });
    case 'not_found':
      return reply.code(404).send({
        error: 'not_found',
        error_description:
          'No such challenge: it is unknown, was already answered, or a newer one replaced it',
      });
    case 'expired':
      return reply.code(410).send({
        error: 'expired',
        error_description: 'The challenge expired; send the browser to redirect_to to end the flow',
        redirect_to: outcome.redirectTo,
      });
  }
}

export function registerAdminApi(app: FastifyInstance, deps: Deps) {
  acceptJsonBodies(app, {
    invalidJson: () => new OAuthError('invalid_request', 'The body is not valid JSON'),
    controlCharacter: () => new OAuthError('invalid_request', 'The body contains a control character'),
  });
  const external = externalDeps(deps);
  const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store');

  app.get(`${API_PREFIX}/openapi.json`, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').send(OPENAPI_DOCUMENT),
  );

  type WithChallenge = { Querystring: { challenge?: string } };
  const read = (stage: Stage) => async (request: FastifyRequest<WithChallenge>, reply: FastifyReply) => {
    noStore(reply);
    await authenticate(deps, request, 'interactions');
    const challenge = request.query.challenge ?? '';
    const found = await findChallenge(external, challenge, stage);
    if (found.status !== 'ok') return send(reply, found);
    return stage === 'login' ? loginRequest(found, challenge) : consentRequest(external, found, challenge);
  };
  app.get<WithChallenge>(`${API_PREFIX}/interactions/login`, read('login'));
  app.get<WithChallenge>(`${API_PREFIX}/interactions/consent`, read('consent'));

  app.post<WithChallenge>(`${API_PREFIX}/interactions/login/accept`, async (request, reply) => {
    noStore(reply);
    const key = await authenticate(deps, request, 'interactions');
    const acceptance = parseLoginAcceptance(external, bodyOf(request));
    const outcome = await acceptLogin(external, request.query.challenge ?? '', acceptance, {
      adminKeyId: key.id,
    });
    return send(reply, outcome);
  });
  app.post<WithChallenge>(`${API_PREFIX}/interactions/consent/accept`, async (request, reply) => {
    noStore(reply);
    const key = await authenticate(deps, request, 'interactions');
    const acceptance = parseConsentAcceptance(bodyOf(request));
    const outcome = await acceptConsent(external, request.query.challenge ?? '', acceptance, {
      adminKeyId: key.id,
    });
    return send(reply, outcome);
  });
  for (const stage of ['login', 'consent'] as const) {
    app.post<WithChallenge>(`${API_PREFIX}/interactions/${stage}/reject`, async (request, reply) => {
      noStore(reply);
      const key = await authenticate(deps, request, 'interactions');
      const rejection = parseRejection(bodyOf(request));
      const outcome = await reject(external, request.query.challenge ?? '', stage, rejection, {
        adminKeyId: key.id,
      });
      return send(reply, outcome);
    });
  }
  registerAdminClients(app, deps);
  registerAdminUsers(app, deps);
  registerAdminKeys(app, deps);
}
