// Runs the `gatehouse` command in-process, as a shell would, and captures what it prints.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/cli/main.ts';

export interface CliRun {
  code: number | undefined;
  stdout: string;
  stderr: string;
}

/** `stdin` is what the command may read (once); without it, reading stdin fails the test. */
export async function runCliCaptured(
  argv: string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  let stdinReads = 0;
  const code = await runCli(argv, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    readStdin: async () => {
      stdinReads += 1;
      if (stdin === undefined || stdinReads > 1)
        throw new Error('stdin was read although the test gave none');
      return stdin;
    },
    env,
  });
  return { code, stdout, stderr };
}

/**
 * `sqlite:<file>` for a database the commands may use: the file exists (empty; the first command migrates it).
 * Commands refuse to create a database that does not exist without --create (test/cli/database-choice.test.ts).
 */
export function existingSqliteUrl(file: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  if (!existsSync(file)) new DatabaseSync(file).close();
  return `sqlite:${file}`;
}

/** stderr without the "Database: …" line every command that opens the database starts with. */
export function messages(stderr: string): string {
  return stderr.replace(/^Database: .*\n/, '');
}

export const BIN = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url));

/** Runs bin/gatehouse.js in `cwd` with only `env` (plus PATH): exit code, stdout, stderr. */
export function runBin(args: string[], env: Record<string, string>, cwd: string) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
