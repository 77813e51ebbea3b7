// The upstream accounts linked to a user, and unlinking one: the admin console's "Linked sign-ins", for
// operators at a shell. Unlinking goes through the same operation as the console (accounts/linked-identities.ts)
// and records the same security event.
import { unlinkIdentity } from '../../accounts/linked-identities.ts';
import { configFrom } from '../../config-file.ts';
import { openDeps } from '../../main.ts';
import { type Command, UsageError } from '../command.ts';

export const usersIdentities: Command = {
  words: ['users', 'identities'],
  summary: 'List the upstream identity provider accounts linked to a user (JSON)',
  usage: 'gatehouse users identities EMAIL',
  options: {},
  async run({ positionals }, io) {
    const email = positionals[0];
    if (!email || positionals.length > 1) throw new UsageError('Give exactly one EMAIL.');
    const deps = await openDeps(configFrom(io.env));
    try {
      const user = await deps.storage.users.findByEmail(email);
      if (!user) {
        io.stderr(`No user with the email ${email}.\n`);
        return 1;
      }
      const links = await deps.storage.linkedIdentities.listForUser(user.id);
      const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
      io.stdout(
        `${JSON.stringify(
          links.map((link) => ({
            provider: link.providerId,
            subject: link.subject,
            email: link.email,
            linked_at: iso(link.createdAt),
            last_used_at: iso(link.lastUsedAt),
          })),
          null,
          2,
        )}\n`,
      );
      return 0;
    } finally {
      await deps.storage.close();
    }
  },
};

export const usersUnlink: Command = {
  words: ['users', 'unlink'],
  summary: 'Unlink an upstream identity provider account from a user',
  usage: 'gatehouse users unlink EMAIL --provider ID --subject SUBJECT',
  options: { provider: { type: 'string' }, subject: { type: 'string' } },
  async run({ values, positionals }, io) {
    const email = positionals[0];
    if (!email || positionals.length > 1) throw new UsageError('Give exactly one EMAIL.');
    if (typeof values.provider !== 'string' || typeof values.subject !== 'string') {
      throw new UsageError('Give --provider and --subject (see gatehouse users identities EMAIL).');
    }
    const deps = await openDeps(configFrom(io.env));
    try {
      const user = await deps.storage.users.findByEmail(email);
      if (!user) {
        io.stderr(`No user with the email ${email}.\n`);
        return 1;
      }
      const removed = await unlinkIdentity(
        deps.storage,
        user.id,
        values.provider,
        values.subject,
        deps.clock.now(),
        'cli',
      );
      if (!removed) {
        io.stderr(`${values.provider} account ${values.subject} is not linked to ${user.email}.\n`);
        return 1;
      }
      io.stdout(`Unlinked ${values.provider} account ${values.subject} from ${user.email}.\n`);
      return 0;
    } finally {
      await deps.storage.close();
    }
  },
};
