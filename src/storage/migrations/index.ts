import type { Migration, MigrationProvider } from 'kysely/migration';
import { initial } from './0001-initial.ts';

// The explicit, ordered list of migrations (no folder scanning). Append; never edit a released one.
const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': initial,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
