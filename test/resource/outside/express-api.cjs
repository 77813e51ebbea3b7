// The same Express API in CommonJS: require() of the package (Node's require(esm), Node 22.12 and later).
const { createVerifier, protectedResourceMetadataUrl } = require('@gatehouse/resource');
const { requireToken, serveResourceMetadata, tokenOf } = require('@gatehouse/resource/express');
const express = require('express');

const issuer = process.env.ISSUER;
const realm = 'api.example.test';
const jwtResource = process.env.API_JWT;
const opaqueResource = process.env.API_OPAQUE;
const introspection = {
  endpoint: `${issuer}/introspect`,
  clientId: process.env.RS_CLIENT_ID,
  clientSecret: process.env.RS_CLIENT_SECRET,
  cacheSeconds: 0,
};

const jwtApi = createVerifier({
  issuer,
  audience: jwtResource,
  jwks: `${issuer}/jwks`,
  realm,
  resourceMetadata: protectedResourceMetadataUrl(jwtResource),
});
const opaqueApi = createVerifier({ issuer, audience: opaqueResource, introspection, realm });

const app = express();
app.use(
  serveResourceMetadata({ resource: jwtResource, authorizationServers: [issuer], scopes: ['read', 'write'] }),
);
const who = (req, res) => {
  const token = tokenOf(req);
  res.json({
    framework: 'express-cjs',
    subject: token.subject,
    clientId: token.clientId,
    scopes: token.scopes,
  });
};
app.get('/jwt/read', requireToken(jwtApi, 'read'), who);
app.get('/jwt/write', requireToken(jwtApi, 'write'), who);
app.get('/opaque/read', requireToken(opaqueApi, 'read'), who);

const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
