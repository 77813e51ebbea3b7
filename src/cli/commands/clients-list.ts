import { changedFields } from '../../oauth/client-review.ts';
import { type Command, printJson, printTable } from '../command.ts';

export const clientsList: Command = {
  words: ['clients', 'list'],
  summary: 'List registered clients (never their secrets)',
  options: {},
  database: 'existing',
  json: true,
  async run({ io, json, storage }) {
    const clients = await (await storage()).clients.list();
    const rows = clients.map((client) => ({
      client_id: client.id,
      client_name: client.name,
      type: client.tokenEndpointAuthMethod === 'none' ? 'public' : 'confidential',
      redirect_uris: client.redirectUris,
      scope: client.scope,
      status: client.disabledAt !== null ? 'disabled' : client.status,
      registered_via: client.registeredVia,
      resource_server: client.resourceServer,
      // What `gatehouse clients approve` would put in force (a change proposed under approval).
      ...(client.pendingChanges ? { pending_changes: changedFields(client, client.pendingChanges) } : {}),
    }));
    if (json) printJson(io, rows);
    else
      printTable(
        io,
        rows.map((row) => ({
          client_id: row.client_id,
          name: row.client_name,
          type: row.type,
          status: row.pending_changes ? `${row.status} (changes pending)` : row.status,
          registered_via: row.registered_via,
          redirect_uris: row.redirect_uris,
        })),
        'No clients.',
      );
    return 0;
  },
};
