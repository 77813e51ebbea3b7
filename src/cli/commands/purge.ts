import { eventRetentionMs, purgeExpired, refreshTokenLifetimeMs } from '../../housekeeping.ts';
import { systemClock } from '../../util/clock.ts';
import { type Command, printJson } from '../command.ts';

export const purge: Command = {
  words: ['purge'],
  summary:
    'Delete expired codes, device codes, tokens, sessions and sign-in requests now (the server also does it every 10 minutes)',
  options: {
    'no-rest': {
      type: 'boolean',
      description: 'Purge without pausing between batches: for a large backlog while the server is idle.',
    },
  },
  details:
    'Batches of 500, each followed by a rest nine times as long, so that a running server keeps nine tenths of the database.\nPrints the counts deleted as JSON.',
  database: 'existing',
  json: true,
  async run({ values, io, config, storage }) {
    const totals = await purgeExpired(await storage(), systemClock, {
      maxBatches: 1_000_000,
      rest: values['no-rest'] !== true,
      refreshTokenLifetimeMs: refreshTokenLifetimeMs(config()),
      eventRetentionMs: eventRetentionMs(config()),
    });
    // JSON either way: it always was, and it reads well enough.
    printJson(io, totals);
    return 0;
  },
};
