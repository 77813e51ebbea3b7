import { configFrom } from '../../config-file.ts';
import { startCluster, startServer } from '../../main.ts';
import { type Command, UsageError } from '../command.ts';

export const start: Command = {
  words: ['start'],
  summary: 'Start the server (migrates the database and creates signing keys on first start)',
  usage: 'gatehouse start [--port PORT] [--host HOST] [--workers N]',
  options: { port: { type: 'string' }, host: { type: 'string' }, workers: { type: 'string' } },
  async run({ values }, io) {
    const env = { ...io.env };
    if (typeof values.port === 'string') env.PORT = values.port;
    if (typeof values.host === 'string') env.HOST = values.host;
    const workers = values.workers === undefined ? 1 : Number(values.workers);
    if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
      throw new UsageError('--workers takes a whole number from 1 to 64 (one process per core).');
    }
    if (workers > 1) await startCluster(configFrom(env), workers);
    else await startServer(configFrom(env));
    return undefined; // keeps running
  },
};
