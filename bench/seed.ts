// Fills a migrated Gatehouse SQLite database with a large, realistic store, so the benchmark can show how the
// hot paths cost grows with data: 100,000 clients, 10,000 users, 200,000 grants, 1,000,000 live access tokens
// and 1,000,000 live refresh tokens, plus 500,000 of each that expired during the last hour (what the
// housekeeping purge, every 10 minutes, finds to delete). Rows have the shapes Gatehouse itself writes: random
// client ids; grant, access-token and refresh-token keys in time order (issue time, then randomness or SHA-256),
// spread over the last hour. Written with node:sqlite directly in large transactions: seeding is set-up, not
// something to measure.
// Usage (alone): node bench/seed.ts FILE [--tokens 1000000] [--clients 100000]
import { createHash, randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { timeOrderedId } from '../src/util/random.ts';

export interface SeedSize {
  clients: number;
  users: number;
  grants: number;
  accessTokens: number;
  refreshTokens: number;
  expiredAccessTokens: number;
  expiredRefreshTokens: number;
}

export const LARGE_STORE: SeedSize = {
  clients: 100_000,
  users: 10_000,
  grants: 200_000,
  accessTokens: 1_000_000,
  refreshTokens: 1_000_000,
  expiredAccessTokens: 500_000,
  expiredRefreshTokens: 500_000,
};

const id = () => randomBytes(16).toString('base64url');
const hash = () => createHash('sha256').update(randomBytes(32)).digest('base64url');

export function seedStore(file: string, size: SeedSize = LARGE_STORE): void {
  const db = new DatabaseSync(file);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = OFF');
  const now = Date.now();
  const hour = 3_600_000;
  const inBatches = (count: number, insert: (index: number) => void) => {
    for (let start = 0; start < count; start += 50_000) {
      db.exec('BEGIN');
      for (let index = start; index < Math.min(count, start + 50_000); index++) insert(index);
      db.exec('COMMIT');
    }
  };

  const clientIds: string[] = [];
  const insertClient = db.prepare(
    `insert into clients (id, name, secret_hash, redirect_uris, grant_types, scope, token_endpoint_auth_method,
      application_type, require_pkce, allowed_cors_origins, id_token_signed_response_alg, allowed_resources,
      non_expiring_tokens, status, registered_via, registration_access_token_hash, metadata, owner_user_id,
      requested_scope, previous_secret_hash, previous_secret_expires_at, created_at, disabled_at)
     values (?, ?, ?, ?, ?, ?, 'client_secret_basic', 'web', 1, '[]', null, '[]', 0, 'active', 'cli', null, '{}',
      null, '', null, null, ?, null)`,
  );
  inBatches(size.clients, (index) => {
    const clientId = id();
    clientIds.push(clientId);
    insertClient.run(
      clientId,
      `Seeded app ${index}`,
      hash(),
      JSON.stringify([`https://app${index}.example/callback`]),
      JSON.stringify(['authorization_code', 'refresh_token']),
      'openid profile email offline_access api:read',
      now - hour,
    );
  });

  const userIds: string[] = [];
  const insertUser = db.prepare(
    `insert into users (id, email, name, password_hash, is_admin, email_verified, created_at, updated_at,
      disabled_at) values (?, ?, ?, 'seeded-not-a-password', 0, 1, ?, ?, null)`,
  );
  inBatches(size.users, (index) => {
    const userId = id();
    userIds.push(userId);
    insertUser.run(userId, `seeded${index}@example.com`, `Seeded user ${index}`, now - hour, now - hour);
  });

  // Grants issued over the last hour, in time order (as Gatehouse writes them).
  const grants: { id: string; clientId: string; userId: string; createdAt: number }[] = [];
  const insertGrant = db.prepare(
    `insert into grants (id, client_id, user_id, scope, created_at, revoked_at) values (?, ?, ?, ?, ?, null)`,
  );
  inBatches(size.grants, (index) => {
    const createdAt = now - hour + Math.floor((index / size.grants) * hour);
    const grant = {
      id: timeOrderedId(createdAt),
      clientId: clientIds[index % clientIds.length]!,
      userId: userIds[index % userIds.length]!,
      createdAt,
    };
    grants.push(grant);
    insertGrant.run(grant.id, grant.clientId, grant.userId, 'openid api:read', createdAt);
  });

  const insertAccess = db.prepare(
    `insert into access_tokens (id, grant_id, client_id, user_id, scope, audience, created_at, expires_at,
      revoked_at) values (?, ?, ?, ?, 'openid api:read', 'https://seeded.example', ?, ?, null)`,
  );
  // Expired ones first: issued two to three hours ago with a one-hour lifetime.
  inBatches(size.expiredAccessTokens, (index) => {
    const createdAt = now - 3 * hour + Math.floor((index / size.expiredAccessTokens) * hour);
    const grant = grants[index % grants.length]!;
    const key = createdAt.toString(32).padStart(9, '0') + hash();
    insertAccess.run(key, grant.id, grant.clientId, grant.userId, createdAt, createdAt + hour);
  });
  inBatches(size.accessTokens, (index) => {
    const createdAt = now - hour + Math.floor((index / size.accessTokens) * hour);
    const grant = grants[Math.floor((index / size.accessTokens) * grants.length)]!;
    // The stored key of an opaque access token: 9 characters of issue time, then SHA-256 of the token.
    const key = createdAt.toString(32).padStart(9, '0') + hash();
    insertAccess.run(key, grant.id, grant.clientId, grant.userId, createdAt, createdAt + 2 * hour);
  });

  const insertRefresh = db.prepare(
    `insert into refresh_tokens (token_hash, id, grant_id, client_id, user_id, scope, resource, parent_id,
      created_at, expires_at, idle_expires_at, rotated_at, rotation_fingerprint, revoked_at)
     values (?, ?, ?, ?, ?, 'openid api:read', null, null, ?, ?, ?, null, null, null)`,
  );
  // Keyed as Gatehouse keys them: issue time, then SHA-256 of the token.
  const refreshRow = (createdAt: number, grant: (typeof grants)[number]) =>
    insertRefresh.run(
      createdAt.toString(32).padStart(9, '0') + hash(),
      timeOrderedId(createdAt),
      grant.id,
      grant.clientId,
      grant.userId,
      createdAt,
      createdAt + 30 * 24 * hour,
      createdAt + 14 * 24 * hour,
    );
  // Expired: issued 31 days ago (past the 30-day family end and the 14-day idle window).
  inBatches(size.expiredRefreshTokens, (index) =>
    refreshRow(
      now - 31 * 24 * hour + Math.floor((index / size.expiredRefreshTokens) * hour),
      grants[index % grants.length]!,
    ),
  );
  inBatches(size.refreshTokens, (index) =>
    refreshRow(
      now - hour + Math.floor((index / size.refreshTokens) * hour),
      grants[Math.floor((index / size.refreshTokens) * grants.length)]!,
    ),
  );
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { tokens: { type: 'string' }, clients: { type: 'string' } },
  });
  const file = positionals[0];
  if (!file) throw new Error('usage: node bench/seed.ts FILE [--tokens N] [--clients N]');
  const tokens = Number(values.tokens ?? LARGE_STORE.accessTokens);
  const began = performance.now();
  seedStore(file, {
    ...LARGE_STORE,
    clients: Number(values.clients ?? LARGE_STORE.clients),
    accessTokens: tokens,
    refreshTokens: tokens,
  });
  process.stdout.write(`seeded ${file} in ${Math.round(performance.now() - began)} ms\n`);
}
