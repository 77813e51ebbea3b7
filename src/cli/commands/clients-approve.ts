import { approveClient, approveClientChanges } from '../../applications/clients.ts';
import { changedFields, reviewFingerprint } from '../../oauth/client-review.ts';
import { type Command, CommandFailure, UsageError } from '../command.ts';

// The same operations as the admin console's Approve buttons (applications/clients.ts), with the same events.
export const clientsApprove: Command = {
  words: ['clients', 'approve'],
  summary: 'Approve a self-registered client, or the change it proposed, that waits for an operator',
  arguments: 'CLIENT_ID',
  options: {},
  database: 'existing',
  async run({ positionals, io, storage }) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new UsageError('Give exactly one CLIENT_ID.');
    const store = await storage();
    const client = await store.clients.find(id);
    if (!client) throw new CommandFailure(`No client with the id ${id}.`);
    const by = { actor: { kind: 'cli' } } as const;
    const now = Date.now();
    if (client.status === 'active' && client.pendingChanges) {
      const fields = changedFields(client, client.pendingChanges);
      // The change read here is the one approved: another one proposed meanwhile is a conflict.
      const outcome = await approveClientChanges(
        store,
        now,
        id,
        by,
        reviewFingerprint(client.pendingChanges),
      );
      if (outcome.status !== 'ok') {
        throw new CommandFailure(outcome.status === 'conflict' ? outcome.reason : 'Not approved.');
      }
      io.stdout(`Approved the change to ${client.name} (${id}): ${fields.join(', ')}.\n`);
      return 0;
    }
    // An active self-registered client no operator approved (stored before approvals were recorded) is
    // approved too: then it may use the client_credentials grant it holds.
    const outcome = await approveClient(store, now, id, by, reviewFingerprint(client));
    if (outcome.status === 'unchanged') io.stdout(`${client.name} (${id}) is already approved.\n`);
    else if (outcome.status === 'ok') io.stdout(`Approved ${client.name} (${id}).\n`);
    else
      throw new CommandFailure(
        outcome.status === 'conflict' ? outcome.reason : `No client with the id ${id}.`,
      );
    return 0;
  },
};
