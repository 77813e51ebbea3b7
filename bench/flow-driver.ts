// A closed-loop driver for the stateful workloads autocannon cannot drive: each chain (a virtual client with its
// own keep-alive connection and cookie jar) does its steps one after the other, feeding each answer into the next
// request. Run as its own process (pinned to its own core by run.ts); reads its options as JSON from argv[2] and
// prints one JSON line (DriverResult). Every failed operation (unexpected status or answer) is counted and the
// first few are described; a chain that cannot sign in at all stops the driver with an error.
//
// Workloads:
//   refresh    one op = POST /token grant_type=refresh_token with the chain's current refresh token, which the
//              answer's new refresh token then replaces (each refresh token used once, as real clients do).
//   refresh-openid  the same with scope "openid api:read": each refresh also returns an ID token (OIDC Core
//              §12.2), so the difference from refresh is what that ID token costs.
//   code-flow  one op = GET /authorize (with the session cookie; consent is remembered) → redirect with a code →
//              POST /token with the code and the PKCE verifier → access token and ID token.
// Before measuring, every chain signs in once (and consents) by following redirects and submitting the forms it
// is shown: Gatehouse's real login and consent pages, node-oidc-provider's interaction route that accepts at once.
//
// Target "ceiling" sends the same requests to a server that answers 200 JSON to anything (no redirects, no state):
// what this driver manages on its own.
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';

export interface DriverOptions {
  workload: 'refresh' | 'refresh-openid' | 'code-flow';
  target: 'gatehouse' | 'node-oidc-provider' | 'ceiling';
  port: number;
  clientId: string;
  clientSecret: string;
  authorizePath: string;
  tokenPath: string;
  /** Gatehouse: the seeded users; chain i signs in as emails[i % length]. */
  users?: { emails: string[]; password: string };
  chains: number;
  /** Seconds of load before the measured window (chains already signed in). */
  warmup: number;
  /** Seconds measured. */
  duration: number;
  /** Processes whose CPU time (with that of their direct children, e.g. PostgreSQL backends) is measured. */
  cpuPids: number[];
  /** Milliseconds each chain waits between operations (bench/soak.ts: a steady load, not a saturating one). */
  pauseMs?: number;
}

export interface DriverResult {
  ops: number;
  opsPerSecond: number;
  /** Milliseconds per operation (a whole flow for code-flow); null (NaN) when no operation completed. */
  p50: number;
  p99: number;
  /** HTTP requests in the measured window. */
  requests: number;
  failures: number;
  failureSamples: string[];
  serverCpuMs: number;
  /** The part of serverCpuMs spent by the processes after the first in cpuPids (PostgreSQL). */
  helperCpuMs: number;
  /** The last token answer's shape, to show both servers issue the same kind of tokens. */
  answerShape: string;
}

const REDIRECT_URI = 'https://rp.example/cb';
const REQUEST_TIMEOUT_MS = 10_000;
const CLOCK_TICK_MS = 10; // Linux USER_HZ = 100

const options = JSON.parse(process.argv[2] ?? '{}') as DriverOptions;
const ceiling = options.target === 'ceiling';
const basic = `Basic ${Buffer.from(`${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`).toString('base64')}`;
const formType = 'application/x-www-form-urlencoded';

class Failure extends Error {}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Cookies by name, each sent only under its path (node-oidc-provider scopes its interaction cookies by path). */
class CookieJar {
  readonly #cookies = new Map<string, { value: string; path: string }>();

  store(setCookie: string[] | undefined) {
    for (const line of setCookie ?? []) {
      const [pair = '', ...attributes] = line.split(';');
      const equals = pair.indexOf('=');
      if (equals <= 0) continue;
      const name = pair.slice(0, equals).trim();
      const value = pair.slice(equals + 1).trim();
      let path = '/';
      let expired = value === '';
      for (const attribute of attributes) {
        const [key = '', val = ''] = attribute.trim().split('=');
        const lower = key.toLowerCase();
        if (lower === 'path') path = val;
        else if (lower === 'max-age' && Number(val) <= 0) expired = true;
        else if (lower === 'expires' && Date.parse(val) <= Date.now()) expired = true;
      }
      if (expired) this.#cookies.delete(name);
      else this.#cookies.set(name, { value, path });
    }
  }

  header(path: string): string | undefined {
    const parts: string[] = [];
    for (const [name, cookie] of this.#cookies) {
      if (path.startsWith(cookie.path)) parts.push(`${name}=${cookie.value}`);
    }
    return parts.length > 0 ? parts.join('; ') : undefined;
  }
}

/** The HTML entities Gatehouse's templates escape, decoded in form values. */
const unescapeHtml = (text: string) =>
  text
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');

function attributes(tag: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const match of tag.matchAll(/([a-zA-Z_:-]+)="([^"]*)"/g))
    found[match[1]!.toLowerCase()] = unescapeHtml(match[2]!);
  return found;
}

/**
 * What a user would submit on a sign-in or consent page: the form that asks for a password or has an "allow"
 * button (not, say, the page header's sign-out form), with its hidden fields, the email and password, and "allow".
 */
function fillForm(html: string, user: { email: string; password: string } | undefined) {
  const form = [...html.matchAll(/<form\b[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/gi)].find((match) =>
    /name="password"|value="allow"/.test(match[1]!),
  );
  if (!form) throw new Failure('sign-in: a page without a sign-in or consent form');
  const action = attributes(form[0].slice(0, form[0].indexOf('>') + 1)).action ?? '';
  const fields = new URLSearchParams();
  for (const [tag] of form[1]!.matchAll(/<input\b[^>]*>/gi)) {
    const input = attributes(tag);
    if (!input.name) continue;
    if (input.type === 'hidden') fields.append(input.name, input.value ?? '');
    else if (input.name === 'email' || input.name === 'password') {
      if (!user) throw new Failure('sign-in: asked for a password, but no user was given');
      fields.append(input.name, input.name === 'email' ? user.email : user.password);
    }
  }
  for (const [tag] of form[1]!.matchAll(/<button\b[^>]*>/gi)) {
    const button = attributes(tag);
    if (button.name && button.value === 'allow') fields.append(button.name, button.value);
  }
  return { action, body: fields.toString() };
}

const pkcePair = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

/** A token, described: "JWT ES256" or "opaque, 43 chars". */
function tokenShape(value: unknown): string {
  if (typeof value !== 'string') return String(value);
  const [header, , signature] = value.split('.');
  if (signature !== undefined) {
    try {
      return `JWT ${(JSON.parse(Buffer.from(header!, 'base64url').toString()) as { alg?: string }).alg}`;
    } catch {}
  }
  return `opaque, ${value.length} chars`;
}

let lastAnswer: Record<string, unknown> = {};
const answerShape = (answer: Record<string, unknown>) =>
  Object.entries(answer)
    .map(([name, value]) => `${name}: ${name.endsWith('token') ? tokenShape(value) : JSON.stringify(value)}`)
    .join('; ');

/** Counters of the current phase; reset when the measured window opens. */
const stats = { ops: 0, requests: 0, failures: 0, latencies: [] as number[], failureSamples: [] as string[] };

class Chain {
  // One keep-alive connection per chain, as autocannon's connections. The inactivity timeout is set once on the
  // socket here rather than per request (which re-arms it and adds socket listeners every time).
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 1, timeout: REQUEST_TIMEOUT_MS });
  readonly #jar = new CookieJar();
  readonly #user: { email: string; password: string } | undefined;
  /**
   * Each chain is a user on an address of its own (127.0.0.2, 127.0.0.3, …: all of 127/8 is loopback), as real
   * users are: from one address, 50 sign-ins at once would meet the per-address sign-in throttle, which counts
   * the attempts in progress (up to 20 at a time).
   */
  readonly #localAddress: string;
  refreshToken = '';

  constructor(index: number) {
    this.#localAddress = `127.0.${Math.floor((index + 2) / 250)}.${((index + 2) % 250) + 1}`;
    const users = options.users;
    if (users && users.emails.length > 0) {
      this.#user = { email: users.emails[index % users.emails.length]!, password: users.password };
    }
  }

  request(method: string, path: string, headers: http.OutgoingHttpHeaders = {}, body?: string) {
    stats.requests++;
    const cookie = this.#jar.header(path);
    return new Promise<Answer>((resolve, reject) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port: options.port,
          localAddress: this.#localAddress,
          method,
          path,
          agent: this.#agent,
          headers: {
            ...headers,
            ...(cookie ? { cookie } : {}),
            ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}),
          },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            text += chunk;
          });
          response.on('end', () => {
            this.#jar.store(response.headers['set-cookie']);
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text });
          });
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Failure(`${method} ${path}: no answer in time`)));
      request.on('error', reject);
      request.end(body);
    });
  }

  /**
   * GET /authorize and the redirects after it. With `interactive`, sign-in and consent pages on the way are
   * filled in and submitted (set-up); without, anything but an immediate redirect with a code is a failure.
   */
  async authorize(scope: string, interactive: boolean): Promise<{ code: string; verifier: string }> {
    const { verifier, challenge } = pkcePair();
    const state = randomBytes(12).toString('base64url');
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: options.clientId,
      redirect_uri: REDIRECT_URI,
      scope,
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    let answer = await this.request('GET', `${options.authorizePath}?${query}`);
    if (ceiling) {
      if (answer.status !== 200) throw new Failure(`authorize: ${answer.status}`);
      return { code: 'x'.repeat(43), verifier };
    }
    for (let hop = 0; hop < 12; hop++) {
      if (answer.status >= 300 && answer.status < 400 && answer.headers.location) {
        const location = answer.headers.location;
        if (location.startsWith(`${REDIRECT_URI}?`)) {
          const params = new URLSearchParams(location.slice(REDIRECT_URI.length + 1));
          const code = params.get('code');
          if (!code || params.get('state') !== state)
            throw new Failure(`authorize: redirected back without a code: ${location.slice(0, 200)}`);
          return { code, verifier };
        }
        if (!interactive) throw new Failure(`authorize: ${answer.status} to ${location.split('?')[0]}`);
        // Same server: only the path is followed (Gatehouse's bench issuer names port 0).
        const next = new URL(location, 'http://127.0.0.1');
        answer = await this.request('GET', `${next.pathname}${next.search}`);
      } else if (
        interactive &&
        answer.status === 200 &&
        /text\/html/.test(answer.headers['content-type'] ?? '')
      ) {
        const form = fillForm(answer.body, this.#user);
        answer = await this.request('POST', form.action, { 'content-type': formType }, form.body);
      } else {
        throw new Failure(`authorize: ${answer.status} ${answer.body.slice(0, 200)}`);
      }
    }
    throw new Failure('authorize: too many redirects');
  }

  async token(body: string): Promise<Record<string, unknown>> {
    const answer = await this.request(
      'POST',
      options.tokenPath,
      { authorization: basic, 'content-type': formType },
      body,
    );
    if (answer.status !== 200) throw new Failure(`token: ${answer.status} ${answer.body.slice(0, 200)}`);
    const json = JSON.parse(answer.body) as Record<string, unknown>;
    if (typeof json.access_token !== 'string') throw new Failure('token: no access_token');
    lastAnswer = json;
    return json;
  }

  exchange(code: string, verifier: string) {
    const body = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    });
    return this.token(body.toString());
  }

  /** One authorization code flow; the whole of it is one operation. */
  async codeFlow(interactive = false) {
    const { code, verifier } = await this.authorize('openid api:read', interactive);
    const answer = await this.exchange(code, verifier);
    if (!ceiling && typeof answer.id_token !== 'string') throw new Failure('code-flow: no id_token');
  }

  /** A first refresh token, through the code flow (without openid, unless refresh-openid: then ID tokens too). */
  async obtainRefreshToken(interactive: boolean) {
    if (ceiling) {
      this.refreshToken = randomBytes(32).toString('base64url');
      return;
    }
    const scope = options.workload === 'refresh-openid' ? 'openid api:read' : 'api:read';
    const { code, verifier } = await this.authorize(scope, interactive);
    const answer = await this.exchange(code, verifier);
    if (typeof answer.refresh_token !== 'string')
      throw new Failure('refresh: the code gave no refresh token');
    this.refreshToken = answer.refresh_token;
  }

  async refresh() {
    const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.refreshToken });
    const answer = await this.token(body.toString());
    if (ceiling) return;
    if (typeof answer.refresh_token !== 'string' || answer.refresh_token === this.refreshToken) {
      throw new Failure('refresh: the refresh token was not rotated');
    }
    const wantIdToken = options.workload === 'refresh-openid';
    if (wantIdToken !== (typeof answer.id_token === 'string')) {
      throw new Failure(wantIdToken ? 'refresh: no id_token' : 'refresh: unexpected id_token');
    }
    this.refreshToken = answer.refresh_token;
  }

  async setUp() {
    if (options.workload !== 'code-flow') await this.obtainRefreshToken(true);
    else if (!ceiling) await this.codeFlow(true);
  }

  async run(until: () => boolean) {
    while (!until()) {
      const began = performance.now();
      try {
        if (options.workload !== 'code-flow') await this.refresh();
        else await this.codeFlow();
        stats.latencies.push(performance.now() - began);
        stats.ops++;
        if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
      } catch (error) {
        stats.failures++;
        if (stats.failureSamples.length < 5) stats.failureSamples.push((error as Error).message);
        // A failed refresh leaves the chain without a usable token: get a new one (the session still stands).
        if (options.workload !== 'code-flow') await this.obtainRefreshToken(false).catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  }
}

/** CPU time of a process and of its direct children (PostgreSQL's backends are the postmaster's children). */
function treeCpuMs(pid: number): number {
  const cpu = (stat: string) => {
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return { ppid: Number(fields[1]), ms: (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS };
  };
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const { ppid, ms } = cpu(readFileSync(`/proc/${entry}/stat`, 'utf8'));
      if (Number(entry) === pid || ppid === pid) total += ms;
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return total;
}
const serverCpuMs = () => options.cpuPids.reduce((sum, pid) => sum + treeCpuMs(pid), 0);
const helperCpuMs = () => options.cpuPids.slice(1).reduce((sum, pid) => sum + treeCpuMs(pid), 0);

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

const chains = Array.from({ length: options.chains }, (_, index) => new Chain(index));
// Set-up failures are fatal: a chain that cannot sign in would silently lower the concurrency.
await Promise.all(chains.map((chain) => chain.setUp()));

// One flag ends the chains, after the measured window (not a deadline each chain checks: a chain must not stop
// at the end of the warm-up just before the window opens).
let stopped = false;
const running = Promise.all(chains.map((chain) => chain.run(() => stopped)));
await new Promise((resolve) => setTimeout(resolve, options.warmup * 1000));
// The measured window opens: the chains keep going, the counters start again.
Object.assign(stats, { ops: 0, requests: 0, failures: 0, latencies: [], failureSamples: [] });
const cpuBefore = serverCpuMs();
const helperBefore = helperCpuMs();
const began = performance.now();
await new Promise((resolve) => setTimeout(resolve, options.duration * 1000));
const elapsed = (performance.now() - began) / 1000;
const cpuAfter = serverCpuMs();
const helperAfter = helperCpuMs();
const measured = { ...stats, latencies: [...stats.latencies].sort((a, b) => a - b) };
stopped = true;
await running;

const result: DriverResult = {
  ops: measured.ops,
  opsPerSecond: measured.ops / elapsed,
  p50: percentile(measured.latencies, 0.5),
  p99: percentile(measured.latencies, 0.99),
  requests: measured.requests,
  failures: measured.failures,
  failureSamples: measured.failureSamples,
  serverCpuMs: cpuAfter - cpuBefore,
  helperCpuMs: helperAfter - helperBefore,
  answerShape: answerShape(lastAnswer),
};
if (result.failures > 0) {
  process.stderr.write(
    `warning: ${result.failures} failed ${options.workload} operations on ${options.target}: ${result.failureSamples.join(' | ')}\n`,
  );
}
process.stdout.write(`${JSON.stringify(result)}\n`);
