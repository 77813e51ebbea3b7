import { configFrom } from '../../config-file.ts';
import { purgeExpired, refreshTokenLifetimeMs } from '../../housekeeping.ts';
import { openStorage } from '../../storage/open.ts';
import { systemClock } from '../../util/clock.ts';
import type { Command } from '../command.ts';

export const purge: Command = {
  words: ['purge'],
  summary:
    'Delete expired codes, tokens, sessions and sign-in requests now (the server also does it every 10 minutes)',
  usage:
    'gatehouse purge [--no-rest]\n' +
    '  Batches of 500, each followed by a rest nine times as long, so that a running server keeps nine tenths\n' +
    '  of the database. --no-rest purges without pausing: for a large backlog while the server is idle.',
  options: { 'no-rest': { type: 'boolean' } },
  async run({ values }, io) {
    const config = configFrom(io.env);
    const { storage } = await openStorage(config.databaseUrl);
    try {
      const totals = await purgeExpired(storage, systemClock, {
        maxBatches: 1_000_000,
        rest: values['no-rest'] !== true,
        refreshTokenLifetimeMs: refreshTokenLifetimeMs(config),
      });
      io.stdout(`${JSON.stringify(totals)}\n`);
      return 0;
    } finally {
      await storage.close();
    }
  },
};
