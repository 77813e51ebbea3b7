// The web-standard adapter on runtimes that serve Request/Response themselves, with no Node bridge: Deno.serve and
// Bun.serve.
import { handlerFor } from './web-handlers.mjs';

if (globalThis.Deno) {
  const handle = handlerFor('deno');
  Deno.serve(
    { port: 0, hostname: '127.0.0.1', onListen: ({ port }) => console.log(`listening ${port}`) },
    handle,
  );
} else if (globalThis.Bun) {
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: handlerFor('bun') });
  console.log(`listening ${server.port}`);
} else {
  throw new Error('run this with deno or bun');
}
