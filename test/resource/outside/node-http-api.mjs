// A plain node:http API: authenticate() answers failures itself and resolves with the token or undefined.
import { createServer } from 'node:http';
import { createVerifier, protectedResourceMetadataUrl } from '@gatehouse/resource';
import { authenticate, serveResourceMetadata } from '@gatehouse/resource/node';
import { introspection, issuer, jwtResource, opaqueResource, realm } from './config.mjs';

const jwtApi = createVerifier({
  issuer,
  audience: jwtResource,
  jwks: `${issuer}/jwks`,
  realm,
  resourceMetadata: protectedResourceMetadataUrl(jwtResource),
});
const opaqueApi = createVerifier({ issuer, audience: opaqueResource, introspection, realm });
const metadata = serveResourceMetadata({
  resource: jwtResource,
  authorizationServers: [issuer],
  scopes: ['read', 'write'],
});
const routes = {
  '/jwt/read': [jwtApi, 'read'],
  '/jwt/write': [jwtApi, 'write'],
  '/opaque/read': [opaqueApi, 'read'],
};

const server = createServer(async (req, res) => {
  const route = routes[req.url];
  if (!route) {
    metadata(req, res, () => res.writeHead(404).end());
    return;
  }
  const token = await authenticate(route[0], req, res, route[1]);
  if (!token) return;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      framework: 'node-http',
      subject: token.subject,
      clientId: token.clientId,
      scopes: token.scopes,
    }),
  );
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
