// The web-standard adapter on runtimes that serve Request/Response themselves, with no Node bridge: Deno.serve and
// Bun.serve. The same handlers a Next.js route or a Cloudflare Worker exports.
import {
  createVerifier,
  protectedResourceMetadataPath,
  protectedResourceMetadataUrl,
} from '@gatehouse/resource';
import { resourceMetadataHandler, withToken } from '@gatehouse/resource/web';

const env = (name) => globalThis.Deno?.env.get(name) ?? globalThis.process?.env[name];
const issuer = env('ISSUER');
const jwtResource = env('API_JWT');
const realm = 'api.example.test';
const runtime = globalThis.Deno ? 'deno' : globalThis.Bun ? 'bun' : 'unknown';

const jwtApi = createVerifier({
  issuer,
  audience: jwtResource,
  jwks: `${issuer}/jwks`,
  realm,
  resourceMetadata: protectedResourceMetadataUrl(jwtResource),
});
const opaqueApi = createVerifier({
  issuer,
  audience: env('API_OPAQUE'),
  introspection: {
    endpoint: `${issuer}/introspect`,
    clientId: env('RS_CLIENT_ID'),
    clientSecret: env('RS_CLIENT_SECRET'),
    cacheSeconds: 0,
  },
  realm,
});
const who = async (_request, token) =>
  Response.json({
    framework: runtime,
    subject: token.subject,
    clientId: token.clientId,
    scopes: token.scopes,
  });
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
const handle = (request) => {
  const handler = handlers[new URL(request.url).pathname];
  return handler ? handler(request) : new Response(null, { status: 404 });
};

if (globalThis.Deno) {
  Deno.serve(
    { port: 0, hostname: '127.0.0.1', onListen: ({ port }) => console.log(`listening ${port}`) },
    handle,
  );
} else if (globalThis.Bun) {
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: handle });
  console.log(`listening ${server.port}`);
} else {
  throw new Error('run this with deno or bun');
}
