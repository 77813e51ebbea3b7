// createKyselyStorage(db): THE implementation of the Storage contract, shared by SQLite and PostgreSQL.
import { sql } from 'kysely';
import { OAuthError, StorageUnavailableError } from '../../errors.ts';
import type { Storage } from '../storage.ts';
import { authorizationCodeStore } from './authorization-codes.ts';
import { clientStore } from './clients.ts';
import { deviceAuthorizationStore } from './device-authorizations.ts';
import { groupCommit } from './group-commit.ts';
import { housekeepingStore } from './housekeeping.ts';
import { interactionStore } from './interactions.ts';
import { linkedIdentityStore } from './linked-identities.ts';
import {
  adminKeyStore,
  apiKeyStore,
  consentStore,
  initialAccessTokenStore,
  keyStore,
  loginThrottleStore,
  settingStore,
} from './misc.ts';
import { rateLimitStore } from './rate-limits.ts';
import { type Atomically, type Db, inTransaction } from './rows.ts';
import { securityEventStore } from './security-events.ts';
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
  '53100', // disk_full
]);
// SQLite result codes that mean "cannot use the database right now" rather than "your query is wrong".
const SQLITE_UNAVAILABLE = new Set([5, 6, 10, 13, 14]); // BUSY, LOCKED, IOERR, FULL, CANTOPEN

/** Tells an outage (fail closed with 503) from a bug (500). */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
  if (typeof errcode === 'number' && SQLITE_UNAVAILABLE.has(errcode & 0xff)) return true;
  return /WAL sync failed|Connection terminated|timeout exceeded when trying to connect|database is not open|driver has already been destroyed|Cannot use a pool after calling end on the pool|is not currently accepting connections|the database system is (starting up|shutting down)/i.test(
    error.message,
  );
}

const translate = (error: unknown) => (isUnavailable(error) ? new StorageUnavailableError(error) : error);

type OutageListener = (cause: unknown) => void;

/** What one storage operation (a store method, or `transaction`) reports when metrics are on. */
export interface OperationRecorder {
  /** A call ended, answered or failed, after `seconds`. */
  finished(seconds: number): void;
  /** A call failed: `unavailable` for an outage (what answers 503 and fails readiness), else a database error. */
  failed(unavailable: boolean): void;
}

/** Metrics' view of the storage (src/observability/prometheus.ts implements it). */
export interface StorageObserver {
  /** Called once per operation name (`clients.find`, `transaction`); the recorder is kept and reused. */
  operation(name: string): OperationRecorder;
  /** How many transactions one group commit carried (SQLite). */
  groupCommitBatch(size: number): void;
}

/** Wraps every method of a store so that an outage surfaces as StorageUnavailableError (503). */
function failClosed<T extends object>(
  store: T,
  storeName: string,
  rejectTranslated: (error: unknown) => never,
  translateOutage: (error: unknown) => unknown,
  observer: StorageObserver | undefined,
): T {
  // Each method is wrapped once and the wrapper reused: building a closure per call showed on the hot path.
  const wrappers = new Map<unknown, unknown>();
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      let wrapped = wrappers.get(value);
      if (!wrapped) {
        const recorder = observer?.operation(`${storeName}.${String(property)}`);
        // Not an async function: that would add two promises and a resumption to every storage call.
        wrapped = recorder
          ? timed(value as (...args: unknown[]) => unknown, target, recorder, translateOutage)
          : (...args: unknown[]) => {
              let result: unknown;
              try {
                result = value.apply(target, args);
              } catch (error) {
                return Promise.reject(translateOutage(error));
              }
              return result instanceof Promise ? result.then(undefined, rejectTranslated) : result;
            };
        wrappers.set(value, wrapped);
      }
      return wrapped;
    },
  });
}

/**
 * failClosed's wrapper when metrics are on: the same, plus the call's duration and failures. The one place
 * every storage call outside a transaction passes (a transaction is timed as a whole in transaction()).
 */
function timed(
  method: (...args: unknown[]) => unknown,
  target: object,
  recorder: OperationRecorder,
  translateOutage: (error: unknown) => unknown,
) {
  const fail = (error: unknown, started: number) => {
    recorder.finished((performance.now() - started) / 1000);
    const translated = translateOutage(error);
    recorder.failed(translated instanceof StorageUnavailableError);
    return translated;
  };
  return (...args: unknown[]) => {
    const started = performance.now();
    let result: unknown;
    try {
      result = method.apply(target, args);
    } catch (error) {
      return Promise.reject(fail(error, started));
    }
    if (!(result instanceof Promise)) {
      recorder.finished((performance.now() - started) / 1000);
      return result;
    }
    return result.then(
      (value) => {
        recorder.finished((performance.now() - started) / 1000);
        return value;
      },
      (error) => {
        throw fail(error, started);
      },
    );
  };
}

const STORES = {
  clients: clientStore,
  users: userStore,
  sessions: sessionStore,
  linkedIdentities: linkedIdentityStore,
  interactions: interactionStore,
  authorizationCodes: authorizationCodeStore,
  deviceAuthorizations: deviceAuthorizationStore,
  grants: grantStore,
  accessTokens: accessTokenStore,
  refreshTokens: refreshTokenStore,
  consents: consentStore,
  apiKeys: apiKeyStore,
  adminKeys: adminKeyStore,
  securityEvents: securityEventStore,
  initialAccessTokens: initialAccessTokenStore,
  keys: keyStore,
  loginThrottle: loginThrottleStore,
  rateLimits: rateLimitStore,
  settings: settingStore,
  housekeeping: housekeepingStore,
} satisfies { [Name in keyof Storage]?: (db: Db, atomically: Atomically) => Storage[Name] };

type Stores = { [Name in keyof typeof STORES]: Storage[Name] };

/**
 * The stores over one Kysely handle, each built on first use: a transaction touches two or three of them, and
 * building all sixteen for every transaction was measurable on the token endpoint. The getters live on one
 * shared prototype, so a transaction's storage costs one small object.
 */
interface LazyStores {
  db: Db;
  atomically: Atomically;
  wrap: <T extends object>(store: T, name: string) => T;
  built: Partial<Stores>;
}
const LAZY_STORES: object = Object.create(null);
for (const [name, create] of Object.entries(STORES)) {
  Object.defineProperty(LAZY_STORES, name, {
    enumerable: true,
    get(this: LazyStores) {
      const key = name as keyof Stores;
      let store = this.built[key];
      if (!store) {
        store = this.wrap(
          (create as (db: Db, atomically: Atomically) => object)(this.db, this.atomically),
          name,
        ) as Stores[typeof key];
        (this.built as Record<string, unknown>)[key] = store;
      }
      return store;
    },
  });
}

function lazyStores(
  db: Db,
  atomically: Atomically,
  wrap: <T extends object>(store: T, name: string) => T,
): Stores {
  const stores: LazyStores = Object.create(LAZY_STORES);
  stores.db = db;
  stores.atomically = atomically;
  stores.wrap = wrap;
  stores.built = {};
  return stores as unknown as Stores;
}

const asIs = <T extends object>(store: T): T => store;

export interface KyselyStorageOptions {
  /** Share one COMMIT between concurrent transactions (SQLite, where every commit is an fsync). */
  groupCommit?: boolean;
  /** Metrics (off when absent): each operation's duration and failures, group commit batch sizes. */
  observer?: StorageObserver;
}

export function createKyselyStorage(db: Db, options: KyselyStorageOptions = {}): Storage {
  const observer = db.isTransaction ? undefined : options.observer;
  const batched =
    options.groupCommit && !db.isTransaction
      ? groupCommit(db, observer && ((size) => observer.groupCommitBatch(size)))
      : undefined;
  const transactions = observer?.operation('transaction');
  // Listeners live on the database's storage; a transaction's storage (built per transaction, on the hot path)
  // only translates, and the outer transaction() tells the listeners.
  const listeners = db.isTransaction ? undefined : new Set<OutageListener>();
  const translateOutage = listeners
    ? (error: unknown) => {
        const translated = translate(error);
        if (translated instanceof StorageUnavailableError) {
          for (const listener of listeners) listener(translated.cause);
        }
        return translated;
      }
    : translate;
  const rejectTranslated = (error: unknown): never => {
    throw translateOutage(error);
  };
  // Inside a transaction the stores are not wrapped: transaction() below translates an outage for all of them.
  const inTransactionStorage = (tx: Db): Storage => createKyselyStorage(tx);
  const wrap = listeners
    ? <T extends object>(store: T, name: string) =>
        failClosed(store, name, rejectTranslated, translateOutage, observer)
    : asIs;
  // A store method that must be atomic on its own (a rotation, a code redemption) runs its statements through
  // this: in the caller's transaction, or in one of its own that shares SQLite's group commit.
  const atomically: Atomically = batched ?? ((work) => inTransaction(db, work));
  const storage: Storage = Object.assign(lazyStores(db, atomically, wrap), {
    async transaction<T>(work: (tx: Storage) => Promise<T>): Promise<T> {
      const started = transactions ? performance.now() : 0;
      try {
        const result = batched
          ? await batched((tx) => work(inTransactionStorage(tx)))
          : await inTransaction(db, (tx) => work(inTransactionStorage(tx)));
        transactions?.finished((performance.now() - started) / 1000);
        return result;
      } catch (error) {
        const translated = translateOutage(error);
        if (transactions) {
          transactions.finished((performance.now() - started) / 1000);
          // The work's own refusals (an OAuthError: a spent initial access token) are answers, not failures.
          const unavailable = translated instanceof StorageUnavailableError;
          if (unavailable || !(error instanceof OAuthError)) transactions.failed(unavailable);
        }
        throw translated;
      }
    },
    async ping() {
      await sql`select 1`.execute(db);
    },
    onOutage(listener: OutageListener) {
      listeners?.add(listener);
    },
    async close() {
      await db.destroy();
    },
  });
  return storage;
}
