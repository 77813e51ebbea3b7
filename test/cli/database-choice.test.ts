// Which database a command uses, and what it does when it cannot use it, through the real bin/gatehouse.js:
// every command says on stderr which database it opens (the PostgreSQL password masked); one run in a folder
// without the server's database refuses instead of creating a second one (unless --create); an unreachable
// database is one line and exit 1 for every command, not only start.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { COMMANDS } from '../../src/cli/main.ts';
import { freePort } from '../e2e/loopback.ts';
import { BIN, runBin, runCliCaptured } from '../helpers/cli.ts';
import { postgresOrSkipReason } from '../helpers/postgres.ts';

const { postgres, skip: postgresSkip } = await postgresOrSkipReason();
let dir: string;
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-database-choice-'));
});
after(async () => {
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a command run where there is no database', () => {
  it('refuses, names the file it looked for and --create, and leaves the folder empty (exit 1)', async () => {
    const elsewhere = path.join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    const run = await runBin(
      ['users', 'add', 'alice@example.com'],
      { GATEHOUSE_PASSWORD_COST: '10' },
      elsewhere,
    );
    assert.equal(run.code, 1, run.stderr);
    const file = path.join(elsewhere, 'data', 'gatehouse.db');
    const lines = run.stderr.trimEnd().split('\n');
    assert.deepEqual(lines.length, 2, run.stderr);
    assert.equal(lines[0], `Database: ${file}`);
    assert.match(
      lines[1]!,
      new RegExp(`^No database at ${file.replaceAll('.', '\\.')}\\. .*add --create\\.$`),
    );
    assert.equal(run.stdout, '');
    assert.deepEqual(readdirSync(elsewhere), [], 'no data folder, no secret, no database');
  });

  it('--create makes it; the next command uses it without --create', async () => {
    const fresh = path.join(dir, 'fresh');
    mkdirSync(fresh);
    const made = await runBin(
      ['users', 'add', 'alice@example.com', '--create'],
      { GATEHOUSE_PASSWORD_COST: '10' },
      fresh,
    );
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /^Created user alice@example\.com/);
    assert.ok(existsSync(path.join(fresh, 'data', 'gatehouse.db')));
    const listed = await runBin(['clients', 'list', '--json'], {}, fresh);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout), []);
    assert.equal(listed.stderr, `Database: ${path.join(fresh, 'data', 'gatehouse.db')}\n`);
  });

  it('start and migrate create it as before (they are how a deployment begins)', async () => {
    const first = path.join(dir, 'first');
    mkdirSync(first);
    const run = await runBin(['migrate'], {}, first);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(existsSync(path.join(first, 'data', 'gatehouse.db')));
  });
});

describe('every command that opens the database, when it cannot be reached', () => {
  const usesDatabase = COMMANDS.filter((command) => command.database === 'existing');
  it('covers the commands that open the database', () => {
    assert.ok(usesDatabase.length >= 15, usesDatabase.map((command) => command.words.join(' ')).join(', '));
  });

  /** Arguments that get each command past its own checks to the database. */
  function argsFor(words: string[]): string[] {
    const needs: Record<string, string[]> = {
      'users add': ['a@example.com', '--password-stdin'],
      'users identities': ['a@example.com'],
      'users unlink': ['a@example.com', '--provider', 'p', '--subject', 's'],
      'users import': [BIN],
      'clients add': ['--name', 'x', '--redirect-uri', 'https://app.example/cb'],
      'clients approve': ['c'],
      'clients resource-server': ['c'],
      'clients disable': ['c'],
      'clients enable': ['c'],
      'clients delete': ['c', '--yes'],
      'clients rotate-secret': ['c'],
      'users disable': ['a@example.com'],
      'users enable': ['a@example.com'],
      'users delete': ['a@example.com', '--yes'],
      'api-keys create': ['--user', 'a@example.com', '--name', 'k'],
      'api-keys revoke': ['k'],
      'admin-keys create': ['--name', 'k', '--scope', 'interactions'],
      'admin-keys revoke': ['k'],
      'keys reset': ['--yes'],
    };
    return [...words, ...(needs[words.join(' ')] ?? [])];
  }

  it('PostgreSQL refusing connections: each says so in one line, password masked, exit 1', async () => {
    const closed = await freePort();
    const env = {
      DATABASE_URL: `postgres://gatehouse:hunter2-secret@127.0.0.1:${closed}/gatehouse`,
      GATEHOUSE_SECRET: 'x'.repeat(40),
    };
    for (const command of usesDatabase) {
      const run = await runCliCaptured(argsFor(command.words), env, 'password123\n');
      const where = `postgres://gatehouse:***@127.0.0.1:${closed}/gatehouse`;
      assert.equal(run.code, 1, `${command.words.join(' ')}: ${run.stderr}`);
      assert.equal(
        run.stderr.replace(/ECONNREFUSED.*/, 'ECONNREFUSED'),
        `Database: ${where}\nCannot open the database ${where}: connect ECONNREFUSED\n`,
        command.words.join(' '),
      );
      assert.ok(!run.stderr.includes('hunter2-secret'));
    }
  });

  it('through the real bin: users add and clients list, one line after the Database line, exit 1', async () => {
    const closed = await freePort();
    const env = { DATABASE_URL: `postgres://gatehouse:hunter2-secret@127.0.0.1:${closed}/gatehouse` };
    for (const args of [
      ['users', 'add', 'a@example.com'],
      ['clients', 'list'],
    ]) {
      const run = await runBin(args, env, dir);
      assert.equal(run.code, 1, run.stderr);
      const lines = run.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 2, `no stack trace: ${run.stderr}`);
      assert.match(
        lines[1]!,
        /^Cannot open the database postgres:\/\/gatehouse:\*\*\*@127\.0\.0\.1:\d+\/gatehouse: connect ECONNREFUSED/,
      );
    }
  });

  it('a PostgreSQL database that does not exist (the login refused): one line, exit 1', {
    skip: postgresSkip,
  }, async () => {
    const url = new URL(postgres!.url);
    url.pathname = '/no_such_database';
    const run = await runBin(['clients', 'list'], { DATABASE_URL: url.toString() }, dir);
    assert.equal(run.code, 1, run.stderr);
    const lines = run.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 2, run.stderr);
    assert.equal(lines[0], `Database: ${url.toString()}`);
    assert.match(
      lines[1]!,
      /^Cannot open the database .*no_such_database: database "no_such_database" does not exist$/,
    );
  });
});
