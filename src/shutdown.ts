// Stopping without failing a request (docs/security.md R15). Node's server.close() alone closes idle keep-alive
// connections at once, so a request a client sends on one a moment later meets a reset; Fastify's close()
// answers requests on busy connections with 503. Instead, on SIGTERM:
// 1. readiness fails at once (/health/ready answers 503), so load balancers stop sending here, and the
//    listening socket closes: no new connections;
// 2. requests still arriving on open keep-alive connections are answered as usual, with `Connection: close`
//    so the client moves on, for GATEHOUSE_SHUTDOWN_DRAIN seconds or until every connection has closed;
// 3. then idle connections close, what is in flight is answered, storage closes (app.close()), exit 0.
// GATEHOUSE_SHUTDOWN_TIMEOUT seconds after the signal the process exits anyway (code 1). Ctrl-C (SIGINT)
// skips the drain window.
//
// With --workers the primary shares one listening socket among the workers. A client told `Connection: close`
// by one worker reconnects at once, and if the primary still listens (another worker has not closed yet) it
// accepts the connection and may then drop it when the last worker leaves: a reset. So the primary runs step
// 1 in every worker first, and only once all have stopped listening (the shared socket is closed) step 2.
import type { Worker } from 'node:cluster';
import { Server as NetServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.ts';

type Phase = 'serving' | 'not-ready' | 'draining';

interface ShutdownMessage {
  gatehouse: 'stop-listening' | 'stopped-listening' | 'drain';
}
const isShutdownMessage = (message: unknown, kind: ShutdownMessage['gatehouse']) =>
  typeof message === 'object' && message !== null && (message as ShutdownMessage).gatehouse === kind;

export interface ServerShutdown {
  /** True from the signal on: readiness fails. */
  notReady(): boolean;
  /** After listen: answers SIGTERM/SIGINT (and, in a --workers worker, the primary's messages). */
  install(app: FastifyInstance, config: Config): void;
}

export function serverShutdown(): ServerShutdown {
  let phase: Phase = 'serving';
  return {
    notReady: () => phase !== 'serving',
    install(app, config) {
      const server = app.server;
      // Before Fastify's own listener, so that the header is there whatever answers the request.
      server.prependListener('request', (_request, response) => {
        if (phase === 'draining') response.setHeader('connection', 'close');
      });
      let allClosed: Promise<void> | undefined;
      let done: Promise<void> | undefined;

      function stopListening() {
        if (phase !== 'serving') return;
        phase = 'not-ready';
        allClosed = new Promise<void>((resolve) => server.once('close', () => resolve()));
        // net.Server's close stops listening without http.Server's closeIdleConnections().
        NetServer.prototype.close.call(server);
        setTimeout(() => {
          app.log.error(
            { timeoutSeconds: config.shutdownTimeout },
            'shutdown took too long; closing the remaining connections',
          );
          server.closeAllConnections();
          process.exit(1);
        }, config.shutdownTimeout * 1000).unref();
      }

      function drainAndExit(drainMs: number) {
        stopListening();
        done ??= (async () => {
          phase = 'draining';
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            allClosed,
            new Promise<void>((resolve) => {
              timer = setTimeout(resolve, drainMs);
            }),
          ]);
          clearTimeout(timer);
          server.closeIdleConnections();
          await app.close();
        })().then(
          () => process.exit(0),
          (err: unknown) => {
            app.log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      }

      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        // `on`, not `once`: a second signal (Ctrl-C reaches a worker from the terminal and from the primary)
        // must not fall back to the default action, which kills the process mid-request.
        process.on(signal, () => {
          if (done) return;
          const drainMs = signal === 'SIGTERM' ? config.shutdownDrain * 1000 : 0;
          app.log.info({ signal, drainMs }, 'shutting down');
          drainAndExit(drainMs);
        });
      }
      // A --workers worker: the primary's two steps.
      process.on('message', (message: unknown) => {
        if (isShutdownMessage(message, 'stop-listening')) {
          app.log.info('shutting down: stopped listening');
          stopListening();
          // Sent after the cluster's own message that closes this worker's share of the socket: the primary
          // reads them in order.
          process.send?.({ gatehouse: 'stopped-listening' } satisfies ShutdownMessage);
        } else if (isShutdownMessage(message, 'drain')) {
          drainAndExit(config.shutdownDrain * 1000);
        }
      });
    },
  };
}

/**
 * The --workers primary on SIGTERM: every worker stops listening, then (the shared socket closed) every
 * worker drains. Resolves with the exit code once all have exited; past the bound, kills what is left.
 * A worker still starting up (not listening yet) has no handler for the primary's messages: it is asked to
 * stop listening as soon as it listens, which is also when its handler is in place (src/main.ts installs it
 * right after listen, before anything else can run).
 */
export function stopWorkers(
  workers: Worker[],
  signal: 'SIGINT' | 'SIGTERM',
  config: Config,
  isListening: (worker: Worker) => boolean,
): Promise<number> {
  return new Promise((resolve) => {
    if (workers.length === 0) return resolve(0);
    let left = workers.length;
    let listening = workers.length;
    let failed = false;
    const stoppedListening = () => {
      listening -= 1;
      if (listening === 0) {
        for (const worker of workers) if (worker.isConnected()) worker.send({ gatehouse: 'drain' });
      }
    };
    for (const worker of workers) {
      let replied = false;
      worker.on('message', (message: unknown) => {
        if (!replied && isShutdownMessage(message, 'stopped-listening')) {
          replied = true;
          stoppedListening();
        }
      });
      worker.once('exit', (code) => {
        failed ||= code !== 0;
        if (!replied) {
          replied = true;
          stoppedListening();
        }
        left -= 1;
        if (left === 0) resolve(failed ? 1 : 0);
      });
      // Ctrl-C reaches the workers too (one process group) and stops them at once; SIGTERM is the primary's.
      if (signal === 'SIGINT') worker.process.kill(signal);
      else if (isListening(worker)) worker.send({ gatehouse: 'stop-listening' } satisfies ShutdownMessage);
      else
        worker.once('listening', () =>
          worker.send({ gatehouse: 'stop-listening' } satisfies ShutdownMessage),
        );
    }
    setTimeout(
      () => {
        for (const worker of workers) worker.process.kill('SIGKILL');
        resolve(1);
      },
      config.shutdownTimeout * 1000 + 2000,
    ).unref();
  });
}
