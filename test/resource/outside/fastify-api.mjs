// A Fastify API in a project that installed the @gatehouse/resource tarball: the plugin and its decorators.
import { createVerifier, protectedResourceMetadataUrl } from '@gatehouse/resource';
import { fastifyAuthenticate, gatehouse } from '@gatehouse/resource/fastify';
import Fastify from 'fastify';
import { introspection, issuer, jwtResource, opaqueResource, realm } from './config.mjs';

const jwtApi = createVerifier({
  issuer,
  audience: jwtResource,
  jwks: `${issuer}/jwks`,
  realm,
  resourceMetadata: protectedResourceMetadataUrl(jwtResource),
});
const opaqueApi = createVerifier({ issuer, audience: opaqueResource, introspection, realm });

const app = Fastify();
await app.register(gatehouse, {
  verifier: jwtApi,
  metadata: { resource: jwtResource, authorizationServers: [issuer], scopes: ['read', 'write'] },
});
const who = async (request) => {
  const token = request.verifiedToken;
  return { framework: 'fastify', subject: token.subject, clientId: token.clientId, scopes: token.scopes };
};
app.get('/jwt/read', { preHandler: app.requireToken('read') }, who);
app.get('/jwt/write', { preHandler: app.requireToken('write') }, who);
// A second verifier on the same app: the plugin-free preHandler.
app.get('/opaque/read', { preHandler: fastifyAuthenticate(opaqueApi, 'read') }, who);

await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`listening ${app.server.address().port}`);
