import { configFrom } from '../../config-file.ts';
import { openStorage } from '../../storage/open.ts';
import { type Command, UsageError } from '../command.ts';

export const clientsApprove: Command = {
  words: ['clients', 'approve'],
  summary: 'Approve a client that registered itself while registration needs approval',
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
      if (client.status === 'active') {
        io.stdout(`${client.name} (${id}) is already approved.\n`);
        return 0;
      }
      await storage.clients.update({ ...client, status: 'active' });
      io.stdout(`Approved ${client.name} (${id}).\n`);
      return 0;
    } finally {
      await storage.close();
    }
  },
};
