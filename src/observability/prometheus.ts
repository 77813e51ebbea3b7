// Prometheus metrics, on when GATEHOUSE_METRICS_ADDRESS is set: metrics.ts's interface over prom-client, and
// the listener of its own that serves GET /metrics (never the public port). Imported only when metrics are on.
//
// prom-client formats the exposition text, collects Node's process metrics (CPU, memory, GC, event-loop lag)
// and, under --workers, has the primary ask every worker for its series and sum them (AggregatorRegistry).
// The two histograms fed on every request, HTTP and storage latency, are Gatehouse's own small ones: each
// series is looked up without building a key and bumped with a few array writes. prom-client's observe()
// hashes its label object on every call (0.3 to 0.5 µs and some garbage per observation, measured); its
// counters (about 0.1 µs an increment) serve everything else.
import { createServer, type Server } from 'node:http';
import { AggregatorRegistry, Counter, collectDefaultMetrics, type Metric, Registry } from 'prom-client';
import type { OperationRecorder, StorageObserver } from '../storage/kysely/index.ts';
import type { LoginOutcome, Metrics } from './metrics.ts';

// Seconds. A token request takes about a millisecond, a sign-in hundreds (scrypt): both ends are covered.
const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const STORAGE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];
// Transactions per group commit; at most 256 (group-commit.ts).
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/** One label set of a histogram: a count per bucket (the last one is +Inf), the sum and the count. */
class Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly #bounds: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(labels: Record<string, string>, bounds: readonly number[]) {
    this.labels = labels;
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number) {
    const bounds = this.#bounds;
    let bucket = 0;
    while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket++;
    this.counts[bucket] = (this.counts[bucket] as number) + 1;
    this.sum += value;
    this.count += 1;
  }
}

/** A histogram read by prom-client's registry through get(), in the shape its own histograms give. */
class Histogram {
  readonly name: string;
  readonly help: string;
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, Series>();

  constructor(name: string, help: string, bounds: readonly number[]) {
    this.name = name;
    this.help = help;
    this.#bounds = bounds;
  }

  /** The series for these labels; callers keep it (looking it up builds a key). */
  series(labels: Record<string, string>): Series {
    const key = JSON.stringify(labels);
    let series = this.#series.get(key);
    if (!series) {
      series = new Series(labels, this.#bounds);
      this.#series.set(key, series);
    }
    return series;
  }

  async get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const series of this.#series.values()) {
      let cumulative = 0;
      this.#bounds.forEach((le, bucket) => {
        cumulative += series.counts[bucket] as number;
        values.push({
          labels: { ...series.labels, le },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      });
      const { labels, count, sum } = series;
      values.push({ labels: { ...labels, le: '+Inf' }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: count, metricName: `${this.name}_count` });
    }
    // Summed across --workers, as prom-client's own histograms are.
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }

  reset() {
    this.#series.clear();
  }
}

export interface PrometheusMetrics extends Metrics {
  readonly registry: Registry;
}

export function createPrometheusMetrics(): PrometheusMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const histogram = (name: string, help: string, bounds: readonly number[]) => {
    const created = new Histogram(name, help, bounds);
    // The registry's type lists prom-client's own classes; it reads any metric through get() and reset().
    registry.registerMetric(created as unknown as Metric);
    return created;
  };
  const counter = <Label extends string>(name: string, help: string, labelNames: Label[] = []) =>
    new Counter({ name, help, labelNames, registers: [registry] });

  const http = histogram(
    'gatehouse_http_request_duration_seconds',
    'Time to answer HTTP requests, by method, route pattern and status code; _count is the number of requests',
    HTTP_BUCKETS,
  );
  const storageOperations = histogram(
    'gatehouse_storage_operation_duration_seconds',
    'Time taken by storage operations (a store method, or a whole transaction)',
    STORAGE_BUCKETS,
  );
  const groupCommits = histogram(
    'gatehouse_storage_group_commit_batch_size',
    'Transactions carried by one group commit (SQLite)',
    BATCH_BUCKETS,
  ).series({});
  const storageErrors = counter(
    'gatehouse_storage_errors_total',
    'Storage operations that failed: kind "unavailable" for an outage (answered 503), "error" for any other',
    ['operation', 'kind'],
  );
  const tokens = counter('gatehouse_tokens_issued_total', 'Token responses, by grant type', ['grant_type']);
  const refreshTokenReuse = counter(
    'gatehouse_refresh_token_reuse_total',
    'Rotated refresh tokens presented again (the token family was revoked)',
  );
  const authorizationCodeReuse = counter(
    'gatehouse_authorization_code_reuse_total',
    'Spent authorization codes presented again (the tokens they issued were revoked)',
  );
  const logins = counter('gatehouse_logins_total', 'Password sign-ins on the login page, by outcome', [
    'outcome',
  ]);
  for (const outcome of ['succeeded', 'failed', 'throttled'] satisfies LoginOutcome[])
    logins.inc({ outcome }, 0);
  const registrations = counter(
    'gatehouse_client_registrations_total',
    'Clients registered over HTTP (RFC 7591 dynamic client registration)',
  );

  // route → method → status → series: found by three map lookups, no key built.
  const requests = new Map<string, Map<string, Map<number, Series>>>();
  const tokensByGrant = new Map<string, Counter.Internal>();

  const storage: StorageObserver = {
    operation(name): OperationRecorder {
      const series = storageOperations.series({ operation: name });
      return {
        finished: (seconds) => series.observe(seconds),
        failed: (unavailable) =>
          storageErrors.inc({ operation: name, kind: unavailable ? 'unavailable' : 'error' }),
      };
    },
    groupCommitBatch: (size) => groupCommits.observe(size),
  };

  return {
    enabled: true,
    registry,
    storage,
    request(method, route, statusCode, seconds) {
      let byMethod = requests.get(route);
      if (!byMethod) {
        byMethod = new Map();
        requests.set(route, byMethod);
      }
      let byStatus = byMethod.get(method);
      if (!byStatus) {
        byStatus = new Map();
        byMethod.set(method, byStatus);
      }
      let series = byStatus.get(statusCode);
      if (!series) {
        series = http.series({ method, route, status_code: String(statusCode) });
        byStatus.set(statusCode, series);
      }
      series.observe(seconds);
    },
    tokenIssued(grantType) {
      let child = tokensByGrant.get(grantType);
      if (!child) {
        child = tokens.labels(grantType);
        tokensByGrant.set(grantType, child);
      }
      child.inc();
    },
    refreshTokenReuse: () => refreshTokenReuse.inc(),
    authorizationCodeReuse: () => authorizationCodeReuse.inc(),
    login: (outcome) => logins.inc({ outcome }),
    clientRegistered: () => registrations.inc(),
  };
}

export interface MetricsAddress {
  host: string;
  port: number;
}

/** The metrics listener: GET /metrics and nothing else, on an address of its own. */
export async function serveMetrics(
  address: MetricsAddress,
  render: () => Promise<string>,
  contentType: string = Registry.PROMETHEUS_CONTENT_TYPE,
): Promise<Server> {
  const server = createServer((request, response) => {
    if ((request.url ?? '').split('?')[0] !== '/metrics') {
      response
        .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
        .end('Not found: try /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end();
      return;
    }
    render().then(
      (text) => {
        response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        // Under --workers: a worker did not answer within prom-client's 5 s. The next scrape tries again.
        response.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
        response.end(`metrics unavailable: ${(error as Error).message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Stops the metrics listener, scrapers' keep-alive connections included. */
export function closeMetricsServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** In a --workers worker: answer the primary's requests for this process's series. */
export function reportToPrimary(registry: Registry) {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one installs prom-client's listener for the primary's requests.
  new AggregatorRegistry();
}

/** In the --workers primary: every worker's series, summed (histograms and counters) per label set. */
export function workersMetrics(): () => Promise<string> {
  const aggregator = new AggregatorRegistry();
  return () => aggregator.clusterMetrics();
}
