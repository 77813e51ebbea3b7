import { disableClient, enableClient } from '../../applications/clients.ts';
import { type Command, UsageError } from '../command.ts';
import { reportOutcome } from '../outcome.ts';

const clientId = (positionals: string[]) => {
  if (!positionals[0] || positionals.length > 1) throw new UsageError('Give exactly one CLIENT_ID.');
  return positionals[0];
};

// Disable and its undo: the same operations as the admin console's buttons (applications/clients.ts).
export const clientsDisable: Command = {
  words: ['clients', 'disable'],
  summary: 'Disable a client: every token it holds stops working at once (nothing is deleted)',
  arguments: 'CLIENT_ID',
  options: {},
  database: 'existing',
  async run({ positionals, io, storage }) {
    const id = clientId(positionals);
    const outcome = await disableClient(await storage(), Date.now(), id, { actor: { kind: 'cli' } });
    const name = outcome.status === 'ok' || outcome.status === 'unchanged' ? outcome.value.name : id;
    reportOutcome(io, outcome, `client with the id ${id}`, {
      done: `Disabled ${name} (${id}).`,
      unchanged: `${name} (${id}) was already disabled.`,
    });
    return 0;
  },
};

export const clientsEnable: Command = {
  words: ['clients', 'enable'],
  summary: 'Enable a disabled client: tokens that have not expired work again',
  arguments: 'CLIENT_ID',
  options: {},
  database: 'existing',
  async run({ positionals, io, storage }) {
    const id = clientId(positionals);
    const outcome = await enableClient(await storage(), Date.now(), id, { actor: { kind: 'cli' } });
    const name = outcome.status === 'ok' || outcome.status === 'unchanged' ? outcome.value.name : id;
    reportOutcome(io, outcome, `client with the id ${id}`, {
      done: `Enabled ${name} (${id}).`,
      unchanged: `${name} (${id}) was not disabled.`,
    });
    return 0;
  },
};

export { clientId };
