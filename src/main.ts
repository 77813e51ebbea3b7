// Process entry: loadConfig → open storage (migrate) → keys → buildServer → listen.

import { type Config, ConfigError } from './config.ts';
import { configFrom } from './config-file.ts';
import type { Deps } from './deps.ts';
import { StorageUnavailableError } from './errors.ts';
import { eventRetentionMs, purgeExpired, refreshTokenLifetimeMs } from './housekeeping.ts';
import { clientDirectoryFor } from './oauth/client-id-metadata.ts';
import {
  ensureSigningKeys,
  type KeyRing,
  loadKeyRing,
  SecretMismatchError,
  watchKeyChanges,
} from './oauth/keys.ts';
import { rotationKeyFrom } from './oauth/refresh-rotation.ts';
import { type Metrics, noMetrics } from './observability/metrics.ts';
import { issueSetupToken } from './pages/setup/route.ts';
import { resolveSecret, secretMismatchMessage } from './secret.ts';
import { buildServer } from './server.ts';
import { serverShutdown, stopWorkers } from './shutdown.ts';
import { isUnavailable } from './storage/kysely/index.ts';
import { databaseLabel, openStorage } from './storage/open.ts';
import { systemClock } from './util/clock.ts';
import { sealKeyFrom } from './util/seal.ts';

/**
 * Gatehouse cannot start for a reason the operator can fix (the port is taken, the database does not answer):
 * the CLI prints the message as one line, without a stack trace, and exits 1.
 */
export class StartupError extends Error {
  override name = 'StartupError';
}

// As much an operator's fix as a refused connection: PostgreSQL refusing the login or not having the database;
// the SQLite file's folder cannot be made or written (a file in its place, permissions, a read-only disk).
const CANNOT_USE_DATABASE = new Set([
  '28P01',
  '28000',
  '3D000',
  'EACCES',
  'EPERM',
  'EROFS',
  'ENOTDIR',
  'EEXIST',
]);

/** The database failure an operator can fix, as a StartupError naming the database (without its password). */
export function cannotOpenDatabase(error: unknown, databaseUrl: string): StartupError | undefined {
  if (error instanceof StorageUnavailableError) error = error.cause;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (!isUnavailable(error) && !CANNOT_USE_DATABASE.has(String(code))) return undefined;
  // A refused connection to a name with several addresses is an AggregateError with an empty message.
  const first = (error as { errors?: { message?: string }[] }).errors?.[0]?.message;
  const reason = (error as Error).message || first || String(code);
  return new StartupError(`Cannot open the database ${databaseLabel(databaseUrl)}: ${reason}`);
}

/** Opens storage and keys the way every command needs them; only the server passes metrics. */
export async function openDeps(
  config: Config,
  options: { metrics?: Metrics } = {},
): Promise<Deps & { dialect: string; secretFile?: string }> {
  const metrics = options.metrics ?? noMetrics;
  const { secret, generatedAt } = resolveSecret(config);
  const { storage, dialect } = await openStorage(config.databaseUrl, { observer: metrics.storage }).catch(
    (error: unknown) => {
      throw cannotOpenDatabase(error, config.databaseUrl) ?? error;
    },
  );
  let keys: KeyRing;
  try {
    await ensureSigningKeys(storage, secret, [config.accessTokenAlg, config.idTokenAlg], systemClock.now());
    keys = await loadKeyRing(storage, secret, systemClock);
  } catch (error) {
    await storage.close();
    if (!(error instanceof SecretMismatchError)) throw error;
    throw new StartupError(secretMismatchMessage(config, generatedAt !== undefined));
  }
  return {
    config,
    storage,
    keys,
    clock: systemClock,
    rotationKey: rotationKeyFrom(secret),
    sealKey: sealKeyFrom(secret),
    metrics,
    clients: clientDirectoryFor({ config, storage, clock: systemClock, metrics }),
    dialect,
    secretFile: generatedAt,
  };
}

/**
 * What the console says at start: where, which issuer, and the one-time setup link while nobody exists. On
 * stderr: stdout is the JSON log stream, one record a line for log shippers, and the setup link is a credential
 * that does not belong in shipped and retained logs.
 */
async function banner(config: Config, deps: Awaited<ReturnType<typeof openDeps>>, port: number, workers = 1) {
  const lines = [
    '',
    `  Gatehouse is listening on http://${config.host}:${port}${workers > 1 ? ` (${workers} worker processes)` : ''}`,
    `  Issuer:   ${config.issuer}`,
    `  Database: ${databaseLabel(config.databaseUrl)}`,
    `  Discovery: ${config.issuer}/.well-known/openid-configuration`,
  ];
  if (config.metricsAddress) lines.push(`  Metrics:  ${metricsUrl(config.metricsAddress)}`);
  if (deps.secretFile) {
    lines.push(`  Generated a server secret in ${deps.secretFile} (keep it; it encrypts the signing keys)`);
  }
  const setupToken = await issueSetupToken(deps);
  if (setupToken) {
    lines.push(
      '',
      '  No users yet. Create the first admin account here (the link works once):',
      `    ${config.issuer}/setup?token=${setupToken}`,
    );
  }
  process.stderr.write(`${lines.join('\n')}\n\n`);
}

function metricsUrl({ host, port }: { host: string; port: number }): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`;
}

/**
 * Starts the metrics listener (GATEHOUSE_METRICS_ADDRESS) with what it serves: this process's metrics, or under
 * --workers, in the primary, every worker's summed.
 */
async function listenForScrapes(config: Config, render: () => Promise<string>) {
  const address = config.metricsAddress as { host: string; port: number };
  const { serveMetrics } = await import('./observability/prometheus.ts');
  try {
    return await serveMetrics(address, render);
  } catch (error) {
    throw (
      cannotListen(error, `${address.host}:${address.port}`, 'GATEHOUSE_METRICS_ADDRESS', 'metrics') ?? error
    );
  }
}

/**
 * `gatehouse start --workers N`: the primary migrates, makes the keys and prints the banner once, then runs N
 * worker processes (node:cluster) that share the port and the database; a worker that dies is replaced.
 */
export async function startCluster(config: Config, workers: number) {
  const cluster = (await import('node:cluster')).default;
  if (!cluster.isPrimary) {
    try {
      return await startServer(config, { quiet: true, worker: true });
    } catch (error) {
      // A worker's channel to the primary keeps it alive after the CLI returns: say why, once, and end it, so
      // that the primary sees it go (and, if none could start, fails too).
      if (!(error instanceof StartupError)) throw error;
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
  }
  const listening = new Set<number>();
  const failedBeforeListening = new Set<number>();
  let stopping = false;
  // Installed before anything else: a SIGTERM that comes while the primary migrates or prints its banner must
  // not fall back to the default action (which would leave the workers it forks without their primary).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      // The workers drain and close (src/shutdown.ts); wait for them all, so that none outlives the primary.
      const running = Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);
      stopWorkers(running, signal, config, (worker) => listening.has(worker.id)).then((code) =>
        process.exit(code),
      );
    });
  }
  const deps = await openDeps(config);
  // The primary serves no requests, so it has no metrics of its own: it serves the workers', summed.
  if (config.metricsAddress) {
    const { workersMetrics } = await import('./observability/prometheus.ts');
    await listenForScrapes(config, workersMetrics());
  }
  await banner(config, deps, config.port, workers);
  await deps.storage.close();
  cluster.on('listening', (worker) => listening.add(worker.id));
  cluster.on('exit', (worker, code, signal) => {
    if (stopping || signal === 'SIGTERM' || signal === 'SIGINT' || code === 0) return;
    if (!listening.has(worker.id)) {
      // It failed before it could serve (the port in use, the database unreachable: it said why in one line).
      // Another would fail the same way, forever; once none is left, the primary fails too.
      failedBeforeListening.add(worker.id);
      const alive = Object.values(cluster.workers ?? {}).filter(
        (other) => other !== undefined && !failedBeforeListening.has(other.id),
      );
      if (alive.length === 0) process.exit(1);
      return;
    }
    process.stderr.write(`worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`);
    cluster.fork();
  });
  for (let i = 0; i < workers && !stopping; i++) cluster.fork();
  return undefined;
}

function cannotListen(
  error: unknown,
  where: string,
  setting = '--port or PORT',
  purpose?: string,
): StartupError | undefined {
  const what = purpose ? `${where} for ${purpose}` : where;
  const hostSetting = purpose ? setting : '--host or HOST';
  switch ((error as { code?: unknown }).code) {
    case 'EADDRINUSE':
      return new StartupError(
        `Cannot listen on ${what}: the port is in use (another Gatehouse or another program). Stop it or choose another port with ${setting}.`,
      );
    case 'EACCES':
      return new StartupError(
        `Cannot listen on ${what}: not allowed (ports below 1024 need privileges). Choose another port with ${setting}.`,
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new StartupError(
        `Cannot listen on ${what}: this machine has no such address. Choose another with ${hostSetting}.`,
      );
    default:
      return undefined;
  }
}

/**
 * One server process: `gatehouse start`, or one --workers worker (`worker`: its metrics go to the primary,
 * which serves them, instead of to a listener of its own).
 */
export async function startServer(config: Config, options: { quiet?: boolean; worker?: boolean } = {}) {
  // prom-client is loaded only when metrics are on (about 50 ms of start-up).
  const prometheus = config.metricsAddress ? await import('./observability/prometheus.ts') : undefined;
  const metrics = prometheus?.createPrometheusMetrics();
  // Early, so that the primary's requests for metrics find this worker answering as soon as possible.
  if (metrics && options.worker) prometheus?.reportToPrimary(metrics.registry);
  const deps = await openDeps(config, { metrics });
  const metricsServer =
    metrics && !options.worker
      ? await listenForScrapes(config, () => metrics.registry.metrics()).catch(async (error: unknown) => {
          await deps.storage.close();
          throw error;
        })
      : undefined;
  const shutdown = serverShutdown();
  const app = await buildServer(deps, { draining: shutdown.notReady });
  // Another process (the CLI's `keys rotate`, another instance) may add keys: pick them up within seconds.
  const stopWatchingKeys = watchKeyChanges(deps.keys, (err) =>
    app.log.warn({ err }, 'checking for signing key changes failed'),
  );
  const housekeeping = setInterval(
    () =>
      purgeExpired(deps.storage, deps.clock, {
        refreshTokenLifetimeMs: refreshTokenLifetimeMs(deps.config),
        eventRetentionMs: eventRetentionMs(deps.config),
      }).catch((err) => app.log.warn({ err }, 'purge failed')),
    10 * 60_000,
  );
  housekeeping.unref();
  app.addHook('onClose', async () => {
    stopWatchingKeys();
    clearInterval(housekeeping);
    if (metricsServer) await prometheus?.closeMetricsServer(metricsServer);
    await deps.storage.close();
  });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await app.close();
    throw cannotListen(error, `${config.host}:${config.port}`) ?? error;
  }
  // At once after listen, before the banner's await: from here a SIGTERM drains rather than kills, and a
  // --workers primary's messages (sent once it sees this worker listen) find their handler.
  shutdown.install(app, config);
  if (!options.quiet) await banner(config, deps, (app.server.address() as { port: number }).port);
  return app;
}

if (import.meta.main) {
  try {
    await startServer(configFrom());
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(2);
    }
    if (error instanceof StartupError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
