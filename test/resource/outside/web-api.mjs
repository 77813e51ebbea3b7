// The web-standard adapter on Node. Node has Request and Response but no server for them, so a few lines turn
// node:http requests into Requests (what Hono's and Next.js's Node servers do).
import { createServer } from 'node:http';
import { handlerFor } from './web-handlers.mjs';

const handle = handlerFor('web');
const server = createServer(async (req, res) => {
  const response = await handle(
    new Request(`http://${req.headers.host}${req.url}`, { headers: req.headers }),
  );
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
