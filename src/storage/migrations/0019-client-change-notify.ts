import { type Kysely, PostgresAdapter, sql } from 'kysely';
import type { Migration } from 'kysely/migration';

// PostgreSQL only: every statement that changes the clients table notifies the channel `gatehouse_clients`
// when its transaction commits, so that each Gatehouse process drops its cached clients (storage/postgres.ts
// listens; kysely/clients.ts keeps the cache). A trigger, not a NOTIFY in Gatehouse's own writes: a change
// made by any writer (another version, a hand-run UPDATE during an incident) reaches every cache as well.
// SQLite needs nothing: its cache reads the database's data version on every lookup.
export const clientChangeNotify: Migration = {
  async up(db: Kysely<unknown>) {
    if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
    await sql`create function gatehouse_clients_changed() returns trigger language plpgsql as $$
      begin
        perform pg_notify('gatehouse_clients', '');
        return null;
      end
    $$`.execute(db);
    await sql`create trigger clients_changed after insert or update or delete or truncate on clients
      for each statement execute function gatehouse_clients_changed()`.execute(db);
  },
};
