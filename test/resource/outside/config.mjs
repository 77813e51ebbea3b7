// What every API under test shares: the settings from its environment (set by test/resource/package.test.ts) and
// the two verifiers, built as the package README shows. Read under Node, Deno and Bun alike.
import { createVerifier, protectedResourceMetadataUrl } from '@gatehouse/resource';

const env = (name) => globalThis.Deno?.env.get(name) ?? globalThis.process?.env[name];

export const issuer = env('ISSUER');
export const jwtResource = env('API_JWT');
const realm = 'api.example.test';

/** The API whose tokens are JWTs: checked offline against the JWKS. */
export const jwtApi = createVerifier({
  issuer,
  audience: jwtResource,
  jwks: `${issuer}/jwks`,
  realm,
  resourceMetadata: protectedResourceMetadataUrl(jwtResource),
});

/** The API whose tokens are opaque: introspected, with no cache so that revocations are seen at once. */
export const opaqueApi = createVerifier({
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

/** The RFC 9728 document of the JWT API. */
export const metadata = { resource: jwtResource, authorizationServers: [issuer], scopes: ['read', 'write'] };
