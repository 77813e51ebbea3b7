// Process entry: loadConfig → open storage (migrate) → keys → buildServer → listen.

import { type Config, ConfigError } from './config.ts';
import { configFrom } from './config-file.ts';
import type { Deps } from './deps.ts';
import { purgeExpired } from './housekeeping.ts';
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

export async function startServer(config: Config) {
  const deps = await openDeps(config);
  const app = await buildServer(deps);
  // Another process (the CLI's `keys rotate`, another instance) may add keys: pick them up within a minute.
  const reload = setInterval(
    () => deps.keys.reload().catch((err) => app.log.warn({ err }, 'key reload failed')),
    60_000,
  );
  reload.unref();
  const housekeeping = setInterval(
    () => purgeExpired(deps.storage, deps.clock).catch((err) => app.log.warn({ err }, 'purge failed')),
    10 * 60_000,
  );
  housekeeping.unref();
  app.addHook('onClose', async () => {
    clearInterval(reload);
    clearInterval(housekeeping);
    await deps.storage.close();
  });
  await app.listen({ port: config.port, host: config.host });
  const where = config.databaseUrl.startsWith('postgres')
    ? 'PostgreSQL'
    : config.databaseUrl.replace(/^sqlite:/, '');
  const lines = [
    '',
    `  Gatehouse is listening on http://${config.host}:${(app.server.address() as { port: number }).port}`,
    `  Issuer:   ${config.issuer}`,
    `  Database: ${where}`,
    `  Discovery: ${config.issuer}/.well-known/openid-configuration`,
  ];
  if (deps.secretFile)
    lines.push(`  Generated a server secret in ${deps.secretFile} (keep it; it encrypts the signing keys)`);
  const setupToken = await issueSetupToken(deps);
  if (setupToken) {
    lines.push(
      '',
      '  No users yet. Create the first admin account here (the link works once):',
      `    ${config.issuer}/setup?token=${setupToken}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
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
