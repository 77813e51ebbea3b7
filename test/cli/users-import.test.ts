// `gatehouse users import FILE` (issue 13): a JSON Lines file on disk, per-line errors on stderr with line
// numbers, the summary on stdout, exit code 1 when any line failed, --dry-run, and one real child process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { NO_PASSWORD_HASH, verifyPassword } from '../../src/accounts/password.ts';
import { openStorage } from '../../src/storage/open.ts';
import { existingSqliteUrl, messages, runCliCaptured } from '../helpers/cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = JSON.parse(
  readFileSync(new URL('../fixtures/password-hashes.json', import.meta.url), 'utf8'),
) as { format: string; made_by: string; password: string; hash: string }[];
const bcrypt = fixtures.find((fixture) => fixture.made_by.startsWith('bcryptjs'))!;

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-import-test-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function envFor(name: string): Record<string, string> {
  return {
    DATABASE_URL: existingSqliteUrl(path.join(dir, `${name}.db`)),
    GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
    GATEHOUSE_PASSWORD_COST: '10',
    LOG_LEVEL: 'silent',
  };
}

function file(name: string, lines: (object | string)[]): string {
  const where = path.join(dir, name);
  writeFileSync(
    where,
    lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\r\n'),
  );
  return where;
}

async function users(env: Record<string, string>) {
  const { storage } = await openStorage(env.DATABASE_URL!);
  try {
    return await storage.users.findByIdsOrEmails(['auth0|1', 'auth0|2', 'auth0|3'], []);
  } finally {
    await storage.close();
  }
}

describe('gatehouse users import', () => {
  it('imports a file (CRLF line ends, a BOM), reports bad lines by number, exits 1; a re-run is unchanged', async () => {
    const env = envFor('import');
    const input = file('users.jsonl', [
      `\uFEFF${JSON.stringify({ external_id: 'auth0|1', email: 'one@example.com', password_hash: bcrypt.hash })}`,
      { external_id: 'auth0|2', email: 'two@example.com', name: 'Two', email_verified: true },
      '{"email": "broken"',
      { external_id: 'auth0|3', email: 'three@example.com', password_hash: 'sha1$abc$def' },
    ]);
    const first = await runCliCaptured(['users', 'import', input], env);
    assert.equal(first.code, 1);
    assert.match(
      first.stdout,
      /^Imported 4 lines in \d+\.\d s: 2 created, 0 updated, 0 unchanged, 2 failed\.\n$/,
    );
    assert.equal(
      messages(first.stderr),
      'line 3: not valid JSON\nline 4: password_hash: unknown password hash format (supported: bcrypt, Argon2 PHC, scrypt, PBKDF2 in passlib, PHC or Django form)\n',
    );
    const imported = await users(env);
    assert.deepEqual(imported.map((user) => user.id).sort(), ['auth0|1', 'auth0|2']);
    assert.ok(
      await verifyPassword(bcrypt.password, imported.find((user) => user.id === 'auth0|1')!.passwordHash),
    );

    const fixed = file('fixed.jsonl', [
      { external_id: 'auth0|1', email: 'one@example.com', password_hash: bcrypt.hash },
      { external_id: 'auth0|2', email: 'two@example.com', name: 'Two', email_verified: true },
      { external_id: 'auth0|3', email: 'three@example.com' },
      '',
    ]);
    const second = await runCliCaptured(['users', 'import', fixed], env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /: 1 created, 0 updated, 2 unchanged, 0 failed\.\n$/);
    assert.equal(messages(second.stderr), '');
  });

  it('--dry-run reports the same counts and writes nothing', async () => {
    const env = envFor('dry');
    const input = file('dry.jsonl', [
      { external_id: 'auth0|1', email: 'one@example.com' },
      { external_id: 'auth0|2', email: 'not an email' },
    ]);
    const run = await runCliCaptured(['users', 'import', input, '--dry-run'], env);
    assert.equal(run.code, 1);
    assert.match(
      run.stdout,
      /^Checked \(dry run, nothing written\) 2 lines in .*: 1 created, 0 updated, 0 unchanged, 1 failed\.\n$/,
    );
    assert.equal(messages(run.stderr), 'line 2: email is not a valid address\n');
    assert.deepEqual(await users(env), []);
  });

  it('usage errors exit 2; a missing file exits 1', async () => {
    const env = envFor('usage');
    assert.equal((await runCliCaptured(['users', 'import'], env)).code, 2);
    assert.equal((await runCliCaptured(['users', 'import', 'a', 'b'], env)).code, 2);
    assert.equal((await runCliCaptured(['users', 'import', 'a', '--batch-size', '0'], env)).code, 2);
    const missing = await runCliCaptured(['users', 'import', path.join(dir, 'nope.jsonl')], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^Cannot read .*nope\.jsonl\.\n$/);
    assert.equal((await runCliCaptured(['users', 'import', dir], env)).code, 1);
  });

  it('the example lines of docs/import.md import cleanly, and each password is the one the doc says', async () => {
    const doc = readFileSync(path.join(ROOT, 'docs/import.md'), 'utf8');
    const block = /```jsonl\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(block);
    const lines = block.trim().split('\n');
    const env = envFor('docs');
    const run = await runCliCaptured(['users', 'import', file('docs.jsonl', lines)], env);
    assert.equal(messages(run.stderr), '');
    assert.equal(run.code, 0);
    assert.match(run.stdout, new RegExp(`: ${lines.length} created, 0 updated, 0 unchanged, 0 failed`));
    const { storage } = await openStorage(env.DATABASE_URL!);
    try {
      const ids = lines.map((line) => JSON.parse(line).external_id as string);
      const imported = await storage.users.findByIdsOrEmails(ids, []);
      assert.equal(imported.length, lines.length);
      const withPassword = imported.filter((user) => user.passwordHash !== NO_PASSWORD_HASH);
      assert.equal(withPassword.length, lines.length - 1);
      const checks = await Promise.all(
        withPassword.map((user) => verifyPassword('correct horse battery staple', user.passwordHash)),
      );
      assert.deepEqual(
        withPassword.filter((_, i) => !checks[i]).map((user) => user.email),
        [],
      );
    } finally {
      await storage.close();
    }
  });

  it('runs as a real process: bin/gatehouse.js users import FILE', async () => {
    const env = envFor('process');
    const input = file('process.jsonl', [{ external_id: 'auth0|1', email: 'one@example.com' }]);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(ROOT, 'bin/gatehouse.js'), 'users', 'import', input],
      { env: { ...process.env, ...env }, cwd: dir },
    );
    assert.match(stdout, /^Imported 1 line in .*: 1 created/);
    assert.equal((await users(env)).length, 1);
  });
});
