// Web-standard Request/Response: Next.js and Vercel route handlers, Hono, Deno, Bun and Cloudflare Workers.
import { bearerAnswer } from '../errors.ts';
import {
  METADATA_HEADERS,
  type ProtectedResourceMetadataInput,
  protectedResourceMetadata,
} from '../metadata.ts';
import { requireScopes, type VerifiedToken, type Verifier } from '../verify.ts';

/** Either the verified token, or the Response to send instead (401, 403, 400 or 503, per RFC 6750). */
export type TokenCheck =
  | { token: VerifiedToken; response?: undefined }
  | { token?: undefined; response: Response };

/**
 * `const { token, response } = await checkRequest(verifier, request, 'meeting:read'); if (response) return response;`
 */
export async function checkRequest(
  verifier: Verifier,
  request: Request,
  ...scopes: string[]
): Promise<TokenCheck> {
  try {
    const url = new URL(request.url);
    const token = await verifier.verifyRequest({
      headers: {
        authorization: request.headers.get('authorization') ?? undefined,
        // Headers.get joins repeated headers with ", ", which the proof check refuses (one DPoP header only).
        dpop: request.headers.get('dpop') ?? undefined,
      },
      url: url.pathname + url.search,
      method: request.method,
    });
    requireScopes(token, ...scopes);
    return { token };
  } catch (error) {
    const answer = bearerAnswer(error, verifier.options);
    return { response: new Response(answer.body, { status: answer.status, headers: answer.headers }) };
  }
}

/**
 * Wraps a handler so that it runs only with a good token:
 * `export const GET = withToken(verifier, ['meeting:read'], async (request, token) => Response.json(…))`.
 * Further arguments (a Next.js route's context, a Worker's env) are passed through.
 */
export function withToken<Rest extends unknown[]>(
  verifier: Verifier,
  scopes: readonly string[],
  handler: (request: Request, token: VerifiedToken, ...rest: Rest) => Response | Promise<Response>,
): (request: Request, ...rest: Rest) => Promise<Response> {
  return async (request, ...rest) => {
    const { token, response } = await checkRequest(verifier, request, ...scopes);
    if (response) return response;
    return handler(request, token, ...rest);
  };
}

/**
 * A handler answering with this API's RFC 9728 document; mount it at protectedResourceMetadataPath(resource), e.g.
 * Next.js: `app/.well-known/oauth-protected-resource/route.ts`: `export const GET = resourceMetadataHandler({ … })`.
 */
export function resourceMetadataHandler(input: ProtectedResourceMetadataInput): () => Response {
  const body = JSON.stringify(protectedResourceMetadata(input));
  return () => new Response(body, { status: 200, headers: METADATA_HEADERS });
}
