import { deleteClient } from '../../applications/clients.ts';
import { type Command, UsageError } from '../command.ts';
import { reportOutcome } from '../outcome.ts';
import { clientId } from './clients-disable.ts';

export const clientsDelete: Command = {
  words: ['clients', 'delete'],
  summary: 'Delete a client: every token it holds is revoked, its consents and CORS origins go',
  arguments: 'CLIENT_ID',
  options: {
    yes: { type: 'boolean', description: 'Really delete (without it, nothing is done and exit code is 2).' },
  },
  database: 'existing',
  async run({ values, positionals, io, storage }) {
    const id = clientId(positionals);
    if (values.yes !== true) throw new UsageError(`This deletes ${id} for good: add --yes to go ahead.`);
    const outcome = await deleteClient(await storage(), Date.now(), id, { actor: { kind: 'cli' } });
    const name = outcome.status === 'ok' ? outcome.value.name : id;
    reportOutcome(io, outcome, `client with the id ${id}`, { done: `Deleted ${name} (${id}).` });
    return 0;
  },
};
