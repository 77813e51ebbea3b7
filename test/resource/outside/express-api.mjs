// An Express API in a project that installed the @gatehouse/resource tarball: ESM JavaScript, as in the README.
import { createVerifier, protectedResourceMetadataUrl } from '@gatehouse/resource';
import { requireToken, serveResourceMetadata, tokenOf } from '@gatehouse/resource/express';
import express from 'express';
import { introspection, issuer, jwtResource, opaqueResource, realm } from './config.mjs';

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
  res.json({ framework: 'express', subject: token.subject, clientId: token.clientId, scopes: token.scopes });
};
app.get('/jwt/read', requireToken(jwtApi, 'read'), who);
app.get('/jwt/write', requireToken(jwtApi, 'write'), who);
app.get('/opaque/read', requireToken(opaqueApi, 'read'), who);

const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
