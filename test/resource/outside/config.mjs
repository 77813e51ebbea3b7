// The settings every API under test reads from its environment (set by test/resource/package.test.ts).
export const issuer = process.env.ISSUER;
export const realm = 'api.example.test';
export const jwtResource = process.env.API_JWT;
export const opaqueResource = process.env.API_OPAQUE;
export const introspection = {
  endpoint: `${issuer}/introspect`,
  clientId: process.env.RS_CLIENT_ID,
  clientSecret: process.env.RS_CLIENT_SECRET,
  // Revocations are seen at once; an API would usually keep the 30 s default.
  cacheSeconds: 0,
};
