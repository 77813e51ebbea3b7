// A client for the admin API driven by its own OpenAPI document (/api/v1/openapi.json): each call names an
// operation by method and path template; the request body is checked against the operation's requestBody
// schema before it is sent, and the answer must have a status the operation documents and a body its schema
// accepts. A test that passes through it proves the document describes what the server does.
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance } from 'fastify';

interface OperationObject {
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}
type OpenApiDocument = { paths: Record<string, Record<string, OperationObject>> };

export interface ApiAnswer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: a JSON body the schema already checked
  body: any;
}

export class OpenApiClient {
  private readonly ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  private readonly app: FastifyInstance;
  private readonly document: OpenApiDocument;
  private readonly key: string | undefined;

  constructor(app: FastifyInstance, document: OpenApiDocument, key: string | undefined) {
    this.app = app;
    this.document = document;
    this.key = key;
    this.ajv.addSchema(structuredClone(document) as object, 'doc');
  }

  static async load(app: FastifyInstance, key?: string): Promise<OpenApiClient> {
    const response = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    assert.equal(response.statusCode, 200);
    return new OpenApiClient(app, response.json() as OpenApiDocument, key);
  }

  withKey(key: string | undefined): OpenApiClient {
    return new OpenApiClient(this.app, this.document, key);
  }

  private schemaAt(pointer: string, data: unknown, what: string) {
    const validate = this.ajv.getSchema(`doc#${pointer}`);
    assert.ok(validate, `no schema at ${pointer}`);
    assert.ok(validate(data), `${what}: ${JSON.stringify(validate.errors)} in ${JSON.stringify(data)}`);
  }

  /**
   * `call('post', '/api/v1/clients/{id}/disable', { id })`: path parameters fill the template; `query` and
   * `body` as given. `raw` sends a body as it is (bad JSON), unchecked.
   */
  async call(
    method: 'get' | 'post' | 'patch' | 'delete',
    template: string,
    options: {
      params?: Record<string, string>;
      query?: Record<string, string>;
      body?: unknown;
      raw?: string;
    } = {},
  ): Promise<ApiAnswer> {
    const operation = this.document.paths[template]?.[method];
    assert.ok(operation, `the document has no ${method.toUpperCase()} ${template}`);
    const path = template.replace(/\{([A-Za-z]+)\}/g, (_, name: string) =>
      encodeURIComponent(options.params?.[name] ?? assert.fail(`no value for {${name}}`)),
    );
    const pointerBase = `/paths/${template.replaceAll('~', '~0').replaceAll('/', '~1')}/${method}`;
    if (options.body !== undefined && options.raw === undefined) {
      assert.ok(operation.requestBody, `${method} ${template} takes no body`);
      this.schemaAt(
        `${pointerBase}/requestBody/content/application~1json/schema`,
        options.body,
        'the request body the document describes',
      );
    }
    const query = options.query ? `?${new URLSearchParams(options.query)}` : '';
    const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const response = await this.app.inject({
      method: method.toUpperCase() as 'GET' | 'POST' | 'PATCH' | 'DELETE',
      url: `${path}${query}`,
      headers: {
        ...(this.key ? { authorization: `Bearer ${this.key}` } : {}),
        ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      payload,
    });
    const status = String(response.statusCode);
    const documented = operation.responses[status];
    assert.ok(
      documented,
      `${method.toUpperCase()} ${path} answered ${status}, undocumented: ${response.body}`,
    );
    const body = response.body === '' ? undefined : response.json();
    if (documented.content?.['application/json']?.schema !== undefined) {
      this.schemaAt(
        `${pointerBase}/responses/${status}/content/application~1json/schema`,
        body,
        `${method.toUpperCase()} ${path} → ${status}`,
      );
    } else {
      assert.equal(response.body, '', `${status} documents no body`);
    }
    return { status: response.statusCode, body };
  }
}
