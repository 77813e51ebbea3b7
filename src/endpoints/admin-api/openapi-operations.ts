// The OpenAPI paths and schemas of the administrative operations (clients.ts, users.ts, keys.ts), merged into
// the document in openapi.ts. Each response schema is what test/endpoints/admin-api-operations.test.ts checks
// every answer against.

const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const json = (description: string, schema: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
});

/** The answers every keyed operation may give besides its own. */
const common = (scope: string) => ({
  '400': error('Invalid input (invalid_request or invalid_client_metadata), with a description.'),
  '401': error('No admin key, or an unknown, revoked or expired one (invalid_token).'),
  '403': error(`The admin key lacks the ${scope} scope (insufficient_scope).`),
});

const idParameter = (name: string, description: string) => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'string', maxLength: 255 },
});
const clientId = idParameter('id', 'The client_id.');
const userId = idParameter('id', 'The user id (the `sub` clients see).');

const paging = [
  {
    name: 'limit',
    in: 'query',
    description: 'Rows per page, 1 to 200 (default 50).',
    schema: { type: 'integer', minimum: 1, maximum: 200 },
  },
  {
    name: 'cursor',
    in: 'query',
    description: 'next_cursor of the previous page; newest first.',
    schema: { type: 'string' },
  },
];

const operation = (
  scope: string,
  summary: string,
  responses: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) => ({
  summary,
  security: [{ adminKey: [scope] }],
  ...extra,
  responses: { ...responses, ...common(scope) },
});

const body = (schema: string, required = false) => ({
  requestBody: {
    required,
    content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
  },
});

const notFound = error('No such record (not_found).');
const conflict = error('The operation does not apply to the record as it is now (conflict), with why.');

const clientAction = (summary: string, bodySchema?: string) => ({
  post: operation(
    'clients:write',
    summary,
    {
      '200': json('Done, or nothing to do (already so): the client as it is now.', 'AdminClient'),
      '404': notFound,
      '409': conflict,
    },
    { parameters: [clientId], ...(bodySchema ? body(bodySchema) : {}) },
  ),
});

const userAction = (summary: string) => ({
  post: operation(
    'users:write',
    summary,
    {
      '200': json('Done, or nothing to do (already so): the user as it is now.', 'AdminUser'),
      '404': notFound,
      '409': conflict,
    },
    { parameters: [userId] },
  ),
});

const stringList = { type: 'array', items: { type: 'string' } } as const;
const timestamp = { type: ['string', 'null'], format: 'date-time' } as const;
const revoked = {
  type: 'object',
  required: ['revoked_grants'],
  properties: { revoked_grants: { type: 'integer', minimum: 0 } },
} as const;

export const OPERATION_PATHS = {
  '/api/v1/clients': {
    get: operation(
      'clients:read',
      'List clients, newest first, or those waiting for an administrator',
      { '200': json('A page of clients.', 'AdminClientPage') },
      {
        parameters: [
          ...paging,
          {
            name: 'awaiting_review',
            in: 'query',
            description:
              'true: every client waiting for an administrator (registration, change or scopes), oldest first, ' +
              'in one answer.',
            schema: { type: 'string', enum: ['true'] },
          },
        ],
      },
    ),
    post: operation(
      'clients:write',
      'Register a client as an operator (approved by you); the secret is in this answer only',
      { '201': json('The client, with client_secret for a confidential one.', 'AdminClientCreated') },
      body('AdminClientInput', true),
    ),
  },
  '/api/v1/clients/{id}': {
    get: operation(
      'clients:read',
      'Read a client',
      { '200': json('The client.', 'AdminClient'), '404': notFound },
      { parameters: [clientId] },
    ),
    delete: operation(
      'clients:write',
      'Delete a client: every token it holds stops working',
      { '204': { description: 'Deleted.' }, '404': notFound },
      { parameters: [clientId] },
    ),
  },
  '/api/v1/clients/{id}/approve': clientAction(
    'Approve a registration (pending, or self-registered with client_credentials)',
    'ReviewFingerprint',
  ),
  '/api/v1/clients/{id}/reject': clientAction('Reject a registration that waits: the client is deleted'),
  '/api/v1/clients/{id}/approve-changes': clientAction(
    'Put the change the client proposed in force',
    'ReviewFingerprint',
  ),
  '/api/v1/clients/{id}/reject-changes': clientAction('Drop the change the client proposed'),
  '/api/v1/clients/{id}/approve-scopes': clientAction('Grant the scopes the client asked for'),
  '/api/v1/clients/{id}/reject-scopes': clientAction('Refuse the scopes the client asked for'),
  '/api/v1/clients/{id}/disable': clientAction('Disable a client: its tokens stop working at once'),
  '/api/v1/clients/{id}/enable': clientAction('Enable a disabled client'),
  '/api/v1/clients/{id}/revoke-tokens': {
    post: operation(
      'clients:write',
      'Revoke every token the client holds, for every user (it stays registered)',
      {
        '200': { description: 'Revoked.', content: { 'application/json': { schema: revoked } } },
        '404': notFound,
      },
      { parameters: [clientId] },
    ),
  },
  '/api/v1/clients/{id}/secret': {
    post: operation(
      'clients:write',
      'Rotate the client secret; the old one works for overlap_seconds more',
      { '200': json('The new secret, shown once.', 'RotatedSecret'), '404': notFound, '409': conflict },
      { parameters: [clientId], ...body('SecretRotation') },
    ),
  },
  '/api/v1/registration-tokens': {
    post: operation(
      'clients:write',
      'Issue an initial access token for dynamic registration (GATEHOUSE_REGISTRATION=token)',
      { '201': json('The token, shown once.', 'RegistrationToken') },
      body('RegistrationTokenRequest'),
    ),
  },
  '/api/v1/users': {
    get: operation(
      'users:read',
      'List users, newest first, or find one by email',
      { '200': json('A page of users.', 'AdminUserPage') },
      {
        parameters: [
          ...paging,
          { name: 'email', in: 'query', description: 'Exact email (any case).', schema: { type: 'string' } },
        ],
      },
    ),
    post: operation(
      'users:write',
      'Create a user; without a password one is generated and returned once',
      { '201': json('The user, with password when it was generated.', 'AdminUserCreated') },
      body('AdminUserInput', true),
    ),
  },
  '/api/v1/users/{id}': {
    get: operation(
      'users:read',
      'Read a user',
      { '200': json('The user.', 'AdminUser'), '404': notFound },
      { parameters: [userId] },
    ),
    patch: operation(
      'users:write',
      'Set the phone number and postal address the phone and address scopes release (null clears one)',
      { '200': json('The user as it is now.', 'AdminUser'), '404': notFound, '409': conflict },
      { parameters: [userId], ...body('AdminUserProfile', true) },
    ),
    delete: operation(
      'users:write',
      'Delete a user: every token, session, consent, linked sign-in and API key of theirs ends',
      { '204': { description: 'Deleted.' }, '404': notFound, '409': conflict },
      { parameters: [userId] },
    ),
  },
  '/api/v1/users/{id}/disable': userAction('Disable a user: sessions end and their tokens stop working'),
  '/api/v1/users/{id}/enable': userAction('Enable a disabled user'),
  '/api/v1/users/{id}/reset-password': {
    post: operation(
      'users:write',
      'Give the user a generated password (returned once); their tokens and sessions end',
      { '200': json('The new password, shown once.', 'PasswordReset'), '404': notFound, '409': conflict },
      { parameters: [userId] },
    ),
  },
  '/api/v1/users/{id}/revoke-tokens': {
    post: operation(
      'users:write',
      "Revoke every token of the user's, at every app",
      {
        '200': { description: 'Revoked.', content: { 'application/json': { schema: revoked } } },
        '404': notFound,
      },
      { parameters: [userId] },
    ),
  },
  '/api/v1/users/{id}/authorizations': {
    get: operation(
      'users:read',
      "The user's live authorizations (grants), one per app sign-in",
      { '200': json('Newest first.', 'Authorizations'), '404': notFound },
      { parameters: [userId] },
    ),
  },
  '/api/v1/users/{id}/authorizations/{clientId}': {
    delete: operation(
      'users:write',
      "Remove an app's access for the user: its tokens are revoked and consent forgotten",
      {
        '200': { description: 'Removed.', content: { 'application/json': { schema: revoked } } },
        '404': notFound,
      },
      { parameters: [userId, idParameter('clientId', 'The client_id.')] },
    ),
  },
  '/api/v1/keys': {
    get: operation('keys:read', 'The signing keys (public facts only)', {
      '200': json('Every key, newest first.', 'SigningKeys'),
    }),
  },
  '/api/v1/keys/rotate': {
    post: operation(
      'keys:write',
      'Rotate the signing keys; answers once every running server publishes the new ones',
      { '200': json('The new keys.', 'KeyRotation') },
      body('KeyRotationRequest'),
    ),
  },
} as const;

const clientProperties = {
  client_id: { type: 'string' },
  client_name: { type: 'string' },
  status: { enum: ['pending', 'active', 'disabled'] },
  registered_via: {
    enum: ['cli', 'dcr', 'portal'],
    description: 'cli: made by an operator (CLI or this API).',
  },
  owner_user_id: { type: ['string', 'null'] },
  created_at: timestamp,
  reviewed_at: timestamp,
  redirect_uris: stringList,
  grant_types: stringList,
  scope: { type: 'string' },
  requested_scope: { type: 'string', description: 'Scopes asked for that wait for approve-scopes.' },
  token_endpoint_auth_method: { enum: ['none', 'client_secret_basic', 'client_secret_post'] },
  application_type: { enum: ['web', 'native'] },
  require_pkce: { type: 'boolean' },
  allowed_cors_origins: stringList,
  resources: stringList,
  resource_server: { type: 'boolean', description: "May introspect every client's tokens (RFC 7662 §4)." },
  non_expiring_tokens: { type: 'boolean' },
  client_uri: { type: 'string' },
  logo_uri: { type: 'string' },
  policy_uri: { type: 'string' },
  tos_uri: { type: 'string' },
  contacts: stringList,
  review_fingerprint: {
    type: 'string',
    description: 'Send it back with approve: the client is approved only if it is still what you read.',
  },
  pending_changes: {
    type: ['object', 'null'],
    required: ['fields', 'proposed_at', 'review_fingerprint'],
    properties: { fields: stringList, proposed_at: timestamp, review_fingerprint: { type: 'string' } },
  },
} as const;

const clientRequired = [
  'client_id',
  'client_name',
  'status',
  'registered_via',
  'created_at',
  'redirect_uris',
  'grant_types',
  'scope',
  'token_endpoint_auth_method',
  'application_type',
  'review_fingerprint',
  'pending_changes',
];

const userProperties = {
  id: { type: 'string' },
  email: { type: ['string', 'null'] },
  name: { type: ['string', 'null'] },
  is_admin: { type: 'boolean' },
  email_verified: { type: 'boolean' },
  phone_number: { type: ['string', 'null'], description: 'OIDC Core §5.1; released by the phone scope.' },
  phone_number_verified: { type: 'boolean' },
  address: {
    oneOf: [{ $ref: '#/components/schemas/Address' }, { type: 'null' }],
    description: 'OIDC Core §5.1.1; released by the address scope.',
  },
  status: { enum: ['active', 'disabled'] },
  sign_in: {
    enum: ['gatehouse', 'external', 'none'],
    description: 'gatehouse: a password here; external: your own sign-in page; none: no password yet.',
  },
  created_at: timestamp,
  updated_at: timestamp,
  disabled_at: timestamp,
} as const;
const userRequired = ['id', 'email', 'is_admin', 'status', 'sign_in', 'created_at'];

const pageOf = (schema: string) => ({
  type: 'object',
  required: ['items', 'next_cursor'],
  properties: {
    items: { type: 'array', items: { $ref: `#/components/schemas/${schema}` } },
    next_cursor: { type: ['string', 'null'], description: 'null on the last page.' },
  },
});

const keyView = {
  type: 'object',
  required: ['kid', 'alg', 'created_at', 'activates_at', 'state'],
  properties: {
    kid: { type: 'string' },
    alg: { type: 'string' },
    created_at: timestamp,
    activates_at: timestamp,
    rotated_at: timestamp,
    retire_at: timestamp,
    state: { enum: ['signing', 'published', 'retired'] },
  },
} as const;

export const OPERATION_SCHEMAS = {
  AdminClient: { type: 'object', required: clientRequired, properties: clientProperties },
  AdminClientCreated: {
    type: 'object',
    required: clientRequired,
    properties: { ...clientProperties, client_secret: { type: 'string', pattern: '^ghs_' } },
  },
  AdminClientPage: pageOf('AdminClient'),
  AdminClientInput: {
    type: 'object',
    required: ['client_name'],
    additionalProperties: false,
    properties: {
      client_name: { type: 'string', minLength: 1, maxLength: 200 },
      redirect_uris: stringList,
      grant_types: stringList,
      scope: { type: 'string' },
      token_endpoint_auth_method: { enum: ['none', 'client_secret_basic', 'client_secret_post'] },
      application_type: { enum: ['web', 'native'] },
      require_pkce: { type: 'boolean' },
      allowed_cors_origins: stringList,
      resources: stringList,
      resource_server: { type: 'boolean' },
      non_expiring_tokens: { type: 'boolean' },
    },
  },
  ReviewFingerprint: {
    type: 'object',
    additionalProperties: false,
    properties: {
      review_fingerprint: {
        type: 'string',
        description: 'review_fingerprint as you read it (of pending_changes for approve-changes).',
      },
    },
  },
  SecretRotation: {
    type: 'object',
    additionalProperties: false,
    properties: {
      overlap_seconds: {
        type: 'integer',
        minimum: 0,
        maximum: 2_592_000,
        description:
          'How long the old secret keeps working; 0 for a leaked one. Default GATEHOUSE_SECRET_ROTATION_OVERLAP.',
      },
    },
  },
  RotatedSecret: {
    type: 'object',
    required: ['client_id', 'client_secret', 'previous_secret_expires_at'],
    properties: {
      client_id: { type: 'string' },
      client_secret: { type: 'string', pattern: '^ghs_' },
      previous_secret_expires_at: timestamp,
    },
  },
  RegistrationTokenRequest: {
    type: 'object',
    additionalProperties: false,
    properties: {
      uses: { type: 'integer', minimum: 1, maximum: 10_000, default: 1 },
      expires_in_hours: { type: 'integer', minimum: 1, maximum: 8760, default: 24 },
    },
  },
  RegistrationToken: {
    type: 'object',
    required: ['token', 'uses', 'expires_at'],
    properties: { token: { type: 'string' }, uses: { type: 'integer' }, expires_at: timestamp },
  },
  AdminUser: { type: 'object', required: userRequired, properties: userProperties },
  AdminUserCreated: {
    type: 'object',
    required: userRequired,
    properties: { ...userProperties, password: { type: 'string' } },
  },
  AdminUserPage: pageOf('AdminUser'),
  AdminUserInput: {
    type: 'object',
    required: ['email'],
    additionalProperties: false,
    properties: {
      email: { type: 'string', format: 'email' },
      name: { type: 'string', maxLength: 200 },
      is_admin: { type: 'boolean', default: false },
      password: { type: 'string', minLength: 8, description: 'Omit it to have one generated.' },
    },
  },
  AdminUserProfile: {
    type: 'object',
    additionalProperties: false,
    properties: {
      phone_number: { type: ['string', 'null'], description: 'E.164 recommended: +1 555 0100.' },
      phone_number_verified: { type: 'boolean' },
      address: { oneOf: [{ $ref: '#/components/schemas/Address' }, { type: 'null' }] },
    },
  },
  Address: {
    type: 'object',
    additionalProperties: false,
    description: 'OIDC Core §5.1.1 address claim.',
    properties: {
      formatted: { type: 'string', maxLength: 500 },
      street_address: { type: 'string', maxLength: 500 },
      locality: { type: 'string', maxLength: 500 },
      region: { type: 'string', maxLength: 500 },
      postal_code: { type: 'string', maxLength: 500 },
      country: { type: 'string', maxLength: 500 },
    },
  },
  PasswordReset: {
    type: 'object',
    required: [...userRequired, 'password', 'revoked_grants'],
    properties: { ...userProperties, password: { type: 'string' }, revoked_grants: { type: 'integer' } },
  },
  Authorizations: {
    type: 'object',
    required: ['items'],
    properties: {
      items: {
        type: 'array',
        items: {
          type: 'object',
          required: ['grant_id', 'client_id', 'scope', 'created_at'],
          properties: {
            grant_id: { type: 'string' },
            client_id: { type: 'string' },
            scope: { type: 'string' },
            created_at: timestamp,
            last_used_at: timestamp,
          },
        },
      },
    },
  },
  SigningKeys: {
    type: 'object',
    required: ['items'],
    properties: { items: { type: 'array', items: keyView } },
  },
  KeyRotationRequest: {
    type: 'object',
    additionalProperties: false,
    properties: {
      activate_in_minutes: {
        type: 'integer',
        minimum: 0,
        maximum: 10_080,
        default: 10,
        description: 'Publish first, sign later (verifiers cache the JWKS); 0 for a compromised key.',
      },
    },
  },
  KeyRotation: {
    type: 'object',
    required: ['added', 'activates_at', 'old_keys_retire_after_seconds'],
    properties: {
      added: { type: 'array', items: keyView },
      activates_at: timestamp,
      old_keys_retire_after_seconds: { type: 'integer' },
    },
  },
} as const;
