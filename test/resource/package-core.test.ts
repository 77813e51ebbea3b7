// The parts of @gatehouse/resource that are its own code rather than RFC 6750 behaviour (which library.test.ts and
// package.test.ts check against a live Gatehouse): the CRC32 it shares with the server, the Basic credentials and
// bounded cache of remote introspection, the metadata middleware, and the Fastify plugin's refusal to start
// without a verifier.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { crc32 as zlibCrc32 } from 'node:zlib';
import {
  crc32,
  createVerifier,
  type IntrospectionResponse,
  isWellFormedOpaqueToken,
  opaqueTokenChecksum,
} from '@gatehouse/resource';
import { gatehouse } from '@gatehouse/resource/fastify';
import { serveResourceMetadata } from '@gatehouse/resource/node';
import { checkRequest } from '@gatehouse/resource/web';
import Fastify from 'fastify';
import { mintOpaqueAccessToken, mintOpaqueToken, TOKEN_PREFIX } from '../../src/oauth/opaque-token.ts';

describe('the CRC32 tail', () => {
  it('equals zlib.crc32 on 20,000 strings, ASCII and not', () => {
    for (let i = 0; i < 20_000; i++) {
      const bytes = randomBytes(1 + (i % 80));
      const value = i % 2 ? bytes.toString('base64url') : bytes.toString('latin1') + (i % 3 ? 'é😀' : '');
      assert.equal(crc32(value), zlibCrc32(value), JSON.stringify(value));
    }
  });

  it('tokens the server mints are well-formed for the package; one changed character is not', () => {
    for (let i = 0; i < 200; i++) {
      const access = mintOpaqueAccessToken(Date.now());
      const key = mintOpaqueToken(TOKEN_PREFIX.apiKey);
      assert.ok(isWellFormedOpaqueToken(access, 'gha_'), access);
      assert.ok(isWellFormedOpaqueToken(key, 'ghk_'), key);
      assert.equal(opaqueTokenChecksum(access.slice(0, -6)), access.slice(-6));
      const position = 4 + (i % (access.length - 4));
      const changed =
        access.slice(0, position) + (access[position] === 'A' ? 'B' : 'A') + access.slice(position + 1);
      assert.equal(isWellFormedOpaqueToken(changed, 'gha_'), false, changed);
    }
    assert.equal(isWellFormedOpaqueToken(mintOpaqueToken(TOKEN_PREFIX.refreshToken), 'ghr_'), false);
  });
});

describe('remote introspection', () => {
  it('sends client_secret_basic with the id and secret form-encoded first (RFC 6749 §2.3.1)', async () => {
    let seen: IncomingMessage | undefined;
    const server = createServer((request, response) => {
      seen = request;
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"active":false}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const verifier = createVerifier({
        issuer: 'https://as.example',
        audience: 'https://api.example',
        introspection: {
          endpoint: `http://127.0.0.1:${port}/introspect`,
          clientId: 'meetings api:1',
          clientSecret: 'p+q/r é',
          cacheSeconds: 0,
        },
      });
      await assert.rejects(verifier.verifyToken(mintOpaqueAccessToken(Date.now())), {
        code: 'invalid_token',
      });
      const basic = String(seen?.headers.authorization);
      assert.match(basic, /^Basic /);
      assert.equal(
        Buffer.from(basic.slice(6), 'base64').toString('latin1'),
        'meetings+api%3A1:p%2Bq%2Fr+%C3%A9',
      );
      assert.equal(seen?.headers['content-type'], 'application/x-www-form-urlencoded');
    } finally {
      server.close();
    }
  });

  it('remembers at most 10,000 active answers, forgetting the oldest first', async () => {
    const asked: string[] = [];
    const verifier = createVerifier({
      issuer: 'https://as.example',
      audience: 'https://api.example',
      introspection: {
        endpoint: 'https://as.example/introspect',
        clientId: 'rs',
        clientSecret: 'secret',
        fetch: async (_url, init) => {
          asked.push(new URLSearchParams(String(init?.body)).get('token') ?? '');
          const answer: IntrospectionResponse = {
            active: true,
            aud: 'https://api.example',
            sub: 'u',
            client_id: 'c',
          };
          return Response.json(answer);
        },
      },
    });
    const tokens = Array.from({ length: 10_001 }, () => mintOpaqueAccessToken(Date.now()));
    for (const token of tokens) await verifier.verifyToken(token);
    assert.equal(asked.length, 10_001);
    // The newest is remembered; the first was forgotten when the 10,001st arrived.
    await verifier.verifyToken(tokens[10_000]!);
    assert.equal(asked.length, 10_001);
    await verifier.verifyToken(tokens[0]!);
    assert.equal(asked.length, 10_002);
    assert.equal(asked.at(-1), tokens[0]);
  });
});

describe('the adapters', () => {
  it('serveResourceMetadata answers GET and HEAD at its path only and passes everything else on', () => {
    const middleware = serveResourceMetadata({
      resource: 'https://api.example/v1',
      authorizationServers: ['https://as.example'],
    });
    const answers: { status: number; headers: Record<string, string>; body: string | undefined }[] = [];
    const response = {
      status: 0,
      headers: {} as Record<string, string>,
      writeHead(status: number, headers: Record<string, string>) {
        this.status = status;
        this.headers = headers;
      },
      end(body?: string) {
        answers.push({ status: this.status, headers: this.headers, body });
      },
    };
    let passedOn = 0;
    const next = () => passedOn++;
    middleware(
      { headers: {}, method: 'GET', url: '/.well-known/oauth-protected-resource/v1' },
      response,
      next,
    );
    middleware(
      { headers: {}, method: 'HEAD', url: '/.well-known/oauth-protected-resource/v1' },
      response,
      next,
    );
    middleware(
      { headers: {}, method: 'POST', url: '/.well-known/oauth-protected-resource/v1' },
      response,
      next,
    );
    middleware({ headers: {}, method: 'GET', url: '/.well-known/oauth-protected-resource' }, response, next);
    middleware({ headers: {}, method: 'GET', url: '/v1' }, response, next);
    assert.equal(passedOn, 3);
    assert.equal(answers.length, 2);
    assert.deepEqual(JSON.parse(String(answers[0]?.body)), {
      resource: 'https://api.example/v1',
      authorization_servers: ['https://as.example'],
      bearer_methods_supported: ['header'],
    });
    assert.equal(answers[0]?.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(answers[1]?.body, '');
  });

  it('the web adapter turns a failed check into a Response with the RFC 6750 headers', async () => {
    const verifier = createVerifier({
      issuer: 'https://as.example',
      audience: 'https://api.example',
      realm: 'api',
    });
    const { token, response } = await checkRequest(
      verifier,
      new Request('https://api.example/x', { headers: { authorization: 'Bearer a b' } }),
    );
    assert.equal(token, undefined);
    assert.equal(response?.status, 400);
    assert.equal(
      response?.headers.get('www-authenticate'),
      'Bearer realm="api", error="invalid_request", error_description="The Authorization header is malformed"',
    );
    assert.equal(response?.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await response?.json(), {
      error: 'invalid_request',
      error_description: 'The Authorization header is malformed',
    });
  });

  it('the Fastify plugin refuses to register without a verifier, with a message saying what to pass', async () => {
    const app = Fastify();
    // @ts-expect-error: the missing option is the point of the test.
    app.register(gatehouse, {});
    await assert.rejects(async () => {
      await app.ready();
    }, /pass \{ verifier: createVerifier/);
    await app.close();
  });
});
