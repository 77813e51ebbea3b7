// Error handler for HTML pages: a plain page, never a stack trace; 503 when the database is down.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError } from '../errors.ts';
import { type Brand, errorPage } from '../pages/error.ts';

/**
 * Whether the client asked for a page: a browser's navigation sends `Accept: text/html,…`; fetch(), curl and
 * the SDKs send a wildcard, `application/json` or nothing, and keep getting JSON.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  return /(^|,)\s*text\/html\s*(;|,|$)/i.test(accept) && !/(^|,)\s*application\/json\s*(,|$)/i.test(accept);
}

export function pageErrorHandler(brand: Brand) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    let status = 500;
    let title = 'Something went wrong';
    let message = 'The server could not complete this request. Please try again.';
    if (error instanceof OAuthError && error.status < 500) {
      status = error.status;
      title = 'This request cannot be completed';
      message = error.description ?? error.code;
    } else if (error instanceof OAuthError && error.code === 'temporarily_unavailable') {
      status = 503;
      title = 'Temporarily unavailable';
      message = 'The service is temporarily unavailable. Please try again in a moment.';
    } else if (
      (error as { code?: string }).code === 'FST_CSRF_INVALID_TOKEN' ||
      (error as { code?: string }).code === 'FST_CSRF_MISSING_SECRET'
    ) {
      status = 403;
      title = 'This form has expired';
      message = 'Go back, reload the page and try again.';
    } else if (
      typeof (error as { statusCode?: number }).statusCode === 'number' &&
      (error as { statusCode: number }).statusCode < 500
    ) {
      status = (error as { statusCode: number }).statusCode;
      title = 'This request cannot be completed';
      message = 'The request was malformed.';
    } else {
      request.log.error({ err: error }, 'unexpected error on a page');
    }
    return reply
      .code(status)
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(errorPage(brand, title, message));
  };
}
