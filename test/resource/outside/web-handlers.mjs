// The web-standard handlers, as a Next.js route file or a Cloudflare Worker would export them: one function from
// Request to Response per path. web-api.mjs serves them from node:http, web-runtime-api.mjs from Deno and Bun.
import { protectedResourceMetadataPath } from '@gatehouse/resource';
import { resourceMetadataHandler, withToken } from '@gatehouse/resource/web';
import { jwtApi, jwtResource, metadata, opaqueApi } from './config.mjs';

export function handlerFor(framework) {
  const who = async (_request, token) =>
    Response.json({ framework, subject: token.subject, clientId: token.clientId, scopes: token.scopes });
  const handlers = {
    '/jwt/read': withToken(jwtApi, ['read'], who),
    '/jwt/write': withToken(jwtApi, ['write'], who),
    '/opaque/read': withToken(opaqueApi, ['read'], who),
    [protectedResourceMetadataPath(jwtResource)]: resourceMetadataHandler(metadata),
  };
  return (request) => {
    const handler = handlers[new URL(request.url).pathname];
    return handler ? handler(request) : new Response(null, { status: 404 });
  };
}
