// An https server on 127.0.0.1 that plays a client's web site: it serves Client ID Metadata Documents and key
// sets (and whatever a test scripts: redirects, slow or huge answers) and counts the requests each path gets.
// Its certificate is made once per process with openssl (self-signed, for 127.0.0.1 and localhost); Gatehouse
// trusts it only through buildTestServer's test-only `documentServer` option.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface ScriptedAnswer {
  status?: number;
  headers?: Record<string, string>;
  body?: string | object;
  /** Wait this long before answering (a slow host). */
  delayMs?: number;
}

export interface DocumentServer {
  /** https://127.0.0.1:<port> */
  origin: string;
  /** The PEM certificate to trust. */
  ca: string;
  /** What `path` answers from now on (a JSON body gets application/json unless headers say otherwise). */
  serve(path: string, answer: ScriptedAnswer | (() => ScriptedAnswer)): string;
  /** Requests `path` has received. */
  hits(path: string): number;
  close(): Promise<void>;
}

let certificate: { key: string; cert: string } | undefined;

function selfSigned(): { key: string; cert: string } {
  if (certificate) return certificate;
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    certificate = {
      key: readFileSync(path.join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8'),
    };
    return certificate;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startDocumentServer(): Promise<DocumentServer> {
  const { key, cert } = selfSigned();
  const routes = new Map<string, ScriptedAnswer | (() => ScriptedAnswer)>();
  const counts = new Map<string, number>();
  const server: Server = createServer({ key, cert }, (request, response) => {
    const pathname = new URL(request.url ?? '/', 'https://127.0.0.1').pathname;
    counts.set(pathname, (counts.get(pathname) ?? 0) + 1);
    const route = routes.get(pathname);
    const answer = typeof route === 'function' ? route() : route;
    const send = () => {
      if (!answer) {
        response.writeHead(404).end();
        return;
      }
      const body = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {});
      response.writeHead(answer.status ?? 200, {
        'content-type': 'application/json',
        ...answer.headers,
      });
      response.end(body);
    };
    if (answer?.delayMs) setTimeout(send, answer.delayMs);
    else send();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('document server has no address');
  const origin = `https://127.0.0.1:${address.port}`;
  return {
    origin,
    ca: cert,
    serve(pathname, answer) {
      routes.set(pathname, answer);
      return `${origin}${pathname}`;
    },
    hits: (pathname) => counts.get(pathname) ?? 0,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
