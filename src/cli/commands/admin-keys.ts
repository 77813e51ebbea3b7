import { ADMIN_SCOPES, createAdminKey, revokeAdminKey } from '../../accounts/admin-keys.ts';
import { UserInputError } from '../../accounts/users.ts';
import { configFrom } from '../../config-file.ts';
import { openStorage } from '../../storage/open.ts';
import type { AdminKey } from '../../storage/storage.ts';
import { type Command, UsageError } from '../command.ts';
import { expiresInDays, lifetime } from '../key-options.ts';

function describe(key: AdminKey, now: number) {
  return { id: key.id, name: key.name, scope: key.scope, ...lifetime(key, now) };
}

export const adminKeysCreate: Command = {
  words: ['admin-keys', 'create'],
  summary: 'Create an admin API key (printed once), e.g. for your own sign-in pages',
  usage: `gatehouse admin-keys create --name NAME --scope SCOPE [--scope SCOPE…] [--expires-in-days N]\n\nScopes: ${Object.entries(
    ADMIN_SCOPES,
  )
    .map(([scope, what]) => `${scope} (${what})`)
    .join('; ')}`,
  options: {
    name: { type: 'string' },
    scope: { type: 'string', multiple: true },
    'expires-in-days': { type: 'string' },
  },
  async run({ values }, io) {
    const scopes = (values.scope as string[] | undefined)?.flatMap((scope) => scope.split(/[\s,]+/)) ?? [];
    if (typeof values.name !== 'string' || scopes.filter(Boolean).length === 0) {
      throw new UsageError('--name and at least one --scope are required.');
    }
    const days = expiresInDays(values['expires-in-days']);
    const { storage } = await openStorage(configFrom(io.env).databaseUrl);
    try {
      const now = Date.now();
      const { key, record } = await createAdminKey(
        storage,
        { name: values.name, scopes: scopes.filter(Boolean), expiresInDays: days },
        now,
      );
      io.stdout(`${JSON.stringify({ ...describe(record, now), admin_key: key }, null, 2)}\n`);
      io.stderr(
        'The admin_key is shown once: store it now. Send it as "Authorization: Bearer <admin_key>".\n',
      );
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

export const adminKeysList: Command = {
  words: ['admin-keys', 'list'],
  summary: 'List admin API keys (never the keys themselves)',
  usage: 'gatehouse admin-keys list',
  options: {},
  async run(_args, io) {
    const { storage } = await openStorage(configFrom(io.env).databaseUrl);
    try {
      const now = Date.now();
      const keys = await storage.adminKeys.list();
      io.stdout(
        `${JSON.stringify(
          keys.map((key) => describe(key, now)),
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

export const adminKeysRevoke: Command = {
  words: ['admin-keys', 'revoke'],
  summary: 'Revoke an admin API key by its id; it stops working at once',
  usage: 'gatehouse admin-keys revoke ID',
  options: {},
  async run({ positionals }, io) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new UsageError('Give exactly one key ID.');
    const { storage } = await openStorage(configFrom(io.env).databaseUrl);
    try {
      if (!(await revokeAdminKey(storage, id, Date.now()))) {
        io.stderr(`No active admin key with the id ${id}.\n`);
        return 1;
      }
      io.stdout(`Revoked admin key ${id}.\n`);
      return 0;
    } finally {
      await storage.close();
    }
  },
};
