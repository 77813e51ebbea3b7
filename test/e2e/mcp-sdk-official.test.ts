// Issue 16, "Interop in CI": the official MCP TypeScript SDK client (@modelcontextprotocol/sdk 1.x: its
// OAuthClientProvider, auth() and StreamableHTTPClientTransport) against an MCP server (the SDK's McpServer with
// one tool) protected by @gatehouse/resource, the user signing in and consenting in headless Chromium. It finds
// Gatehouse from the MCP server's 401 (RFC 9728), authorizes, calls the tool, then refreshes (its access token
// made invalid, the SDK's own 401 handling refreshes and retries). Three ways the client is known: its Client ID
// Metadata Document (served over https from 127.0.0.1 through the test-only allowance), dynamic registration as
// a native app with an http://localhost redirect, and a client an operator registered. Each with JWT access
// tokens (checked offline) and opaque ones (introspected by the resource package); on SQLite, and the metadata
// document variant on PostgreSQL too. test/e2e/mcp-sdk-client.test.ts imitates the SDK with oauth4webapi.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createVerifier, protectedResourceMetadataUrl } from '@gatehouse/resource';
import { authenticate, serveResourceMetadata } from '@gatehouse/resource/node';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import type { Browser } from 'playwright-core';
import type { User } from '../../src/storage/storage.ts';
import { browserOrSkipReason } from '../helpers/browser.ts';
import { type DocumentServer, startDocumentServer } from '../helpers/document-server.ts';
import { freshDatabase, postgresOrSkipReason } from '../helpers/postgres.ts';
import { freePort, type LoopbackServer, startLoopbackServer } from './loopback.ts';

const SCOPE = 'mcp:tools';

/** The SDK's OAuthClientProvider, in memory, sending the user to Chromium for the authorization request. */
class BrowserProvider implements OAuthClientProvider {
  client: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  authorizationCode: Promise<string> | undefined;
  authorizationUrls: URL[] = [];
  readonly redirect: string;
  readonly clientMetadataUrl: string | undefined;
  readonly #signIn: (url: URL) => Promise<string>;

  constructor(options: {
    redirect: string;
    clientMetadataUrl?: string;
    client?: OAuthClientInformationMixed;
    signIn: (url: URL) => Promise<string>;
  }) {
    this.redirect = options.redirect;
    this.clientMetadataUrl = options.clientMetadataUrl;
    this.client = options.client;
    this.#signIn = options.signIn;
  }
  get redirectUrl() {
    return this.redirect;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'MCP SDK e2e client',
      redirect_uris: [this.redirect],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      // SEP-837: the SDK's example registers http://localhost; `native` says what it is.
      application_type: 'native',
      scope: SCOPE,
    } as OAuthClientMetadata;
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(information: OAuthClientInformationMixed) {
    this.client = information;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrls.push(url);
    this.authorizationCode = this.#signIn(url);
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

/** The MCP server: RFC 9728 metadata, then the token check, then the SDK's transport with one tool. */
async function startMcpServer(
  port: number,
  resource: string,
  issuer: string,
  introspection?: {
    clientId: string;
    clientSecret: string;
  },
): Promise<{ server: Server; calls: string[] }> {
  const verifier = createVerifier({
    issuer,
    audience: resource,
    ...(introspection
      ? { introspection: { endpoint: `${issuer}/introspect`, ...introspection } }
      : { jwks: `${issuer}/jwks` }),
    resourceMetadata: protectedResourceMetadataUrl(resource),
  });
  const metadata = serveResourceMetadata({ resource, authorizationServers: [issuer], scopes: [SCOPE] });
  const calls: string[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    metadata(request, response, async () => {
      if (!request.url?.startsWith('/mcp')) {
        response.writeHead(404).end();
        return;
      }
      const token = await authenticate(verifier, request, response, SCOPE);
      if (!token) return;
      const mcp = new McpServer({ name: 'gatehouse-e2e', version: '1.0.0' });
      mcp.registerTool('whoami', { description: 'Who the token is for' }, async () => {
        calls.push(token.subject ?? '');
        return { content: [{ type: 'text', text: `subject=${token.subject} format=${token.format}` }] };
      });
      // Stateless: each request its own server and transport (the SDK's documented stateless mode).
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      response.on('close', () => {
        transport.close();
        mcp.close();
      });
      await mcp.connect(transport);
      await transport.handleRequest(request, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, calls };
}

const { browser, skipReason: browserSkip } = await browserOrSkipReason();
const { postgres, skip: postgresSkip } = await postgresOrSkipReason();
after(async () => {
  await browser?.close();
  await postgres?.stop();
});

type Variant = 'metadata document' | 'dynamic registration (native, localhost)' | 'pre-registered';
const VARIANTS: Variant[] = [
  'metadata document',
  'dynamic registration (native, localhost)',
  'pre-registered',
];

for (const database of ['SQLite', 'PostgreSQL'] as const) {
  for (const format of ['jwt', 'opaque'] as const) {
    const skip = browserSkip ?? (database === 'PostgreSQL' ? postgresSkip : undefined);
    describe(`the official MCP SDK client, ${format} access tokens (${database})`, { skip }, () => {
      let site: DocumentServer;
      let loopback: LoopbackServer;
      let mcp: { server: Server; calls: string[] };
      let resource = '';
      let user: User & { email: string; password: string };
      let dropDatabase: (() => Promise<void>) | undefined;

      before(async () => {
        let databaseUrl: string | undefined;
        if (database === 'PostgreSQL' && postgres) {
          const fresh = await freshDatabase(postgres.url);
          databaseUrl = fresh.url;
          dropDatabase = fresh.drop;
        }
        site = await startDocumentServer();
        const mcpPort = await freePort();
        resource = `http://127.0.0.1:${mcpPort}/mcp`;
        loopback = await startLoopbackServer(
          { GATEHOUSE_RESOURCES: JSON.stringify([{ uri: resource, format, scopes: [SCOPE] }]) },
          { databaseUrl, documentServer: { ca: site.ca } },
        );
        user = await loopback.server.addUser({ name: 'Grace Hopper' });
        const introspector =
          format === 'opaque'
            ? await loopback.server.addClient({
                name: 'MCP server',
                grantTypes: ['client_credentials'],
                resourceServer: true,
                redirectUris: [],
              })
            : undefined;
        mcp = await startMcpServer(
          mcpPort,
          resource,
          loopback.issuer,
          introspector && { clientId: introspector.client.id, clientSecret: introspector.secret ?? '' },
        );
      });
      after(async () => {
        mcp?.server.closeAllConnections();
        await new Promise((resolve) => mcp?.server.close(resolve));
        await loopback?.close();
        await site?.close();
        await dropDatabase?.();
      });

      /** Chromium: sign in, allow, and hand back the code the browser was sent to the redirect URI with. */
      function signInWith(redirect: string, browserRef: Browser) {
        return async (url: URL): Promise<string> => {
          const context = await browserRef.newContext();
          try {
            const page = await context.newPage();
            let code: string | undefined;
            // The redirect URI is answered here: no listener needed on the client's port.
            await page.route(
              (target) => target.href.startsWith(redirect),
              async (route) => {
                const target = new URL(route.request().url());
                assert.equal(target.searchParams.get('iss'), loopback.issuer);
                code = target.searchParams.get('code') ?? undefined;
                await route.fulfill({ status: 200, contentType: 'text/html', body: '<p>Done</p>' });
              },
            );
            await page.goto(url.href);
            await page.waitForURL((at) => at.pathname === '/login');
            await page.getByLabel('Email', { exact: true }).fill(user.email);
            await page.getByLabel('Password', { exact: true }).fill(user.password);
            await page.getByRole('button', { name: 'Sign in' }).click();
            await page.waitForURL((at) => at.pathname === '/consent');
            await page.getByRole('button', { name: 'Allow access' }).click();
            await page.waitForURL((at) => at.href.startsWith(redirect));
            assert.ok(code, 'the browser reached the redirect URI with a code');
            return code;
          } finally {
            await context.close();
          }
        };
      }

      const variants = database === 'PostgreSQL' ? VARIANTS.slice(0, 1) : VARIANTS;
      for (const variant of variants) {
        it(`${variant}: authorize in Chromium, call the tool, refresh`, async () => {
          assert.ok(browser);
          const callbackPort = await freePort();
          let provider: BrowserProvider;
          if (variant === 'metadata document') {
            const redirect = `http://127.0.0.1:${callbackPort}/callback`;
            const path = `/mcp-client-${format}.json`;
            const clientId = site.serve(path, {
              body: {
                client_id: `${site.origin}${path}`,
                client_name: 'MCP SDK e2e client',
                redirect_uris: [redirect],
                grant_types: ['authorization_code', 'refresh_token'],
                response_types: ['code'],
                token_endpoint_auth_method: 'none',
              },
              headers: { 'cache-control': 'max-age=3600' },
            });
            provider = new BrowserProvider({
              redirect,
              clientMetadataUrl: clientId,
              signIn: signInWith(redirect, browser),
            });
          } else if (variant === 'dynamic registration (native, localhost)') {
            const redirect = `http://localhost:${callbackPort}/callback`;
            provider = new BrowserProvider({ redirect, signIn: signInWith(redirect, browser) });
          } else {
            const redirect = `http://127.0.0.1:${callbackPort}/callback`;
            const { client } = await loopback.server.addClient({
              name: 'Operator-registered MCP client',
              redirectUris: [redirect],
              tokenEndpointAuthMethod: 'none',
              scope: `openid ${SCOPE} offline_access`,
              allowedResources: [resource],
            });
            provider = new BrowserProvider({
              redirect,
              client: { client_id: client.id },
              signIn: signInWith(redirect, browser),
            });
          }

          // 1. The first connect meets the MCP server's 401, discovers Gatehouse, and sends the user to it.
          const first = new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider });
          await assert.rejects(
            new Client({ name: 'e2e', version: '1.0.0' }).connect(first),
            UnauthorizedError,
          );
          assert.equal(provider.authorizationUrls.length, 1);
          const asked = provider.authorizationUrls[0] as URL;
          assert.equal(asked.searchParams.get('resource'), resource, 'RFC 8707 resource from RFC 9728');
          if (variant === 'metadata document')
            assert.equal(provider.client?.client_id, provider.clientMetadataUrl);
          if (variant === 'dynamic registration (native, localhost)') {
            assert.ok(provider.client?.client_id && !provider.client.client_id.startsWith('https://'));
          }
          await first.finishAuth(await (provider.authorizationCode as Promise<string>));
          assert.ok(
            provider.saved?.access_token && provider.saved.refresh_token,
            'tokens with a refresh token',
          );

          // 2. Connected, the tool runs for the user who signed in.
          const client = new Client({ name: 'e2e', version: '1.0.0' });
          await client.connect(
            new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider }),
          );
          const result = await client.callTool({ name: 'whoami', arguments: {} });
          assert.deepEqual(result.content, [{ type: 'text', text: `subject=${user.id} format=${format}` }]);
          await client.close();

          // 3. The access token stops working: the SDK refreshes on the 401 and retries, with no browser.
          const before = provider.saved;
          provider.saved = { ...before, access_token: 'revoked-or-expired' } as OAuthTokens;
          const again = new Client({ name: 'e2e', version: '1.0.0' });
          await again.connect(
            new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider }),
          );
          const refreshed = await again.callTool({ name: 'whoami', arguments: {} });
          assert.deepEqual(refreshed.content, [
            { type: 'text', text: `subject=${user.id} format=${format}` },
          ]);
          await again.close();
          assert.equal(provider.authorizationUrls.length, 1, 'no second trip through the browser');
          assert.notEqual(provider.saved?.refresh_token, before?.refresh_token, 'the refresh token rotated');
          if (variant === 'metadata document') {
            const stored = await loopback.server.deps.storage.clients.find(
              provider.clientMetadataUrl as string,
            );
            assert.equal(stored?.registeredVia, 'cimd');
          }
        });
      }
    });
  }
}
