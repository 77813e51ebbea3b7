// createKyselyStorage(db): THE implementation of the Storage contract, shared by SQLite and PostgreSQL.
import { sql } from 'kysely';
import { StorageUnavailableError } from '../../errors.ts';
import type { Storage } from '../storage.ts';
import { authorizationCodeStore } from './authorization-codes.ts';
import { clientStore } from './clients.ts';
import { groupCommit } from './group-commit.ts';
import { housekeepingStore } from './housekeeping.ts';
import { interactionStore } from './interactions.ts';
import {
  apiKeyStore,
  consentStore,
  initialAccessTokenStore,
  keyStore,
  loginThrottleStore,
  securityEventStore,
  settingStore,
} from './misc.ts';
import { type Db, inTransaction } from './rows.ts';
import { accessTokenStore, grantStore, refreshTokenStore } from './tokens.ts';
import { sessionStore, userStore } from './users.ts';

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);
// SQLite result codes that mean "cannot use the database right now" rather than "your query is wrong".
const SQLITE_UNAVAILABLE = new Set([5, 6, 10, 13, 14]); // BUSY, LOCKED, IOERR, FULL, CANTOPEN

/** Tells an outage (fail closed with 503) from a bug (500). */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
  if (typeof errcode === 'number' && SQLITE_UNAVAILABLE.has(errcode & 0xff)) return true;
  return /Connection terminated|timeout exceeded when trying to connect|database is not open|driver has already been destroyed|is not currently accepting connections|the database system is (starting up|shutting down)/i.test(
    error.message,
  );
}

/** Wraps every method of a store so that an outage surfaces as StorageUnavailableError (503). */
function failClosed<T extends object>(store: T): T {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        try {
          return await value.apply(target, args);
        } catch (error) {
          throw isUnavailable(error) ? new StorageUnavailableError(error) : error;
        }
      };
    },
  });
}

export interface KyselyStorageOptions {
  /** Share one COMMIT between concurrent transactions (SQLite, where every commit is an fsync). */
  groupCommit?: boolean;
}

export function createKyselyStorage(db: Db, options: KyselyStorageOptions = {}): Storage {
  const batched = options.groupCommit && !db.isTransaction ? groupCommit(db) : undefined;
  const storage: Storage = {
    clients: failClosed(clientStore(db)),
    users: failClosed(userStore(db)),
    sessions: failClosed(sessionStore(db)),
    interactions: failClosed(interactionStore(db)),
    authorizationCodes: failClosed(authorizationCodeStore(db)),
    grants: failClosed(grantStore(db)),
    accessTokens: failClosed(accessTokenStore(db)),
    refreshTokens: failClosed(refreshTokenStore(db)),
    consents: failClosed(consentStore(db)),
    apiKeys: failClosed(apiKeyStore(db)),
    securityEvents: failClosed(securityEventStore(db)),
    initialAccessTokens: failClosed(initialAccessTokenStore(db)),
    keys: failClosed(keyStore(db)),
    loginThrottle: failClosed(loginThrottleStore(db)),
    settings: failClosed(settingStore(db)),
    housekeeping: failClosed(housekeepingStore(db)),
    async transaction(work) {
      try {
        if (batched) return await batched((tx) => work(createKyselyStorage(tx)));
        return await inTransaction(db, (tx) => work(createKyselyStorage(tx)));
      } catch (error) {
        throw isUnavailable(error) ? new StorageUnavailableError(error) : error;
      }
    },
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
  return storage;
}
