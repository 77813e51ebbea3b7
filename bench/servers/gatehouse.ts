// Benchmark target: Gatehouse as `npm start` runs it (durable SQLite file in WAL mode, or DATABASE_URL), with
// one confidential machine client. Prints one JSON line when ready: { port, clientId, clientSecret }.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { openDeps } from '../../src/main.ts';
import { buildClient } from '../../src/oauth/client-metadata.ts';
import { buildServer } from '../../src/server.ts';

const dataDir = process.env.GATEHOUSE_DATA_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'gh-bench-'));
const config = loadConfig({
  ...process.env,
  GATEHOUSE_DATA_DIR: dataDir,
  LOG_LEVEL: 'silent',
  PORT: process.env.PORT ?? '0',
  HOST: '127.0.0.1',
  GATEHOUSE_ISSUER: process.env.GATEHOUSE_ISSUER ?? 'http://127.0.0.1:0',
});
const deps = await openDeps(config);
const { client, secret } = buildClient(
  {
    name: 'bench',
    redirectUris: ['https://rp.example/cb'],
    grantTypes: ['client_credentials', 'authorization_code', 'refresh_token'],
    scope: 'openid profile email offline_access api:read',
  },
  Date.now(),
);
await deps.storage.clients.create(client);
const app = await buildServer(deps, { logger: false });
await app.listen({ port: config.port, host: '127.0.0.1' });
const port = (app.server.address() as { port: number }).port;
process.stdout.write(`${JSON.stringify({ port, clientId: client.id, clientSecret: secret })}\n`);
process.once('SIGTERM', () => process.exit(0));
