// A tiny browser stand-in over app.inject(): keeps cookies, follows nothing by itself, and reads CSRF tokens
// out of forms, so HTTP tests can walk the login and consent pages exactly as a browser would.
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';

export class Agent {
  readonly app: FastifyInstance;
  readonly cookies = new Map<string, string>();

  constructor(app: FastifyInstance) {
    this.app = app;
  }

  private cookieHeader(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  private remember(response: LightMyRequestResponse) {
    const header = response.headers['set-cookie'];
    const list = header === undefined ? [] : Array.isArray(header) ? header : [header];
    for (const line of list) {
      const [pair] = line.split(';');
      const index = pair?.indexOf('=') ?? -1;
      if (!pair || index < 0) continue;
      const name = pair.slice(0, index);
      const value = pair.slice(index + 1);
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async get(url: string, headers: Record<string, string> = {}) {
    const cookie = this.cookieHeader();
    const response = await this.app.inject({
      method: 'GET',
      url,
      headers: { ...(cookie ? { cookie } : {}), ...headers },
    });
    this.remember(response);
    return response;
  }

  async post(url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
    const cookie = this.cookieHeader();
    const response = await this.app.inject({
      method: 'POST',
      url,
      payload: new URLSearchParams(form).toString(),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(cookie ? { cookie } : {}),
        ...headers,
      },
    });
    this.remember(response);
    return response;
  }
}

/** A browser signed in on the plain login page (no authorization request); fails the test if it was refused. */
export async function signedInAgent(
  app: FastifyInstance,
  user: { email: string; password: string },
): Promise<Agent> {
  const agent = new Agent(app);
  const page = await agent.get('/login');
  const response = await agent.post('/login', {
    _csrf: csrfFrom(page.body),
    email: user.email,
    password: user.password,
  });
  assert.equal(response.statusCode, 303, `sign-in failed for ${user.email}: ${response.body.slice(0, 300)}`);
  return agent;
}

export function csrfFrom(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match?.[1]) throw new Error('no CSRF token in page');
  return match[1];
}

export function hiddenField(html: string, name: string): string | undefined {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
}

/** Path + query of a Location header on this server (throws if it points elsewhere). */
export function localPath(location: string | undefined): string {
  if (!location) throw new Error('no Location header');
  if (location.startsWith('/')) return location;
  const url = new URL(location);
  if (url.origin !== 'http://localhost:3000') throw new Error(`Location points off-server: ${location}`);
  return url.pathname + url.search;
}
