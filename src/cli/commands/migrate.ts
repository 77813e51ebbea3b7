import { migrate as applyMigrations, databaseLabel, openDatabase } from '../../storage/open.ts';
import { type Command, printJson } from '../command.ts';

export const migrate: Command = {
  words: ['migrate'],
  summary: 'Apply pending database migrations (creates the database if there is none)',
  options: {},
  details: 'start applies them too; run migrate first to upgrade before starting the new version.',
  database: 'create',
  json: true,
  async run({ io, json, config }) {
    const { databaseUrl } = config();
    io.stderr(`Database: ${databaseLabel(databaseUrl)}\n`);
    const { db } = await openDatabase(databaseUrl);
    try {
      const applied = await applyMigrations(db);
      if (json) printJson(io, { applied });
      else io.stdout(applied.length ? `Applied: ${applied.join(', ')}\n` : 'The database is up to date.\n');
    } finally {
      await db.destroy();
    }
    return 0;
  },
};
