import { configFrom } from '../../config-file.ts';
import { startCluster, startServer } from '../../main.ts';
import { type Command, UsageError } from '../command.ts';

export const start: Command = {
  words: ['start'],
  summary: 'Start the server (migrates the database and creates signing keys on first start)',
  options: {
    port: {
      type: 'string',
      value: 'PORT',
      description: 'The port to listen on (overrides PORT; default 3000).',
    },
    host: {
      type: 'string',
      value: 'HOST',
      description: 'The address to listen on (overrides HOST; default localhost).',
    },
    workers: {
      type: 'string',
      value: 'N',
      description:
        'Run N processes (node:cluster, 1 to 64, one per core) on one port and one database; the primary replaces a worker that dies.',
    },
  },
  details:
    'The banner names the issuer and the database. SIGTERM or SIGINT drains and stops (GATEHOUSE_SHUTDOWN_DRAIN, GATEHOUSE_SHUTDOWN_TIMEOUT).\nLogs: one JSON line per event on stdout (pino), level LOG_LEVEL.',
  database: 'create',
  async run({ values, io }) {
    const env = { ...io.env };
    if (typeof values.port === 'string') env.PORT = values.port;
    if (typeof values.host === 'string') env.HOST = values.host;
    const workers = values.workers === undefined ? 1 : Number(values.workers);
    if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
      throw new UsageError('--workers takes a whole number from 1 to 64 (one process per core).');
    }
    // The configuration with --port and --host applied, hence not context.config().
    if (workers > 1) await startCluster(configFrom(env), workers);
    else await startServer(configFrom(env));
    return undefined; // keeps running
  },
};
