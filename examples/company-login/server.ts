// Acme's own sign-in and consent pages for Gatehouse: an example company app with its own users table
// (node:sqlite), its own password hashing (scrypt) and its own pages, that answers Gatehouse's login and consent
// challenges over the admin API. No framework: node:http, and gatehouse-interactions.ts for the API calls.
//
//   GATEHOUSE_URL=http://localhost:3000 GATEHOUSE_ADMIN_KEY=ghm_… node examples/company-login/server.ts
//
// Environment: GATEHOUSE_URL (default http://localhost:3000), GATEHOUSE_ADMIN_KEY (required: `npx gatehouse
// admin-keys create --name company-login --scope interactions`), PORT (default 4000), HOST (default localhost),
// COMPANY_DB (default :memory:, a SQLite file otherwise). A demo user is created when the table is empty:
// grace@acme.example with the password "correct horse battery staple".
//
// It is an example people copy, so it keeps the habits a login page needs: CSRF tokens on every form (a
// double-submit cookie, plus a refusal of cross-site posts by Fetch Metadata), escaped output, no framing,
// no referrer (the challenge is in the URL), no caching, constant-time password checks.
import { randomBytes, randomUUID, scryptSync, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import {
  ChallengeNotFoundError,
  type ConsentRequest,
  GatehouseInteractions,
  isRedirect,
  type LoginRequest,
} from './gatehouse-interactions.ts';

const GATEHOUSE_URL = process.env.GATEHOUSE_URL || 'http://localhost:3000';
const ADMIN_KEY = process.env.GATEHOUSE_ADMIN_KEY;
const PORT = Number(process.env.PORT || 4000);
const HOST = process.env.HOST || 'localhost';
const DEMO_PASSWORD = 'correct horse battery staple';

if (!ADMIN_KEY) {
  process.stderr.write(
    'GATEHOUSE_ADMIN_KEY is required: create one with\n' +
      '  npx gatehouse admin-keys create --name company-login --scope interactions\n',
  );
  process.exit(2);
}
const gatehouse = new GatehouseInteractions(GATEHOUSE_URL, ADMIN_KEY);

// ---- The company's own users ---------------------------------------------------------------------------------

const db = new DatabaseSync(process.env.COMPANY_DB || ':memory:');
db.exec(`create table if not exists users (
  id text primary key,
  email text not null unique,
  name text not null,
  password_hash text not null
)`);

function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `${salt.toString('base64url')}.${scryptSync(password, salt, 32).toString('base64url')}`;
}

function checkPassword(password: string, stored: string | undefined): boolean {
  // An unknown email still costs one scrypt, so timing does not tell which emails exist.
  const [salt, hash] = (stored ?? `${randomBytes(16).toString('base64url')}.${'A'.repeat(43)}`).split('.');
  const computed = scryptSync(password, Buffer.from(salt ?? '', 'base64url'), 32);
  const expected = Buffer.from(hash ?? '', 'base64url');
  return stored !== undefined && expected.length === computed.length && timingSafeEqual(computed, expected);
}

interface CompanyUser {
  id: string;
  email: string;
  name: string;
  password_hash: string;
}

const findByEmail = db.prepare('select * from users where email = ?');
const findById = db.prepare('select * from users where id = ?');
if (!db.prepare('select 1 from users limit 1').get()) {
  db.prepare('insert into users (id, email, name, password_hash) values (?, ?, ?, ?)').run(
    `acme-${randomUUID()}`,
    'grace@acme.example',
    'Grace Hopper',
    hashPassword(DEMO_PASSWORD),
  );
}

/** What Gatehouse puts into ID tokens and userinfo for this user (released to clients per scope). */
function claimsOf(user: CompanyUser) {
  return {
    name: user.name,
    given_name: user.name.split(' ')[0],
    email: user.email,
    email_verified: true,
    preferred_username: user.email.split('@')[0],
  };
}

// ---- HTTP helpers ----------------------------------------------------------------------------------------------

function escapeHtml(value: unknown): string {
  return String(value).replace(
    /[&<>"']/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!,
  );
}

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

function cookies(request: IncomingMessage): Map<string, string> {
  const jar = new Map<string, string>();
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index > 0) jar.set(part.slice(0, index).trim(), part.slice(index + 1).trim());
  }
  return jar;
}

/** The CSRF token of this browser (double-submit cookie), created on first use. */
function csrfToken(request: IncomingMessage, response: ServerResponse): string {
  const existing = cookies(request).get('acme_csrf');
  if (existing && /^[\w-]{43}$/.test(existing)) return existing;
  const token = randomBytes(32).toString('base64url');
  const secure = GATEHOUSE_URL.startsWith('https:') ? '; Secure' : '';
  response.setHeader('set-cookie', `acme_csrf=${token}; Path=/; HttpOnly; SameSite=Strict${secure}`);
  return token;
}

function csrfValid(request: IncomingMessage, form: URLSearchParams): boolean {
  // Fetch Metadata first: a cross-site post is refused whatever it carries.
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const cookie = cookies(request).get('acme_csrf') ?? '';
  const field = form.get('_csrf') ?? '';
  return (
    cookie.length === 43 && field.length === 43 && timingSafeEqual(Buffer.from(cookie), Buffer.from(field))
  );
}

function page(response: ServerResponse, title: string, body: string, status = 200) {
  response.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' });
  response.end(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)} · Acme</title>
<link rel="stylesheet" href="/style.css"></head>
<body><main><p class="brand">Acme</p>${body}</main></body></html>`);
}

function redirect(response: ServerResponse, location: string) {
  response.writeHead(303, { ...SECURITY_HEADERS, location });
  response.end();
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of request) {
    body += chunk;
    if (body.length > 16_384) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;background:#f4f1ea;color:#1d1d1f;margin:0}
main{max-width:26rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:12px;box-shadow:0 2px 12px #0002}
.brand{font-weight:700;color:#b4451f;letter-spacing:.08em;text-transform:uppercase;margin:0 0 1rem}
h1{font-size:1.4rem;margin:0 0 1rem}label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #bbb;border-radius:6px}
.row{display:flex;gap:.6rem;margin-top:1.4rem}button{flex:1;padding:.7rem;border-radius:6px;border:0;font-size:1rem;cursor:pointer}
button.primary{background:#b4451f;color:#fff}button.secondary{background:#e8e2d6}
.error{background:#fde8e4;color:#8a1f0c;padding:.6rem;border-radius:6px}.check{font-weight:400}
ul.scopes{padding-left:1.2rem}small{color:#666}`;

// ---- The login page ------------------------------------------------------------------------------------------

function loginForm(
  request: LoginRequest,
  csrf: string,
  options: { email?: string; error?: string } = {},
): string {
  return `<h1>Sign in to continue to ${escapeHtml(request.client.client_name)}</h1>
${options.error ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>` : ''}
<form method="post" action="/login">
  <input type="hidden" name="_csrf" value="${escapeHtml(csrf)}">
  <input type="hidden" name="login_challenge" value="${escapeHtml(request.challenge)}">
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required
    value="${escapeHtml(options.email ?? request.login_hint ?? '')}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <label class="check"><input type="checkbox" name="remember" value="1"> Keep me signed in</label>
  <div class="row">
    <button class="primary" name="action" value="sign-in">Sign in</button>
    <button class="secondary" name="action" value="cancel" formnovalidate>Cancel</button>
  </div>
</form>`;
}

async function showLogin(request: IncomingMessage, response: ServerResponse, challenge: string) {
  const found = await gatehouse.getLoginRequest(challenge);
  if (isRedirect(found)) return redirect(response, found.redirect_to); // expired: Gatehouse ends the flow
  if (found.skip && found.subject) {
    // Gatehouse remembers this browser: no form. Our user must still exist, and their claims may have changed.
    const user = findById.get(found.subject) as CompanyUser | undefined;
    const answer = user
      ? await gatehouse.acceptLogin(challenge, { subject: user.id, claims: claimsOf(user) })
      : await gatehouse.rejectLogin(challenge, {
          error: 'login_required',
          error_description: 'Unknown user',
        });
    return redirect(response, answer.redirect_to);
  }
  if (found.prompt.includes('none')) {
    const answer = await gatehouse.rejectLogin(challenge, { error: 'login_required' });
    return redirect(response, answer.redirect_to);
  }
  return page(response, 'Sign in', loginForm(found, csrfToken(request, response)));
}

async function submitLogin(request: IncomingMessage, response: ServerResponse) {
  const form = await readForm(request);
  if (!csrfValid(request, form)) return page(response, 'Refused', '<h1>This form has expired</h1>', 403);
  const challenge = form.get('login_challenge') ?? '';
  if (form.get('action') === 'cancel') {
    const answer = await gatehouse.rejectLogin(challenge, {
      error: 'access_denied',
      error_description: 'The user cancelled the sign-in',
    });
    return redirect(response, answer.redirect_to);
  }
  const email = (form.get('email') ?? '').trim().toLowerCase().slice(0, 320);
  const user = findByEmail.get(email) as CompanyUser | undefined;
  if (!checkPassword((form.get('password') ?? '').slice(0, 1024), user?.password_hash)) {
    const found = await gatehouse.getLoginRequest(challenge);
    if (isRedirect(found)) return redirect(response, found.redirect_to);
    const body = loginForm(found, csrfToken(request, response), {
      email,
      error: 'Incorrect email or password.',
    });
    return page(response, 'Sign in', body, 401);
  }
  const answer = await gatehouse.acceptLogin(challenge, {
    subject: user!.id,
    remember: form.get('remember') === '1',
    amr: ['pwd'],
    claims: claimsOf(user!),
  });
  return redirect(response, answer.redirect_to);
}

// ---- The consent page ----------------------------------------------------------------------------------------

function consentForm(request: ConsentRequest, csrf: string): string {
  const user = findById.get(request.subject) as CompanyUser | undefined;
  const scopes = request.requested_scope
    .map(
      (scope) =>
        `<li>${escapeHtml(request.scope_descriptions[scope] ?? scope)} <small>(${escapeHtml(scope)})</small></li>`,
    )
    .join('');
  return `<h1>${escapeHtml(request.client.client_name)} wants to access your Acme account</h1>
<p>Signed in as <strong>${escapeHtml(user?.email ?? request.subject)}</strong>. It will be able to:</p>
<ul class="scopes">${scopes}</ul>
<form method="post" action="/consent">
  <input type="hidden" name="_csrf" value="${escapeHtml(csrf)}">
  <input type="hidden" name="consent_challenge" value="${escapeHtml(request.challenge)}">
  <label class="check"><input type="checkbox" name="remember" value="1" checked> Remember my choice</label>
  <div class="row">
    <button class="primary" name="action" value="allow">Allow</button>
    <button class="secondary" name="action" value="deny">Deny</button>
  </div>
</form>`;
}

async function showConsent(request: IncomingMessage, response: ServerResponse, challenge: string) {
  const found = await gatehouse.getConsentRequest(challenge);
  if (isRedirect(found)) return redirect(response, found.redirect_to);
  return page(response, 'Allow access', consentForm(found, csrfToken(request, response)));
}

async function submitConsent(request: IncomingMessage, response: ServerResponse) {
  const form = await readForm(request);
  if (!csrfValid(request, form)) return page(response, 'Refused', '<h1>This form has expired</h1>', 403);
  const challenge = form.get('consent_challenge') ?? '';
  const answer =
    form.get('action') === 'allow'
      ? await gatehouse.acceptConsent(challenge, { remember: form.get('remember') === '1' })
      : await gatehouse.rejectConsent(challenge, { error: 'access_denied' });
  return redirect(response, answer.redirect_to);
}

// ---- Routing ---------------------------------------------------------------------------------------------------

const server = createServer(async (request, response) => {
  const url = new URL(request.url ?? '/', 'http://company.invalid');
  try {
    if (request.method === 'GET' && url.pathname === '/style.css') {
      response.writeHead(200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'max-age=3600' });
      return response.end(STYLE);
    }
    if (request.method === 'GET' && url.pathname === '/login' && url.searchParams.get('login_challenge')) {
      return await showLogin(request, response, url.searchParams.get('login_challenge')!);
    }
    if (request.method === 'POST' && url.pathname === '/login') return await submitLogin(request, response);
    if (
      request.method === 'GET' &&
      url.pathname === '/consent' &&
      url.searchParams.get('consent_challenge')
    ) {
      return await showConsent(request, response, url.searchParams.get('consent_challenge')!);
    }
    if (request.method === 'POST' && url.pathname === '/consent')
      return await submitConsent(request, response);
    if (request.method === 'GET' && url.pathname === '/') {
      return page(
        response,
        'Acme',
        '<h1>Acme</h1><p>Sign-in for Acme’s apps happens here, through Gatehouse.</p>',
      );
    }
    return page(response, 'Not found', '<h1>Not found</h1>', 404);
  } catch (error) {
    if (error instanceof ChallengeNotFoundError) {
      return page(
        response,
        'Expired',
        '<h1>This sign-in link has expired</h1><p>Go back to the application and start again.</p>',
        400,
      );
    }
    process.stderr.write(`${(error as Error).stack}\n`);
    return page(response, 'Error', '<h1>Something went wrong</h1>', 500);
  }
});

server.listen(PORT, HOST, () => {
  process.stdout.write(`Acme sign-in pages on http://${HOST}:${PORT} (Gatehouse at ${GATEHOUSE_URL})\n`);
  process.stdout.write(`Demo user: grace@acme.example / ${DEMO_PASSWORD}\n`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
