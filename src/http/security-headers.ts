// Security headers (helmet's rules) computed once at start-up and set on every response with one call: the
// same headers as running helmet per request, without rebuilding its policy strings on the hot paths.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

export type SecurityHeaders = Readonly<Record<string, string>>;

export function securityHeaders(options: Readonly<HelmetOptions>): SecurityHeaders {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
    getHeader: (name: string) => headers[name.toLowerCase()],
  };
  let finished = false;
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
    finished = true;
  });
  // helmet's middleware is synchronous; if that ever changes, fail at start-up rather than serve without headers.
  if (!finished) throw new Error('helmet did not finish synchronously');
  return headers;
}

/**
 * The headers of a JSON API response (OWASP's REST Security list): no framing, no sniffing, no referrer, no
 * content of any kind, and HSTS on an https issuer. helmet's other headers (COOP, Origin-Agent-Cluster,
 * X-DNS-Prefetch-Control, X-Download-Options, X-Permitted-Cross-Domain-Policies, X-XSS-Protection) govern how
 * a browser treats a document, and a JSON response is never rendered as one.
 */
export function apiSecurityHeaders(hsts: boolean): SecurityHeaders {
  return securityHeaders({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    hsts: hsts ? { maxAge: 31_536_000 } : false,
    crossOriginOpenerPolicy: false,
    crossOriginResourcePolicy: false,
    originAgentCluster: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
  });
}

/** Sets the headers on every response of `scope` (and of the scopes inside it). */
export function addSecurityHeaders(scope: FastifyInstance, headers: SecurityHeaders): void {
  scope.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
}

/**
 * The page CSP with one more origin allowed for images (the consent page's client logo). Only an origin that
 * URL.origin produced (scheme://host[:port]) is added, so no directive can be smuggled in.
 */
export function withImageSource(csp: string, origin: string): string {
  if (!/^https:\/\/[a-z0-9.\-[\]:]+$/i.test(origin)) return csp;
  return csp
    .split(';')
    .map((directive) => (directive.trim().startsWith('img-src ') ? `${directive} ${origin}` : directive))
    .join(';');
}
