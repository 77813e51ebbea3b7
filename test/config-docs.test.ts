// One configuration reference that cannot drift: docs/configuration.md is generated from the schema
// (scripts/config-docs.ts), every variable src/config.ts reads has a file key or is listed as environment-only,
// and every file key is in the schema.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DOC_PATH, renderConfigurationDoc } from '../scripts/config-docs.ts';
import { loadConfig } from '../src/config.ts';
import { ENVIRONMENT_ONLY, environmentWithConfigFile, fileKeyVariables } from '../src/config-file.ts';

const ROOT = new URL('../', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, ROOT), 'utf8');

/** The variable names a source file reads: quoted names and env.NAME. */
function variablesRead(source: string): Set<string> {
  const found = new Set<string>();
  for (const match of source.matchAll(/['"`]((?:GATEHOUSE|DATABASE|LOG)_[A-Z0-9_]+|PORT|HOST)['"`]/g))
    found.add(match[1]!);
  for (const match of source.matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)) found.add(match[1]!);
  return found;
}

interface Node {
  type?: string;
  properties?: Record<string, Node>;
}

/** Every file key the schema allows, dotted (lifetimes.accessToken); objects are walked, lists are one key. */
function schemaKeys(properties: Record<string, Node>, prefix = ''): string[] {
  return Object.entries(properties).flatMap(([name, node]) => {
    if (name === '$schema') return [];
    return node.type === 'object' && node.properties
      ? schemaKeys(node.properties, `${prefix}${name}.`)
      : [`${prefix}${name}`];
  });
}

describe('docs/configuration.md', () => {
  it('is what npm run docs:config generates from the schema (run it after changing the schema)', () => {
    assert.equal(readFileSync(DOC_PATH, 'utf8'), renderConfigurationDoc());
  });

  it('names every file key and every variable, the environment-only ones included', () => {
    const doc = readFileSync(DOC_PATH, 'utf8');
    for (const [key, variable] of Object.entries(fileKeyVariables())) {
      assert.ok(doc.includes(`| \`${key}\` | \`${variable}\` |`), `${key} → ${variable}`);
    }
    for (const variable of Object.keys(ENVIRONMENT_ONLY))
      assert.ok(doc.includes(`\`${variable}\``), variable);
  });
});

describe('configuration keys cannot drift', () => {
  it('the scan finds what src/config.ts reads (it is not vacuous)', () => {
    const found = variablesRead(read('src/config.ts'));
    for (const expected of [
      'LOG_LEVEL',
      'GATEHOUSE_SHUTDOWN_DRAIN',
      'DATABASE_URL',
      'PORT',
      'GATEHOUSE_SECRET',
    ]) {
      assert.ok(found.has(expected), expected);
    }
    assert.deepEqual([...variablesRead("env.FOO_BAR; integer(env, 'GATEHOUSE_X', 1)")].sort(), [
      'FOO_BAR',
      'GATEHOUSE_X',
    ]);
  });

  it('every variable src/config.ts and src/config-file.ts read has a file key or is environment-only', () => {
    const settable = new Set([...Object.values(fileKeyVariables()), ...Object.keys(ENVIRONMENT_ONLY)]);
    const read_ = new Set([
      ...variablesRead(read('src/config.ts')),
      ...variablesRead(read('src/config-file.ts')),
    ]);
    const missing = [...read_].filter((variable) => !settable.has(variable));
    assert.deepEqual(missing, [], 'add a key to gatehouse.config.schema.json and src/config-file.ts');
  });

  it('every file key of src/config-file.ts is in the schema, and every schema key has a variable', () => {
    const schema = JSON.parse(read('gatehouse.config.schema.json')) as Node;
    const inSchema = schemaKeys(schema.properties ?? {}).sort();
    assert.deepEqual(Object.keys(fileKeyVariables()).sort(), inSchema);
  });

  it('the keys that were environment-only reach the configuration from the file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-config-keys-'));
    try {
      const file = path.join(dir, 'gatehouse.config.json');
      writeFileSync(
        file,
        JSON.stringify({
          issuer: 'http://gatehouse.internal:3000',
          allowInsecureIssuer: true,
          logLevel: 'warn',
          shutdown: { drain: 2, timeout: 9 },
        }),
      );
      const config = loadConfig(environmentWithConfigFile({ GATEHOUSE_CONFIG: file }));
      assert.equal(config.allowInsecureIssuer, true);
      assert.equal(config.issuer, 'http://gatehouse.internal:3000');
      assert.equal(config.logLevel, 'warn');
      assert.equal(config.shutdownDrain, 2);
      assert.equal(config.shutdownTimeout, 9);
      // A variable still wins over the file.
      const overridden = loadConfig(
        environmentWithConfigFile({ GATEHOUSE_CONFIG: file, LOG_LEVEL: 'error' }),
      );
      assert.equal(overridden.logLevel, 'error');
      writeFileSync(file, JSON.stringify({ logLevel: 'loud' }));
      assert.throws(() => environmentWithConfigFile({ GATEHOUSE_CONFIG: file }), /logLevel/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
