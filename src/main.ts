// Process entry: loadConfig → open storage (migrate) → keys → buildServer → listen.

import { type Config, ConfigError } from './config.ts';
import { configFrom } from './config-file.ts';
import type { Deps } from './deps.ts';
import { purgeExpired, refreshTokenLifetimeMs } from './housekeeping.ts';
import { ensureSigningKeys, loadKeyRing, watchKeyChanges } from './oauth/keys.ts';
import { rotationKeyFrom } from './oauth/refresh-rotation.ts';
import { issueSetupToken } from './pages/setup/route.ts';
import { resolveSecret } from './secret.ts';
import { buildServer } from './server.ts';
import { serverShutdown, stopWorkers } from './shutdown.ts';
import { openStorage } from './storage/open.ts';
import { systemClock } from './util/clock.ts';
import { sealKeyFrom } from './util/seal.ts';

/** Opens storage and keys the way every command needs them. */
export async function openDeps(config: Config): Promise<Deps & { dialect: string; secretFile?: string }> {
  const { secret, generatedAt } = resolveSecret(config);
  const { storage, dialect } = await openStorage(config.databaseUrl);
  await ensureSigningKeys(storage, secret, [config.accessTokenAlg, config.idTokenAlg], systemClock.now());
  const keys = await loadKeyRing(storage, secret, systemClock);
  return {
    config,
    storage,
    keys,
    clock: systemClock,
    rotationKey: rotationKeyFrom(secret),
    sealKey: sealKeyFrom(secret),
    dialect,
    secretFile: generatedAt,
  };
}

/** What the console says at start: where, which issuer, and the one-time setup link while nobody exists. */
async function banner(config: Config, deps: Awaited<ReturnType<typeof openDeps>>, port: number, workers = 1) {
  const where = config.databaseUrl.startsWith('postgres')
    ? 'PostgreSQL'
    : config.databaseUrl.replace(/^sqlite:/, '');
  const lines = [
    '',
    `  Gatehouse is listening on http://${config.host}:${port}${workers > 1 ? ` (${workers} worker processes)` : ''}`,
    `  Issuer:   ${config.issuer}`,
    `  Database: ${where}`,
    `  Discovery: ${config.issuer}/.well-known/openid-configuration`,
  ];
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
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

/**
 * `gatehouse start --workers N`: the primary migrates, makes the keys and prints the banner once, then runs N
 * worker processes (node:cluster) that share the port and the database; a worker that dies is replaced.
 */
export async function startCluster(config: Config, workers: number) {
  const cluster = (await import('node:cluster')).default;
  if (!cluster.isPrimary) return startServer(config, { quiet: true });
  const listening = new Set<number>();
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
  await banner(config, deps, config.port, workers);
  await deps.storage.close();
  cluster.on('listening', (worker) => listening.add(worker.id));
  cluster.on('exit', (worker, code, signal) => {
    if (stopping || signal === 'SIGTERM' || signal === 'SIGINT' || code === 0) return;
    process.stderr.write(`worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`);
    cluster.fork();
  });
  for (let i = 0; i < workers && !stopping; i++) cluster.fork();
  return undefined;
}

export async function startServer(config: Config, options: { quiet?: boolean } = {}) {
  const deps = await openDeps(config);
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
      }).catch((err) => app.log.warn({ err }, 'purge failed')),
    10 * 60_000,
  );
  housekeeping.unref();
  app.addHook('onClose', async () => {
    stopWatchingKeys();
    clearInterval(housekeeping);
    await deps.storage.close();
  });
  await app.listen({ port: config.port, host: config.host });
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
    throw error;
  }
}
