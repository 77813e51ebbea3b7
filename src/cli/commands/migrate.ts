import { configFrom } from '../../config-file.ts';
import { migrate as applyMigrations, openDatabase } from '../../storage/open.ts';
import type { Command } from '../command.ts';

export const migrate: Command = {
  words: ['migrate'],
  summary: 'Apply pending database migrations',
  usage: 'gatehouse migrate',
  options: {},
  async run(_args, io) {
    const config = configFrom(io.env);
    const { db } = await openDatabase(config.databaseUrl);
    try {
      const applied = await applyMigrations(db);
      io.stdout(applied.length ? `Applied: ${applied.join(', ')}\n` : 'The database is up to date.\n');
    } finally {
      await db.destroy();
    }
    return 0;
  },
};
