// The admin API (/api/v1/…): plain HTTP and JSON for the company's own apps, described by the OpenAPI 3.1
// document it serves at /api/v1/openapi.json (openapi.ts). Today it holds the login and consent interactions
// (interaction/external.ts) and the security event log; every route needs an admin key (`gatehouse admin-keys
// create`) with the route's scope, sent as `Authorization: Bearer ghm_…`. Challenges travel in the query string,
// never in the path: log lines carry the path only (server.ts), so a challenge never reaches a log.
import { Readable } from 'node:stream';
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
import {
  type EventFilterInput,
  eachSecurityEvent,
  eventCursor,
  parseEventCursor,
  parseEventFilter,
  securityEventJson,
} from '../../oauth/security-events.ts';
import type { AdminKey } from '../../storage/storage.ts';
import { API_PREFIX, authenticate, bodyOf } from './auth.ts';
import { registerAdminClients } from './clients.ts';
import { registerAdminKeys } from './keys.ts';
import { OPENAPI_DOCUMENT } from './openapi.ts';
import { registerAdminUsers } from './users.ts';

export { API_PREFIX };

/** Who answered, for the security event: the admin key and the address of the app that used it. */
function actorOf(key: AdminKey, request: FastifyRequest) {
  return { adminKeyId: key.id, adminKeyName: key.name, ip: request.ip };
}

/** A JSON page of the security event log: at most this many events unless `limit` says fewer. */
const EVENTS_PAGE_DEFAULT = 100;
const EVENTS_PAGE_MAX = 1000;

/** JSON Lines when the query says format=jsonl or the Accept header prefers it to JSON. */
function wantsJsonLines(request: FastifyRequest<{ Querystring: { format?: string } }>): boolean {
  const format = request.query.format;
  if (format !== undefined) {
    if (format === 'jsonl') return true;
    if (format === 'json') return false;
    throw new OAuthError('invalid_request', 'format must be json or jsonl');
  }
  return /application\/(x-ndjson|jsonl)\b/i.test(request.headers.accept ?? '');
}

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

  // The security event log, newest first: JSON pages with an opaque cursor, or the whole selection as JSON Lines
  // (an export; read from the database a page at a time, so its size costs no memory).
  type EventQuery = { Querystring: EventFilterInput & { cursor?: string; format?: string } };
  app.get<EventQuery>(`${API_PREFIX}/security-events`, async (request, reply) => {
    noStore(reply);
    await authenticate(deps, request, 'events:read');
    const jsonLines = wantsJsonLines(request);
    const { limit, ...filter } = parseEventFilter(request.query, {
      defaultLimit: jsonLines ? undefined : EVENTS_PAGE_DEFAULT,
      maxLimit: jsonLines ? Number.MAX_SAFE_INTEGER : EVENTS_PAGE_MAX,
    });
    const before = request.query.cursor === undefined ? undefined : parseEventCursor(request.query.cursor);
    if (jsonLines) {
      const events = eachSecurityEvent(deps.storage, { ...filter, limit, before });
      // The first read happens before the answer starts, so that an outage then is a 503, not an empty 200.
      const first = await events.next();
      const lines = async function* () {
        if (first.done) return;
        yield `${JSON.stringify(securityEventJson(first.value))}\n`;
        for await (const event of events) yield `${JSON.stringify(securityEventJson(event))}\n`;
      };
      return reply.header('content-type', 'application/x-ndjson; charset=utf-8').send(Readable.from(lines()));
    }
    const pageSize = limit ?? EVENTS_PAGE_DEFAULT;
    // One more than the page: a next_cursor only when there is a next page.
    const events = await deps.storage.securityEvents.list({ ...filter, limit: pageSize + 1, before });
    const page = events.slice(0, pageSize);
    const last = page.at(-1);
    return {
      events: page.map(securityEventJson),
      next_cursor: last && events.length > pageSize ? eventCursor(last) : null,
    };
  });

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
    const outcome = await acceptLogin(
      external,
      request.query.challenge ?? '',
      acceptance,
      actorOf(key, request),
    );
    return send(reply, outcome);
  });
  app.post<WithChallenge>(`${API_PREFIX}/interactions/consent/accept`, async (request, reply) => {
    noStore(reply);
    const key = await authenticate(deps, request, 'interactions');
    const acceptance = parseConsentAcceptance(bodyOf(request));
    const outcome = await acceptConsent(
      external,
      request.query.challenge ?? '',
      acceptance,
      actorOf(key, request),
    );
    return send(reply, outcome);
  });
  for (const stage of ['login', 'consent'] as const) {
    app.post<WithChallenge>(`${API_PREFIX}/interactions/${stage}/reject`, async (request, reply) => {
      noStore(reply);
      const key = await authenticate(deps, request, 'interactions');
      const rejection = parseRejection(bodyOf(request));
      const outcome = await reject(
        external,
        request.query.challenge ?? '',
        stage,
        rejection,
        actorOf(key, request),
      );
      return send(reply, outcome);
    });
  }
  registerAdminClients(app, deps);
  registerAdminUsers(app, deps);
  registerAdminKeys(app, deps);
}
