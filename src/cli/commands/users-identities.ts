// The upstream accounts linked to a user, and unlinking one: the admin console's "Linked sign-ins", for
// operators at a shell. Unlinking goes through the same operation as the console (accounts/linked-identities.ts)
// and records the same security event.
import { unlinkIdentity } from '../../accounts/linked-identities.ts';
import { type Command, CommandFailure, printJson, printTable, UsageError } from '../command.ts';

export const usersIdentities: Command = {
  words: ['users', 'identities'],
  summary: 'List the upstream identity provider accounts linked to a user',
  arguments: 'EMAIL',
  options: {},
  database: 'existing',
  json: true,
  async run({ positionals, io, json, storage }) {
    const email = positionals[0];
    if (!email || positionals.length > 1) throw new UsageError('Give exactly one EMAIL.');
    const store = await storage();
    const user = await store.users.findByEmail(email);
    if (!user) throw new CommandFailure(`No user with the email ${email}.`);
    const links = await store.linkedIdentities.listForUser(user.id);
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    const rows = links.map((link) => ({
      provider: link.providerId,
      subject: link.subject,
      email: link.email,
      linked_at: iso(link.createdAt),
      last_used_at: iso(link.lastUsedAt),
    }));
    if (json) printJson(io, rows);
    else printTable(io, rows, `No upstream accounts are linked to ${user.email}.`);
    return 0;
  },
};

export const usersUnlink: Command = {
  words: ['users', 'unlink'],
  summary: 'Unlink an upstream identity provider account from a user',
  arguments: 'EMAIL',
  options: {
    provider: { type: 'string', value: 'ID', description: 'The upstream’s id (required).' },
    subject: {
      type: 'string',
      value: 'SUBJECT',
      description: 'The account’s subject at that upstream (required; see gatehouse users identities EMAIL).',
    },
  },
  database: 'existing',
  async run({ values, positionals, io, storage }) {
    const email = positionals[0];
    if (!email || positionals.length > 1) throw new UsageError('Give exactly one EMAIL.');
    if (typeof values.provider !== 'string' || typeof values.subject !== 'string') {
      throw new UsageError('Give --provider and --subject (see gatehouse users identities EMAIL).');
    }
    const store = await storage();
    const user = await store.users.findByEmail(email);
    if (!user) throw new CommandFailure(`No user with the email ${email}.`);
    const removed = await unlinkIdentity(store, user.id, values.provider, values.subject, Date.now(), 'cli');
    if (!removed) {
      throw new CommandFailure(
        `${values.provider} account ${values.subject} is not linked to ${user.email}.`,
      );
    }
    io.stdout(`Unlinked ${values.provider} account ${values.subject} from ${user.email}.\n`);
    return 0;
  },
};
