// The web-standard adapter, as a Next.js route handler or a Worker would use it. Node has Request and Response
// but no server for them, so a few lines below turn node:http requests into Requests (what Hono's and Next.js's
// Node servers do).
import { createServer } from 'node:http';
import {
  createVerifier,
  protectedResourceMetadataPath,
  protectedResourceMetadataUrl,
} from '@gatehouse/resource';
import { resourceMetadataHandler, withToken } from '@gatehouse/resource/web';
import { introspection, issuer, jwtResource, opaqueResource, realm } from './config.mjs';

const jwtApi = createVerifier({
  issuer,
  audience: jwtResource,
  jwks: `${issuer}/jwks`,
  realm,
  resourceMetadata: protectedResourceMetadataUrl(jwtResource),
});
const opaqueApi = createVerifier({ issuer, audience: opaqueResource, introspection, realm });
const who = async (_request, token) =>
  Response.json({ framework: 'web', subject: token.subject, clientId: token.clientId, scopes: token.scopes });

const handlers = {
  '/jwt/read': withToken(jwtApi, ['read'], who),
  '/jwt/write': withToken(jwtApi, ['write'], who),
  '/opaque/read': withToken(opaqueApi, ['read'], who),
  [protectedResourceMetadataPath(jwtResource)]: resourceMetadataHandler({
    resource: jwtResource,
    authorizationServers: [issuer],
    scopes: ['read', 'write'],
  }),
};

const server = createServer(async (req, res) => {
  const handler = handlers[req.url];
  const request = new Request(`http://${req.headers.host}${req.url}`, { headers: req.headers });
  const response = handler ? await handler(request) : new Response(null, { status: 404 });
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
