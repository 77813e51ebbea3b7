import type { ClientsTable } from '../database.ts';
import type {
  ApplicationType,
  Client,
  ClientDisplayMetadata,
  ClientStore,
  TokenEndpointAuthMethod,
} from '../storage.ts';
import { prepared } from './prepared.ts';
import { type Db, fromFlag, fromJson, inTransaction, toFlag, toJson } from './rows.ts';
import { revokeGrants } from './tokens.ts';

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
    status: row.status as Client['status'],
    registeredVia: row.registered_via as Client['registeredVia'],
    registrationAccessTokenHash: row.registration_access_token_hash,
    metadata: JSON.parse(row.metadata) as ClientDisplayMetadata,
    ownerUserId: row.owner_user_id,
    requestedScope: row.requested_scope,
    previousSecretHash: row.previous_secret_hash,
    previousSecretExpiresAt: row.previous_secret_expires_at,
    createdAt: row.created_at,
    disabledAt: row.disabled_at,
  };
}

function toRow(client: Client): ClientsTable {
  return {
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
    status: client.status,
    registered_via: client.registeredVia,
    registration_access_token_hash: client.registrationAccessTokenHash,
    metadata: JSON.stringify(client.metadata),
    owner_user_id: client.ownerUserId,
    requested_scope: client.requestedScope,
    previous_secret_hash: client.previousSecretHash,
    previous_secret_expires_at: client.previousSecretExpiresAt,
    created_at: client.createdAt,
    disabled_at: client.disabledAt,
  };
}

async function replaceCorsOrigins(db: Db, client: Client) {
  await db.deleteFrom('client_cors_origins').where('client_id', '=', client.id).execute();
  if (client.allowedCorsOrigins.length > 0) {
    await db
      .insertInto('client_cors_origins')
      .values(client.allowedCorsOrigins.map((origin) => ({ origin, client_id: client.id })))
      .execute();
  }
}

// Every token, introspection and revocation request authenticates its client: compiled once.
const selectClient = prepared((db, { id }: { id: string }) =>
  db.selectFrom('clients').selectAll().where('id', '=', id),
);

export function clientStore(db: Db): ClientStore {
  return {
    async find(id) {
      const row = (await selectClient(db, { id })).rows[0];
      return row && toClient(row);
    },
    async list() {
      const rows = await db.selectFrom('clients').selectAll().orderBy('created_at').execute();
      return rows.map(toClient);
    },
    async listByOwner(userId) {
      const rows = await db
        .selectFrom('clients')
        .selectAll()
        .where('owner_user_id', '=', userId)
        .orderBy('created_at')
        .execute();
      return rows.map(toClient);
    },
    async hasCorsOrigin(origin) {
      const row = await db
        .selectFrom('client_cors_origins')
        .innerJoin('clients', 'clients.id', 'client_cors_origins.client_id')
        .select('client_cors_origins.origin')
        .where('client_cors_origins.origin', '=', origin)
        .where('clients.disabled_at', 'is', null)
        .where('clients.status', '=', 'active')
        .executeTakeFirst();
      return row !== undefined;
    },
    async create(client) {
      await inTransaction(db, async (tx) => {
        await tx.insertInto('clients').values(toRow(client)).execute();
        await replaceCorsOrigins(tx, client);
      });
    },
    async update(client) {
      const { id: _id, created_at: _created, ...changes } = toRow(client);
      await inTransaction(db, async (tx) => {
        await tx.updateTable('clients').set(changes).where('id', '=', client.id).execute();
        await replaceCorsOrigins(tx, client);
      });
    },
    async delete(id, now) {
      return inTransaction(db, async (tx) => {
        const grants = await tx.selectFrom('grants').select('id').where('client_id', '=', id).execute();
        await revokeGrants(
          tx,
          grants.map((grant) => grant.id),
          now,
        );
        await tx.deleteFrom('client_cors_origins').where('client_id', '=', id).execute();
        await tx.deleteFrom('consents').where('client_id', '=', id).execute();
        const result = await tx.deleteFrom('clients').where('id', '=', id).executeTakeFirst();
        return Number(result.numDeletedRows) === 1;
      });
    },
  };
}
