// Migrations that change existing data, run from the previous schema with rows in it, on each database.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import type { Database } from '../../src/storage/database.ts';
import { createKyselyStorage } from '../../src/storage/kysely/index.ts';
import { migrationProvider } from '../../src/storage/migrations/index.ts';

export function migrationTests(
  name: string,
  open: () => Promise<{ db: Kysely<Database>; close(): Promise<void> }>,
) {
  describe(`migrations with data: ${name}`, () => {
    it("0003 fills grants.last_used_at with each user grant's newest access token, in one pass", async () => {
      const { db, close } = await open();
      try {
        const migrator = new Migrator({ db, provider: migrationProvider });
        const before = await migrator.migrateTo('0002-token-indexes');
        assert.equal(before.error, undefined);
        const grant = (id: string, userId: string | null) =>
          sql`insert into grants (id, client_id, user_id, scope, created_at, revoked_at)
              values (${id}, 'c', ${userId}, 'openid', 1000, null)`.execute(db);
        const token = (id: string, grantId: string, createdAt: number) =>
          sql`insert into access_tokens (id, grant_id, client_id, user_id, scope, audience, created_at, expires_at, revoked_at)
              values (${id}, ${grantId}, 'c', null, 'openid', 'aud', ${createdAt}, ${createdAt + 600_000}, null)`.execute(
            db,
          );
        await grant('used', 'u1');
        await grant('unused', 'u1');
        await grant('machine', null);
        await token('t1', 'used', 2000);
        await token('t2', 'used', 5000);
        await token('t3', 'used', 3000);
        await token('t4', 'machine', 9000);
        const after = await migrator.migrateToLatest();
        assert.equal(after.error, undefined);
        const rows = await db.selectFrom('grants').select(['id', 'last_used_at']).orderBy('id').execute();
        assert.deepEqual(
          rows.map((row) => [row.id, row.last_used_at === null ? null : Number(row.last_used_at)]),
          [
            ['machine', null],
            ['unused', null],
            ['used', 5000],
          ],
        );
      } finally {
        await close();
      }
    });

    it('0005 adds reviewed_at (null: no stored client proves an operator saw it) and keeps the review list indexed', async () => {
      const { db, close } = await open();
      try {
        const migrator = new Migrator({ db, provider: migrationProvider });
        const before = await migrator.migrateTo('0004-lookup-indexes');
        assert.equal(before.error, undefined);
        const client = (id: string, status: string, requestedScope: string, via: string) =>
          sql`insert into clients (id, name, secret_hash, redirect_uris, grant_types, scope,
                token_endpoint_auth_method, application_type, require_pkce, allowed_cors_origins,
                allowed_resources, non_expiring_tokens, status, registered_via, metadata, requested_scope,
                created_at)
              values (${id}, 'n', 'h', '[]', '["client_credentials"]', 'api', 'client_secret_basic', 'web', 1,
                '[]', '[]', 0, ${status}, ${via}, '{}', ${requestedScope}, 1000)`.execute(db);
        await client('stranger', 'active', '', 'dcr');
        await client('waiting', 'pending', '', 'dcr');
        await client('asking', 'active', 'extra', 'portal');
        await client('operator', 'active', '', 'cli');
        const after = await migrator.migrateToLatest();
        assert.equal(after.error, undefined);
        const rows = await db
          .selectFrom('clients')
          .select(['id', 'reviewed_at', 'pending_changes'])
          .orderBy('id')
          .execute();
        assert.ok(rows.every((row) => row.reviewed_at === null && row.pending_changes === null));
        const awaiting = await db
          .selectFrom('clients')
          .select('id')
          .where(sql<boolean>`(status = 'pending' or requested_scope <> '' or pending_changes is not null)`)
          .orderBy('id')
          .execute();
        assert.deepEqual(
          awaiting.map((row) => row.id),
          ['asking', 'waiting'],
        );
        const down = await migrator.migrateTo('0004-lookup-indexes');
        assert.equal(down.error, undefined);
      } finally {
        await close();
      }
    });

    it('0006 adds clients.resource_server, unmarked for every existing client', async () => {
      const { db, close } = await open();
      try {
        const migrator = new Migrator({ db, provider: migrationProvider });
        const before = await migrator.migrateTo('0004-lookup-indexes');
        assert.equal(before.error, undefined);
        await sql`insert into clients (id, name, secret_hash, redirect_uris, grant_types, scope,
            token_endpoint_auth_method, application_type, require_pkce, allowed_cors_origins,
            id_token_signed_response_alg, allowed_resources, non_expiring_tokens, status, registered_via,
            registration_access_token_hash, metadata, owner_user_id, requested_scope, previous_secret_hash,
            previous_secret_expires_at, created_at, disabled_at)
          values ('old', 'Old API', 'h', '[]', '["client_credentials"]', '', 'client_secret_basic', 'web', 1, '[]',
            null, '[]', 0, 'active', 'cli', null, '{}', null, '', null, null, 1000, null)`.execute(db);
        const after = await migrator.migrateToLatest();
        assert.equal(after.error, undefined);
        const rows = await db.selectFrom('clients').select(['id', 'resource_server']).execute();
        assert.deepEqual(
          rows.map((row) => [row.id, Number(row.resource_server)]),
          [['old', 0]],
        );
      } finally {
        await close();
      }
    });

    it('0008 keeps every user (email still unique) and lets external subjects in without one; down again', async () => {
      const { db, close } = await open();
      try {
        const migrator = new Migrator({ db, provider: migrationProvider });
        assert.equal((await migrator.migrateTo('0007-rate-limits')).error, undefined);
        const user = (id: string, email: string) =>
          sql`insert into users (id, email, name, password_hash, is_admin, email_verified, created_at, updated_at,
              disabled_at) values (${id}, ${email}, 'N', 'scrypt$x', 0, 1, 1000, 2000, null)`.execute(db);
        await user('u1', 'one@example.com');
        await user('u2', 'two@example.com');
        assert.equal((await migrator.migrateToLatest()).error, undefined);
        const rows = await db.selectFrom('users').selectAll().orderBy('id').execute();
        assert.deepEqual(
          rows.map((row) => [
            row.id,
            row.email,
            row.password_hash,
            Number(row.email_verified),
            Number(row.updated_at),
            row.claims,
          ]),
          [
            ['u1', 'one@example.com', 'scrypt$x', 1, 2000, null],
            ['u2', 'two@example.com', 'scrypt$x', 1, 2000, null],
          ],
        );
        await assert.rejects(user('u3', 'one@example.com'), 'email stays unique');
        for (const id of ['acme|1', 'acme|2']) {
          await sql`insert into users (id, email, name, password_hash, is_admin, email_verified, created_at,
              updated_at, disabled_at, claims) values (${id}, null, null, '!external', 0, 0, 1, 1, null, '{}')`.execute(
            db,
          );
        }
        assert.equal((await migrator.migrateTo('0007-rate-limits')).error, undefined);
        const left = await sql<{ id: string }>`select id from users order by id`.execute(db);
        assert.deepEqual(
          left.rows.map((row) => row.id),
          ['u1', 'u2'],
        );
      } finally {
        await close();
      }
    });

    it('0014 gives the security event log its columns: old events keep theirs, with nulls for the new; down again', async () => {
      const { db, close } = await open();
      try {
        const migrator = new Migrator({ db, provider: migrationProvider });
        assert.equal((await migrator.migrateTo('0013-api-key-resources')).error, undefined);
        await sql`insert into security_events (id, type, client_id, user_id, grant_id, detail, created_at)
            values ('e1', 'refresh_token_reuse', 'c1', 'u1', 'g1', '{"reason":"x"}', 1000)`.execute(db);
        assert.equal((await migrator.migrateToLatest()).error, undefined);
        const storage = createKyselyStorage(db);
        assert.deepEqual(await storage.securityEvents.list({ userId: 'u1', limit: 5 }), [
          {
            id: 'e1',
            type: 'refresh_token_reuse',
            actor: null,
            ip: null,
            clientId: 'c1',
            clientName: null,
            userId: 'u1',
            userEmail: null,
            grantId: 'g1',
            detail: { reason: 'x' },
            createdAt: 1000,
          },
        ]);
        assert.equal((await migrator.migrateTo('0013-api-key-resources')).error, undefined);
        const left = await sql<{ id: string; detail: string }>`select * from security_events`.execute(db);
        assert.deepEqual(
          left.rows.map((row) => [row.id, row.detail, 'ip' in row]),
          [['e1', '{"reason":"x"}', false]],
        );
      } finally {
        await close();
      }
    });
  });
}
