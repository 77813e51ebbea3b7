import { configFrom } from '../../config-file.ts';
import { openStorage } from '../../storage/open.ts';
import { type Command, UsageError } from '../command.ts';

// RFC 7662 §4: which clients may introspect other clients' tokens is the operator's decision. This marks (or,
// with --off, unmarks) an existing client, e.g. an API that introspected before introspection rights existed.
export const clientsResourceServer: Command = {
  words: ['clients', 'resource-server'],
  summary: "Mark a client as a resource server that may introspect every client's tokens (--off: unmark)",
  usage: 'gatehouse clients resource-server CLIENT_ID [--off]',
  options: { off: { type: 'boolean' } },
  async run({ values, positionals }, io) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new UsageError('Give exactly one CLIENT_ID.');
    const marked = values.off !== true;
    const { storage } = await openStorage(configFrom(io.env).databaseUrl);
    try {
      const client = await storage.clients.find(id);
      if (!client) {
        io.stderr(`No client with the id ${id}.\n`);
        return 1;
      }
      if (marked && client.tokenEndpointAuthMethod === 'none') {
        io.stderr(`${client.name} (${id}) is a public client: it cannot introspect tokens.\n`);
        return 1;
      }
      if (client.resourceServer !== marked)
        await storage.clients.update({ ...client, resourceServer: marked });
      io.stdout(
        marked
          ? `${client.name} (${id}) may introspect every client's tokens.\n`
          : `${client.name} (${id}) may introspect only its own tokens.\n`,
      );
      return 0;
    } finally {
      await storage.close();
    }
  },
};
