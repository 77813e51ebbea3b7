import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { type ImportSummary, importUsers } from '../../accounts/import.ts';
import { type Command, CommandFailure, printJson, UsageError } from '../command.ts';

const PROGRESS_EVERY_MS = 2000;

function counts(summary: ImportSummary): string {
  return `${summary.created} created, ${summary.updated} updated, ${summary.unchanged} unchanged, ${summary.failed} failed`;
}

export const usersImport: Command = {
  words: ['users', 'import'],
  summary: 'Import users with their password hashes from a JSON Lines file (docs/import.md)',
  arguments: 'FILE',
  options: {
    'dry-run': { type: 'boolean', description: 'Check every line and write nothing.' },
    'batch-size': {
      type: 'string',
      value: 'N',
      description: 'Users written per transaction (1 to 5000).',
    },
  },
  details:
    'Safe to re-run: a user already there is updated or left unchanged. Errors per line go to stderr; exit 1 if any line failed.',
  database: 'existing',
  json: true,
  async run({ values, positionals, io, json, storage }) {
    const file = positionals[0];
    if (!file || positionals.length > 1) throw new UsageError('Give exactly one FILE.');
    const batchSize = values['batch-size'] === undefined ? undefined : Number(values['batch-size']);
    if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= 5000)) {
      throw new UsageError('--batch-size must be an integer from 1 to 5000.');
    }
    try {
      if (!(await stat(file)).isFile()) throw new Error('not a file');
    } catch {
      throw new CommandFailure(`Cannot read ${file}.`);
    }
    const dryRun = values['dry-run'] === true;
    const store = await storage();
    const started = performance.now();
    let lastProgress = started;
    const lines = createInterface({
      input: createReadStream(file, 'utf8'),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    const summary = await importUsers(store, lines, {
      now: () => Date.now(),
      dryRun,
      batchSize,
      onLineError: (line, message) => io.stderr(`line ${line}: ${message}\n`),
      onProgress: (sofar) => {
        const now = performance.now();
        if (now - lastProgress < PROGRESS_EVERY_MS) return;
        lastProgress = now;
        const rate = Math.round(sofar.lines / ((now - started) / 1000));
        io.stderr(`… ${sofar.lines} lines: ${counts(sofar)} (${rate} lines/s)\n`);
      },
    });
    const seconds = (performance.now() - started) / 1000;
    if (json) {
      printJson(io, { ...summary, dry_run: dryRun, seconds: Number(seconds.toFixed(1)) });
    } else {
      const what = dryRun ? 'Checked (dry run, nothing written)' : 'Imported';
      io.stdout(
        `${what} ${summary.lines} line${summary.lines === 1 ? '' : 's'} in ${seconds.toFixed(1)} s: ${counts(summary)}.\n`,
      );
    }
    return summary.failed > 0 ? 1 : 0;
  },
};
