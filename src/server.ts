// buildServer(deps): THE route table. Every route is registered here, explicitly, in one of two scopes:
// the protocol scope answers errors as RFC 6749 JSON; the pages scope answers them as HTML pages.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { stdTimeFunctions } from 'pino';
import type { Deps } from './deps.ts';
import { registerAdminApi } from './endpoints/admin-api/route.ts';
import { registerAuthorize } from './endpoints/authorize/route.ts';
import { registerDeauthorize } from './endpoints/deauthorize/route.ts';
import { registerDeviceAuthorization } from './endpoints/device-authorization/route.ts';
import { registerDiscovery } from './endpoints/discovery/route.ts';
import { registerEndSession } from './endpoints/end-session/route.ts';
import { registerHealth } from './endpoints/health/route.ts';
import { registerIntrospect } from './endpoints/introspect/route.ts';
import { registerJwks } from './endpoints/jwks/route.ts';
import { registerPushedAuthorization } from './endpoints/par/route.ts';
import { registerRegistration } from './endpoints/register/route.ts';
import { registerResourceMetadata } from './endpoints/resource-metadata/route.ts';
import { registerRevoke } from './endpoints/revoke/route.ts';
import { registerTestToken } from './endpoints/test-token/route.ts';
import { registerToken } from './endpoints/token/route.ts';
import { registerUserinfo } from './endpoints/userinfo/route.ts';
import { OAuthError } from './errors.ts';
import { enableCors } from './http/cors.ts';
import { registerFormParser } from './http/form-body.ts';
import { rejectControlCharacters } from './http/input-guard.ts';
import { oauthErrorHandler } from './http/oauth-errors.ts';
import { pageErrorHandler, prefersHtml } from './http/page-errors.ts';
import { addSecurityHeaders, apiSecurityHeaders, securityHeaders } from './http/security-headers.ts';
import { trustProxyOption } from './http/trust-proxy.ts';
import { tokenIntrospector } from './oauth/introspection.ts';
import { ownResourceVerifier } from './oauth/protected-endpoints.ts';
import { observeRequests, RequestLogController } from './observability/requests.ts';
import { registerAdmin } from './pages/admin/route.ts';
import { registerConnectedApps } from './pages/apps/route.ts';
import { registerConsent } from './pages/consent/route.ts';
import { registerDevice } from './pages/device/route.ts';
import { notFoundPage } from './pages/error.ts';
import { registerLogin } from './pages/login/route.ts';
import { registerPlayground } from './pages/playground/route.ts';
import { registerPortal } from './pages/portal/route.ts';
import { registerSetup } from './pages/setup/route.ts';

const STYLESHEET = readFileSync(new URL('./pages/assets/gatehouse.css', import.meta.url));
const COPY_SCRIPT = readFileSync(new URL('./pages/assets/copy.js', import.meta.url));

export interface BuildOptions {
  logger?: FastifyServerOptions['logger'];
  /** True once the process is shutting down: readiness fails (docs/security.md R15). */
  draining?: () => boolean;
}

/**
 * Log lines carry the path only: query strings can hold one-time setup links and interaction ids. (Each request's
 * own line, observability/requests.ts, names the route pattern instead.)
 */
const serializers = {
  req(request: { method: string; url: string; ip?: string }) {
    const path = request.url.split('?')[0];
    return { method: request.method, url: path, remoteAddress: request.ip };
  },
};

/**
 * Fastify's schema compilers (ajv and fast-json-stringify, about 110 modules) load only if a route declares a
 * schema. Gatehouse's routes parse their own input, so a start never loads them: about 40 ms less to the
 * first answer. Loaded from Fastify's own dependencies, so the versions are the ones it expects.
 */
const fastifyRequire = createRequire(import.meta.resolve('fastify'));
const lazySchemaCompilers = {
  buildValidator: (...args: unknown[]) => fastifyRequire('@fastify/ajv-compiler')()(...args),
  buildSerializer: (...args: unknown[]) => fastifyRequire('@fastify/fast-json-stringify-compiler')()(...args),
};

export async function buildServer(deps: Deps, options: BuildOptions = {}): Promise<FastifyInstance> {
  const { config } = deps;
  const now = () => deps.clock.now();
  const introspect = tokenIntrospector({
    storage: deps.storage,
    keys: deps.keys,
    issuer: config.issuer,
    now,
  });
  const ownResource = ownResourceVerifier(config, introspect, now, deps.storage);
  const secure = config.issuer.startsWith('https:');
  const brand = { productName: config.productName, logoUrl: config.logoUrl };
  // ISO 8601 times ("time":"2026-05-08T09:57:38.415Z") rather than pino's epoch milliseconds: readable as
  // they are, and understood by every log shipper.
  const timestamp = stdTimeFunctions.isoTime;
  const logger =
    options.logger === undefined ? { level: config.logLevel, serializers, timestamp } : options.logger;
  const app = Fastify({
    logger: logger === true ? { serializers, timestamp } : logger,
    // Fastify's two lines per request carry the URL with its query string: observeRequests writes one
    // line per request instead, with the route pattern.
    logController: new RequestLogController(),
    trustProxy: trustProxyOption(config.trustProxy),
    bodyLimit: 64 * 1024,
    routerOptions: { ignoreTrailingSlash: false },
    schemaController: { compilersFactory: lazySchemaCompilers },
    // A request that reaches a closing server came on a connection already open: answer it (main.ts drains
    // and closes connections, docs/security.md R15) rather than with Fastify's 503.
    return503OnClosing: false,
  });
  // Before any route scope, so that every request, 404s included, is logged and measured.
  observeRequests(app, deps.metrics);

  // RFC 9700 §4.16 (clickjacking) and §4.2.4 (no referrer, no third-party content), on every response: helmet's
  // full set on pages, assets and 404s; the JSON set (apiSecurityHeaders) on the protocol endpoints.
  const pageHeaders = securityHeaders({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        // The operator's logo may live on their CDN: its origin, and nothing else off-site.
        imgSrc: [
          "'self'",
          'data:',
          ...(config.logoUrl?.startsWith('https://') ? [new URL(config.logoUrl).origin] : []),
        ],
        styleSrc: ["'self'"],
        scriptSrc: ["'self'"],
        // No form-action: browsers apply it to the redirect that follows a form post, which is how the
        // consent form returns the user to the client.
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    hsts: secure ? { maxAge: 31_536_000 } : false,
    crossOriginResourcePolicy: false,
  });
  // A person who mistypes an address (or follows an old link, GET /logout among them) gets a page with a way on;
  // an API client gets Fastify's JSON, as before.
  app.setNotFoundHandler((request, reply) => {
    reply.headers(pageHeaders).code(404);
    if (prefersHtml(request.headers.accept)) {
      return reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(notFoundPage(brand));
    }
    return reply.send({
      message: `Route ${request.method}:${request.url.split('?')[0]} not found`,
      error: 'Not Found',
      statusCode: 404,
    });
  });

  await app.register(async (assets) => {
    addSecurityHeaders(assets, pageHeaders);
    assets.get('/assets/copy.js', async (_request, reply) =>
      reply
        .type('text/javascript; charset=utf-8')
        .header('cache-control', 'public, max-age=3600')
        .send(COPY_SCRIPT),
    );
    assets.get('/assets/gatehouse.css', async (_request, reply) =>
      reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(STYLESHEET),
    );
  });

  // Protocol endpoints: JSON errors per RFC 6749 §5.2.
  await app.register(async (protocol) => {
    addSecurityHeaders(protocol, apiSecurityHeaders(secure));
    protocol.setErrorHandler(oauthErrorHandler);
    // Form bodies only (RFC 6749 §3.2): Fastify's JSON and text parsers would let other media types through.
    protocol.removeAllContentTypeParsers();
    registerFormParser(protocol);
    rejectControlCharacters(protocol, 'none');
    enableCors(protocol, deps.storage, {
      clients: [config.paths.token, config.paths.userinfo, config.paths.revoke],
      documents: [
        config.paths.jwks,
        '/.well-known/openid-configuration',
        '/.well-known/oauth-authorization-server',
      ],
    });
    registerToken(protocol, deps);
    registerPushedAuthorization(protocol, deps);
    registerDeviceAuthorization(protocol, deps);
    registerUserinfo(protocol, deps, ownResource);
    registerIntrospect(protocol, deps, introspect);
    registerRevoke(protocol, deps, introspect);
    registerDeauthorize(protocol, deps, ownResource);
    registerTestToken(protocol, config.paths.testToken, ownResource);
    registerResourceMetadata(protocol, deps);
    registerRegistration(protocol, deps);
    registerJwks(protocol, deps);
    registerDiscovery(protocol, deps);
    registerHealth(protocol, deps, options.draining);
  });

  // The admin API (/api/v1): JSON in and out, an admin key on every call, no cookies (so no CSRF to guard).
  await app.register(async (admin) => {
    addSecurityHeaders(admin, apiSecurityHeaders(secure));
    admin.setErrorHandler(oauthErrorHandler);
    admin.removeAllContentTypeParsers();
    rejectControlCharacters(admin, 'none');
    registerAdminApi(admin, deps);
  });

  // Browser-facing pages: HTML errors, CSRF tokens on every form.
  await app.register(async (pages) => {
    addSecurityHeaders(pages, pageHeaders);
    // Cookies (sessions, browser binding, CSRF) are a pages concern: the protocol endpoints neither read nor
    // set any, and skip the plugin's two hooks on every token and introspection request.
    await pages.register(fastifyCookie);
    await pages.register(fastifyCsrf, {
      cookieKey: secure ? '__Host-gatehouse_csrf' : 'gatehouse_csrf',
      cookieOpts: { path: '/', sameSite: 'lax', httpOnly: true, secure, signed: false },
    });
    pages.setErrorHandler(pageErrorHandler(brand));
    pages.removeAllContentTypeParsers();
    registerFormParser(pages);
    rejectControlCharacters(pages, 'line-breaks');
    const issuerOrigin = new URL(config.issuer).origin;
    // A cross-site form post to a page is refused before anything else looks at it (CSRF tokens are the main
    // guard). Browsers send `Origin: null` under our no-referrer policy, so Fetch Metadata decides where it
    // is available. POST /authorize is exempt: clients legitimately start the flow with a form on their site.
    pages.addHook('onRequest', async (request) => {
      if (request.method !== 'POST' || request.url.split('?')[0] === config.paths.authorize) return;
      const site = request.headers['sec-fetch-site'];
      const origin = request.headers.origin;
      const crossSite =
        site !== undefined
          ? site !== 'same-origin' && site !== 'none'
          : origin !== undefined && origin !== 'null' && origin !== issuerOrigin;
      if (crossSite) {
        throw new OAuthError('invalid_request', 'Cross-site form submissions are not accepted', {
          status: 403,
        });
      }
    });
    registerAuthorize(pages, deps);
    registerEndSession(pages, deps);
    registerLogin(pages, deps);
    registerConsent(pages, deps);
    registerDevice(pages, deps);
    registerSetup(pages, deps);
    registerConnectedApps(pages, deps);
    registerPortal(pages, deps);
    registerAdmin(pages, deps);
    registerPlayground(pages, deps);
  });

  return app;
}
