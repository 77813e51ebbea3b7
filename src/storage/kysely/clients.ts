import type { ClientsTable } from '../database.ts';
import type { ApplicationType, Client, ClientStore, TokenEndpointAuthMethod } from '../storage.ts';
import { type Db, fromFlag, fromJson, inTransaction, toFlag, toJson } from './rows.ts';

function toClient(row: ClientsTable): Client {
  return {
    id: row.id,
    name: row.name,
    secretHash: row.secret_hash,
    redirectUris: fromJson(row.redirect_uris),
    grantTypes: fromJson(row.grant_types),
    scope: row.scope,
    tokenEndpointAuthMethod: row.token_endpoint_auth_method as TokenEndpointAuthMethod,
    applicationType: row.application_type as ApplicationType,
    requirePkce: fromFlag(row.require_pkce),
    allowedCorsOrigins: fromJson(row.allowed_cors_origins),
    idTokenSignedResponseAlg: row.id_token_signed_response_alg,
    allowedResources: fromJson(row.allowed_resources),
    nonExpiringTokens: fromFlag(row.non_expiring_tokens),
    createdAt: row.created_at,
    disabledAt: row.disabled_at,
  };
}

export function clientStore(db: Db): ClientStore {
  return {
    async find(id) {
      const row = await db.selectFrom('clients').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toClient(row);
    },
    async list() {
      const rows = await db.selectFrom('clients').selectAll().orderBy('created_at').execute();
      return rows.map(toClient);
    },
    async hasCorsOrigin(origin) {
      const row = await db
        .selectFrom('client_cors_origins')
        .innerJoin('clients', 'clients.id', 'client_cors_origins.client_id')
        .select('client_cors_origins.origin')
        .where('client_cors_origins.origin', '=', origin)
        .where('clients.disabled_at', 'is', null)
        .executeTakeFirst();
      return row !== undefined;
    },
    async create(client) {
      await inTransaction(db, async (tx) => {
        await tx
          .insertInto('clients')
          .values({
            id: client.id,
            name: client.name,
            secret_hash: client.secretHash,
            redirect_uris: toJson(client.redirectUris),
            grant_types: toJson(client.grantTypes),
            scope: client.scope,
            token_endpoint_auth_method: client.tokenEndpointAuthMethod,
            application_type: client.applicationType,
            require_pkce: toFlag(client.requirePkce),
            allowed_cors_origins: toJson(client.allowedCorsOrigins),
            id_token_signed_response_alg: client.idTokenSignedResponseAlg,
            allowed_resources: toJson(client.allowedResources),
            non_expiring_tokens: toFlag(client.nonExpiringTokens),
            created_at: client.createdAt,
            disabled_at: client.disabledAt,
          })
          .execute();
        if (client.allowedCorsOrigins.length > 0) {
          await tx
            .insertInto('client_cors_origins')
            .values(client.allowedCorsOrigins.map((origin) => ({ origin, client_id: client.id })))
            .execute();
        }
      });
    },
  };
}
