// A plain node:http API: authenticate() answers failures itself and resolves with the token or undefined.
import { createServer } from 'node:http';
import { authenticate, serveResourceMetadata } from '@gatehouse/resource/node';
import { jwtApi, metadata, opaqueApi } from './config.mjs';

const serveMetadata = serveResourceMetadata(metadata);
const routes = {
  '/jwt/read': [jwtApi, 'read'],
  '/jwt/write': [jwtApi, 'write'],
  '/opaque/read': [opaqueApi, 'read'],
};

const server = createServer(async (req, res) => {
  const route = routes[req.url];
  if (!route) {
    serveMetadata(req, res, () => res.writeHead(404).end());
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
