// docs/security.md R15: SIGTERM under load drops nothing. A real `gatehouse start` process (and `--workers 2`) on a
// SQLite file gets SIGTERM while several keep-alive connections send continuously (token requests and
// discovery, a few milliseconds apart, as pooling clients and load balancers do). Every request that reaches
// the server is answered with JSON; none meets a reset; readiness reports 503 during the drain; the process
// exits by itself, before its shutdown bound (exit code 0: the bound's forced exit is code 1).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../e2e/loopback.ts';
import { existingSqliteUrl, runCliCaptured } from '../helpers/cli.ts';
import { basicAuth } from '../helpers/flow.ts';
import { startGatehouse } from '../helpers/process.ts';

const CONNECTIONS = 8;

interface Answer {
  status: number;
  json: unknown;
  connectionClose: boolean;
}

function send(
  agent: Agent,
  port: number,
  method: string,
  url: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, method, path: url, agent, headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('error', reject);
      response.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({
          status: response.statusCode ?? 0,
          json: String(response.headers['content-type']).startsWith('application/json') ? json : undefined,
          connectionClose: response.headers.connection === 'close',
        });
      });
    });
    outgoing.on('error', (error) =>
      reject(Object.assign(error, { reusedSocket: outgoing.reusedSocket, url, at: Date.now() })),
    );
    outgoing.end(body);
  });
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('R15: SIGTERM under keep-alive load', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-shutdown-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const workers of [1, 2]) {
    const args = workers === 1 ? ['start'] : ['start', '--workers', String(workers)];
    it(`gatehouse ${args.join(' ')}: no resets, no non-JSON answers, readiness 503 while draining, exit 0`, async () => {
      const port = await freePort();
      const env = {
        DATABASE_URL: existingSqliteUrl(path.join(dir, `gatehouse-${workers}.db`)),
        GATEHOUSE_DATA_DIR: dir,
        GATEHOUSE_SECRET: 'shutdown-test-secret-shutdown-test-secret-0123',
        GATEHOUSE_PASSWORD_COST: '10',
        // Every client sends within milliseconds, so 1 s would do on an idle machine; 3 s keeps a client whose
        // event loop is starved (a busy CI machine) from being idle for the whole window.
        GATEHOUSE_SHUTDOWN_DRAIN: '3',
        GATEHOUSE_SHUTDOWN_TIMEOUT: '10',
        LOG_LEVEL: 'warn',
        HOST: '127.0.0.1',
        PORT: String(port),
      };
      const created = await runCliCaptured(
        ['clients', 'add', '--name', 'machine', '--grant', 'client_credentials', '--scope', 'api:read'],
        env,
      );
      assert.equal(created.code, 0, created.stderr);
      const { client_id: clientId, client_secret: secret } = JSON.parse(created.stdout);
      const tokenHeaders = {
        authorization: basicAuth(clientId, secret),
        'content-type': 'application/x-www-form-urlencoded',
      };

      const server = startGatehouse({ env, port, workers: workers === 1 ? undefined : workers });
      try {
        await server.waitUntilReady('/health/ready');

        let signalled = false;
        let signalledAt = 0;
        const failures: string[] = [];
        let resets = 0;
        let answered = 0;
        let drainedWithClose = 0;
        let readinessWhileDraining = 0;

        // Each client keeps one keep-alive connection and sends on it until the server stops listening.
        const client = async (index: number) => {
          const agent = new Agent({ keepAlive: true, maxSockets: 1 });
          let sent = 0;
          try {
            for (;;) {
              const probe = index === 0;
              const call = probe
                ? send(agent, port, 'GET', '/health/ready')
                : index % 2 === 0
                  ? send(agent, port, 'GET', '/.well-known/openid-configuration')
                  : send(agent, port, 'POST', '/token', tokenHeaders, 'grant_type=client_credentials');
              let answer: Answer;
              try {
                answer = await call;
              } catch (error) {
                const code = (error as NodeJS.ErrnoException).code;
                // The listening socket is closed: a new connection is refused, the client goes elsewhere.
                if (code === 'ECONNREFUSED' && signalled) return sent;
                if (code === 'ECONNRESET' || code === 'EPIPE') {
                  resets++;
                  const { reusedSocket, url, at } = error as {
                    reusedSocket?: boolean;
                    url?: string;
                    at?: number;
                  };
                  failures.push(
                    `client ${index}: ${code} on ${reusedSocket ? 'a reused' : 'a new'} connection, ${url}, ${signalled ? `${(at ?? 0) - signalledAt} ms after SIGTERM` : 'before SIGTERM'}`,
                  );
                } else failures.push(`client ${index}: ${code ?? String(error)}`);
                if (!signalled) return sent;
                continue;
              }
              sent++;
              answered++;
              if (answer.json === undefined) failures.push(`client ${index}: ${answer.status} without JSON`);
              else if (probe && answer.status === 503) {
                assert.deepEqual(answer.json, { status: 'unavailable', reason: 'shutting_down' });
                readinessWhileDraining++;
              } else if (answer.status !== 200) {
                failures.push(`client ${index}: ${answer.status} ${JSON.stringify(answer.json)}`);
              } else if (answer.connectionClose && signalled) {
                drainedWithClose++;
              }
              await pause((index * 3) % 16);
            }
          } finally {
            agent.destroy();
          }
        };
        const clients = Array.from({ length: CONNECTIONS }, (_, index) => client(index));
        while (answered < CONNECTIONS * 20) await pause(10);
        signalled = true;
        signalledAt = Date.now();
        const stopped = server.stop();
        const counts = await Promise.all(clients);
        const code = await stopped;

        assert.deepEqual(failures, [], server.output());
        assert.equal(resets, 0, `connection resets: ${server.output()}`);
        assert.equal(code, 0, `exit code (1 = the shutdown bound forced it): ${server.output()}`);
        assert.ok(
          counts.every((count) => count > 0),
          `every client was answered: ${counts.join(', ')}`,
        );
        assert.ok(readinessWhileDraining > 0, 'readiness said 503 while the server drained');
        assert.ok(drainedWithClose > 0, 'requests on open connections were answered during the drain');
      } finally {
        await server.stop('SIGKILL');
      }
    });
  }

  it('gatehouse start --workers 2, SIGTERM before the workers listen: they stop when they do, exit 0', async () => {
    // The primary prints its banner before it forks: a SIGTERM sent then reaches it while no worker has its
    // shutdown handler yet. The primary must not ask them to stop before they can hear it (they would never
    // answer, and the bound would kill them: exit code 1).
    const port = await freePort();
    const server = startGatehouse({
      env: {
        DATABASE_URL: `sqlite:${path.join(dir, 'gatehouse-early.db')}`,
        GATEHOUSE_DATA_DIR: dir,
        GATEHOUSE_SECRET: 'shutdown-test-secret-shutdown-test-secret-0123',
        GATEHOUSE_SHUTDOWN_DRAIN: '3',
        GATEHOUSE_SHUTDOWN_TIMEOUT: '10',
        LOG_LEVEL: 'warn',
        HOST: '127.0.0.1',
        PORT: String(port),
      },
      port,
      workers: 2,
    });
    try {
      await server.waitForOutput('worker processes');
      assert.equal(
        await server.stop(),
        0,
        `exit code (1 = the shutdown bound forced it): ${server.output()}`,
      );
    } finally {
      await server.stop('SIGKILL');
    }
  });
});
