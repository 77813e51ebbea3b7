// The dependency rules of docs/architecture.md, enforced by reading every import specifier under src/ with node:fs
// (no parser, no dependency). The rules and the scanner are plain functions, tested on made-up sources first,
// so a rule that silently matches nothing cannot pass.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Every module specifier a TypeScript source imports or re-exports, static, dynamic or type-only. */
function importSpecifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    // import x from '…', import { a, type B } from '…', import type … from '…' (may span lines)
    /^[ \t]*import\s+(?:type\s+)?[\w$*{}\s,]*?\s*from\s*['"]([^'"]+)['"]/gm,
    // import '…' (side effects only)
    /^[ \t]*import\s*['"]([^'"]+)['"]/gm,
    // export * from '…', export { a } from '…', export type { A } from '…'
    /^[ \t]*export\s+(?:type\s+)?(?:\*(?:\s+as\s+[\w$]+)?|\{[^}]*\})\s*from\s*['"]([^'"]+)['"]/gm,
    // import('…') anywhere: dynamic imports and import types such as import('fastify').FastifyReply
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) if (match[1]) found.push(match[1]);
  }
  return found;
}

interface SourceFile {
  /** Path relative to the repository root, with forward slashes: src/oauth/pkce.ts */
  path: string;
  source: string;
}

interface Import {
  from: string;
  specifier: string;
  /** For relative specifiers: the target, relative to the repository root (src/storage/storage.ts). */
  target: string | undefined;
}

function importsOf(file: SourceFile): Import[] {
  return importSpecifiers(file.source).map((specifier) => ({
    from: file.path,
    specifier,
    target: specifier.startsWith('.') ? join(dirname(file.path), specifier).split(sep).join('/') : undefined,
  }));
}

const packageName = (specifier: string) => specifier.replace(/^node:/, '');
const isKyselyOrPg = (specifier: string) =>
  /^kysely($|[-/])/.test(specifier) || /^pg($|\/)/.test(specifier) || /^pg-/.test(specifier);
const isFastify = (specifier: string) =>
  /^fastify($|\/)/.test(specifier) || specifier.startsWith('@fastify/');
const under = (path: string, folder: string) => path.startsWith(`${folder}/`);

/** Every broken rule, as "file: what". Empty when the tree follows docs/architecture.md. */
function ruleViolations(files: readonly SourceFile[]): string[] {
  const problems: string[] = [];
  for (const file of files) {
    for (const { from, specifier, target } of importsOf(file)) {
      const say = (rule: string) => problems.push(`${from}: imports '${specifier}' (${rule})`);
      if (isKyselyOrPg(packageName(specifier)) && !under(from, 'src/storage')) {
        say('only src/storage/** may import kysely or pg');
      }
      if (under(from, 'src/oauth')) {
        if (isFastify(specifier)) say('src/oauth/** is pure TypeScript: no fastify');
        if (target && under(target, 'src/storage') && target !== 'src/storage/storage.ts') {
          say('src/oauth/** may use only the storage contract, src/storage/storage.ts');
        }
      }
      if (under(from, 'src/pages') && target) {
        if (under(target, 'src/storage/kysely') || target === 'src/storage/kysely') {
          say('src/pages/** must not reach into the storage implementation');
        }
        if (under(target, 'src/endpoints/token') || target === 'src/endpoints/token') {
          say('src/pages/** never mints tokens: no src/endpoints/token');
        }
      }
      if (under(from, 'src') && target && under(target, 'packages')) {
        say("src/** uses the resource package by its name, '@gatehouse/resource', as any API does");
      }
      if (under(from, 'packages/resource/src') && target === undefined) {
        // The package runs on web-standard runtimes and installs nothing but jose: no node: built-ins, and
        // Fastify only for the Fastify adapter's types (an optional peer).
        const fastifyTypes = from === 'packages/resource/src/adapters/fastify.ts' && specifier === 'fastify';
        if (specifier !== 'jose' && !fastifyTypes) say('packages/resource/src/** may import only jose');
      }
      // One relying party, one way out: the upstream protocol lives in src/federation/, and only the SSRF guard
      // (src/http/outbound.ts) makes outbound HTTP requests for it.
      if (/^oauth4webapi($|\/)/.test(specifier) && !under(from, 'src/federation')) {
        say('only src/federation/** speaks to upstream identity providers (oauth4webapi)');
      }
      if (/^ipaddr\.js($|\/)/.test(specifier) && from !== 'src/http/outbound.ts') {
        say('only src/http/outbound.ts judges outbound addresses (ipaddr.js)');
      }
      if (target !== undefined && !specifier.endsWith('.ts')) {
        say('relative imports name the .ts file');
      }
    }
  }
  return problems;
}

/** Relative imports whose file does not exist. */
function missingTargets(files: readonly SourceFile[], exists: (path: string) => boolean): string[] {
  return files.flatMap((file) =>
    importsOf(file)
      .filter(
        (entry) => entry.target !== undefined && entry.specifier.endsWith('.ts') && !exists(entry.target),
      )
      .map((entry) => `${entry.from}: '${entry.specifier}' does not exist`),
  );
}

function readTree(folder: string): SourceFile[] {
  const files: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(ts|mts|cts|js|mjs)$/.test(entry.name)) {
        files.push({ path: relative(ROOT, full).split(sep).join('/'), source: readFileSync(full, 'utf8') });
      }
    }
  };
  walk(resolve(ROOT, folder));
  return files;
}

describe('architecture: the import scanner', () => {
  it('finds static, multi-line, type-only, side-effect, re-exported and dynamic imports', () => {
    const source = [
      "import assert from 'node:assert/strict';",
      "import { a, type B } from './a.ts';",
      'import {',
      '  c,',
      '  d as e,',
      "} from '../c.ts';",
      "import type {} from '@fastify/cookie';",
      "import * as ns from 'kysely';",
      'import def, { named } from "pg";',
      "import './side-effect.ts';",
      "export * from './all.ts';",
      "export { f } from './f.ts';",
      "export type { G } from './g.ts';",
      'const lazy = await import("./lazy.ts");',
      "type Reply = import('fastify').FastifyReply;",
      "// import commented from 'not-really';",
      "const text = 'no import here';",
    ].join('\n');
    assert.deepEqual(importSpecifiers(source).sort(), [
      '../c.ts',
      './a.ts',
      './all.ts',
      './f.ts',
      './g.ts',
      './lazy.ts',
      './side-effect.ts',
      '@fastify/cookie',
      'fastify',
      'kysely',
      'node:assert/strict',
      'pg',
    ]);
  });

  it('flags each rule on made-up files (the rules can fail)', () => {
    const files: SourceFile[] = [
      { path: 'src/endpoints/token/route.ts', source: "import { sql } from 'kysely';" },
      { path: 'src/interaction/flow.ts', source: "import pg from 'pg';" },
      { path: 'src/cli/main.ts', source: "import { SqliteDialect } from 'kysely-sqlite';" },
      { path: 'src/oauth/bad.ts', source: "import type { FastifyReply } from 'fastify';" },
      { path: 'src/oauth/bad2.ts', source: "import cookie from '@fastify/cookie';" },
      {
        path: 'src/oauth/bad3.ts',
        source: "import { createKyselyStorage } from '../storage/kysely/index.ts';",
      },
      { path: 'src/oauth/bad4.ts', source: "import type { Database } from '../storage/database.ts';" },
      {
        path: 'src/pages/login/bad.ts',
        source: "import { clientStore } from '../../storage/kysely/clients.ts';",
      },
      {
        path: 'src/pages/bad.ts',
        source: "import { issueTokens } from '../endpoints/token/grants/issue.ts';",
      },
      { path: 'src/util/bad.ts', source: "import { sha256 } from './hash';" },
      { path: 'src/util/bad2.ts', source: "import { sha256 } from './hash.js';" },
      {
        path: 'src/oauth/bad5.ts',
        source: "import { createVerifier } from '../../packages/resource/src/verify.ts';",
      },
      { path: 'packages/resource/src/bad.ts', source: "import { crc32 } from 'node:zlib';" },
      {
        path: 'packages/resource/src/adapters/node.ts',
        source: "import type { FastifyReply } from 'fastify';",
      },
      { path: 'src/pages/login/bad2.ts', source: "import * as oauth from 'oauth4webapi';" },
      { path: 'src/http/bad.ts', source: "import ipaddr from 'ipaddr.js';" },
    ];
    const problems = ruleViolations(files);
    for (const file of files) {
      assert.ok(
        problems.some((problem) => problem.startsWith(`${file.path}:`)),
        `${file.path} should break a rule; got:\n${problems.join('\n')}`,
      );
    }
    assert.equal(problems.length, files.length, problems.join('\n'));
  });

  it('lets the allowed imports through', () => {
    const files: SourceFile[] = [
      { path: 'src/storage/kysely/index.ts', source: "import { sql } from 'kysely';\nimport pg from 'pg';" },
      { path: 'src/storage/open.ts', source: "import { Migrator } from 'kysely/migration';" },
      {
        path: 'src/oauth/ok.ts',
        source: "import type { Client } from '../storage/storage.ts';\nimport { x } from 'jose';",
      },
      { path: 'src/pages/ok.ts', source: "import type { Storage } from '../storage/storage.ts';" },
      { path: 'src/pages/ok2.ts', source: "import { start } from '../interaction/flow.ts';" },
      { path: 'src/oauth/ok2.ts', source: "import { createVerifier } from '@gatehouse/resource';" },
      {
        path: 'packages/resource/src/adapters/fastify.ts',
        source: "import type { FastifyReply } from 'fastify';\nimport { bearerAnswer } from '../errors.ts';",
      },
      { path: 'packages/resource/src/verify.ts', source: "import { jwtVerify } from 'jose';" },
      { path: 'src/endpoints/x/route.ts', source: "import type { FastifyInstance } from 'fastify';" },
      { path: 'src/server.ts', source: "import { registerToken } from './endpoints/token/route.ts';" },
      { path: 'src/federation/upstream.ts', source: "import * as oauth from 'oauth4webapi';" },
      { path: 'src/http/outbound.ts', source: "import ipaddr from 'ipaddr.js';" },
    ];
    assert.deepEqual(ruleViolations(files), []);
  });
});

describe('architecture: src/ follows the dependency rules', () => {
  const files = readTree('src');

  it('the scan sees the whole tree (not a vacuous pass)', () => {
    assert.ok(files.length >= 30, `only ${files.length} files under src/`);
    const kysely = files.find((file) => file.path === 'src/storage/kysely/index.ts');
    assert.ok(kysely && importSpecifiers(kysely.source).includes('kysely'));
    const server = files.find((file) => file.path === 'src/server.ts');
    assert.ok(server && importSpecifiers(server.source).includes('fastify'));
  });

  it('no rule is broken', () => {
    assert.deepEqual(ruleViolations(files), []);
  });

  it('every relative import names a file that exists', () => {
    assert.deepEqual(
      missingTargets(files, (path) => existsSync(resolve(ROOT, path))),
      [],
    );
  });
});

describe('architecture: packages/resource/src depends on jose alone', () => {
  const files = readTree('packages/resource/src');

  it('the scan sees the package (not a vacuous pass)', () => {
    assert.ok(files.length >= 6, `only ${files.length} files under packages/resource/src/`);
    const verify = files.find((file) => file.path === 'packages/resource/src/verify.ts');
    assert.ok(verify && importSpecifiers(verify.source).includes('jose'));
  });

  it('no rule is broken, and every relative import names a file that exists', () => {
    assert.deepEqual(ruleViolations(files), []);
    assert.deepEqual(
      missingTargets(files, (path) => existsSync(resolve(ROOT, path))),
      [],
    );
  });
});
