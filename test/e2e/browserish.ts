// A minimal user agent for independent OAuth clients on loopback (oauth4webapi, the MCP SDK's registration):
// it signs in and allows access with plain HTTP requests and a cookie jar, as a browser would send them.
import assert from 'node:assert/strict';
import type { User } from '../../src/storage/storage.ts';
import { csrfFrom, hiddenField } from '../helpers/agent.ts';

/** A minimal user agent over fetch: keeps cookies, follows no redirect by itself, posts forms like a browser. */
export class Browserish {
  readonly origin: string;
  readonly cookies = new Map<string, string>();

  constructor(origin: string) {
    this.origin = origin;
  }

  async request(url: string, form?: Record<string, string>): Promise<Response> {
    assert.equal(new URL(url).origin, this.origin, `request leaves the server: ${url}`);
    const headers = new Headers();
    if (this.cookies.size > 0) {
      headers.set('cookie', [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    }
    if (form) {
      headers.set('content-type', 'application/x-www-form-urlencoded');
      headers.set('origin', this.origin);
    }
    const response = await fetch(url, {
      method: form ? 'POST' : 'GET',
      headers,
      body: form ? new URLSearchParams(form) : undefined,
      redirect: 'manual',
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const index = pair.indexOf('=');
      if (index < 0) continue;
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1);
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }
}

export interface SignInResult {
  callback: URL;
  sawConsent: boolean;
}

/** Follows the server's redirects from the authorization URL, signing in and allowing access, up to the client. */
export async function signInAndConsent(
  agent: Browserish,
  authorizationUrl: URL,
  redirectUri: string,
  user: User & { email: string; password: string },
): Promise<SignInResult> {
  let response = await agent.request(authorizationUrl.href);
  let sawConsent = false;
  for (let step = 0; step < 8; step++) {
    const body = response.status === 303 ? '' : await response.text();
    assert.equal(response.status, 303, `step ${step}: expected a redirect, got ${response.status}: ${body}`);
    const location = new URL(response.headers.get('location') ?? '', agent.origin);
    if (location.href.startsWith(`${redirectUri}?`)) return { callback: location, sawConsent };
    assert.equal(location.origin, agent.origin, `unexpected redirect to ${location.href}`);
    if (location.pathname === '/login') {
      const page = await agent.request(location.href);
      assert.equal(page.status, 200);
      const html = await page.text();
      response = await agent.request(`${agent.origin}/login`, {
        _csrf: csrfFrom(html),
        interaction: hiddenField(html, 'interaction') ?? '',
        email: user.email,
        password: user.password,
      });
    } else if (location.pathname === '/consent') {
      sawConsent = true;
      const page = await agent.request(location.href);
      assert.equal(page.status, 200);
      const html = await page.text();
      response = await agent.request(`${agent.origin}/consent`, {
        _csrf: csrfFrom(html),
        interaction: hiddenField(html, 'interaction') ?? '',
        action: 'allow',
      });
    } else {
      response = await agent.request(location.href);
    }
  }
  throw new Error('the flow did not reach the client');
}
