import { createApiKey } from '../../accounts/api-keys.ts';
import { UserInputError } from '../../accounts/users.ts';
import { configFrom } from '../../config-file.ts';
import { openStorage } from '../../storage/open.ts';
import type { ApiKey } from '../../storage/storage.ts';
import { type Command, UsageError } from '../command.ts';
import { expiresInDays, lifetime } from '../key-options.ts';

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
  summary: 'Create a long-lived API key for a user (printed once)',
  usage:
    'gatehouse api-keys create --user EMAIL --name NAME [--scope "…"] [--resource URI…] [--expires-in-days N]',
  options: {
    user: { type: 'string' },
    name: { type: 'string' },
    scope: { type: 'string' },
    resource: { type: 'string', multiple: true },
    'expires-in-days': { type: 'string' },
  },
  async run({ values }, io) {
    if (typeof values.user !== 'string' || typeof values.name !== 'string') {
      throw new UsageError('--user and --name are required.');
    }
    const days = expiresInDays(values['expires-in-days']);
    const config = configFrom(io.env);
    const { storage } = await openStorage(config.databaseUrl);
    try {
      const user = await storage.users.findByEmail(values.user);
      if (!user) {
        io.stderr(`No user with the email ${values.user}.\n`);
        return 1;
      }
      const { key, record } = await createApiKey(
        storage,
        {
          userId: user.id,
          name: values.name,
          scope: typeof values.scope === 'string' ? values.scope : '',
          expiresInDays: days,
          resources: Array.isArray(values.resource) ? values.resource.map(String) : [],
        },
        Date.now(),
        config.scopes.map((scope) => scope.name),
        config.resources.map((resource) => resource.uri),
      );
      io.stdout(
        `${JSON.stringify({ ...describe(record, user.email ?? undefined), api_key: key }, null, 2)}\n`,
      );
      io.stderr('The api_key is shown once: store it now. Send it as "Authorization: Bearer <api_key>".\n');
      return 0;
    } catch (error) {
      if (error instanceof UserInputError) {
        io.stderr(`${error.message}\n`);
        return 1;
      }
      throw error;
    } finally {
      await storage.close();
    }
  },
};

export const apiKeysList: Command = {
  words: ['api-keys', 'list'],
  summary: 'List API keys (never the keys themselves)',
  usage: 'gatehouse api-keys list [--user EMAIL]',
  options: { user: { type: 'string' } },
  async run({ values }, io) {
    const { storage } = await openStorage(configFrom(io.env).databaseUrl);
    try {
      let userId: string | undefined;
      if (typeof values.user === 'string') {
        const user = await storage.users.findByEmail(values.user);
        if (!user) {
          io.stderr(`No user with the email ${values.user}.\n`);
          return 1;
        }
        userId = user.id;
      }
      const keys = await storage.apiKeys.list(userId);
      const emails = new Map<string, string | undefined>();
      for (const key of keys) {
        if (!emails.has(key.userId))
          emails.set(key.userId, (await storage.users.findById(key.userId))?.email ?? undefined);
      }
      io.stdout(
        `${JSON.stringify(
          keys.map((key) => describe(key, emails.get(key.userId))),
          null,
          2,
        )}\n`,
      );
      return 0;
    } finally {
      await storage.close();
    }
  },
};

export const apiKeysRevoke: Command = {
  words: ['api-keys', 'revoke'],
  summary: 'Revoke an API key by its id; it stops working at once',
  usage: 'gatehouse api-keys revoke ID',
  options: {},
  async run({ positionals }, io) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new UsageError('Give exactly one key ID.');
    const { storage } = await openStorage(configFrom(io.env).databaseUrl);
    try {
      if (!(await storage.apiKeys.revoke(id, Date.now()))) {
        io.stderr(`No active API key with the id ${id}.\n`);
        return 1;
      }
      io.stdout(`Revoked API key ${id}.\n`);
      return 0;
    } finally {
      await storage.close();
    }
  },
};
