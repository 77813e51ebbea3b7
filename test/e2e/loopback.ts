// The real server on a real loopback socket, for clients that speak HTTP themselves (a browser, oauth4webapi).
// The issuer is the address the client uses, http://127.0.0.1:<port>: cookies, the Origin check on form posts
// and the iss parameter all depend on that. Nothing here listens on or talks to anything but 127.0.0.1.
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { buildTestServer, type TestServer } from '../helpers/server.ts';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

export interface LoopbackServer {
  server: TestServer;
  /** http://127.0.0.1:<port>, the issuer and the only origin the client talks to. */
  issuer: string;
  close(): Promise<void>;
}

/** buildTestServer with the issuer set to the port it then listens on, and the clock set to the real time. */
export async function startLoopbackServer(
  env: Record<string, string> = {},
  options: { databaseUrl?: string; documentServer?: { ca: string } } = {},
): Promise<LoopbackServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const server = await buildTestServer({ GATEHOUSE_ISSUER: issuer, ...env }, options);
    // Independent clients check iat/exp against their own clock: let the server's clock show the real time.
    server.clock.advance(Date.now() - server.clock.now());
    try {
      await server.app.listen({ port, host: '127.0.0.1' });
      return { server, issuer, close: () => server.close() };
    } catch (error) {
      await server.close();
      // Someone took the port between the probe and listen: try another one.
      if ((error as { code?: string }).code !== 'EADDRINUSE' || attempt >= 3) throw error;
    }
  }
}

export interface CallbackServer {
  /** http://127.0.0.1:<port>/cb */
  redirectUri: string;
  /** Resolves with the URL of the next request to the callback (already received ones first). */
  next(): Promise<URL>;
  close(): Promise<void>;
}

/** A client's redirect endpoint on loopback that records every query it receives. */
export async function startCallbackServer(): Promise<CallbackServer> {
  const received: URL[] = [];
  const waiting: ((url: URL) => void)[] = [];
  let origin = '';
  const server: Server = createHttpServer((request: IncomingMessage, response) => {
    const url = new URL(request.url ?? '/', origin);
    if (url.pathname === '/cb') {
      const waiter = waiting.shift();
      if (waiter) waiter(url);
      else received.push(url);
    }
    response.writeHead(url.pathname === '/cb' ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    response.end('<!doctype html><title>Callback</title><p>Back at the client.</p>');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('callback server has no address');
  origin = `http://127.0.0.1:${address.port}`;
  return {
    redirectUri: `${origin}/cb`,
    next() {
      const first = received.shift();
      if (first) return Promise.resolve(first);
      return new Promise((resolve) => waiting.push(resolve));
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
