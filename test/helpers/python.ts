// A throwaway Python virtual environment for tests that run Python code (examples/python-resource).
//
// Debian's python3 (/usr/bin/python3, not a pyenv build that may be first on PATH) with
// `--system-site-packages`, so that the venv sees Debian's PyJWT and cryptography (python3-jwt,
// python3-cryptography); nothing is downloaded. Without them, outside CI the test is skipped with the reason;
// with CI=true it fails (.ci/run installs them).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SYSTEM_PYTHON = '/usr/bin/python3';
const INSTALL_HINT = "install Debian's python3-venv, python3-jwt and python3-cryptography (.ci/run does)";

/** Thrown when Python or its packages are missing outside CI; callers may turn it into a skip. */
export class PythonUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PythonUnavailableError';
  }
}

export interface PythonVenv {
  /** The venv's interpreter. */
  python: string;
  /** What the interpreter reported: "Python 3.11.2, PyJWT 2.6.0, cryptography 38.0.4". */
  versions: string;
  remove(): Promise<void>;
}

function unavailable(message: string): Error {
  const full = `${message}; ${INSTALL_HINT}`;
  return process.env.CI === 'true'
    ? new Error(`${full} (required when CI=true)`)
    : new PythonUnavailableError(full);
}

function reason(error: unknown): string {
  const { stderr, message } = error as { stderr?: string; message?: string };
  return (stderr?.trim().split('\n').at(-1) ?? '') || String(message);
}

export async function createPythonVenv(): Promise<PythonVenv> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-venv-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    try {
      // --without-pip: nothing is installed into it, and ensurepip is not needed.
      await run(SYSTEM_PYTHON, ['-m', 'venv', '--system-site-packages', '--without-pip', dir], {
        timeout: 60_000,
      });
    } catch (error) {
      throw unavailable(`${SYSTEM_PYTHON} -m venv failed (${reason(error)})`);
    }
    const python = join(dir, 'bin', 'python');
    let versions: string;
    try {
      const { stdout } = await run(
        python,
        [
          '-c',
          'import sys, jwt, cryptography; ' +
            'print(f"Python {sys.version.split()[0]}, PyJWT {jwt.__version__}, cryptography {cryptography.__version__}")',
        ],
        { timeout: 60_000 },
      );
      versions = stdout.trim();
    } catch (error) {
      throw unavailable(`PyJWT or cryptography cannot be imported in the venv (${reason(error)})`);
    }
    return { python, versions, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

export async function pythonVenvOrSkipReason(): Promise<
  { venv: PythonVenv; skip: undefined } | { venv: undefined; skip: string }
> {
  try {
    return { venv: await createPythonVenv(), skip: undefined };
  } catch (error) {
    if (!(error instanceof PythonUnavailableError)) throw error;
    return { venv: undefined, skip: error.message };
  }
}
