// What a `gatehouse` command is: one object per command (cli/commands/<noun>-<verb>.ts) declaring its words, a
// one-line summary, its arguments and options (each with the line --help prints), and run(). main.ts parses the
// arguments, prints --help, opens the database, prints errors and picks the exit code, so a command's run() is
// only what the command does.
import type { Config } from '../config.ts';
import type { Storage } from '../storage/storage.ts';

export interface CommandIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
  env: Record<string, string | undefined>;
}

/** One option: `type` and `multiple` as node:util parseArgs takes them, plus what --help says about it. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** The value's name in --help (`--name NAME`); string options only. */
  value?: string;
  /** One sentence for --help. */
  description: string;
}

/** What run() gets: the parsed arguments, the streams, and the configuration and database, opened on demand. */
export interface CommandContext {
  values: Record<string, unknown>;
  positionals: string[];
  io: CommandIO;
  /** --json was given (commands with `json: true`): print one JSON document on stdout, nothing else there. */
  json: boolean;
  /** The configuration: gatehouse.config.json, then the environment. A bad value is exit 2. */
  config(): Config;
  /**
   * The database, opened (and migrated) on first call and closed after run(). Says on stderr which database it
   * is; an unreachable one is one line and exit 1; a SQLite file that does not exist yet is refused unless the
   * command has `database: 'create'` or --create was given, so a command run in the wrong folder never starts a
   * second, empty database beside the server's.
   */
  storage(): Promise<Storage>;
}

export interface Command {
  /** The words that select it, e.g. ['users', 'add']. */
  words: string[];
  /** One line: what it does (the overview and the first line of --help). */
  summary: string;
  /** The positional arguments as usage shows them, e.g. 'EMAIL'. */
  arguments?: string;
  options: Record<string, OptionSpec>;
  /** More for --help, after the options: examples, consequences, the rules an option follows. */
  details?: string;
  /**
   * 'existing': run() opens the server's database (context.storage()), and --create is offered for a first
   * use. 'create': the command makes the database when there is none (start, migrate). Absent: no database.
   */
  database?: 'existing' | 'create';
  /** Offers --json: machine-readable output, one JSON document on stdout. */
  json?: boolean;
  /** Returns the exit code; undefined keeps the process running (start). */
  run(context: CommandContext): Promise<number | undefined>;
}

/** A usage mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

/**
 * The command could not do what was asked for a reason the operator can act on (no such user, a refusal): the
 * message is printed as one line on stderr, without a stack trace, and the exit code is 1.
 */
export class CommandFailure extends Error {}

/** Exit codes, the same for every command (printed by `gatehouse --help`, listed in docs/operations.md). */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** Failed or refused: the database unreachable, no such record, a check that did not pass. */
  failure: 1,
  /** Usage or configuration error: nothing was done; fix the command line or the configuration. */
  usage: 2,
} as const;

export const EXIT_CODES_HELP =
  'Exit codes: 0 done; 1 failed or refused (the database unreachable, no such record, a failed check); 2 usage or configuration error (nothing was done).';

/** Prints `value` as one JSON document. */
export function printJson(io: CommandIO, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints rows as a plain table for people (`--json` is for scripts). */
export function printTable(io: CommandIO, rows: Record<string, unknown>[], empty: string): void {
  if (rows.length === 0) {
    io.stdout(`${empty}\n`);
    return;
  }
  const columns = Object.keys(rows[0]!);
  const cell = (value: unknown) =>
    value === null || value === undefined
      ? '-'
      : Array.isArray(value)
        ? value.join(' ') || '-'
        : String(value);
  const text = rows.map((row) => columns.map((column) => cell(row[column])));
  const widths = columns.map((column, i) => Math.max(column.length, ...text.map((line) => line[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((value, i) => (i === cells.length - 1 ? value : value.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  io.stdout(`${[line(columns.map((column) => column.toUpperCase())), ...text.map(line)].join('\n')}\n`);
}
