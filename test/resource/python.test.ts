// docs/any-language.md's Python example (examples/python-resource) against a live Gatehouse: a `gatehouse
// start` process, clients and an API key made with the CLI as the guide says, and the example API run twice by
// Debian's python3 in a throwaway venv (PyJWT from python3-jwt), once for a resource whose tokens are JWTs and
// once for one whose tokens are opaque. Each answer is checked byte for byte: status, WWW-Authenticate,
// Retry-After, body. Tokens come from Gatehouse's /token; the ones Gatehouse would never issue (expired, another
// issuer, the ID-token key, typ JWT, HS256 keyed with the public key) are signed with the live server's own
// private keys, read from its database, so that each fails on exactly one check.
//
// SQLite only: the example talks HTTP to Gatehouse and never touches storage; introspection and revocation are
// tested on both databases in test/endpoints/.
//
// Everything listens on and talks to 127.0.0.1 only.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { signJwt } from '../../src/oauth/jws.ts';
import { loadKeyRing } from '../../src/oauth/keys.ts';
import { openStorage } from '../../src/storage/open.ts';
import { systemClock } from '../../src/util/clock.ts';
import { freePort } from '../e2e/loopback.ts';
import { runCliCaptured } from '../helpers/cli.ts';
import { type GatehouseProcess, startGatehouse } from '../helpers/process.ts';
import { type PythonVenv, pythonVenvOrSkipReason } from '../helpers/python.ts';
import { TEST_SECRET } from '../helpers/server.ts';

const EXAMPLE_DIR = fileURLToPath(new URL('../../examples/python-resource/', import.meta.url));
const TITLE = 'examples/python-resource: a Python API checking Gatehouse tokens';

interface PythonApi {
  /** The resource identifier: http://127.0.0.1:<port>/v1, also the API's base URL. */
  resource: string;
  /** RFC 9728 §3.1: http://127.0.0.1:<port>/.well-known/oauth-protected-resource/v1 */
  metadataUrl: string;
  output(): string;
  stop(): Promise<void>;
}

async function startPythonApi(python: string, port: number, env: Record<string, string>): Promise<PythonApi> {
  const child: ChildProcess = spawn(python, ['api.py'], {
    cwd: EXAMPLE_DIR,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      PYTHONDONTWRITEBYTECODE: '1',
      PYTHONUNBUFFERED: '1',
      API_HOST: '127.0.0.1',
      API_PORT: String(port),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(`listening on http://127.0.0.1:${port}`)) resolve();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('exit', (code) => reject(new Error(`api.py exited with ${code} before listening: ${output}`)));
  });
  const resource = `http://127.0.0.1:${port}/v1`;
  return {
    resource,
    metadataUrl: `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/v1`,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

interface Answer {
  status: number;
  challenge: string | null;
  retryAfter: string | null;
  body: Record<string, unknown>;
}

async function call(url: string, init: { method?: string; authorization?: string } = {}): Promise<Answer> {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: init.authorization ? { authorization: init.authorization } : {},
    redirect: 'error',
    // Only keeps a broken server from hanging the test; nothing asserts on time.
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return {
    status: response.status,
    challenge: response.headers.get('www-authenticate'),
    retryAfter: response.headers.get('retry-after'),
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

const { venv, skip } = await pythonVenvOrSkipReason();
if (venv === undefined) {
  test(TITLE, (t) => {
    t.skip(skip);
  });
} else {
  describe(TITLE, () => suite(venv));
}

function suite(venv: PythonVenv) {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-python-'));
  let gatehouse: GatehouseProcess;
  let issuer: string;
  let jwtApi: PythonApi;
  let opaqueApi: PythonApi;
  let job: { id: string; secret: string };
  let apiKey: string;
  let signWith: (
    alg: 'ES256' | 'RS256',
    typ: 'JWT' | 'at+jwt',
    claims: Record<string, unknown>,
  ) => Promise<string>;
  let es256Public: string;
  let es256Kid: string;

  async function token(form: Record<string, string>): Promise<string> {
    const response = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${job.id}:${job.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...form }).toString(),
    });
    const body = (await response.json()) as { access_token?: string };
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.ok(body.access_token);
    return body.access_token;
  }

  const claims = (overrides: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return {
      iss: issuer,
      sub: job.id,
      aud: jwtApi.resource,
      client_id: job.id,
      scope: 'meeting:read',
      jti: `t${now}`,
      iat: now,
      exp: now + 600,
      ...overrides,
    };
  };

  const invalidToken = (api: PythonApi, realm: string, description: string) =>
    `Bearer ${realm}error="invalid_token", error_description="${description}", resource_metadata="${api.metadataUrl}"`;

  before(async () => {
    const [gatehousePort, jwtPort, opaquePort] = [await freePort(), await freePort(), await freePort()];
    issuer = `http://127.0.0.1:${gatehousePort}`;
    const jwtResource = `http://127.0.0.1:${jwtPort}/v1`;
    const opaqueResource = `http://127.0.0.1:${opaquePort}/v1`;
    const databaseUrl = `sqlite:${path.join(dir, 'gatehouse.db')}`;
    const env = {
      DATABASE_URL: databaseUrl,
      GATEHOUSE_DATA_DIR: dir,
      GATEHOUSE_SECRET: TEST_SECRET,
      GATEHOUSE_ISSUER: issuer,
      GATEHOUSE_SCOPES: JSON.stringify([
        { name: 'meeting:read', description: 'Read your meetings' },
        { name: 'meeting:write', description: 'Change your meetings' },
      ]),
      GATEHOUSE_RESOURCES: JSON.stringify([
        { uri: jwtResource, format: 'jwt', scopes: ['meeting:read', 'meeting:write'] },
        { uri: opaqueResource, format: 'opaque', scopes: ['meeting:read', 'meeting:write'] },
      ]),
      GATEHOUSE_PASSWORD_COST: '10',
      // The test stops Gatehouse to show the 503: no need to wait for idle keep-alive connections.
      GATEHOUSE_SHUTDOWN_DRAIN: '0',
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
    };
    const cli = async (...argv: string[]) => {
      const run = await runCliCaptured(argv, env);
      assert.equal(run.code, 0, run.stderr);
      return run.stdout;
    };
    // As the guide says: the database first, then the API's own client, allowed to introspect every client's
    // tokens.
    await cli('migrate');
    const rs = JSON.parse(
      await cli(
        'clients',
        'add',
        '--name',
        'Meetings API',
        '--grant',
        'client_credentials',
        '--resource-server',
      ),
    );
    // A machine client calling both APIs.
    const created = JSON.parse(
      await cli(
        'clients',
        'add',
        '--name',
        'Reporting job',
        '--grant',
        'client_credentials',
        '--scope',
        'meeting:read meeting:write',
        '--resource',
        jwtResource,
        '--resource',
        opaqueResource,
      ),
    );
    job = { id: created.client_id, secret: created.client_secret };
    await cli('users', 'add', 'alice@example.com', '--name', 'Alice');
    apiKey = JSON.parse(
      await cli(
        'api-keys',
        'create',
        '--user',
        'alice@example.com',
        '--name',
        'laptop',
        '--scope',
        'meeting:read',
      ),
    ).api_key;

    gatehouse = startGatehouse({ env, port: gatehousePort });
    await gatehouse.waitUntilReady();

    // The live server's own keys, for tokens it would never issue itself.
    const { storage } = await openStorage(databaseUrl, { migrate: false });
    const keys = await loadKeyRing(storage, TEST_SECRET, systemClock);
    await storage.close();
    signWith = (alg, typ, payload) => signJwt(keys.signingKey(alg), typ, payload);
    es256Kid = keys.signingKey('ES256').kid;
    es256Public = createPublicKey(keys.signingKey('ES256').keyObject)
      .export({ format: 'pem', type: 'spki' })
      .toString();

    const introspection = {
      API_INTROSPECTION_CLIENT_ID: rs.client_id,
      API_INTROSPECTION_CLIENT_SECRET: rs.client_secret,
    };
    jwtApi = await startPythonApi(venv.python, jwtPort, {
      GATEHOUSE_ISSUER: issuer,
      API_RESOURCE: jwtResource,
      API_REALM: 'meetings',
      ...introspection,
    });
    opaqueApi = await startPythonApi(venv.python, opaquePort, {
      GATEHOUSE_ISSUER: issuer,
      API_RESOURCE: opaqueResource,
      ...introspection,
    });
  });

  after(async () => {
    await jwtApi?.stop();
    await opaqueApi?.stop();
    await gatehouse?.stop();
    await venv.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`runs on ${venv.versions}`, () => {
    assert.match(venv.versions, /^Python 3\.\d+\.\d+, PyJWT 2\.\d+/);
  });

  describe('JWT access tokens, checked offline against the JWKS', () => {
    it('a good token → 200 with who it speaks for', async () => {
      const answer = await call(`${jwtApi.resource}/meetings`, {
        authorization: `Bearer ${await token({ resource: jwtApi.resource, scope: 'meeting:read' })}`,
      });
      assert.equal(answer.status, 200, JSON.stringify(answer));
      assert.deepEqual(answer.body, { subject: job.id, client_id: job.id, scopes: ['meeting:read'] });
      const write = await call(`${jwtApi.resource}/meetings`, {
        method: 'POST',
        authorization: `Bearer ${await token({ resource: jwtApi.resource })}`,
      });
      assert.equal(write.status, 201, JSON.stringify(write));
      assert.deepEqual(write.body.scopes, ['meeting:read', 'meeting:write']);
    });

    it('no token, or another scheme → 401 with a bare challenge naming the resource metadata', async () => {
      const expected = `Bearer realm="meetings", resource_metadata="${jwtApi.metadataUrl}"`;
      for (const authorization of [undefined, `Basic ${Buffer.from('a:b').toString('base64')}`]) {
        const answer = await call(`${jwtApi.resource}/meetings`, { authorization });
        assert.equal(answer.status, 401);
        assert.equal(answer.challenge, expected);
        assert.deepEqual(answer.body, {});
      }
      // RFC 9728: where the challenge points, the API describes itself.
      const metadata = await call(jwtApi.metadataUrl);
      assert.deepEqual(metadata.body, {
        resource: jwtApi.resource,
        authorization_servers: [issuer],
        scopes_supported: ['meeting:read', 'meeting:write'],
        bearer_methods_supported: ['header'],
      });
    });

    it('a malformed Bearer header → 400 invalid_request', async () => {
      const answer = await call(`${jwtApi.resource}/meetings`, { authorization: 'Bearer a b' });
      assert.equal(answer.status, 400);
      assert.equal(
        answer.challenge,
        `Bearer realm="meetings", error="invalid_request", error_description="The Authorization header is malformed", resource_metadata="${jwtApi.metadataUrl}"`,
      );
    });

    it('too little scope → 403 insufficient_scope with the scope needed', async () => {
      const answer = await call(`${jwtApi.resource}/meetings`, {
        method: 'POST',
        authorization: `Bearer ${await token({ resource: jwtApi.resource, scope: 'meeting:read' })}`,
      });
      assert.equal(answer.status, 403);
      assert.equal(
        answer.challenge,
        `Bearer realm="meetings", error="insufficient_scope", error_description="The token lacks the scope meeting:write", scope="meeting:write", resource_metadata="${jwtApi.metadataUrl}"`,
      );
      assert.deepEqual(answer.body, {
        error: 'insufficient_scope',
        error_description: 'The token lacks the scope meeting:write',
      });
    });

    const refused: [string, () => Promise<string>, string][] = [
      [
        'expired (past the 5 s of skew)',
        () => signWith('ES256', 'at+jwt', claims({ iat: claims().iat - 700, exp: claims().iat - 10 })),
        'The access token expired',
      ],
      [
        'for another resource (a Gatehouse token for the opaque API would not be a JWT: one for Gatehouse itself)',
        () => signWith('ES256', 'at+jwt', claims({ aud: issuer })),
        'The access token is not meant for this resource',
      ],
      [
        'from another issuer',
        () => signWith('ES256', 'at+jwt', claims({ iss: 'http://127.0.0.1:1' })),
        'The access token comes from another issuer',
      ],
      [
        'without client_id',
        () => signWith('ES256', 'at+jwt', { ...claims(), client_id: undefined }),
        'The access token is invalid',
      ],
      [
        'typ JWT (what an ID token says) instead of at+jwt',
        () => signWith('ES256', 'JWT', claims()),
        'The access token is invalid',
      ],
      [
        "signed with the issuer's ID-token key (RS256, in the same JWKS, not on the allow-list)",
        () => signWith('RS256', 'at+jwt', claims()),
        'The access token is invalid',
      ],
      [
        'a bad signature (one claim changed after signing)',
        async () => {
          const [header, , signature] = (await signWith('ES256', 'at+jwt', claims())).split('.');
          return `${header}.${b64url(claims({ scope: 'meeting:read meeting:write' }))}.${signature}`;
        },
        'The access token is invalid',
      ],
      [
        'HS256 keyed with the public key (algorithm confusion)',
        async () => {
          const input = `${b64url({ alg: 'HS256', typ: 'at+jwt', kid: es256Kid })}.${b64url(claims())}`;
          return `${input}.${createHmac('sha256', es256Public).update(input).digest('base64url')}`;
        },
        'The access token is invalid',
      ],
      [
        'signed by a key Gatehouse never published',
        async () => {
          const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
          const input = `${b64url({ alg: 'ES256', typ: 'at+jwt', kid: 'not-a-gatehouse-key' })}.${b64url(claims())}`;
          const signature = sign('sha256', Buffer.from(input), {
            key: privateKey,
            dsaEncoding: 'ieee-p1363',
          });
          return `${input}.${signature.toString('base64url')}`;
        },
        'The access token is invalid',
      ],
      [
        'alg none, no signature',
        async () => `${b64url({ alg: 'none', typ: 'at+jwt' })}.${b64url(claims())}.`,
        'The access token is malformed',
      ],
    ];
    for (const [what, make, description] of refused) {
      it(`${what} → 401 invalid_token`, async () => {
        const answer = await call(`${jwtApi.resource}/meetings`, { authorization: `Bearer ${await make()}` });
        assert.equal(answer.status, 401, JSON.stringify(answer));
        assert.equal(answer.challenge, invalidToken(jwtApi, 'realm="meetings", ', description));
        assert.deepEqual(answer.body, { error: 'invalid_token', error_description: description });
      });
    }

    it('the same claims, correctly signed, pass (the refusals above are each for one reason)', async () => {
      const answer = await call(`${jwtApi.resource}/meetings`, {
        authorization: `Bearer ${await signWith('ES256', 'at+jwt', claims())}`,
      });
      assert.equal(answer.status, 200, JSON.stringify(answer));
    });
  });

  describe('opaque tokens and API keys, introspected', () => {
    it('a good opaque token → 200; too little scope → 403', async () => {
      const opaque = await token({ resource: opaqueApi.resource, scope: 'meeting:read' });
      assert.match(opaque, /^gha_/);
      const read = await call(`${opaqueApi.resource}/meetings`, { authorization: `Bearer ${opaque}` });
      assert.equal(read.status, 200, JSON.stringify(read));
      assert.deepEqual(read.body, { subject: job.id, client_id: job.id, scopes: ['meeting:read'] });
      const write = await call(`${opaqueApi.resource}/meetings`, {
        method: 'POST',
        authorization: `Bearer ${opaque}`,
      });
      assert.equal(write.status, 403);
      assert.equal(
        write.challenge,
        `Bearer error="insufficient_scope", error_description="The token lacks the scope meeting:write", scope="meeting:write", resource_metadata="${opaqueApi.metadataUrl}"`,
      );
    });

    it('a revoked token → 401; one the API saw in the last 30 s passes until its cache entry ends', async () => {
      const seen = await token({ resource: opaqueApi.resource });
      const unseen = await token({ resource: opaqueApi.resource });
      assert.equal(
        (await call(`${opaqueApi.resource}/meetings`, { authorization: `Bearer ${seen}` })).status,
        200,
      );
      for (const revoked of [seen, unseen]) {
        const response = await fetch(`${issuer}/revoke`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${job.id}:${job.secret}`).toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: new URLSearchParams({ token: revoked }).toString(),
        });
        assert.equal(response.status, 200);
      }
      const refused = await call(`${opaqueApi.resource}/meetings`, { authorization: `Bearer ${unseen}` });
      assert.equal(refused.status, 401);
      assert.equal(refused.challenge, invalidToken(opaqueApi, '', 'The access token is not active'));
      // The documented revocation delay: the cached introspection answer still stands.
      assert.equal(
        (await call(`${opaqueApi.resource}/meetings`, { authorization: `Bearer ${seen}` })).status,
        200,
      );
    });

    it('a token with a broken checksum → 401 malformed, without asking Gatehouse', async () => {
      const opaque = await token({ resource: opaqueApi.resource });
      const broken = `${opaque.slice(0, -1)}${opaque.endsWith('A') ? 'B' : 'A'}`;
      const answer = await call(`${opaqueApi.resource}/meetings`, { authorization: `Bearer ${broken}` });
      assert.equal(answer.challenge, invalidToken(opaqueApi, '', 'The access token is malformed'));
    });

    it("an API key (aud is the issuer: the user's own account) or a JWT for the other API → 401", async () => {
      const jwtForOtherApi = await token({ resource: jwtApi.resource });
      for (const other of [apiKey, jwtForOtherApi]) {
        assert.match(other, /^(ghk_|eyJ)/);
        const answer = await call(`${opaqueApi.resource}/meetings`, { authorization: `Bearer ${other}` });
        assert.equal(answer.status, 401, JSON.stringify(answer));
        assert.equal(
          answer.challenge,
          invalidToken(opaqueApi, '', 'The access token is not meant for this resource'),
        );
      }
    });
  });

  describe('Gatehouse unreachable', () => {
    it('an opaque token that cannot be introspected → 503 with Retry-After, no challenge; JWTs still pass', async () => {
      const opaque = await token({ resource: opaqueApi.resource });
      const jwt = await token({ resource: jwtApi.resource });
      assert.equal(await gatehouse.stop(), 0);
      const answer = await call(`${opaqueApi.resource}/meetings`, { authorization: `Bearer ${opaque}` });
      assert.equal(answer.status, 503);
      assert.equal(answer.retryAfter, '5');
      assert.equal(answer.challenge, null);
      assert.deepEqual(answer.body, {
        error: 'temporarily_unavailable',
        error_description: 'The access token could not be checked right now',
      });
      assert.match(opaqueApi.output(), /gatehouse_check: http:\/\/127\.0\.0\.1:\d+\/introspect: /);
      assert.doesNotMatch(opaqueApi.output(), /gha_/, 'no token in the log');
      // Offline verification needs only the keys fetched before.
      const offline = await call(`${jwtApi.resource}/meetings`, { authorization: `Bearer ${jwt}` });
      assert.equal(offline.status, 200, JSON.stringify(offline));
    });
  });
}
