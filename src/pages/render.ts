import type {} from '@fastify/csrf-protection';
import type { FastifyReply } from 'fastify';

export function sendPage(reply: FastifyReply, page: string, status = 200) {
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page);
}

// One token per response: each generateCsrf() call on a first visit makes a new secret cookie, and only the
// last one would match the forms rendered with the earlier tokens.
const tokens = new WeakMap<FastifyReply, string>();

export function csrfToken(reply: FastifyReply): string {
  let token = tokens.get(reply);
  if (!token) {
    token = reply.generateCsrf();
    tokens.set(reply, token);
  }
  return token;
}
