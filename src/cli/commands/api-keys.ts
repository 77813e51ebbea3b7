import { createApiKey } from '../../accounts/api-keys.ts';
import { UserInputError } from '../../accounts/users.ts';
import type { ApiKey } from '../../storage/storage.ts';
import { type Command, CommandFailure, printJson, printTable, UsageError } from '../command.ts';
import { EXPIRES_IN_DAYS_OPTION, expiresInDays, lifetime } from '../key-options.ts';

function describe(key: ApiKey, email: string | undefined) {
  return {
    id: key.id,
    name: key.name,
    user: email ?? key.userId,
    scope: key.scope,
    resources: key.resources,
    ...lifetime(key, Date.now()),
  };
}

export const apiKeysCreate: Command = {
  words: ['api-keys', 'create'],
  summary: 'Create a long-lived API key for a user (printed once, as JSON)',
  options: {
    user: { type: 'string', value: 'EMAIL', description: 'The user the key acts for (required).' },
    name: {
      type: 'string',
      value: 'NAME',
      description: 'What the key is for, shown in listings (required).',
    },
    scope: {
      type: 'string',
      value: '"A B…"',
      description: 'The scopes the key carries, space-separated, from the scope catalogue. Default: none.',
    },
    resource: {
      type: 'string',
      multiple: true,
      value: 'URI',
      description:
        'An API (from GATEHOUSE_RESOURCES) that may accept the key; introspection lists it in aud.',
    },
    'expires-in-days': EXPIRES_IN_DAYS_OPTION,
  },
  details: 'Prints JSON with api_key, shown once; only its SHA-256 is stored.',
  database: 'existing',
  async run({ values, io, config, storage }) {
    if (typeof values.user !== 'string' || typeof values.name !== 'string') {
      throw new UsageError('--user and --name are required.');
    }
    const days = expiresInDays(values['expires-in-days']);
    const settings = config();
    const store = await storage();
    const user = await store.users.findByEmail(values.user);
    if (!user) throw new CommandFailure(`No user with the email ${values.user}.`);
    try {
      const { key, record } = await createApiKey(
        store,
        {
          userId: user.id,
          name: values.name,
          scope: typeof values.scope === 'string' ? values.scope : '',
          expiresInDays: days,
          resources: Array.isArray(values.resource) ? values.resource.map(String) : [],
        },
        Date.now(),
        settings.scopes.map((scope) => scope.name),
        settings.resources.map((resource) => resource.uri),
      );
      printJson(io, { ...describe(record, user.email ?? undefined), api_key: key });
    } catch (error) {
      if (error instanceof UserInputError) throw new CommandFailure(error.message);
      throw error;
    }
    io.stderr('The api_key is shown once: store it now. Send it as "Authorization: Bearer <api_key>".\n');
    return 0;
  },
};

export const apiKeysList: Command = {
  words: ['api-keys', 'list'],
  summary: 'List API keys (never the keys themselves)',
  options: { user: { type: 'string', value: 'EMAIL', description: 'Only this user’s keys.' } },
  database: 'existing',
  json: true,
  async run({ values, io, json, storage }) {
    const store = await storage();
    let userId: string | undefined;
    if (typeof values.user === 'string') {
      const user = await store.users.findByEmail(values.user);
      if (!user) throw new CommandFailure(`No user with the email ${values.user}.`);
      userId = user.id;
    }
    const keys = await store.apiKeys.list(userId);
    const emails = new Map<string, string | undefined>();
    for (const key of keys) {
      if (!emails.has(key.userId))
        emails.set(key.userId, (await store.users.findById(key.userId))?.email ?? undefined);
    }
    const rows = keys.map((key) => describe(key, emails.get(key.userId)));
    if (json) printJson(io, rows);
    else printTable(io, rows, 'No API keys.');
    return 0;
  },
};

export const apiKeysRevoke: Command = {
  words: ['api-keys', 'revoke'],
  summary: 'Revoke an API key by its id; it stops working at once',
  arguments: 'ID',
  options: {},
  database: 'existing',
  async run({ positionals, io, storage }) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new UsageError('Give exactly one key ID.');
    if (!(await (await storage()).apiKeys.revoke(id, Date.now()))) {
      throw new CommandFailure(`No active API key with the id ${id}.`);
    }
    io.stdout(`Revoked API key ${id}.\n`);
    return 0;
  },
};
