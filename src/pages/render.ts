import type {} from '@fastify/csrf-protection';
import type { FastifyReply } from 'fastify';

export function sendPage(reply: FastifyReply, page: string, status = 200) {
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page);
}

export function csrfToken(reply: FastifyReply): string {
  return reply.generateCsrf();
}
