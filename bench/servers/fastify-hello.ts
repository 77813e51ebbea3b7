// The ceiling for one Node process here: Fastify 5 answering a small JSON document.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
// The same body handling a token endpoint needs: a parsed form.
app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) =>
  done(null, Object.fromEntries(new URLSearchParams(body as string))),
);
app.get('/.well-known/openid-configuration', async () => ({ hello: 'world' }));
app.post('/token', async () => ({ hello: 'world' }));
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(
  `${JSON.stringify({ port: (app.server.address() as { port: number }).port, clientId: '', clientSecret: '' })}\n`,
);
