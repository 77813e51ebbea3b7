// A real `gatehouse start` process for a test: spawned from bin/gatehouse.js with the test's environment,
// listening on 127.0.0.1:<port>, its stdout and stderr collected for assertion messages.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Generous: several processes starting on a loaded CI machine can take many seconds. */
const READY_WITHIN_MS = 60_000;
const POLL_MS = 50;

export interface GatehouseProcess {
  /** http://127.0.0.1:<port> */
  base: string;
  /** What the process printed so far, stdout and stderr. */
  output(): string;
  /** What it printed on stdout alone: the JSON log stream. */
  stdout(): string;
  /** Resolves with the exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /** Resolves once the process has ended and its stdout and stderr have been read to the end. */
  closed: Promise<void>;
  /** Polls `path` until it answers 2xx; fails the test if the process exits first or it takes too long. */
  waitUntilReady(path?: string): Promise<void>;
  /** Resolves once stdout or stderr has shown `text`; fails the test if the process exits first. */
  waitForOutput(text: string): Promise<void>;
  /** Sends `signal` unless the process has already ended; resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `gatehouse start` (`--workers N` when given) with `env` over this process's environment and PORT=port. */
export function startGatehouse(options: {
  env: Record<string, string>;
  port: number;
  workers?: number;
}): GatehouseProcess {
  const args = ['bin/gatehouse.js', 'start'];
  if (options.workers !== undefined) args.push('--workers', String(options.workers));
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...options.env, PORT: String(options.port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  const base = `http://127.0.0.1:${options.port}`;

  return {
    base,
    output: () => output,
    stdout: () => stdout,
    exited,
    closed,
    async waitUntilReady(path = '/health') {
      const deadline = Date.now() + READY_WITHIN_MS;
      while (running() && Date.now() < deadline) {
        const up = await fetch(`${base}${path}`).then(
          (response) => response.ok,
          () => false,
        );
        if (up) return;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      assert.fail(`${base} never answered ${path} (exit code ${child.exitCode}): ${output}`);
    },
    async waitForOutput(text) {
      const shown = new Promise<boolean>((resolve) => {
        const check = () => {
          if (!output.includes(text)) return;
          child.stdout.off('data', check);
          child.stderr.off('data', check);
          resolve(true);
        };
        child.stdout.on('data', check);
        child.stderr.on('data', check);
        check();
      });
      // 'close', not 'exit': by then stdout and stderr have been read to their end.
      const ended = new Promise<boolean>((resolve) =>
        child.once('close', () => resolve(output.includes(text))),
      );
      if (!(await Promise.race([shown, ended])))
        assert.fail(`the process exited before printing ${JSON.stringify(text)}: ${output}`);
    },
    stop(signal = 'SIGTERM') {
      if (running()) child.kill(signal);
      return exited;
    },
  };
}
