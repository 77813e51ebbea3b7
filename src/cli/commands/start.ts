import { configFrom } from '../../config-file.ts';
import { startServer } from '../../main.ts';
import type { Command } from '../command.ts';

export const start: Command = {
  words: ['start'],
  summary: 'Start the server (migrates the database and creates signing keys on first start)',
  usage: 'gatehouse start [--port PORT] [--host HOST]',
  options: { port: { type: 'string' }, host: { type: 'string' } },
  async run({ values }, io) {
    const env = { ...io.env };
    if (typeof values.port === 'string') env.PORT = values.port;
    if (typeof values.host === 'string') env.HOST = values.host;
    await startServer(configFrom(env));
    return undefined; // keeps running
  },
};
