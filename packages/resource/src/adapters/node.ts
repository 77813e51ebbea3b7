// Node's http, Express and Connect: a middleware that answers RFC 6750 failures itself and calls next() with the
// verified token remembered (tokenOf), a promise-style check for plain http handlers, and the RFC 9728 metadata
// route. Typed structurally, so that neither @types/node nor @types/express is needed to use it.
import { bearerAnswer } from '../errors.ts';
import {
  METADATA_HEADERS,
  type ProtectedResourceMetadataInput,
  protectedResourceMetadata,
  protectedResourceMetadataPath,
} from '../metadata.ts';
import { rememberToken, tokenOf } from '../token-store.ts';
import { requireScopes, type VerifiedToken, type Verifier } from '../verify.ts';

export { tokenOf };

/** What the adapter reads of a request (node's IncomingMessage, and so Express's and Connect's requests). */
export interface NodeRequest {
  headers: Record<string, string | string[] | undefined>;
  url?: string | undefined;
  method?: string | undefined;
}

/** What the adapter calls on a response (node's ServerResponse, and so Express's). */
export interface NodeResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body?: string): unknown;
}

export type NextFunction = (error?: unknown) => void;

function send(response: NodeResponse, status: number, headers: Record<string, string>, body: string) {
  response.writeHead(status, headers);
  response.end(body);
}

/**
 * Checks the request's token and scopes. Resolves with the token, or answers the request itself (401, 403, 400 or
 * 503, per RFC 6750) and resolves with undefined: `const token = await authenticate(verifier, req, res, 'read');
 * if (!token) return;`
 */
export async function authenticate(
  verifier: Verifier,
  request: NodeRequest,
  response: NodeResponse,
  ...scopes: string[]
): Promise<VerifiedToken | undefined> {
  try {
    const token = await verifier.verifyRequest({
      headers: request.headers,
      url: request.url,
      method: request.method,
    });
    requireScopes(token, ...scopes);
    rememberToken(request, token);
    return token;
  } catch (error) {
    const answer = bearerAnswer(error, verifier.options);
    send(response, answer.status, answer.headers, answer.body);
    return undefined;
  }
}

/**
 * Express / Connect middleware: `app.get('/meetings', requireToken(verifier, 'meeting:read'), handler)`, then
 * `tokenOf(req)` in the handler. Failures are answered here and never reach the handler.
 */
export function requireToken(verifier: Verifier, ...scopes: string[]) {
  return (request: NodeRequest, response: NodeResponse, next: NextFunction): void => {
    authenticate(verifier, request, response, ...scopes).then(
      (token) => {
        if (token) next();
      },
      (error: unknown) => next(error),
    );
  };
}

/**
 * Express / Connect middleware serving this API's RFC 9728 document at its well-known path (GET and HEAD) and
 * passing every other request on: `app.use(serveResourceMetadata({ resource, authorizationServers: [issuer] }))`.
 */
export function serveResourceMetadata(input: ProtectedResourceMetadataInput) {
  const path = protectedResourceMetadataPath(input.resource);
  const body = JSON.stringify(protectedResourceMetadata(input));
  return (request: NodeRequest, response: NodeResponse, next?: NextFunction): void => {
    const method = request.method ?? 'GET';
    if ((method === 'GET' || method === 'HEAD') && request.url === path) {
      send(response, 200, { ...METADATA_HEADERS }, method === 'HEAD' ? '' : body);
      return;
    }
    next?.();
  };
}
