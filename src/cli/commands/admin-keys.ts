import { ADMIN_SCOPES, createAdminKey, revokeAdminKey } from '../../accounts/admin-keys.ts';
import { UserInputError } from '../../accounts/users.ts';
import type { AdminKey } from '../../storage/storage.ts';
import { type Command, CommandFailure, printJson, printTable, UsageError } from '../command.ts';
import { EXPIRES_IN_DAYS_OPTION, expiresInDays, lifetime } from '../key-options.ts';

function describe(key: AdminKey, now: number) {
  return { id: key.id, name: key.name, scope: key.scope, ...lifetime(key, now) };
}

export const adminKeysCreate: Command = {
  words: ['admin-keys', 'create'],
  summary: 'Create an admin API key (printed once, as JSON), e.g. for your own sign-in pages',
  options: {
    name: {
      type: 'string',
      value: 'NAME',
      description: 'What the key is for, shown in listings (required).',
    },
    scope: {
      type: 'string',
      multiple: true,
      value: 'SCOPE',
      description: 'A scope the key grants (at least one; repeat or separate with spaces or commas).',
    },
    'expires-in-days': EXPIRES_IN_DAYS_OPTION,
  },
  details: `Scopes: ${Object.entries(ADMIN_SCOPES)
    .map(([scope, what]) => `${scope} (${what})`)
    .join('; ')}.\nPrints JSON with admin_key, shown once; only its SHA-256 is stored.`,
  database: 'existing',
  async run({ values, io, storage }) {
    const scopes = (values.scope as string[] | undefined)?.flatMap((scope) => scope.split(/[\s,]+/)) ?? [];
    if (typeof values.name !== 'string' || scopes.filter(Boolean).length === 0) {
      throw new UsageError('--name and at least one --scope are required.');
    }
    const days = expiresInDays(values['expires-in-days']);
    const now = Date.now();
    try {
      const { key, record } = await createAdminKey(
        await storage(),
        { name: values.name, scopes: scopes.filter(Boolean), expiresInDays: days },
        now,
      );
      printJson(io, { ...describe(record, now), admin_key: key });
    } catch (error) {
      if (error instanceof UserInputError) throw new CommandFailure(error.message);
      throw error;
    }
    io.stderr('The admin_key is shown once: store it now. Send it as "Authorization: Bearer <admin_key>".\n');
    return 0;
  },
};

export const adminKeysList: Command = {
  words: ['admin-keys', 'list'],
  summary: 'List admin API keys (never the keys themselves)',
  options: {},
  database: 'existing',
  json: true,
  async run({ io, json, storage }) {
    const now = Date.now();
    const keys = (await (await storage()).adminKeys.list()).map((key) => describe(key, now));
    if (json) printJson(io, keys);
    else printTable(io, keys, 'No admin keys.');
    return 0;
  },
};

export const adminKeysRevoke: Command = {
  words: ['admin-keys', 'revoke'],
  summary: 'Revoke an admin API key by its id; it stops working at once',
  arguments: 'ID',
  options: {},
  database: 'existing',
  async run({ positionals, io, storage }) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new UsageError('Give exactly one key ID.');
    if (!(await revokeAdminKey(await storage(), id, Date.now()))) {
      throw new CommandFailure(`No active admin key with the id ${id}.`);
    }
    io.stdout(`Revoked admin key ${id}.\n`);
    return 0;
  },
};
