import type { DeviceAuthorizationsTable } from '../database.ts';
import type { DeviceAuthorization, DeviceAuthorizationStore } from '../storage.ts';
import { type Db, grantNotRevoked } from './rows.ts';
import { authenticationFrom } from './users.ts';

const STATUSES = new Set(['pending', 'approved', 'denied', 'redeemed']);
/** RFC 8628 §3.5: slow_down adds 5 seconds to the interval, for this and all subsequent requests. */
const SLOW_DOWN_SECONDS = 5;
/** Compare-and-set rounds a poll tries before it counts as too fast without writing (see poll). */
const POLL_ATTEMPTS = 3;

function toAuthorization(row: DeviceAuthorizationsTable): DeviceAuthorization {
  if (!STATUSES.has(row.status)) throw new Error(`unknown device authorization status ${row.status}`);
  return {
    deviceCodeHash: row.device_code_hash,
    userCodeHash: row.user_code_hash,
    clientId: row.client_id,
    scope: row.scope,
    resource: row.resource,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    interval: Number(row.interval_seconds),
    lastPolledAt: row.last_polled_at === null ? null : Number(row.last_polled_at),
    status: row.status as DeviceAuthorization['status'],
    userId: row.user_id,
    grantId: row.grant_id,
    authTime: row.auth_time === null ? null : Number(row.auth_time),
    ...authenticationFrom(row),
  };
}

export function deviceAuthorizationStore(db: Db): DeviceAuthorizationStore {
  const select = (deviceCodeHash: string) =>
    db
      .selectFrom('device_authorizations')
      .selectAll()
      .where('device_code_hash', '=', deviceCodeHash)
      .executeTakeFirst();

  return {
    async create(authorization) {
      const inserted = await db
        .insertInto('device_authorizations')
        .values({
          device_code_hash: authorization.deviceCodeHash,
          user_code_hash: authorization.userCodeHash,
          client_id: authorization.clientId,
          scope: authorization.scope,
          resource: authorization.resource,
          created_at: authorization.createdAt,
          expires_at: authorization.expiresAt,
          interval_seconds: authorization.interval,
          last_polled_at: authorization.lastPolledAt,
          status: authorization.status,
          user_id: authorization.userId,
          grant_id: authorization.grantId,
          auth_time: authorization.authTime,
          amr: authorization.amr === undefined ? null : JSON.stringify(authorization.amr),
          acr: authorization.acr ?? null,
        })
        // A user code already taken is no error: the caller draws another one.
        .onConflict((oc) => oc.column('user_code_hash').doNothing())
        .executeTakeFirst();
      return Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1;
    },

    async find(deviceCodeHash) {
      const row = await select(deviceCodeHash);
      return row && toAuthorization(row);
    },

    async findPendingByUserCode(userCodeHash, now) {
      const row = await db
        .selectFrom('device_authorizations')
        .selectAll()
        .where('user_code_hash', '=', userCodeHash)
        .where('status', '=', 'pending')
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return row && toAuthorization(row);
    },

    async poll(deviceCodeHash, now) {
      // Compare-and-set on (last_polled_at, interval_seconds): the update matches only if no other poll wrote
      // since this one read, so two concurrent polls cannot both be judged against the same previous poll.
      // The loser reads again and finds the winner's poll a moment ago: too fast, as it is.
      for (let attempt = 0; attempt < POLL_ATTEMPTS; attempt++) {
        const row = await select(deviceCodeHash);
        if (!row) return undefined;
        const interval = Number(row.interval_seconds);
        const last = row.last_polled_at === null ? null : Number(row.last_polled_at);
        const slowDown = last !== null && now - last < interval * 1000;
        const next = slowDown ? interval + SLOW_DOWN_SECONDS : interval;
        const updated = await db
          .updateTable('device_authorizations')
          .set({ last_polled_at: now, interval_seconds: next })
          .where('device_code_hash', '=', deviceCodeHash)
          .where('interval_seconds', '=', interval)
          .where((eb) => (last === null ? eb('last_polled_at', 'is', null) : eb('last_polled_at', '=', last)))
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 1) return { slowDown, interval: next };
      }
      // Still racing after several rounds: a burst of polls. None of them is on time.
      const row = await select(deviceCodeHash);
      return row && { slowDown: true, interval: Number(row.interval_seconds) };
    },

    async approve(userCodeHash, now, approval) {
      const updated = await db
        .updateTable('device_authorizations')
        .set({
          status: 'approved',
          user_id: approval.userId,
          grant_id: approval.grantId,
          auth_time: approval.authTime,
          amr: approval.amr === undefined ? null : JSON.stringify(approval.amr),
          acr: approval.acr ?? null,
        })
        .where('user_code_hash', '=', userCodeHash)
        .where('status', '=', 'pending')
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(updated.numUpdatedRows) === 1;
    },

    async deny(userCodeHash, now) {
      const updated = await db
        .updateTable('device_authorizations')
        .set({ status: 'denied' })
        .where('user_code_hash', '=', userCodeHash)
        .where('status', '=', 'pending')
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(updated.numUpdatedRows) === 1;
    },

    async redeem(deviceCodeHash, now) {
      // The atomicity lives in this one conditional UPDATE: only one poll moves status off 'approved'. A grant
      // revoked between the approval and the poll (a password reset, "Remove access") stops it, in the same
      // statement, as for authorization codes.
      const row = await db
        .updateTable('device_authorizations')
        .set({ status: 'redeemed' })
        .where('device_code_hash', '=', deviceCodeHash)
        .where('status', '=', 'approved')
        .where('expires_at', '>', now)
        .where(grantNotRevoked('device_authorizations'))
        .returningAll()
        .executeTakeFirst();
      return row && toAuthorization(row);
    },
  };
}
