// Type-checked (never run) in projects that installed the tarball, under tsc --noEmit with strict settings and
// moduleResolution nodenext and bundler: every adapter used as the package README shows, with the types a
// TypeScript user relies on (VerifiedToken fields, Fastify's decorators, the web handler's signature).
import { createServer } from 'node:http';
import {
  BearerError,
  createVerifier,
  protectedResourceMetadataUrl,
  type VerifiedToken,
  type Verifier,
} from '@gatehouse/resource';
import { requireToken, serveResourceMetadata, tokenOf } from '@gatehouse/resource/express';
import { gatehouse } from '@gatehouse/resource/fastify';
import { authenticate } from '@gatehouse/resource/node';
import { checkRequest, resourceMetadataHandler, withToken } from '@gatehouse/resource/web';
import express from 'express';
import Fastify from 'fastify';

const issuer = 'https://login.example.com';
const resource = 'https://api.example.com/v1';
const verifier: Verifier = createVerifier({
  issuer,
  audience: resource,
  jwks: `${issuer}/jwks`,
  introspection: {
    endpoint: `${issuer}/introspect`,
    clientId: 'rs',
    clientSecret: 'secret',
    cacheSeconds: 10,
  },
  resourceMetadata: protectedResourceMetadataUrl(resource),
});

// Express
const app = express();
app.use(serveResourceMetadata({ resource, authorizationServers: [issuer] }));
app.get('/meetings', requireToken(verifier, 'meeting:read'), (req, res) => {
  const token: VerifiedToken | undefined = tokenOf(req);
  res.json({ user: token?.subject, scopes: token?.scopes.join(' ') });
});

// Fastify
const fastify = Fastify();
await fastify.register(gatehouse, { verifier, metadata: { resource, authorizationServers: [issuer] } });
fastify.get('/meetings', { preHandler: fastify.requireToken('meeting:read') }, async (request) => {
  const subject: string | undefined = request.verifiedToken?.subject;
  return { subject };
});

// node:http
createServer(async (req, res) => {
  const token = await authenticate(verifier, req, res, 'meeting:read');
  if (!token) return;
  const expires: number | undefined = token.expiresAt;
  res.end(JSON.stringify({ expires }));
});

// Web-standard handlers (Next.js route handlers, Hono, Workers)
export const GET = withToken(verifier, ['meeting:read'], async (_request: Request, token: VerifiedToken) =>
  Response.json({ user: token.subject }),
);
export const metadata: () => Response = resourceMetadataHandler({ resource, authorizationServers: [issuer] });
export async function handle(request: Request): Promise<Response> {
  const { token, response } = await checkRequest(verifier, request, 'meeting:read');
  if (response) return response;
  return Response.json({ client: token.clientId });
}

// Errors: the RFC 6750 answer for anything the application decides itself.
const error = new BearerError('insufficient_scope', 'Admins only', 'admin');
export const challenge: string = error.challenge({ realm: 'api' });
