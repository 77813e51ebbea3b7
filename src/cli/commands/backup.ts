// An online backup of the SQLite database, consistent to one moment, taken while servers keep serving: SQLite's
// backup API (node:sqlite backup()) copies every page in one step, inside one read transaction, which in WAL mode
// never blocks the servers' writes. PostgreSQL has its own tools (pg_dump), which this does not replace.
import { existsSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync, backup as sqliteBackup } from 'node:sqlite';
import { secretSource } from '../../secret.ts';
import { databaseLabel, sqliteFile } from '../../storage/open.ts';
import { type Command, CommandFailure, printJson, UsageError } from '../command.ts';

/** All pages in one step: a step spread over several would restart whenever a server commits in between. */
const ALL_PAGES = 2_147_483_647;

export const backup: Command = {
  words: ['backup'],
  summary: 'Copy the SQLite database to FILE while the server runs (PostgreSQL: use pg_dump)',
  arguments: 'FILE',
  options: {
    force: { type: 'boolean', description: 'Replace FILE if it exists.' },
  },
  details: [
    'The copy is consistent (one moment of the database) and checked (PRAGMA quick_check) before it is put at FILE;',
    'servers keep answering meanwhile. To restore: stop the server, put the copy at the database path (by default',
    'data/gatehouse.db) and start it with the same server secret. The copy holds the signing keys encrypted with',
    'that secret (GATEHOUSE_SECRET or data/secret): back the secret up too, separately. Without it a restored copy',
    'needs "gatehouse keys reset".',
    'On PostgreSQL the command only says to use pg_dump and exits 2.',
  ].join('\n'),
  json: true,
  async run({ values, positionals, io, json, config }) {
    const target = positionals[0];
    if (!target || positionals.length > 1)
      throw new UsageError('Give exactly one FILE to write the backup to.');
    const settings = config();
    const source = sqliteFile(settings.databaseUrl);
    io.stderr(`Database: ${databaseLabel(settings.databaseUrl)}\n`);
    if (source === undefined) {
      if (settings.databaseUrl === ':memory:' || settings.databaseUrl === 'sqlite::memory:') {
        throw new CommandFailure('The database is in memory: there is nothing on disk to back up.');
      }
      io.stderr(
        'gatehouse backup copies SQLite databases. For PostgreSQL use its own tools: pg_dump --format=custom --file=FILE "$DATABASE_URL" (restore with pg_restore), or your provider’s snapshots; back up the server secret with it.\n',
      );
      return 2;
    }
    if (!existsSync(source)) throw new CommandFailure(`No database at ${source}: nothing to back up.`);
    const destination = path.resolve(target);
    if (destination === source) throw new UsageError('FILE is the database itself.');
    if (existsSync(destination) && values.force !== true) {
      throw new CommandFailure(`${destination} exists; give --force to replace it.`);
    }
    // Written beside the target and renamed into place once checked: FILE is never a half-written copy.
    const partial = `${destination}.partial-${process.pid}`;
    const started = performance.now();
    const database = new DatabaseSync(source, { readOnly: true });
    let pages: number;
    try {
      database.exec('PRAGMA busy_timeout = 5000');
      pages = await sqliteBackup(database, partial, { rate: ALL_PAGES });
      // One self-contained file (no -wal beside it), checked before it replaces anything.
      const copy = new DatabaseSync(partial);
      try {
        copy.exec('PRAGMA journal_mode = DELETE');
        const check = copy.prepare('PRAGMA quick_check').all() as { quick_check: string }[];
        if (check.length !== 1 || check[0]?.quick_check !== 'ok') {
          throw new CommandFailure(
            `The copy failed its check (${check.map((row) => row.quick_check).join('; ')}); nothing was written to ${destination}.`,
          );
        }
      } finally {
        copy.close();
      }
      renameSync(partial, destination);
    } catch (error) {
      rmSync(partial, { force: true });
      throw error;
    } finally {
      database.close();
    }
    const seconds = (performance.now() - started) / 1000;
    if (json) printJson(io, { file: destination, pages, seconds: Number(seconds.toFixed(2)) });
    else io.stdout(`Backed up ${source} to ${destination} (${pages} pages, ${seconds.toFixed(2)} s).\n`);
    io.stderr(
      `The backup's signing keys are encrypted with the server secret (${secretSource(settings)}): keep a copy of it, apart from the backup.\n`,
    );
    return 0;
  },
};
