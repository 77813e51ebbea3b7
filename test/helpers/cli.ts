// Runs the `gatehouse` command in-process, as a shell would, and captures what it prints.
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
