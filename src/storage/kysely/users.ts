import type { SessionsTable, UsersTable } from '../database.ts';
import type { AddressClaim, Session, SessionStore, User, UserStore } from '../storage.ts';
import { forgetClients } from './clients.ts';
import { prepared } from './prepared.ts';
import { type Db, fromFlag, inTransaction, toFlag } from './rows.ts';

export function toUser(row: UsersTable): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    passwordHash: row.password_hash,
    isAdmin: fromFlag(row.is_admin),
    emailVerified: fromFlag(row.email_verified),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    disabledAt: row.disabled_at,
    claims: row.claims === null ? null : (JSON.parse(row.claims) as Record<string, unknown>),
    phoneNumber: row.phone_number,
    phoneNumberVerified: fromFlag(row.phone_number_verified),
    address: row.address === null ? null : (JSON.parse(row.address) as AddressClaim),
  };
}

/** The phone and address columns a create or update writes: only the fields the User carries. */
function contactColumns(user: User): Partial<UsersTable> {
  const columns: Partial<UsersTable> = {};
  if (user.phoneNumber !== undefined) columns.phone_number = user.phoneNumber;
  if (user.phoneNumberVerified !== undefined)
    columns.phone_number_verified = toFlag(user.phoneNumberVerified);
  if (user.address !== undefined)
    columns.address = user.address === null ? null : JSON.stringify(user.address);
  return columns;
}

function toRow(user: User): UsersTable {
  return {
    id: user.id,
    email: user.email === null ? null : user.email.trim().toLowerCase(),
    name: user.name,
    password_hash: user.passwordHash,
    is_admin: toFlag(user.isAdmin),
    email_verified: toFlag(user.emailVerified),
    created_at: user.createdAt,
    updated_at: user.updatedAt,
    disabled_at: user.disabledAt,
    claims: user.claims === null ? null : JSON.stringify(user.claims),
    phone_number: user.phoneNumber ?? null,
    phone_number_verified: toFlag(user.phoneNumberVerified ?? false),
    address: user.address ? JSON.stringify(user.address) : null,
  };
}

// On the token endpoint (refresh, code exchange) and every signed-in /authorize: compiled once.
const selectUser = prepared((db, { id }: { id: string }) =>
  db.selectFrom('users').selectAll().where('id', '=', id),
);
const selectSession = prepared((db, { idHash, now }: { idHash: string; now: number }) =>
  db.selectFrom('sessions').selectAll().where('id_hash', '=', idHash).where('expires_at', '>', now),
);

export function userStore(db: Db): UserStore {
  return {
    async findById(id) {
      const row = (await selectUser(db, { id })).rows[0];
      return row && toUser(row);
    },
    async findByEmail(email) {
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where('email', '=', email.trim().toLowerCase())
        .executeTakeFirst();
      return row && toUser(row);
    },
    async create(user) {
      await db.insertInto('users').values(toRow(user)).execute();
    },
    async upsertExternal(id, claims, name, now) {
      // One statement: the conflict branch updates only a row that is already external (claims not null), so
      // a Gatehouse user whose id the company's subject happens to equal is never taken over.
      const result = await db
        .insertInto('users')
        .values({
          id,
          email: null,
          name,
          // Not a hash of anything: a value starting with '!' is "no password" (accounts/password.ts
          // isNoPassword), and the email is null anyway.
          password_hash: '!external',
          is_admin: 0,
          email_verified: 0,
          created_at: now,
          updated_at: now,
          disabled_at: null,
          claims: JSON.stringify(claims),
          phone_number: null,
          phone_number_verified: 0,
          address: null,
        })
        .onConflict((oc) =>
          oc
            .column('id')
            .doUpdateSet({ claims: JSON.stringify(claims), name, updated_at: now })
            .where('users.claims', 'is not', null),
        )
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
    },
    async listPage({ limit, before }) {
      let query = db.selectFrom('users').selectAll();
      if (before) {
        query = query.where((eb) =>
          eb(eb.refTuple('created_at', 'id'), '<', eb.tuple(before.createdAt, before.id)),
        );
      }
      const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map(toUser);
    },
    async update(user) {
      await db
        .updateTable('users')
        .set({
          name: user.name,
          password_hash: user.passwordHash,
          is_admin: toFlag(user.isAdmin),
          email_verified: toFlag(user.emailVerified),
          updated_at: user.updatedAt,
          disabled_at: user.disabledAt,
          ...contactColumns(user),
        })
        .where('id', '=', user.id)
        .execute();
    },
    async rehashPassword(id, currentHash, newHash) {
      const result = await db
        .updateTable('users')
        .set({ password_hash: newHash })
        .where('id', '=', id)
        .where('password_hash', '=', currentHash)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async findByIdsOrEmails(ids, emails) {
      // One round trip, two indexed lookups (an OR of the two could be planned as a scan); UNION drops a row
      // found both ways.
      const lowered = emails.map((email) => email.trim().toLowerCase());
      const byId = db.selectFrom('users').selectAll().where('id', 'in', ids);
      const byEmail = db.selectFrom('users').selectAll().where('email', 'in', lowered);
      if (ids.length === 0 && lowered.length === 0) return [];
      const query = ids.length === 0 ? byEmail : lowered.length === 0 ? byId : byId.union(byEmail);
      return (await query.execute()).map(toUser);
    },
    async createMany(users) {
      if (users.length === 0) return;
      await db.insertInto('users').values(users.map(toRow)).execute();
    },
    async delete(id, now) {
      forgetClients(db);
      try {
        return await inTransaction(db, async (tx) => {
          await tx
            .updateTable('grants')
            .set({ revoked_at: now })
            .where('user_id', '=', id)
            .where('revoked_at', 'is', null)
            .execute();
          await tx
            .updateTable('api_keys')
            .set({ revoked_at: now })
            .where('user_id', '=', id)
            .where('revoked_at', 'is', null)
            .execute();
          await tx.deleteFrom('sessions').where('user_id', '=', id).execute();
          await tx.deleteFrom('consents').where('user_id', '=', id).execute();
          await tx.deleteFrom('linked_identities').where('user_id', '=', id).execute();
          await tx
            .updateTable('clients')
            .set({ owner_user_id: null })
            .where('owner_user_id', '=', id)
            .execute();
          const result = await tx.deleteFrom('users').where('id', '=', id).executeTakeFirst();
          return Number(result.numDeletedRows) === 1;
        });
      } finally {
        // The apps this user owned changed owner: no process-local copy may keep the old one.
        forgetClients(db);
      }
    },
    async replaceUnlessChanged(user, seen) {
      const result = await db
        .updateTable('users')
        .set({
          email: user.email === null ? null : user.email.trim().toLowerCase(),
          name: user.name,
          password_hash: user.passwordHash,
          is_admin: toFlag(user.isAdmin),
          email_verified: toFlag(user.emailVerified),
          updated_at: user.updatedAt,
          disabled_at: user.disabledAt,
          ...contactColumns(user),
        })
        .where('id', '=', user.id)
        .where('password_hash', '=', seen.passwordHash)
        .where('updated_at', '=', seen.updatedAt)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async exists() {
      // One row at most, not a count over the whole email index.
      return (await db.selectFrom('users').select('id').limit(1).executeTakeFirst()) !== undefined;
    },
  };
}

function toSession(row: SessionsTable): Session {
  return {
    idHash: row.id_hash,
    userId: row.user_id,
    authTime: row.auth_time,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    ...authenticationFrom(row),
  };
}

/** The amr and acr columns of a session or code row, as optional domain fields (absent when null). */
export function authenticationFrom(row: { amr: string | null; acr: string | null }): {
  amr?: string[];
  acr?: string;
} {
  return {
    ...(row.amr === null ? {} : { amr: JSON.parse(row.amr) as string[] }),
    ...(row.acr === null ? {} : { acr: row.acr }),
  };
}

export function sessionStore(db: Db): SessionStore {
  return {
    async create(session) {
      await db
        .insertInto('sessions')
        .values({
          id_hash: session.idHash,
          user_id: session.userId,
          auth_time: session.authTime,
          created_at: session.createdAt,
          expires_at: session.expiresAt,
          amr: session.amr === undefined ? null : JSON.stringify(session.amr),
          acr: session.acr ?? null,
        })
        .execute();
    },
    async find(idHash, now) {
      const row = (await selectSession(db, { idHash, now })).rows[0];
      return row && toSession(row);
    },
    async deleteForUser(userId) {
      await db.deleteFrom('sessions').where('user_id', '=', userId).execute();
    },
    async delete(idHash) {
      await db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
    },
  };
}
