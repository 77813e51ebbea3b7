// The admin API's contract as an OpenAPI 3.1 document, served at /api/v1/openapi.json. Versioned in the path
// (/api/v1) and in info.version: a change that breaks a caller gets a new path prefix, never an edit here.
// test/endpoints/admin-api-openapi.test.ts validates it against the OpenAPI 3.1 schema and checks that every
// path it lists is a route the server answers; the operations' paths and schemas are in openapi-operations.ts.
import { OPERATION_PATHS, OPERATION_SCHEMAS } from './openapi-operations.ts';

const challengeParameter = {
  name: 'challenge',
  in: 'query',
  required: true,
  description:
    'The login_challenge or consent_challenge the browser brought to your page. In the query, not the path: ' +
    'Gatehouse logs paths only.',
  schema: { type: 'string', pattern: '^ghi_[A-Za-z0-9_-]{49}$' },
} as const;

const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const answered = {
  '200': {
    description: 'Answered. Send the browser to redirect_to (a 303 from your page, or a link).',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Redirect' } } },
  },
  '400': error('The body is invalid (invalid_request), with a description saying what is wrong.'),
  '401': error('No admin key, or an unknown, revoked or expired one (invalid_token).'),
  '403': error('The admin key lacks the interactions scope (insufficient_scope).'),
  '404': error('Unknown challenge, already answered (single use), or replaced by a newer one (not_found).'),
  '410': {
    description:
      'The flow expired (error "expired"). Send the browser to redirect_to: the client gets access_denied.',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Expired' } } },
  },
} as const;

const read = (summary: string, schema: string) => ({
  summary,
  security: [{ adminKey: ['interactions'] }],
  parameters: [challengeParameter],
  responses: {
    '200': {
      description: 'The request behind the challenge.',
      content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
    },
    '401': answered['401'],
    '403': answered['403'],
    '404': answered['404'],
    '410': answered['410'],
  },
});

const write = (summary: string, description: string, schema: string) => ({
  summary,
  description,
  security: [{ adminKey: ['interactions'] }],
  parameters: [challengeParameter],
  requestBody: {
    required: false,
    content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
  },
  responses: answered,
});

const stringList = { type: 'array', items: { type: 'string' } } as const;

const eventFilter = (name: string, description: string, schema: Record<string, unknown>) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});

const isoTime = {
  type: 'string',
  description: 'A date (midnight UTC) or a date-time with its zone.',
  examples: ['2026-11-22', '2026-11-22T12:00:00Z'],
} as const;

const securityEvents = {
  summary: 'The security event log, newest first: a page of JSON, or an export as JSON Lines',
  description:
    'Every security-relevant event (sign-ins, registrations, reuse detection, revocations, key rotation, ' +
    'administrative changes) with who acted, from which address, and on what (id and name at the time). ' +
    'JSON: at most `limit` events (default 100, at most 1000) and `next_cursor` for the next page, null on the ' +
    'last; pages neither repeat nor skip an event. JSON Lines (`Accept: application/x-ndjson` or ' +
    '`format=jsonl`): every selected event, one JSON object per line (the same objects), up to `limit` if given.',
  security: [{ adminKey: ['events:read'] }],
  parameters: [
    eventFilter('type', 'Only events of this type, e.g. login_failed.', {
      type: 'string',
      pattern: '^[a-z][a-z0-9_]{0,63}$',
    }),
    eventFilter('user_id', 'Only events about this user (the target, by id).', {
      type: 'string',
      minLength: 1,
      maxLength: 255,
    }),
    eventFilter('client_id', 'Only events about this client.', {
      type: 'string',
      minLength: 1,
      maxLength: 255,
    }),
    eventFilter('since', 'Only events at or after this time.', isoTime),
    eventFilter('until', 'Only events before this time.', isoTime),
    eventFilter('limit', 'At most this many events (JSON: default 100).', { type: 'integer', minimum: 1 }),
    eventFilter('cursor', 'Continue after the page that returned this next_cursor (opaque).', {
      type: 'string',
    }),
    eventFilter('format', 'jsonl: JSON Lines, as with Accept: application/x-ndjson.', {
      enum: ['json', 'jsonl'],
    }),
  ],
  responses: {
    '200': {
      description: 'The events: a SecurityEventPage as JSON, or one SecurityEvent per line as JSON Lines.',
      content: {
        'application/json': { schema: { $ref: '#/components/schemas/SecurityEventPage' } },
        'application/x-ndjson': { schema: { $ref: '#/components/schemas/SecurityEvent' } },
      },
    },
    '400': error('A malformed filter, limit or cursor (invalid_request).'),
    '401': answered['401'],
    '403': error('The admin key lacks the events:read scope (insufficient_scope).'),
  },
} as const;

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'Gatehouse admin API',
    version: '1.0.0',
    description:
      'Administer Gatehouse from your own tools (Terraform, CI pipelines, support consoles): clients, users ' +
      'and their authorizations, registration tokens, signing keys; every operation records a security event ' +
      'naming the admin key. Authenticate with an admin key from `gatehouse admin-keys create --name NAME ' +
      '--scope SCOPE…`; the scopes are listed on each operation (X:write includes X:read). Lists are newest ' +
      'first, paged with limit and the next_cursor of the previous page.\n\n' +
      'Your own sign-in and consent pages for Gatehouse (the headless model of Ory Hydra). With ' +
      'GATEHOUSE_LOGIN_URL set, Gatehouse sends the browser to your page with ?login_challenge=…; your app ' +
      'reads the request, signs the person in its own way, accepts with their subject (or rejects), and sends ' +
      'the browser to the redirect_to it gets back. GATEHOUSE_CONSENT_URL does the same for consent with ' +
      '?consent_challenge=…. A challenge is single-use, expires with the flow (GATEHOUSE_INTERACTION_TTL), and ' +
      'its redirect_to completes only in the browser that started the flow. Authenticate with an admin key ' +
      'from `gatehouse admin-keys create --name NAME --scope interactions`. The security event log is read ' +
      'with an admin key with the events:read scope.',
  },
  servers: [{ url: '/' }],
  security: [{ adminKey: [] }],
  paths: {
    '/api/v1/openapi.json': {
      get: {
        summary: 'This document',
        security: [],
        responses: {
          '200': { description: 'The OpenAPI 3.1 document.', content: { 'application/json': {} } },
        },
      },
    },
    '/api/v1/interactions/login': {
      get: read('The sign-in request behind a login challenge', 'LoginRequest'),
    },
    '/api/v1/interactions/login/accept': {
      post: write(
        'Accept a login: the person signed in as subject',
        'subject becomes the `sub` clients see, exactly. When the request says skip, accept with its subject ' +
          '(without showing a form), or reject.',
        'LoginAccept',
      ),
    },
    '/api/v1/interactions/login/reject': {
      post: write('Reject a login: the client gets the error', 'Ends the flow at the client.', 'Reject'),
    },
    '/api/v1/interactions/consent': {
      get: read('The consent request behind a consent challenge', 'ConsentRequest'),
    },
    '/api/v1/interactions/consent/accept': {
      post: write(
        'Accept consent for some or all requested scopes',
        'grant_scope defaults to every requested scope and may not add any. remember stores the consent for ' +
          'confidential clients, so the next request asking no more skips your consent page.',
        'ConsentAccept',
      ),
    },
    '/api/v1/interactions/consent/reject': {
      post: write('Reject consent: the client gets the error', 'Ends the flow at the client.', 'Reject'),
    },
    ...OPERATION_PATHS,
    '/api/v1/security-events': { get: securityEvents },
  },
  components: {
    securitySchemes: {
      adminKey: {
        type: 'http',
        scheme: 'bearer',
        description: 'An admin key (ghm_…) from `gatehouse admin-keys create`.',
      },
    },
    schemas: {
      ...OPERATION_SCHEMAS,
      Error: {
        type: 'object',
        required: ['error'],
        properties: { error: { type: 'string' }, error_description: { type: 'string' } },
      },
      Redirect: {
        type: 'object',
        required: ['redirect_to'],
        properties: { redirect_to: { type: 'string', format: 'uri' } },
      },
      Expired: {
        type: 'object',
        required: ['error', 'redirect_to'],
        properties: {
          error: { const: 'expired' },
          error_description: { type: 'string' },
          redirect_to: { type: 'string', format: 'uri' },
        },
      },
      Client: {
        type: 'object',
        required: ['client_id', 'client_name', 'redirect_uris', 'public'],
        properties: {
          client_id: { type: 'string' },
          client_name: { type: 'string' },
          redirect_uris: stringList,
          client_uri: { type: 'string' },
          logo_uri: { type: 'string' },
          policy_uri: { type: 'string' },
          tos_uri: { type: 'string' },
          contacts: stringList,
          public: { type: 'boolean', description: 'A public client: consent is never remembered for it.' },
        },
      },
      LoginRequest: {
        type: 'object',
        required: ['challenge', 'skip', 'subject', 'client', 'requested_scope', 'prompt', 'expires_at'],
        properties: {
          challenge: { type: 'string' },
          skip: {
            type: 'boolean',
            description:
              'This browser already has a Gatehouse session for subject that satisfies prompt and max_age: ' +
              'accept with that subject without showing a form (or reject).',
          },
          subject: { type: ['string', 'null'] },
          client: { $ref: '#/components/schemas/Client' },
          requested_scope: stringList,
          requested_resource: { type: ['string', 'null'] },
          prompt: { ...stringList, description: 'none: answer without showing any page.' },
          max_age: { type: ['integer', 'null'] },
          login_hint: { type: ['string', 'null'] },
          ui_locales: stringList,
          acr_values: stringList,
          expires_at: { type: 'string', format: 'date-time' },
        },
      },
      LoginAccept: {
        type: 'object',
        required: ['subject'],
        additionalProperties: false,
        properties: {
          subject: {
            type: 'string',
            minLength: 1,
            maxLength: 255,
            description: 'Your user id; the ID token and userinfo `sub`. Printable ASCII.',
          },
          remember: {
            type: 'boolean',
            default: false,
            description: 'Keep a Gatehouse session in this browser, so the next request says skip.',
          },
          remember_for: {
            type: 'integer',
            minimum: 1,
            description: 'Seconds; at most (and by default) GATEHOUSE_SESSION_TTL.',
          },
          acr: { type: 'string', description: 'The ID token acr.' },
          amr: { ...stringList, maxItems: 10, description: 'The ID token amr, e.g. ["pwd", "otp"].' },
          claims: {
            type: 'object',
            description:
              'OpenID Connect standard claims (OIDC Core §5.1): name, given_name, family_name, email, ' +
              'email_verified, preferred_username, picture, locale, … Released to clients per scope (§5.4), ' +
              'in the ID token and at userinfo. At most 8 KB.',
          },
        },
      },
      ConsentRequest: {
        type: 'object',
        required: ['challenge', 'subject', 'client', 'requested_scope', 'scope_descriptions', 'expires_at'],
        properties: {
          challenge: { type: 'string' },
          subject: { type: 'string' },
          client: { $ref: '#/components/schemas/Client' },
          requested_scope: stringList,
          scope_descriptions: { type: 'object', additionalProperties: { type: 'string' } },
          requested_resource: { type: ['string', 'null'] },
          prompt: stringList,
          login: {
            type: 'object',
            properties: {
              acr: { type: ['string', 'null'] },
              amr: { type: ['array', 'null'], items: { type: 'string' } },
              auth_time: { type: ['integer', 'null'] },
            },
          },
          expires_at: { type: 'string', format: 'date-time' },
        },
      },
      ConsentAccept: {
        type: 'object',
        additionalProperties: false,
        properties: {
          grant_scope: { ...stringList, description: 'Default: every requested scope.' },
          remember: { type: 'boolean', default: false },
        },
      },
      SecurityEvent: {
        type: 'object',
        additionalProperties: false,
        required: [
          'id',
          'type',
          'created_at',
          'actor',
          'ip',
          'client_id',
          'client_name',
          'user_id',
          'user_email',
          'grant_id',
          'detail',
        ],
        properties: {
          id: { type: 'string' },
          type: { type: 'string', description: 'login_failed, client_registered, refresh_token_reuse, …' },
          created_at: { type: 'string', format: 'date-time' },
          actor: {
            description:
              'Who acted; null for an anonymous request (a failed sign-in, an open registration). name is the ' +
              "user's email, the admin key's or the client's name at the time.",
            oneOf: [
              { type: 'null' },
              {
                type: 'object',
                additionalProperties: false,
                required: ['kind', 'id'],
                properties: {
                  kind: { enum: ['user', 'admin_key', 'client'] },
                  id: { type: 'string' },
                  name: { type: ['string', 'null'] },
                },
              },
              {
                type: 'object',
                additionalProperties: false,
                required: ['kind'],
                properties: { kind: { enum: ['cli', 'system'] } },
              },
            ],
          },
          ip: {
            type: ['string', 'null'],
            description: 'The address the request came from (after GATEHOUSE_TRUST_PROXY); null without one.',
          },
          client_id: { type: ['string', 'null'] },
          client_name: { type: ['string', 'null'], description: "The client's name at the time." },
          user_id: { type: ['string', 'null'] },
          user_email: {
            type: ['string', 'null'],
            description:
              "The user's email at the time (for a sign-in to an unknown account, the email tried).",
          },
          grant_id: { type: ['string', 'null'] },
          detail: { type: 'object', description: 'What else the event type records (a reason, counts, …).' },
        },
      },
      SecurityEventPage: {
        type: 'object',
        additionalProperties: false,
        required: ['events', 'next_cursor'],
        properties: {
          events: { type: 'array', items: { $ref: '#/components/schemas/SecurityEvent' } },
          next_cursor: {
            type: ['string', 'null'],
            description: 'Pass as cursor for the next page; null on the last page.',
          },
        },
      },
      Reject: {
        type: 'object',
        additionalProperties: false,
        properties: {
          error: {
            enum: [
              'access_denied',
              'login_required',
              'consent_required',
              'interaction_required',
              'account_selection_required',
              'temporarily_unavailable',
            ],
            default: 'access_denied',
          },
          error_description: { type: 'string', maxLength: 300 },
        },
      },
    },
  },
} as const;
