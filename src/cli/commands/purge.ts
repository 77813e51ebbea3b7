import { configFrom } from '../../config-file.ts';
import { purgeExpired, refreshTokenLifetimeMs } from '../../housekeeping.ts';
import { openStorage } from '../../storage/open.ts';
import { systemClock } from '../../util/clock.ts';
import type { Command } from '../command.ts';

export const purge: Command = {
  words: ['purge'],
  summary:
    'Delete expired codes, tokens, sessions and sign-in requests now (the server also does it every 10 minutes)',
  usage: 'gatehouse purge',
  options: {},
  async run(_args, io) {
    const config = configFrom(io.env);
    const { storage } = await openStorage(config.databaseUrl);
    try {
      const totals = await purgeExpired(storage, systemClock, {
        maxBatches: 1_000_000,
        refreshTokenLifetimeMs: refreshTokenLifetimeMs(config),
      });
      io.stdout(`${JSON.stringify(totals)}\n`);
      return 0;
    } finally {
      await storage.close();
    }
  },
};
