// An Express API in a project that installed the @gatehouse/resource tarball: ESM JavaScript, as in the README.
import { requireToken, serveResourceMetadata, tokenOf } from '@gatehouse/resource/express';
import express from 'express';
import { jwtApi, metadata, opaqueApi } from './config.mjs';

const app = express();
app.use(serveResourceMetadata(metadata));
const who = (req, res) => {
  const token = tokenOf(req);
  res.json({ framework: 'express', subject: token.subject, clientId: token.clientId, scopes: token.scopes });
};
app.get('/jwt/read', requireToken(jwtApi, 'read'), who);
app.get('/jwt/write', requireToken(jwtApi, 'write'), who);
app.get('/opaque/read', requireToken(opaqueApi, 'read'), who);

const server = app.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
