import { approveClient, approveClientChanges } from '../../applications/clients.ts';
import { configFrom } from '../../config-file.ts';
import { changedFields, reviewFingerprint } from '../../oauth/client-review.ts';
import { openStorage } from '../../storage/open.ts';
import { type Command, UsageError } from '../command.ts';

// The same operations as the admin console's Approve buttons (applications/clients.ts), with the same events.
export const clientsApprove: Command = {
  words: ['clients', 'approve'],
  summary: 'Approve a self-registered client, or the change it proposed, that waits for an operator',
  usage: 'gatehouse clients approve CLIENT_ID',
  options: {},
  async run({ positionals }, io) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new UsageError('Give exactly one CLIENT_ID.');
    const { storage } = await openStorage(configFrom(io.env).databaseUrl);
    try {
      const client = await storage.clients.find(id);
      if (!client) {
        io.stderr(`No client with the id ${id}.\n`);
        return 1;
      }
      const by = { actor: { kind: 'cli' } } as const;
      const now = Date.now();
      if (client.status === 'active' && client.pendingChanges) {
        const fields = changedFields(client, client.pendingChanges);
        // The change shown here is the one approved: another one proposed meanwhile is a conflict.
        const outcome = await approveClientChanges(
          storage,
          now,
          id,
          by,
          reviewFingerprint(client.pendingChanges),
        );
        if (outcome.status !== 'ok') {
          io.stderr(`${outcome.status === 'conflict' ? outcome.reason : 'Not approved.'}\n`);
          return 1;
        }
        io.stdout(`Approved the change to ${client.name} (${id}): ${fields.join(', ')}.\n`);
        return 0;
      }
      // An active self-registered client no operator approved (stored before approvals were recorded) is
      // approved too: then it may use the client_credentials grant it holds.
      const outcome = await approveClient(storage, now, id, by, reviewFingerprint(client));
      if (outcome.status === 'unchanged') io.stdout(`${client.name} (${id}) is already approved.\n`);
      else if (outcome.status === 'ok') io.stdout(`Approved ${client.name} (${id}).\n`);
      else {
        io.stderr(`${outcome.status === 'conflict' ? outcome.reason : `No client with the id ${id}.`}\n`);
        return 1;
      }
      return 0;
    } finally {
      await storage.close();
    }
  },
};
