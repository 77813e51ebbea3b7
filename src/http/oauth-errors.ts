// The one serializer for protocol errors: OAuthError → RFC 6749 §5.2 JSON with no-store. Anything that is not
// an OAuthError is either a client mistake Fastify caught (→ invalid_request) or our fault (→ server_error,
// logged with its stack, never described to the client).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError, safeDescription } from '../errors.ts';

export function toOAuthError(error: unknown, request: FastifyRequest): OAuthError {
  if (error instanceof OAuthError) return error;
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new OAuthError('invalid_request', 'The body must be application/x-www-form-urlencoded');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new OAuthError('invalid_request', 'The request body is too large', { status: 413 });
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return new OAuthError('invalid_request', 'The request is malformed', {
      status,
      detail: fastifyError.message,
    });
  }
  request.log.error({ err: error }, 'unexpected error');
  return new OAuthError('server_error', 'The server encountered an unexpected error');
}

export function sendOAuthError(reply: FastifyReply, error: OAuthError): FastifyReply {
  if (error.detail) reply.request.log.info({ error: error.code, detail: error.detail }, 'oauth error');
  reply.code(error.status).header('cache-control', 'no-store').header('pragma', 'no-cache');
  for (const [name, value] of Object.entries(error.headers ?? {})) reply.header(name, value);
  const body: Record<string, string> = { error: error.code };
  if (error.description) body.error_description = safeDescription(error.description);
  return reply.type('application/json; charset=utf-8').send(body);
}

export function oauthErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  return sendOAuthError(reply, toOAuthError(error, request));
}
