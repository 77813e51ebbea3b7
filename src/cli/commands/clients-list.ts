import { configFrom } from '../../config-file.ts';
import { changedFields } from '../../oauth/client-review.ts';
import { openStorage } from '../../storage/open.ts';
import type { Command } from '../command.ts';

export const clientsList: Command = {
  words: ['clients', 'list'],
  summary: 'List registered clients as JSON (never their secrets)',
  usage: 'gatehouse clients list',
  options: {},
  async run(_args, io) {
    const { storage } = await openStorage(configFrom(io.env).databaseUrl);
    try {
      const clients = await storage.clients.list();
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
      io.stdout(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    } finally {
      await storage.close();
    }
  },
};
