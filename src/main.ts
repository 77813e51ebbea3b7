// Process entry: loadConfig → open storage (migrate) → keys → buildServer → listen.

import { type Config, ConfigError } from './config.ts';
import { configFrom } from './config-file.ts';
import type { Deps } from './deps.ts';
import { purgeExpired, refreshTokenLifetimeMs } from './housekeeping.ts';
import { ensureSigningKeys, loadKeyRing } from './oauth/keys.ts';
import { rotationKeyFrom } from './oauth/refresh-rotation.ts';
import { issueSetupToken } from './pages/setup/route.ts';
import { resolveSecret } from './secret.ts';
import { buildServer } from './server.ts';
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
  const deps = await openDeps(config);
  await banner(config, deps, config.port, workers);
  await deps.storage.close();
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (signal === 'SIGTERM' || signal === 'SIGINT' || code === 0) return;
    process.stderr.write(`worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`);
    cluster.fork();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      const running = Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);
      // Wait for the workers to finish their requests and close, so that none outlives the primary.
      let left = running.length;
      if (left === 0) process.exit(0);
      for (const worker of running) {
        worker.once('exit', () => {
          left -= 1;
          if (left === 0) process.exit(0);
        });
        worker.process.kill('SIGTERM');
      }
      setTimeout(() => process.exit(1), 10_000).unref();
    });
  }
  return undefined;
}

export async function startServer(config: Config, options: { quiet?: boolean } = {}) {
  const deps = await openDeps(config);
  const app = await buildServer(deps);
  // Another process (the CLI's `keys rotate`, another instance) may add keys: pick them up within a minute.
  const reload = setInterval(
    () => deps.keys.reload().catch((err) => app.log.warn({ err }, 'key reload failed')),
    60_000,
  );
  reload.unref();
  const housekeeping = setInterval(
    () =>
      purgeExpired(deps.storage, deps.clock, {
        refreshTokenLifetimeMs: refreshTokenLifetimeMs(deps.config),
      }).catch((err) => app.log.warn({ err }, 'purge failed')),
    10 * 60_000,
  );
  housekeeping.unref();
  app.addHook('onClose', async () => {
    clearInterval(reload);
    clearInterval(housekeeping);
    await deps.storage.close();
  });
  await app.listen({ port: config.port, host: config.host });
  if (!options.quiet) await banner(config, deps, (app.server.address() as { port: number }).port);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      app.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
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
