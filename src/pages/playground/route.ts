// The OAuth playground (Read AI's /oauth/ui): a developer enters a client id and secret, picks scopes, and runs
// the whole flow against this server in the browser. Gatehouse makes the state and PKCE pair, sends the
// browser through sign-in and consent, lands back here with the code, and shows each next request as a
// copyable curl command, runs it on click (through the real endpoints), and decodes the tokens. Its state —
// secret included — lives only in a sealed session cookie, never in the database.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { Deps } from '../../deps.ts';
import { cookieNames } from '../../http/session.ts';
import { isUsable } from '../../oauth/client-metadata.ts';
import { constantTimeEqual } from '../../util/hash.ts';
import { seal, unseal } from '../../util/seal.ts';
import { chrome, signedInUser } from '../account.ts';
import { html, type SafeHtml } from '../html.ts';
import { layout } from '../layout.ts';
import { csrfToken, sendPage } from '../render.ts';

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

/** Single-quotes a value for a POSIX shell. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function decoded(token: string | undefined): SafeHtml | null {
  if (token?.split('.').length !== 3) return null;
  try {
    return html`<pre>${JSON.stringify({ header: decodeProtectedHeader(token), claims: decodeJwt(token) }, null, 2)}</pre>`;
  } catch {
    return null;
  }
}

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

  const action = (reply: FastifyReply, path: string, label: string, cls = '') =>
    html`<form method="post" action="${base}/${path}" class="inline-form"><input type="hidden" name="_csrf" value="${csrfToken(reply)}"><button type="submit" class="${cls}">${label}</button></form>`;

  function tokenCurl(
    state: PlaygroundState,
    params: Record<string, string>,
    path = config.paths.token,
  ): string {
    // RFC 6749 §2.3.1: the id and secret are form-encoded inside Basic, and curl -u sends them as given.
    const auth = state.secret
      ? `  -u ${shellQuote(`${formEncode(state.clientId)}:${formEncode(state.secret)}`)} \\\n`
      : `  -d ${shellQuote(`client_id=${state.clientId}`)} \\\n`;
    const fields = Object.entries(params)
      .map(([key, value]) => `  -d ${shellQuote(`${key}=${value}`)}`)
      .join(' \\\n');
    return `curl -X POST ${shellQuote(`${config.issuer}${path}`)} \\\n${auth}${fields}`;
  }

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
      headers.authorization = `Basic ${Buffer.from(`${formEncode(state.clientId)}:${formEncode(state.secret)}`).toString('base64')}`;
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

  function resultView(
    reply: FastifyReply,
    state: PlaygroundState,
    title: string,
    curl: string,
    result: { status: number; json: Record<string, unknown> },
  ) {
    return html`<section class="card wide">
      <h1>${title}</h1>
      <h2>Request</h2>
      <pre id="command" data-testid="curl">${curl}</pre>
      <button type="button" class="secondary" data-copy="command">Copy Command</button>
      <h2>Response <span class="badge">${result.status}</span></h2>
      <pre data-testid="response">${JSON.stringify(result.json, null, 2)}</pre>
      ${decoded(result.json.access_token as string | undefined) ? html`<h2>Access token, decoded</h2>${decoded(result.json.access_token as string)}` : null}
      ${decoded(result.json.id_token as string | undefined) ? html`<h2>ID token, decoded</h2>${decoded(result.json.id_token as string)}` : null}
      <div class="actions">
        ${state.refreshToken ? action(reply, 'refresh', 'Refresh') : null}
        ${state.accessToken && state.secret ? action(reply, 'introspect', 'Introspect', 'secondary') : null}
        ${state.accessToken || state.refreshToken ? action(reply, 'revoke', 'Revoke', 'danger') : null}
      </div>
      <p><a href="${base}">Start over</a></p>
    </section>`;
  }

  async function form(request: FastifyRequest, reply: FastifyReply, error?: string, code = 200) {
    const user = await signedInUser(deps, request);
    const mine = user ? await deps.storage.clients.listByOwner(user.id) : [];
    return show(
      request,
      reply,
      html`<section class="card wide">
        <h1>OAuth playground</h1>
        <p>Run the authorization code flow with PKCE against ${config.productName}, step by step.
          Your application must have <code>${redirectUri}</code> registered as a redirect URI.</p>
        ${error ? html`<p class="error" role="alert">${error}</p>` : null}
        <form method="post" action="${base}/start">
          <input type="hidden" name="_csrf" value="${csrfToken(reply)}">
          <label for="client_id">Client ID</label>
          <input id="client_id" name="client_id" type="text" required list="my-apps" autocomplete="off">
          <datalist id="my-apps">${mine.map((client) => html`<option value="${client.id}">${client.name}</option>`)}</datalist>
          <label for="client_secret">Client secret (leave empty for a public client)</label>
          <input id="client_secret" name="client_secret" type="password" autocomplete="off">
          <label for="scope">Scopes</label>
          <input id="scope" name="scope" type="text" value="" placeholder="empty: every scope the application registered">
          <label for="redirect_uri">Redirect URI</label>
          <input id="redirect_uri" type="text" value="${redirectUri}" readonly>
          <div class="actions"><button type="submit">Start OAuth flow</button></div>
        </form>
      </section>`,
      code,
    );
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
        html`<section class="card wide"><h1>The flow ended with an error</h1>
          <pre data-testid="response">${JSON.stringify({ error, error_description: request.query.error_description }, null, 2)}</pre>
          <p><a href="${base}">Start over</a></p></section>`,
      );
    }
    writeState(reply, { ...saved, code });
    const curl = tokenCurl(saved, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: saved.verifier,
    });
    return show(
      request,
      reply,
      html`<section class="card wide">
        <h1>You have an authorization code</h1>
        <p>Code: <code data-testid="code">${code}</code></p>
        <p>Exchange it for tokens within ${config.codeTtl} seconds. The command:</p>
        <pre id="command" data-testid="curl">${curl}</pre>
        <div class="actions">
          <button type="button" class="secondary" data-copy="command">Copy Command</button>
          ${action(reply, 'exchange', 'Run this request')}
        </div>
      </section>`,
    );
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
      return show(
        request,
        reply,
        resultView(reply, next, title, tokenCurl(saved, plan.params, plan.endpoint), result),
      );
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
