// Small helpers shared by the page tests: walking the login and consent pages, reading Set-Cookie lines and
// checking the headers every HTML page must carry.
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { type Agent, csrfFrom, localPath } from '../helpers/agent.ts';
import { ISSUER } from '../helpers/server.ts';

export interface Credentials {
  email: string;
  password: string;
}

export interface ParsedCookie {
  name: string;
  value: string;
  attributes: Map<string, string>;
  line: string;
}

export function setCookies(response: LightMyRequestResponse): ParsedCookie[] {
  const header = response.headers['set-cookie'];
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [String(header)];
  return lines.map((line) => {
    const [pair = '', ...rest] = line.split(';');
    const index = pair.indexOf('=');
    const attributes = new Map<string, string>();
    for (const part of rest) {
      const [key = '', ...value] = part.trim().split('=');
      attributes.set(key.toLowerCase(), value.join('='));
    }
    return { name: pair.slice(0, index).trim(), value: pair.slice(index + 1), attributes, line };
  });
}

export function cookieNamed(response: LightMyRequestResponse, name: string): ParsedCookie | undefined {
  return setCookies(response).find((cookie) => cookie.name === name);
}

/** G-01 and G-02: clickjacking and referrer protection on an HTML page. */
export function assertPageHeaders(response: LightMyRequestResponse, what: string) {
  assert.match(String(response.headers['content-type']), /^text\/html/, `${what}: not HTML`);
  const csp = String(response.headers['content-security-policy'] ?? '');
  const directives = csp.split(';').map((directive) => directive.trim());
  assert.ok(
    directives.includes("frame-ancestors 'none'"),
    `${what}: CSP "${csp}" lacks frame-ancestors 'none'`,
  );
  assert.equal(response.headers['x-frame-options'], 'DENY', `${what}: X-Frame-Options`);
  assert.equal(response.headers['referrer-policy'], 'no-referrer', `${what}: Referrer-Policy`);
  // RFC 9700 §4.2.4: no third-party resources or links on authorization pages.
  assert.doesNotMatch(response.body, /(src|href|action)="(https?:)?\/\//i, `${what}: external resource`);
}

/** Starts an authorization request for `clientId` and returns the login path it leads to. */
export async function startAuthorization(agent: Agent, url: string): Promise<string> {
  const response = await agent.get(url);
  assert.equal(response.statusCode, 303, response.body);
  const location = String(response.headers.location);
  assert.match(location, /^\/login\?interaction=/);
  return location;
}

export function interactionOf(path: string): string {
  return new URL(path, ISSUER).searchParams.get('interaction') ?? '';
}

/** Signs in on a login page path; returns the POST /login response. */
export async function submitLogin(agent: Agent, loginPath: string, user: Credentials) {
  const page = await agent.get(loginPath);
  assert.equal(page.statusCode, 200, page.body);
  return agent.post('/login', {
    _csrf: csrfFrom(page.body),
    email: user.email,
    password: user.password,
    interaction: interactionOf(loginPath),
  });
}

/** From a sign-in response, follows redirects until the consent page path (asserts it gets there). */
export async function reachConsent(agent: Agent, response: LightMyRequestResponse): Promise<string> {
  let current = response;
  for (let step = 0; step < 4; step++) {
    assert.equal(current.statusCode, 303, current.body);
    const path = localPath(String(current.headers.location));
    if (path.startsWith('/consent')) return path;
    current = await agent.get(path);
  }
  throw new Error('did not reach the consent page');
}
