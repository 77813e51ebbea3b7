import { type Command, CommandFailure, UsageError } from '../command.ts';

// RFC 7662 §4: which clients may introspect other clients' tokens is the operator's decision. This marks (or,
// with --off, unmarks) an existing client, e.g. an API that introspected before introspection rights existed.
export const clientsResourceServer: Command = {
  words: ['clients', 'resource-server'],
  summary: "Mark a client as a resource server that may introspect every client's tokens (--off: unmark)",
  arguments: 'CLIENT_ID',
  options: {
    off: { type: 'boolean', description: 'Unmark it: it may introspect only its own tokens again.' },
  },
  database: 'existing',
  async run({ values, positionals, io, storage }) {
    const id = positionals[0];
    if (!id || positionals.length > 1) throw new UsageError('Give exactly one CLIENT_ID.');
    const marked = values.off !== true;
    const store = await storage();
    const client = await store.clients.find(id);
    if (!client) throw new CommandFailure(`No client with the id ${id}.`);
    if (marked && client.tokenEndpointAuthMethod === 'none') {
      throw new CommandFailure(`${client.name} (${id}) is a public client: it cannot introspect tokens.`);
    }
    if (client.resourceServer !== marked) await store.clients.update({ ...client, resourceServer: marked });
    io.stdout(
      marked
        ? `${client.name} (${id}) may introspect every client's tokens.\n`
        : `${client.name} (${id}) may introspect only its own tokens.\n`,
    );
    return 0;
  },
};
