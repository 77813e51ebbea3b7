// Real upstream identity providers on 127.0.0.1 for the "Continue with …" tests. Peers, not mocks: each is a
// real HTTP server that Gatehouse's relying party talks to through its outbound guard.
//
// - startOidcUpstream: node-oidc-provider 9 (the devDependency the benchmark also runs) with one confidential
//   client for Gatehouse and a handful of accounts (verified, unverified, …). Its sign-in page is a plain form:
//   type an account id and press "Sign in", or press "Cancel" (→ error=access_denied back to Gatehouse).
//   Consent is granted at once. Sign-in records amr ["pwd","mfa"] and acr "urn:test:loa:2".
// - startOauth2Upstream: a GitHub-style plain OAuth 2.0 provider in ~80 lines: /login/oauth/authorize (a form
//   with the same account field), /login/oauth/access_token, /user answering { id, login, email, name }.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

export interface UpstreamAccount {
  email?: string;
  email_verified?: boolean;
  name?: string;
}

export const UPSTREAM_AMR = ['pwd', 'mfa'];
export const UPSTREAM_ACR = 'urn:test:loa:2';

export interface RunningUpstream {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The accounts the sign-in form accepts, by id (the upstream's `sub`, or GitHub's numeric `id`). */
  accounts: Map<string, UpstreamAccount>;
  /** How many requests reached the server (a stopped upstream must get none). */
  requests(): number;
  close(): Promise<void>;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

async function formBody(request: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function signInForm(title: string, action: string, hidden: Record<string, string> = {}): string {
  const fields = Object.entries(hidden)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body>
<h1>${escapeHtml(title)}</h1>
<form method="post" action="${escapeHtml(action)}">${fields}
<label for="account">Account</label> <input id="account" name="account">
<button type="submit" name="action" value="login">Sign in upstream</button>
<button type="submit" name="action" value="cancel">Cancel</button>
</form></body></html>`;
}

/** node-oidc-provider on 127.0.0.1 with a client whose redirect URI is `redirectUri` (Gatehouse's callback). */
export async function startOidcUpstream(
  redirectUri: string,
  accounts: Record<string, UpstreamAccount>,
): Promise<RunningUpstream> {
  const server = createServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const clientSecret = randomBytes(24).toString('base64url');
  const known = new Map(Object.entries(accounts));
  const rsa = await generateKeyPair('RS256', { extractable: true });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'gatehouse',
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], amr: null },
    scopes: ['openid', 'email', 'profile'],
    acrValues: [UPSTREAM_ACR],
    findAccount: async (_ctx, sub) => {
      const account = known.get(sub);
      return account ? { accountId: sub, claims: async () => ({ sub, ...account }) } : undefined;
    },
    // Gatehouse asks for amr and acr with the claims parameter (OIDC Core §5.5), as node-oidc-provider puts
    // them in the ID token only when asked.
    features: { devInteractions: { enabled: false }, claimsParameter: { enabled: true } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    jwks: {
      keys: [{ ...(await exportJWK(rsa.privateKey)), alg: 'RS256', use: 'sig', kid: 'upstream-rs256' }],
    },
  });
  const callback = provider.callback();
  let count = 0;

  async function interaction(request: IncomingMessage, response: ServerResponse) {
    const details = await provider.interactionDetails(request, response);
    if (details.prompt.name === 'consent') {
      const grant = new provider.Grant({
        accountId: details.session?.accountId as string,
        clientId: details.params.client_id as string,
      });
      grant.addOIDCScope(String(details.params.scope));
      const grantId = await grant.save();
      return provider.interactionFinished(
        request,
        response,
        { consent: { grantId } },
        { mergeWithLastSubmission: true },
      );
    }
    if (request.method === 'GET') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(signInForm('Test IdP sign-in', `/interaction/${details.uid}`));
      return;
    }
    const form = await formBody(request);
    if (form.get('action') === 'cancel') {
      return provider.interactionFinished(request, response, {
        error: 'access_denied',
        error_description: 'The user cancelled the sign-in',
      });
    }
    const accountId = form.get('account') ?? '';
    if (!known.has(accountId)) {
      response.writeHead(400, { 'content-type': 'text/plain' });
      response.end('unknown account');
      return;
    }
    return provider.interactionFinished(request, response, {
      login: { accountId, amr: UPSTREAM_AMR, acr: UPSTREAM_ACR },
    });
  }

  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    count += 1;
    if (request.url?.startsWith('/interaction/')) {
      interaction(request, response).catch((error: Error) => {
        response.statusCode = 500;
        response.end(error.message);
      });
      return;
    }
    callback(request, response);
  });
  return {
    issuer,
    clientId: 'gatehouse',
    clientSecret,
    accounts: known,
    requests: () => count,
    close: () => closeServer(server),
  };
}

/**
 * A GitHub-style OAuth 2.0 provider: no discovery, no ID token; the user's identity comes from GET /user with
 * the access token, as `{ id: <number>, login, email, name }` (GitHub only shows verified public emails).
 */
export async function startOauth2Upstream(
  redirectUri: string,
  accounts: Record<string, UpstreamAccount>,
): Promise<RunningUpstream> {
  const known = new Map(Object.entries(accounts));
  const clientId = 'gatehouse-oauth2';
  const clientSecret = randomBytes(24).toString('base64url');
  const codes = new Map<string, { account: string; challenge: string }>();
  const tokens = new Map<string, string>();
  let count = 0;
  const server = createServer((request, response) => {
    count += 1;
    handle(request, response).catch((error: Error) => {
      response.statusCode = 500;
      response.end(error.message);
    });
  });
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;

  const json = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    response.end(JSON.stringify(body));
  };

  async function handle(request: IncomingMessage, response: ServerResponse) {
    const url = new URL(request.url ?? '/', issuer);
    if (url.pathname === '/login/oauth/authorize' && request.method === 'GET') {
      if (
        url.searchParams.get('client_id') !== clientId ||
        url.searchParams.get('redirect_uri') !== redirectUri
      ) {
        return json(response, 400, { error: 'invalid_request' });
      }
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(
        signInForm('Test OAuth sign-in', '/login/oauth/authorize', Object.fromEntries(url.searchParams)),
      );
      return;
    }
    if (url.pathname === '/login/oauth/authorize' && request.method === 'POST') {
      const form = await formBody(request);
      const back = new URL(redirectUri);
      back.searchParams.set('state', form.get('state') ?? '');
      const account = form.get('account') ?? '';
      if (form.get('action') === 'cancel' || !known.has(account)) {
        back.searchParams.set('error', 'access_denied');
      } else {
        const code = randomBytes(16).toString('hex');
        codes.set(code, { account, challenge: form.get('code_challenge') ?? '' });
        back.searchParams.set('code', code);
      }
      response.writeHead(302, { location: back.href });
      response.end();
      return;
    }
    if (url.pathname === '/login/oauth/access_token' && request.method === 'POST') {
      const form = await formBody(request);
      const basic = Buffer.from(
        (request.headers.authorization ?? '').replace(/^Basic /, ''),
        'base64',
      ).toString();
      const [id, secret] = basic.split(':').map(decodeURIComponent);
      if (id !== clientId || secret !== clientSecret) return json(response, 401, { error: 'invalid_client' });
      const issued = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const { createHash } = await import('node:crypto');
      const challenge = createHash('sha256')
        .update(form.get('code_verifier') ?? '')
        .digest('base64url');
      if (!issued || issued.challenge !== challenge || form.get('redirect_uri') !== redirectUri) {
        return json(response, 400, { error: 'invalid_grant' });
      }
      const token = randomBytes(16).toString('hex');
      tokens.set(token, issued.account);
      return json(response, 200, { access_token: token, token_type: 'bearer', scope: 'read:user' });
    }
    if (url.pathname === '/user' && request.method === 'GET') {
      const account = tokens.get((request.headers.authorization ?? '').replace(/^Bearer /i, ''));
      if (!account) return json(response, 401, { message: 'Bad credentials' });
      const profile = known.get(account) ?? {};
      return json(response, 200, {
        id: Number(account),
        login: `user${account}`,
        email: profile.email ?? null,
        name: profile.name ?? null,
      });
    }
    return json(response, 404, { message: 'Not Found' });
  }

  return {
    issuer,
    clientId,
    clientSecret,
    accounts: known,
    requests: () => count,
    close: () => closeServer(server),
  };
}

/**
 * The environment for a Gatehouse that offers both upstreams: `oidc` ("Test IdP", accounts: create) and
 * `github` ("GitHub", accounts: create, emails trusted as GitHub only shows verified public ones).
 */
export function upstreamEnvironment(
  oidc: RunningUpstream,
  oauth2?: RunningUpstream,
  overrides: { oidcAccounts?: 'create' | 'link-only' } = {},
): Record<string, string> {
  const upstreams: Record<string, unknown>[] = [
    {
      id: 'test-idp',
      name: 'Test IdP',
      kind: 'oidc',
      issuer: oidc.issuer,
      clientId: oidc.clientId,
      accounts: overrides.oidcAccounts ?? 'create',
      passAcr: [UPSTREAM_ACR],
      allowPrivateNetwork: true,
    },
  ];
  // The same upstream client once more, under a link-only policy: only existing users may sign in with it.
  upstreams.push({
    id: 'test-idp-strict',
    name: 'Test IdP (existing users)',
    kind: 'oidc',
    issuer: oidc.issuer,
    clientId: oidc.clientId,
    clientSecretEnv: 'TEST_IDP_SECRET',
    accounts: 'link-only',
    allowPrivateNetwork: true,
  });
  const env: Record<string, string> = {
    GATEHOUSE_UPSTREAM_TEST_IDP_SECRET: oidc.clientSecret,
    TEST_IDP_SECRET: oidc.clientSecret,
  };
  if (oauth2) {
    upstreams.push({
      id: 'github',
      name: 'GitHub',
      kind: 'oauth2',
      authorizationEndpoint: `${oauth2.issuer}/login/oauth/authorize`,
      tokenEndpoint: `${oauth2.issuer}/login/oauth/access_token`,
      userinfoEndpoint: `${oauth2.issuer}/user`,
      clientId: oauth2.clientId,
      scopes: ['read:user', 'user:email'],
      claims: { subject: 'id', email: 'email', name: 'name' },
      accounts: 'create',
      trustEmails: true,
      allowPrivateNetwork: true,
    });
    env.GATEHOUSE_UPSTREAM_GITHUB_SECRET = oauth2.clientSecret;
  }
  env.GATEHOUSE_UPSTREAMS = JSON.stringify(upstreams);
  return env;
}

/**
 * A user at the upstream, over real HTTP with its own cookie jar: follows `location` (where Gatehouse sent the
 * browser), submits the sign-in form as `account` (or presses Cancel), and follows the upstream's redirects
 * until one leaves for `callbackPrefix`. Returns that URL: the callback the browser would carry to Gatehouse.
 */
export async function signInUpstream(
  location: string,
  account: string | { cancel: true },
  callbackPrefix: string,
): Promise<URL> {
  const jar = new Map<string, string>();
  const remember = (response: Response) => {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const index = pair?.indexOf('=') ?? -1;
      if (pair && index > 0) jar.set(pair.slice(0, index), pair.slice(index + 1));
    }
  };
  const cookie = () => [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
  let url = new URL(location);
  let init: RequestInit = { method: 'GET' };
  for (let hop = 0; hop < 20; hop++) {
    if (url.href.startsWith(callbackPrefix)) return url;
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...init.headers, cookie: cookie() },
    });
    remember(response);
    const next = response.headers.get('location');
    if (next) {
      url = new URL(next, url);
      init = { method: 'GET' };
      continue;
    }
    const page = await response.text();
    const action = /<form method="post" action="([^"]+)"/.exec(page)?.[1];
    if (response.status !== 200 || !action)
      throw new Error(`upstream answered ${response.status}: ${page.slice(0, 200)}`);
    const form = new URLSearchParams();
    for (const match of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
      form.set(decodeEntities(match[1] ?? ''), decodeEntities(match[2] ?? ''));
    }
    if (typeof account === 'string') {
      form.set('account', account);
      form.set('action', 'login');
    } else form.set('action', 'cancel');
    url = new URL(decodeEntities(action), url);
    init = {
      method: 'POST',
      body: form.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    };
  }
  throw new Error('the upstream never sent the browser back');
}

function decodeEntities(value: string): string {
  return value.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
}
