// The admin API's OpenAPI 3.1 document (/api/v1/openapi.json): valid against the OpenAPI 3.1 schema, and a true
// description of the server: every operation it lists answers (401 without an admin key where it says a key is
// needed), and every /api/v1 route the server has is listed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import Fastify from 'fastify';
import { ADMIN_SCOPES, createAdminKey } from '../../src/accounts/admin-keys.ts';
import { OPERATION_PATHS } from '../../src/endpoints/admin-api/openapi-operations.ts';
import { registerAdminApi } from '../../src/endpoints/admin-api/route.ts';
import { type Actor, recordSecurityEvent } from '../../src/oauth/security-events.ts';
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
    assert.equal(operations, 8 + Object.values(OPERATION_PATHS).flatMap(Object.keys).length);
  });

  it('the security event log answers what its response schemas say, as JSON and as JSON Lines', async () => {
    // The document's own schemas, compiled by a JSON Schema 2020-12 validator (OpenAPI 3.1's dialect).
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema({ ...structuredClone(document), $id: 'https://gatehouse.test/openapi.json' });
    const schema = (name: string) => {
      const validate = ajv.compile({
        $ref: `https://gatehouse.test/openapi.json#/components/schemas/${name}`,
      });
      return (value: unknown) => {
        assert.equal(
          validate(value),
          true,
          `${name}: ${JSON.stringify(validate.errors)}\n${JSON.stringify(value)}`,
        );
      };
    };
    const page = schema('SecurityEventPage');
    const event = schema('SecurityEvent');
    const error = schema('Error');

    // Not vacuous: the schemas refuse what the API must never send.
    const sample = {
      id: 'e',
      type: 't',
      created_at: '2026-11-22T12:00:00.000Z',
      actor: null,
      ip: null,
      client_id: null,
      client_name: null,
      user_id: null,
      user_email: null,
      grant_id: null,
      detail: {},
    };
    event(sample);
    const refuses = (value: unknown) =>
      assert.equal(
        ajv.validate('https://gatehouse.test/openapi.json#/components/schemas/SecurityEvent', value),
        false,
      );
    refuses({ ...sample, actor: { kind: 'user' } });
    refuses({ ...sample, actor: { kind: 'cli', id: 'x' } });
    refuses({ ...sample, secret: 'x' });
    refuses({ ...sample, ip: undefined });

    // Events of every actor kind, recorded the way Gatehouse records them.
    const { storage } = server.deps;
    const user = await server.addUser();
    const { client } = await server.addClient({ name: 'Schema App' });
    const actors: Actor[] = [
      { kind: 'user', id: user.id },
      { kind: 'admin_key', id: 'key', name: 'Key' },
      { kind: 'client', id: client.id },
      { kind: 'cli' },
      { kind: 'system' },
    ];
    for (const actor of actors) {
      await recordSecurityEvent(storage, server.clock.now(), 'schema_check', {
        actor,
        userId: user.id,
        clientId: client.id,
        ip: '203.0.113.5',
        detail: { n: 1 },
      });
    }
    await recordSecurityEvent(storage, server.clock.now(), 'schema_check', { detail: {} });
    const { key } = await createAdminKey(storage, { name: 'events', scopes: ['events:read'] }, 0);
    const get = (query: string, headers: Record<string, string> = {}) =>
      server.app.inject({
        method: 'GET',
        url: `/api/v1/security-events?${query}`,
        headers: { authorization: `Bearer ${key}`, ...headers },
      });

    const first = await get('type=schema_check&limit=4');
    assert.equal(first.statusCode, 200);
    page(first.json());
    assert.equal(first.json().events.length, 4);
    const second = await get(`type=schema_check&limit=4&cursor=${first.json().next_cursor}`);
    page(second.json());
    assert.equal(second.json().next_cursor, null);
    assert.equal(second.json().events.length, 2);

    const lines = await get('type=schema_check', { accept: 'application/x-ndjson' });
    const documented = (
      document.paths['/api/v1/security-events']!.get!.responses['200'] as { content: Record<string, unknown> }
    ).content;
    assert.ok(String(lines.headers['content-type']).split(';')[0]! in documented);
    const parsed = lines.body
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(parsed.length, 6);
    for (const line of parsed) event(line);
    assert.deepEqual(
      parsed.map((line) => line.actor?.kind ?? null),
      [null, 'system', 'cli', 'client', 'admin_key', 'user'],
    );

    const bad = await get('since=soon');
    assert.equal(bad.statusCode, 400);
    error(bad.json());
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
