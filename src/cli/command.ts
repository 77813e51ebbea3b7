import type { ParseArgsConfig } from 'node:util';

export interface CommandIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
  env: Record<string, string | undefined>;
}

export interface Command {
  /** The words that select it, e.g. ['users', 'add']. */
  words: string[];
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(
    args: { values: Record<string, unknown>; positionals: string[] },
    io: CommandIO,
  ): Promise<number | undefined>;
}

/** Thrown for a usage mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}
