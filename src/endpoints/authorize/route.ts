// RFC 6749 §4.1.1 (GET and POST), RFC 9207 (iss), OIDC Core §3.1.2. Decides redirect vs render; the
// interaction flow (interaction/flow.ts) takes it from there, and /authorize/resume continues after each page.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Deps, flowDeps } from '../../deps.ts';
import { OAuthError } from '../../errors.ts';
import { MAX_FORM_BYTES } from '../../http/form-body.ts';
import { browserBinding, currentSession, existingBrowserBinding, startSession } from '../../http/session.ts';
import {
  advance,
  authorizationError,
  endExpired,
  load,
  type Next,
  sessionToRemember,
  start,
} from '../../interaction/flow.ts';
import { pushedParameters, REQUEST_URI_PREFIX } from '../../oauth/pushed-request.ts';
import { errorPage } from '../../pages/error.ts';
import {
  authorizeContext,
  PageError,
  RedirectError,
  validateAuthorizationRequest,
} from './validate-request.ts';

function showError(deps: Deps, reply: FastifyReply, error: OAuthError, status = 400) {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(
      errorPage(deps.config, 'This request cannot be completed', error.description ?? error.code, error.code),
    );
}

export function sendNext(deps: Deps, reply: FastifyReply, next: Next) {
  switch (next.kind) {
    case 'login':
      return reply.redirect(`/login?interaction=${encodeURIComponent(next.interactionId)}`, 303);
    case 'consent':
      return reply.redirect(`/consent?interaction=${encodeURIComponent(next.interactionId)}`, 303);
    case 'redirect':
    case 'external':
      // RFC 9700 §4.12: 303, never 307, after a request that may carry credentials.
      return reply.redirect(next.location, 303);
    case 'error':
      return showError(deps, reply, next.error);
    case 'expired':
      return showError(
        deps,
        reply,
        new OAuthError(
          'invalid_request',
          'This sign-in request has expired or was already completed. Go back to the application and start again.',
        ),
      );
  }
}

async function authorize(deps: Deps, request: FastifyRequest, reply: FastifyReply, sent: URLSearchParams) {
  reply.header('cache-control', 'no-store');
  // RFC 9126 §4: a request_uri from the PAR endpoint stands for the pushed request, and only its parameters
  // count. Refused as a page: nothing in an unknown request_uri says where a redirect could safely go.
  let query = sent;
  const requestUri = sent.get('request_uri');
  if (requestUri?.startsWith(REQUEST_URI_PREFIX)) {
    const pushed = pushedParameters(deps.sealKey, requestUri, sent.get('client_id'), deps.clock.now());
    if (!pushed || sent.getAll('request_uri').length > 1) {
      return showError(
        deps,
        reply,
        new OAuthError(
          'invalid_request',
          'The request_uri is unknown, expired or for another application. Go back to the application and start again.',
        ),
      );
    }
    query = pushed;
  }
  let validated: Awaited<ReturnType<typeof validateAuthorizationRequest>>;
  try {
    validated = await validateAuthorizationRequest(query, authorizeContext(deps, request.ip));
  } catch (error) {
    if (error instanceof PageError) return showError(deps, reply, error.oauthError);
    if (error instanceof RedirectError) {
      // An error redirect or, for a self-registered client and an anonymous visitor, the error page.
      const session = await currentSession(deps, request);
      return sendNext(
        deps,
        reply,
        authorizationError(flowDeps(deps), error.client, error.target, error.oauthError, session),
      );
    }
    throw error;
  }
  const mustPush =
    deps.config.requirePushedAuthorizationRequests ||
    validated.client.metadata.require_pushed_authorization_requests === true;
  if (mustPush && query === sent) {
    return showError(
      deps,
      reply,
      new OAuthError('invalid_request', 'This application must push its authorization requests first (PAR).'),
    );
  }
  const flow = flowDeps(deps);
  const interaction = start(flow, validated.request, browserBinding(deps, request, reply));
  return sendNext(deps, reply, await advance(flow, interaction, await currentSession(deps, request), false));
}

export function registerAuthorize(app: FastifyInstance, deps: Deps) {
  const { paths } = deps.config;
  app.get(paths.authorize, (request, reply) => {
    const raw = request.raw.url ?? '';
    const index = raw.indexOf('?');
    return authorize(deps, request, reply, new URLSearchParams(index >= 0 ? raw.slice(index + 1) : ''));
  });
  // OAuth 2.1 "Authorization Endpoint": MAY support POST, with the same parameters form-encoded. The body is
  // kept raw here so that repeated parameters get the same page-or-redirect treatment as on GET.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: MAX_FORM_BYTES },
      (_request, body, done) => done(null, body),
    );
    scope.post(paths.authorize, (request, reply) =>
      authorize(deps, request, reply, new URLSearchParams(String(request.body ?? ''))),
    );
  });
  app.get<{ Querystring: { interaction?: string } }>(`${paths.authorize}/resume`, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const flow = flowDeps(deps);
    const binding = existingBrowserBinding(deps, request);
    let session = await currentSession(deps, request);
    const interaction = await load(flow, request.query.interaction, binding);
    if (!interaction) {
      return sendNext(deps, reply, await endExpired(flow, request.query.interaction, binding, session));
    }
    const remember = sessionToRemember(interaction, session);
    if (remember) {
      session = await startSession(deps, request, reply, remember.userId, {
        authTime: remember.authTime,
        ttlSeconds: remember.ttlSeconds,
      });
    }
    return sendNext(deps, reply, await advance(flow, interaction, session));
  });
}
