// buildTestServer: the real app on SQLite :memory: (or a given database URL), a movable clock, fast password
// hashing, and helpers to create users and clients. No mocks: the same code paths as production.
import type { FastifyInstance } from 'fastify';
import { createUser } from '../../src/accounts/users.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { environmentWithConfigFile } from '../../src/config-file.ts';
import type { Deps } from '../../src/deps.ts';
import { clientDirectoryFor } from '../../src/oauth/client-id-metadata.ts';
import { buildClient, type ClientInput } from '../../src/oauth/client-metadata.ts';
import { ensureSigningKeys, loadKeyRing } from '../../src/oauth/keys.ts';
import { rotationKeyFrom } from '../../src/oauth/refresh-rotation.ts';
import { type Metrics, noMetrics } from '../../src/observability/metrics.ts';
import { buildServer } from '../../src/server.ts';
import { openStorage } from '../../src/storage/open.ts';
import type { Client, User } from '../../src/storage/storage.ts';
import { manualClock } from '../../src/util/clock.ts';
import { sealKeyFrom } from '../../src/util/seal.ts';

export const TEST_SECRET = 'test-secret-test-secret-test-secret-0123456789';
export const ISSUER = 'http://localhost:3000';

export interface TestServer {
  app: FastifyInstance;
  deps: Deps;
  clock: ReturnType<typeof manualClock>;
  config: Config;
  addUser(
    input?: Partial<{ email: string; password: string; name: string; isAdmin: boolean }>,
  ): Promise<User & { email: string; password: string }>;
  addClient(input?: Partial<ClientInput>): Promise<{ client: Client; secret: string | undefined }>;
  close(): Promise<void>;
}

let userCounter = 0;

export async function buildTestServer(
  env: Record<string, string> = {},
  options: {
    databaseUrl?: string;
    configFile?: string;
    metrics?: Metrics;
    /**
     * Test-only: client-named documents (metadata documents, jwks_uri) may be fetched from 127.0.0.1, over https
     * with this certificate (test/helpers/document-server.ts; http/outbound.ts `allowPrivateNetwork` and `ca`).
     */
    documentServer?: { ca: string };
  } = {},
): Promise<TestServer> {
  // A recipe's gatehouse.config.json, validated against the schema as at start-up; `env` still wins over it.
  const fromFile = options.configFile
    ? environmentWithConfigFile({ GATEHOUSE_CONFIG: options.configFile })
    : {};
  const config = loadConfig({
    ...fromFile,
    GATEHOUSE_ISSUER: ISSUER,
    GATEHOUSE_SECRET: TEST_SECRET,
    GATEHOUSE_PASSWORD_COST: '10',
    DATABASE_URL: options.databaseUrl ?? 'sqlite::memory:',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const clock = manualClock(Date.UTC(2026, 10, 22, 12, 0, 0));
  const metrics = options.metrics ?? noMetrics;
  const { storage } = await openStorage(config.databaseUrl, { observer: metrics.storage });
  await ensureSigningKeys(storage, TEST_SECRET, [config.accessTokenAlg, config.idTokenAlg], clock.now());
  const keys = await loadKeyRing(storage, TEST_SECRET, clock);
  const deps: Deps = {
    config,
    storage,
    keys,
    clock,
    rotationKey: rotationKeyFrom(TEST_SECRET),
    sealKey: sealKeyFrom(TEST_SECRET),
    metrics,
    clients: clientDirectoryFor(
      { config, storage, clock, metrics },
      { testLoopback: options.documentServer },
    ),
  };
  const app = await buildServer(deps, { logger: false });
  await app.ready();
  return {
    app,
    deps,
    clock,
    config,
    async addUser(input = {}) {
      userCounter += 1;
      const password = input.password ?? 'correct horse battery staple';
      const user = await createUser(
        storage,
        {
          email: input.email ?? `user${userCounter}-${Math.random().toString(36).slice(2, 8)}@example.com`,
          password,
          name: input.name ?? 'Test User',
          isAdmin: input.isAdmin,
        },
        clock.now(),
        10,
      );
      return { ...user, email: user.email ?? '', password };
    },
    async addClient(input = {}) {
      const built = buildClient(
        {
          name: 'Test App',
          redirectUris: ['https://rp.example/cb'],
          scope: 'openid profile email offline_access',
          ...input,
        },
        clock.now(),
      );
      await storage.clients.create(built.client);
      return built;
    },
    async close() {
      await app.close();
      await storage.close();
    },
  };
}
