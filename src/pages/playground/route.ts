// The OAuth playground (Read AI's /oauth/ui): a developer enters a client id and secret, picks scopes, and runs
// the whole flow against this server in the browser. Gatehouse makes the state and PKCE pair, sends the
// browser through sign-in and consent, lands back here with the code, and shows each next request as a
// copyable curl command, runs it on click (through the real endpoints), and decodes the tokens. Its state —
// secret included — lives only in a sealed session cookie, never in the database. The pages are in view.ts.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../../deps.ts';
import { cookieNames } from '../../http/session.ts';
import { isUsable } from '../../oauth/client-metadata.ts';
import { constantTimeEqual } from '../../util/hash.ts';
import { seal, unseal } from '../../util/seal.ts';
import { chrome, signedInUser } from '../account.ts';
import type { SafeHtml } from '../html.ts';
import { layout } from '../layout.ts';
import { csrfToken, sendPage } from '../render.ts';
import {
  codeView,
  curlCommand,
  flowErrorView,
  formView,
  type NextSteps,
  type PlaygroundContext,
  resultView,
} from './view.ts';

interface PlaygroundState {
  clientId: string;
  secret?: string;
  scope: string;
  state: string;
  verifier: string;
  code?: string;
  accessToken?: string;
  refreshToken?: string;
}

const PURPOSE = 'playground/v1';

const formEncode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);

// RFC 6749 §2.3.1: the id and secret are form-encoded inside Basic, and curl -u sends them as given.
const basicPair = (clientId: string, secret: string) => `${formEncode(clientId)}:${formEncode(secret)}`;

/** What the flow's state lets the developer do next; introspection takes client authentication (a secret). */
const nextSteps = (state: PlaygroundState): NextSteps => ({
  refresh: Boolean(state.refreshToken),
  introspect: Boolean(state.accessToken && state.secret),
  revoke: Boolean(state.accessToken || state.refreshToken),
});

export function registerPlayground(app: FastifyInstance, deps: Deps) {
  const { config } = deps;
  const base = config.paths.playground;
  const redirectUri = `${config.issuer}${base}`;
  const names = cookieNames(config.issuer);
  const cookieName = names.secure ? '__Host-gatehouse_playground' : 'gatehouse_playground';
  const readState = (request: FastifyRequest) =>
    unseal<PlaygroundState>(request.cookies[cookieName], deps.sealKey, PURPOSE);
  // A session cookie (no Max-Age): gone when the browser closes.
  const writeState = (reply: FastifyReply, state: PlaygroundState) =>
    reply.setCookie(cookieName, seal(state, deps.sealKey, PURPOSE), {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: names.secure,
    });

  async function show(request: FastifyRequest, reply: FastifyReply, body: SafeHtml, code = 200) {
    const user = await signedInUser(deps, request);
    return sendPage(reply, layout({ ...chrome(deps, reply, user, 'OAuth playground'), body }), code);
  }

  const context = (reply: FastifyReply): PlaygroundContext => ({ csrfToken: csrfToken(reply), base });

  const tokenCurl = (state: PlaygroundState, params: Record<string, string>, path = config.paths.token) =>
    curlCommand({
      url: `${config.issuer}${path}`,
      clientId: state.clientId,
      basic: state.secret ? basicPair(state.clientId, state.secret) : undefined,
      params,
    });

  /** Runs a request against this server's own endpoint, exactly as the curl command would. */
  async function call(
    request: FastifyRequest,
    state: PlaygroundState,
    path: string,
    params: Record<string, string>,
  ) {
    const form = new URLSearchParams(params);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (state.secret) {
      headers.authorization = `Basic ${Buffer.from(basicPair(state.clientId, state.secret)).toString('base64')}`;
    } else {
      form.set('client_id', state.clientId);
    }
    const response = await request.server.inject({
      method: 'POST',
      url: path,
      headers,
      payload: form.toString(),
    });
    let json: Record<string, unknown> = {};
    try {
      json = response.body ? (JSON.parse(response.body) as Record<string, unknown>) : {};
    } catch {}
    return { status: response.statusCode, json };
  }

  async function form(request: FastifyRequest, reply: FastifyReply, error?: string, code = 200) {
    const user = await signedInUser(deps, request);
    const apps = user ? await deps.storage.clients.listByOwner(user.id) : [];
    const body = formView(context(reply), { productName: config.productName, redirectUri, apps, error });
    return show(request, reply, body, code);
  }

  app.get<{ Querystring: Record<string, string> }>(base, async (request, reply) => {
    const { code, state, error, iss } = request.query;
    if (code === undefined && error === undefined) return form(request, reply);
    const saved = readState(request);
    // The callback: it must answer the request this browser started (state) from this server (iss, RFC 9207).
    if (!saved || !state || !constantTimeEqual(state, saved.state) || iss !== config.issuer) {
      return form(request, reply, 'This answer does not belong to a flow started here. Start again.', 400);
    }
    if (error !== undefined || !code) {
      return show(
        request,
        reply,
        flowErrorView(base, { error, error_description: request.query.error_description }),
      );
    }
    writeState(reply, { ...saved, code });
    const curl = tokenCurl(saved, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: saved.verifier,
    });
    return show(request, reply, codeView(context(reply), code, config.codeTtl, curl));
  });

  app.post<{ Body: Record<string, string> }>(
    `${base}/start`,
    { preHandler: app.csrfProtection },
    async (request, reply) => {
      const clientId = String(request.body?.client_id ?? '').trim();
      const secret = String(request.body?.client_secret ?? '').trim() || undefined;
      const scope = String(request.body?.scope ?? '')
        .trim()
        .slice(0, 1000);
      const client = clientId ? await deps.storage.clients.find(clientId) : undefined;
      if (!isUsable(client))
        return form(request, reply, 'There is no usable application with that client ID.', 400);
      if (!client.redirectUris.includes(redirectUri)) {
        return form(
          request,
          reply,
          `Register ${redirectUri} as a redirect URI of ${client.name} first.`,
          400,
        );
      }
      // Read AI's playground asks only for the id and secret: no scopes typed means all the app registered.
      const scopes = scope || client.scope;
      const verifier = randomBytes(32).toString('base64url');
      const state: PlaygroundState = {
        clientId,
        secret,
        scope: scopes,
        state: randomBytes(16).toString('base64url'),
        verifier,
      };
      writeState(reply, state);
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirectUri,
        scope: scopes,
        state: state.state,
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      });
      return reply.redirect(`${config.paths.authorize}?${query}`, 303);
    },
  );

  const step = (
    path: string,
    title: string,
    run: (state: PlaygroundState) => { endpoint: string; params: Record<string, string> } | undefined,
    after: (state: PlaygroundState, json: Record<string, unknown>) => PlaygroundState,
  ) =>
    app.post(`${base}/${path}`, { preHandler: app.csrfProtection }, async (request, reply) => {
      const saved = readState(request);
      const plan = saved && run(saved);
      if (!saved || !plan) return form(request, reply, 'Nothing to do yet: start a flow first.', 400);
      const result = await call(request, saved, plan.endpoint, plan.params);
      const next = after(saved, result.json);
      writeState(reply, next);
      const curl = tokenCurl(saved, plan.params, plan.endpoint);
      return show(request, reply, resultView(context(reply), { title, curl, result, next: nextSteps(next) }));
    });

  const keepTokens = (state: PlaygroundState, json: Record<string, unknown>): PlaygroundState => ({
    ...state,
    code: undefined,
    accessToken: typeof json.access_token === 'string' ? json.access_token : state.accessToken,
    refreshToken: typeof json.refresh_token === 'string' ? json.refresh_token : state.refreshToken,
  });
  step(
    'exchange',
    'Token response',
    (state) =>
      state.code
        ? {
            endpoint: config.paths.token,
            params: {
              grant_type: 'authorization_code',
              code: state.code,
              redirect_uri: redirectUri,
              code_verifier: state.verifier,
            },
          }
        : undefined,
    keepTokens,
  );
  step(
    'refresh',
    'Refreshed',
    (state) =>
      state.refreshToken
        ? {
            endpoint: config.paths.token,
            params: { grant_type: 'refresh_token', refresh_token: state.refreshToken },
          }
        : undefined,
    keepTokens,
  );
  step(
    'introspect',
    'Introspection',
    (state) =>
      state.accessToken
        ? { endpoint: config.paths.introspect, params: { token: state.accessToken } }
        : undefined,
    (state) => state,
  );
  step(
    'revoke',
    'Revoked',
    (state) => {
      const token = state.refreshToken ?? state.accessToken;
      return token ? { endpoint: config.paths.revoke, params: { token } } : undefined;
    },
    (state) => ({ ...state, accessToken: undefined, refreshToken: undefined }),
  );
}
