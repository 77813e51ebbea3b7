// The admin API's OpenAPI 3.1 document (/api/v1/openapi.json): valid against the OpenAPI 3.1 schema, and a true
// description of the server: every operation it lists answers (401 without an admin key where it says a key is
// needed), and every /api/v1 route the server has is listed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import Fastify from 'fastify';
import { ADMIN_SCOPES, createAdminKey } from '../../src/accounts/admin-keys.ts';
import { OPERATION_PATHS } from '../../src/endpoints/admin-api/openapi-operations.ts';
import { registerAdminApi } from '../../src/endpoints/admin-api/route.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';

describe('the admin API OpenAPI document', () => {
  let server: TestServer;
  let document: {
    openapi: string;
    info: { version: string };
    paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
  };

  before(async () => {
    server = await buildTestServer({ GATEHOUSE_LOGIN_URL: 'https://www.acme.example/login' });
    const response = await server.app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    document = response.json();
  });
  after(() => server?.close());

  it('is served without a key and validates against the OpenAPI 3.1 schema', async () => {
    assert.equal(document.openapi, '3.1.0');
    assert.equal(document.info.version, '1.0.0');
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    assert.equal(validator.version, '3.1');
    // Every $ref resolves.
    assert.doesNotThrow(() => validator.resolveRefs());
  });

  it('every operation it lists is a route: secured ones answer 401 without a key, and a documented status with one', async () => {
    const { key } = await createAdminKey(
      server.deps.storage,
      { name: 'doc', scopes: Object.keys(ADMIN_SCOPES) },
      0,
    );
    let operations = 0;
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        operations++;
        const request = {
          method: method.toUpperCase() as 'GET' | 'POST' | 'DELETE',
          // Unknown ids: every documented operation must still answer one of its documented statuses.
          url: `${path.replace(/\{[A-Za-z]+\}/g, 'unknown')}?challenge=ghi_unknown`,
        };
        const anonymous = await server.app.inject(request);
        const secured = operation.security === undefined || operation.security.length > 0;
        if (secured) {
          assert.equal(anonymous.statusCode, 401, `${method} ${path}: ${anonymous.body}`);
          assert.ok('401' in operation.responses, `${method} ${path} documents 401`);
          const keyed = await server.app.inject({
            ...request,
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            payload: method === 'post' ? '{}' : undefined,
          });
          assert.ok(
            String(keyed.statusCode) in operation.responses,
            `${method} ${path} answered ${keyed.statusCode}, which it does not document: ${keyed.body}`,
          );
        } else {
          assert.equal(anonymous.statusCode, 200, `${method} ${path}`);
        }
      }
    }
    assert.equal(operations, 7 + Object.values(OPERATION_PATHS).flatMap(Object.keys).length);
  });

  it('lists every route the admin API registers, and the server answers each of them', async () => {
    // registerAdminApi on a bare Fastify instance, with a hook that sees each route as it is added.
    const bare = Fastify();
    const routes: string[] = [];
    bare.addHook('onRoute', (route) => {
      for (const method of [route.method].flat())
        if (method !== 'HEAD') routes.push(`${method} ${route.url.replace(/:([A-Za-z]+)/g, '{$1}')}`);
    });
    registerAdminApi(bare, server.deps);
    await bare.ready();
    await bare.close();
    const documented = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    assert.deepEqual(routes.sort(), documented.sort());
    for (const route of routes) {
      const [method, url] = route.split(' ') as ['GET' | 'POST' | 'DELETE', string];
      assert.ok(
        server.app.hasRoute({ method, url: url.replace(/\{([A-Za-z]+)\}/g, ':$1') }),
        `the server has ${route}`,
      );
    }
  });
});
