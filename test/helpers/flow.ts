// Drives the authorization code flow through the real endpoints and pages (over inject), for HTTP tests.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Client, User } from '../../src/storage/storage.ts';
import { Agent, csrfFrom, localPath } from './agent.ts';
import type { TestServer } from './server.ts';

export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

export function authorizeUrl(params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) query.set(key, value);
  return `/authorize?${query}`;
}

export interface FlowOptions {
  scope?: string;
  redirectUri?: string;
  state?: string;
  nonce?: string;
  agent?: Agent;
  extra?: Record<string, string>;
  /** Skip the consent click (remembered consent expected). */
  expectNoConsent?: boolean;
}

export interface FlowResult {
  code: string;
  state: string | null;
  iss: string | null;
  verifier: string;
  redirectUri: string;
  agent: Agent;
  location: URL;
}

/** Signs in (if needed), allows access, and returns the code from the final redirect. */
export async function runAuthorizationFlow(
  server: TestServer,
  client: Client,
  user: User & { email: string; password: string },
  options: FlowOptions = {},
): Promise<FlowResult> {
  const agent = options.agent ?? new Agent(server.app);
  const { verifier, challenge } = pkcePair();
  const redirectUri = options.redirectUri ?? client.redirectUris[0]!;
  let response = await agent.get(
    authorizeUrl({
      response_type: 'code',
      client_id: client.id,
      redirect_uri: redirectUri,
      scope: options.scope ?? 'openid profile email',
      state: options.state ?? 'state-123',
      nonce: options.nonce,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...options.extra,
    }),
  );
  for (let step = 0; step < 6; step++) {
    assert.equal(
      response.statusCode,
      303,
      `step ${step}: expected a redirect, got ${response.statusCode}: ${response.body.slice(0, 300)}`,
    );
    const location = String(response.headers.location);
    if (location.startsWith(redirectUri.split('?')[0]!) && !location.startsWith('/')) {
      const url = new URL(location);
      const code = url.searchParams.get('code');
      assert.ok(code, `no code in ${location}`);
      return {
        code,
        state: url.searchParams.get('state'),
        iss: url.searchParams.get('iss'),
        verifier,
        redirectUri,
        agent,
        location: url,
      };
    }
    const path = localPath(location);
    if (path.startsWith('/login')) {
      const page = await agent.get(path);
      const interaction = new URL(path, 'http://x').searchParams.get('interaction') ?? '';
      response = await agent.post('/login', {
        _csrf: csrfFrom(page.body),
        email: user.email,
        password: user.password,
        interaction,
      });
    } else if (path.startsWith('/consent')) {
      assert.ok(!options.expectNoConsent, 'consent page shown although consent was remembered');
      const page = await agent.get(path);
      const interaction = new URL(path, 'http://x').searchParams.get('interaction') ?? '';
      response = await agent.post('/consent', { _csrf: csrfFrom(page.body), interaction, action: 'allow' });
    } else {
      response = await agent.get(path);
    }
  }
  throw new Error('flow did not finish');
}

export function basicAuth(clientId: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value);
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`;
}

export async function exchangeCode(
  server: TestServer,
  client: Client,
  secret: string | undefined,
  flow: Pick<FlowResult, 'code' | 'verifier' | 'redirectUri'>,
  overrides: Record<string, string | undefined> = {},
) {
  const form: Record<string, string> = {};
  const fields: Record<string, string | undefined> = {
    grant_type: 'authorization_code',
    code: flow.code,
    redirect_uri: flow.redirectUri,
    code_verifier: flow.verifier,
    ...(secret === undefined ? { client_id: client.id } : {}),
    ...overrides,
  };
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) form[key] = value;
  return server.app.inject({
    method: 'POST',
    url: '/token',
    payload: new URLSearchParams(form).toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(secret !== undefined ? { authorization: basicAuth(client.id, secret) } : {}),
    },
  });
}
