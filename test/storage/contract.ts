// The storage contract suite: every method of the Storage interface (src/storage/storage.ts), against a real
// database. sqlite.test.ts and postgres.test.ts run it per dialect; a dialect passes only if it keeps every
// guarantee the interface documents, the atomic ones (R2/C-07: one code, one redemption) above all.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/storage/database.ts';
import type {
  AccessTokenRecord,
  AuthorizationCode,
  AuthorizationRequest,
  Client,
  DeviceAuthorization,
  Grant,
  Interaction,
  LinkedIdentity,
  RefreshTokenRecord,
  SecurityEvent,
  SecurityEventQuery,
  Session,
  SigningKeyRecord,
  Storage,
  User,
} from '../../src/storage/storage.ts';

export interface OpenedStorage {
  storage: Storage;
  /**
   * The same database, for the few facts the contract promises but no Storage method can read back (the
   * refresh tokens a grant revocation must revoke). Only used to look, never to write.
   */
  db: Kysely<Database>;
  close(): Promise<void>;
}

const T0 = Date.UTC(2026, 10, 22, 12, 0, 0);
const MINUTE = 60_000;

const id = (prefix: string) => `${prefix}-${randomUUID()}`;
const hash = () => randomBytes(32).toString('base64url');

export function newClient(overrides: Partial<Client> = {}): Client {
  return {
    id: id('client'),
    name: 'Contract Client',
    secretHash: hash(),
    redirectUris: ['https://rp.example/cb', 'https://rp.example/cb2?tenant=a&x=1', 'http://127.0.0.1/cb'],
    grantTypes: ['authorization_code', 'refresh_token'],
    scope: 'openid profile email offline_access',
    tokenEndpointAuthMethod: 'client_secret_basic',
    applicationType: 'web',
    requirePkce: true,
    allowedCorsOrigins: ['https://app.example', 'http://127.0.0.1:5173'],
    idTokenSignedResponseAlg: null,
    allowedResources: ['https://api.example/v1'],
    nonExpiringTokens: false,
    resourceServer: false,
    status: 'active',
    registeredVia: 'dcr',
    registrationAccessTokenHash: hash(),
    metadata: { client_uri: 'https://rp.example', contacts: ['ops@rp.example'] },
    ownerUserId: null,
    requestedScope: 'screen_pop',
    previousSecretHash: hash(),
    previousSecretExpiresAt: T0 + MINUTE,
    createdAt: T0,
    disabledAt: null,
    reviewedAt: null,
    pendingChanges: null,
    ...overrides,
  };
}

function newUser(overrides: Partial<User> = {}): User {
  return {
    id: id('user'),
    email: `${randomUUID()}@example.com`,
    name: 'Contract User',
    passwordHash: `scrypt$${hash()}`,
    isAdmin: false,
    emailVerified: false,
    createdAt: T0,
    updatedAt: T0,
    disabledAt: null,
    claims: null,
    phoneNumber: null,
    phoneNumberVerified: false,
    address: null,
    ...overrides,
  };
}

function newRequest(overrides: Partial<AuthorizationRequest> = {}): AuthorizationRequest {
  return {
    clientId: id('client'),
    redirectUri: 'https://rp.example/cb',
    redirectUriProvided: true,
    scope: 'openid profile',
    state: 'st-1',
    nonce: 'n-1',
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    resource: null,
    prompt: ['login', 'consent'],
    maxAge: 300,
    ...overrides,
  };
}

function newInteraction(overrides: Partial<Interaction> = {}): Interaction {
  const request = newRequest();
  return {
    id: id('ia'),
    browserHash: hash(),
    clientId: request.clientId,
    request,
    loginUserId: null,
    loginAuthTime: null,
    consentedScope: null,
    denied: false,
    createdAt: T0,
    expiresAt: T0 + 30 * MINUTE,
    challengeHash: null,
    external: null,
    ...overrides,
  };
}

function newCode(overrides: Partial<AuthorizationCode> = {}): AuthorizationCode {
  return {
    codeHash: hash(),
    grantId: id('grant'),
    clientId: id('client'),
    userId: id('user'),
    redirectUri: 'https://rp.example/cb',
    redirectUriProvided: true,
    scope: 'openid profile',
    nonce: 'n-1',
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    resource: 'https://api.example/v1',
    authTime: T0 - MINUTE,
    createdAt: T0,
    expiresAt: T0 + MINUTE,
    consumedAt: null,
    ...overrides,
  };
}

function newDeviceAuthorization(overrides: Partial<DeviceAuthorization> = {}): DeviceAuthorization {
  return {
    deviceCodeHash: hash(),
    userCodeHash: hash(),
    clientId: id('client'),
    scope: 'openid profile',
    resource: 'https://api.example/v1',
    createdAt: T0,
    expiresAt: T0 + 10 * MINUTE,
    interval: 5,
    lastPolledAt: null,
    status: 'pending',
    userId: null,
    grantId: null,
    authTime: null,
    ...overrides,
  };
}

function newGrant(overrides: Partial<Grant> = {}): Grant {
  return {
    id: id('grant'),
    clientId: id('client'),
    userId: id('user'),
    scope: 'openid profile offline_access',
    createdAt: T0,
    revokedAt: null,
    lastUsedAt: null,
    ...overrides,
  };
}

function newAccessToken(grant: Grant, overrides: Partial<AccessTokenRecord> = {}): AccessTokenRecord {
  return {
    id: id('jti'),
    grantId: grant.id,
    clientId: grant.clientId,
    userId: grant.userId,
    scope: grant.scope,
    audience: 'https://as.example',
    createdAt: T0,
    expiresAt: T0 + 10 * MINUTE,
    revokedAt: null,
    ...overrides,
  };
}

function newRefreshToken(grant: Grant, overrides: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord {
  return {
    tokenHash: hash(),
    id: id('rt'),
    grantId: grant.id,
    clientId: grant.clientId,
    userId: grant.userId ?? id('user'),
    scope: grant.scope,
    resource: null,
    parentId: null,
    createdAt: T0,
    expiresAt: T0 + 30 * 24 * 60 * MINUTE,
    idleExpiresAt: null,
    rotatedAt: null,
    rotationFingerprint: null,
    revokedAt: null,
    ...overrides,
  };
}

function newKey(alg: string, createdAt: number): SigningKeyRecord {
  const kid = `${alg}-${randomUUID()}`;
  return {
    kid,
    alg,
    publicJwk: JSON.stringify({ kty: alg === 'RS256' ? 'RSA' : 'EC', kid, alg, use: 'sig', x: hash() }),
    privateJwkEncrypted: `v1.${hash()}.${hash()}.${hash()}`,
    createdAt,
    activatesAt: createdAt + MINUTE,
    rotatedAt: null,
    retireAt: null,
  };
}

const scopeSet = (scope: string | undefined) => new Set((scope ?? '').split(' ').filter(Boolean));

function count<T>(values: readonly T[], wanted: T): number {
  return values.filter((value) => value === wanted).length;
}

/** Runs every Storage guarantee against one freshly opened database (opened once for the whole suite). */
export function storageContract(name: string, open: () => Promise<OpenedStorage>): void {
  describe(`storage contract: ${name}`, () => {
    let opened: OpenedStorage;
    let storage: Storage;

    before(async () => {
      opened = await open();
      storage = opened.storage;
    });
    after(async () => {
      await opened?.close();
    });

    it('ping resolves while the database answers', async () => {
      await storage.ping();
    });

    describe('clients', () => {
      it('listPage pages newest first by creation time, then id; listAwaitingReview finds pending and scope requests', async () => {
        // Far in the future, so that these are the newest clients of the suite.
        const base = T0 + 1_000_000_000_000;
        const made = [
          newClient({ id: `p-a-${randomUUID()}`, createdAt: base + 1 }),
          newClient({ id: `p-b-${randomUUID()}`, createdAt: base + 2 }),
          newClient({ id: `p-c-${randomUUID()}`, createdAt: base + 2 }),
          newClient({ id: `p-d-${randomUUID()}`, createdAt: base + 3, status: 'pending' }),
          newClient({ id: `p-e-${randomUUID()}`, createdAt: base + 4, requestedScope: 'extra' }),
        ].map((client) => (client.id.startsWith('p-e') ? client : { ...client, requestedScope: '' }));
        for (const client of made) await storage.clients.create(client);
        const newestFirst = [...made].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
        const seen: string[] = [];
        let before: { createdAt: number; id: string } | undefined;
        for (let page = 0; page < 3; page++) {
          const rows = await storage.clients.listPage({ limit: 2, before });
          seen.push(...rows.map((row) => row.id));
          const last = rows.at(-1);
          if (!last) break;
          before = { createdAt: last.createdAt, id: last.id };
        }
        assert.deepEqual(
          seen.slice(0, 5),
          newestFirst.map((client) => client.id),
        );
        const awaiting = (await storage.clients.listAwaitingReview()).map((client) => client.id);
        assert.ok(awaiting.includes(made[3]!.id), 'pending');
        assert.ok(awaiting.includes(made[4]!.id), 'scope request');
        for (const client of made.slice(0, 3)) assert.ok(!awaiting.includes(client.id), client.id);
      });

      it('reviewedAt and pendingChanges round-trip; a client with a pending change awaits review until it is cleared', async () => {
        const approved = newClient({ requestedScope: '', reviewedAt: T0 + 5 });
        await storage.clients.create(approved);
        assert.deepEqual(await storage.clients.find(approved.id), approved);
        assert.ok(!(await storage.clients.listAwaitingReview()).some((client) => client.id === approved.id));

        const changed: Client = {
          ...approved,
          pendingChanges: {
            name: 'Renamed',
            redirectUris: ['https://rp.example/new'],
            grantTypes: ['authorization_code', 'client_credentials'],
            scope: 'openid',
            requestedScope: 'screen_pop',
            allowedResources: [],
            tokenEndpointAuthMethod: 'client_secret_post',
            applicationType: 'web',
            allowedCorsOrigins: ['https://new.example'],
            metadata: { logo_uri: 'https://rp.example/logo.png', contacts: ['a@rp.example'] },
            secretHash: hash(),
            proposedAt: T0 + 6,
          },
        };
        await storage.clients.update(changed);
        assert.deepEqual(await storage.clients.find(approved.id), changed);
        const awaiting = await storage.clients.listAwaitingReview();
        assert.deepEqual(
          awaiting.find((client) => client.id === approved.id),
          changed,
        );

        await storage.clients.update({ ...changed, pendingChanges: null });
        assert.equal((await storage.clients.find(approved.id))?.pendingChanges, null);
        assert.ok(!(await storage.clients.listAwaitingReview()).some((client) => client.id === approved.id));
      });

      it('create then find returns the same client; lists, nulls and booleans round-trip', async () => {
        const confidential = newClient();
        const relaxed = newClient({
          secretHash: null,
          redirectUris: ['com.example.app:/cb'],
          grantTypes: ['authorization_code'],
          scope: '',
          tokenEndpointAuthMethod: 'none',
          applicationType: 'native',
          requirePkce: false,
          allowedCorsOrigins: [],
          idTokenSignedResponseAlg: 'ES256',
          createdAt: T0 + 1,
          disabledAt: T0 + 2,
        });
        await storage.clients.create(confidential);
        await storage.clients.create(relaxed);
        assert.deepEqual(await storage.clients.find(confidential.id), confidential);
        assert.deepEqual(await storage.clients.find(relaxed.id), relaxed);
        const found = await storage.clients.find(relaxed.id);
        assert.equal(found?.requirePkce, false);
        assert.equal(typeof found?.requirePkce, 'boolean');
        assert.ok(Array.isArray(found?.allowedCorsOrigins));
      });

      it('resourceServer (RFC 7662 §4) round-trips through create, update and list, both ways', async () => {
        const api = newClient({ resourceServer: true });
        const app = newClient();
        await storage.clients.create(api);
        await storage.clients.create(app);
        assert.equal((await storage.clients.find(api.id))?.resourceServer, true);
        assert.equal((await storage.clients.find(app.id))?.resourceServer, false);
        await storage.clients.update({ ...api, resourceServer: false });
        await storage.clients.update({ ...app, resourceServer: true });
        assert.deepEqual(await storage.clients.find(api.id), { ...api, resourceServer: false });
        assert.deepEqual(await storage.clients.find(app.id), { ...app, resourceServer: true });
        const listed = (await storage.clients.list()).filter((client) => client.id === app.id);
        assert.equal(listed[0]?.resourceServer, true);
      });

      it('find returns undefined for an unknown id', async () => {
        assert.equal(await storage.clients.find(id('nobody')), undefined);
      });

      it('list returns every client, each equal to what was stored', async () => {
        const a = newClient({ name: 'List A', createdAt: T0 + 10 });
        const b = newClient({ name: 'List B', createdAt: T0 + 11, requirePkce: false });
        await storage.clients.create(a);
        await storage.clients.create(b);
        const listed = await storage.clients.list();
        assert.deepEqual(
          listed
            .filter((client) => client.id === a.id || client.id === b.id)
            .sort((x, y) => x.createdAt - y.createdAt),
          [a, b],
        );
        assert.equal(new Set(listed.map((client) => client.id)).size, listed.length, 'no duplicates');
      });
    });

    describe('users', () => {
      it('create stores the email lower-cased; findByEmail ignores case; findById round-trips', async () => {
        const local = randomUUID();
        const user = newUser({ email: `Alice.${local}@Example.COM`, isAdmin: true, emailVerified: true });
        await storage.users.create(user);
        const expected = { ...user, email: `alice.${local}@example.com` };
        assert.deepEqual(await storage.users.findById(user.id), expected);
        assert.deepEqual(await storage.users.findByEmail(`alice.${local}@example.com`), expected);
        assert.deepEqual(
          await storage.users.findByEmail(`ALICE.${local.toUpperCase()}@EXAMPLE.com`),
          expected,
        );
        const plain = newUser({ name: null, disabledAt: T0 + 5 });
        await storage.users.create(plain);
        assert.deepEqual(await storage.users.findById(plain.id), plain);
      });

      it('emails are unique regardless of case: a second user with the same email is refused', async () => {
        const email = `bob.${randomUUID()}@example.com`;
        await storage.users.create(newUser({ email }));
        const duplicate = newUser({ email: email.toUpperCase() });
        await assert.rejects(storage.users.create(duplicate));
        assert.equal(await storage.users.findById(duplicate.id), undefined);
        const { n } = await opened.db
          .selectFrom('users')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('email', '=', email)
          .executeTakeFirstOrThrow();
        assert.equal(Number(n), 1);
      });

      it('phone number and address (OIDC Core §5.1) round-trip; an update that leaves them out keeps them', async () => {
        const user = newUser({
          phoneNumber: '+44 20 7946 0000',
          phoneNumberVerified: true,
          address: { formatted: '1 Main St\nSpringfield', country: 'GB' },
        });
        await storage.users.create(user);
        assert.deepEqual(await storage.users.findById(user.id), user);
        const { phoneNumber: _p, phoneNumberVerified: _v, address: _a, ...withoutContact } = user;
        await storage.users.update({ ...withoutContact, name: 'Renamed' });
        assert.deepEqual(await storage.users.findById(user.id), { ...user, name: 'Renamed' });
        await storage.users.update({ ...user, phoneNumber: null, phoneNumberVerified: false, address: null });
        assert.deepEqual(await storage.users.findById(user.id), {
          ...user,
          phoneNumber: null,
          phoneNumberVerified: false,
          address: null,
        });
      });

      it('findById and findByEmail return undefined when there is no such user', async () => {
        assert.equal(await storage.users.findById(id('nobody')), undefined);
        assert.equal(await storage.users.findByEmail(`${randomUUID()}@example.com`), undefined);
      });

      it('listPage pages users newest first', async () => {
        const base = T0 + 1_000_000_000_000;
        const made = [1, 2, 3].map((n) => newUser({ createdAt: base + n }));
        for (const user of made) await storage.users.create(user);
        const first = await storage.users.listPage({ limit: 2 });
        assert.deepEqual(
          first.map((user) => user.id),
          [made[2]!.id, made[1]!.id],
        );
        const second = await storage.users.listPage({
          limit: 2,
          before: { createdAt: first[1]!.createdAt, id: first[1]!.id },
        });
        assert.equal(second[0]?.id, made[0]!.id);
      });

      it('exists tells whether any user exists', async () => {
        await storage.users.create(newUser());
        assert.equal(await storage.users.exists(), true);
      });

      it('rehashPassword replaces the hash only while it is still the given one, and nothing else', async () => {
        const user = newUser({ passwordHash: 'scrypt$10$8$1$old$old' });
        await storage.users.create(user);
        assert.equal(
          await storage.users.rehashPassword(user.id, 'scrypt$10$8$1$old$old', 'scrypt$11$8$1$n$n'),
          true,
        );
        assert.deepEqual(await storage.users.findById(user.id), {
          ...user,
          passwordHash: 'scrypt$11$8$1$n$n',
        });
        // A password changed (or a disable) since the sign-in read the row wins over its rehash.
        await storage.users.update({ ...user, passwordHash: 'scrypt$10$8$1$new$new', disabledAt: T0 + 1 });
        assert.equal(
          await storage.users.rehashPassword(user.id, 'scrypt$11$8$1$n$n', 'scrypt$11$8$1$x$x'),
          false,
        );
        assert.deepEqual(await storage.users.findById(user.id), {
          ...user,
          passwordHash: 'scrypt$10$8$1$new$new',
          disabledAt: T0 + 1,
        });
        assert.equal(await storage.users.rehashPassword(id('nobody'), 'a', 'b'), false);
      });

      it('upsertExternal creates an external subject (no email), updates its claims, never touches a Gatehouse user', async () => {
        const subject = `acme|${randomUUID()}`;
        assert.equal(await storage.users.upsertExternal(subject, { name: 'Ada' }, 'Ada', T0), true);
        const created = await storage.users.findById(subject);
        assert.equal(created?.email, null);
        assert.deepEqual(created?.claims, { name: 'Ada' });
        assert.equal(created?.isAdmin, false);
        // Several external subjects without an email coexist (UNIQUE allows NULLs).
        assert.equal(await storage.users.upsertExternal(`${subject}-2`, {}, null, T0), true);
        assert.equal(await storage.users.upsertExternal(subject, { name: 'Ada L.' }, 'Ada L.', T0 + 1), true);
        const updated = await storage.users.findById(subject);
        assert.deepEqual(updated?.claims, { name: 'Ada L.' });
        assert.equal(updated?.name, 'Ada L.');
        assert.equal(updated?.updatedAt, T0 + 1);
        assert.equal(updated?.createdAt, T0);

        const local = newUser();
        await storage.users.create(local);
        assert.equal(await storage.users.upsertExternal(local.id, { name: 'Mallory' }, 'Mallory', T0), false);
        assert.deepEqual(await storage.users.findById(local.id), local);
      });

      it('import: findByIdsOrEmails finds by id or by (lower-cased) email, each user once', async () => {
        const a = newUser();
        const b = newUser();
        const c = newUser();
        await storage.users.createMany([a, b, c]);
        const found = await storage.users.findByIdsOrEmails(
          [a.id, b.id, id('nobody')],
          [b.email!.toUpperCase(), c.email!, `${randomUUID()}@example.com`],
        );
        assert.deepEqual(found.map((user) => user.id).sort(), [a.id, b.id, c.id].sort());
        assert.deepEqual(
          found.find((user) => user.id === a.id),
          a,
        );
        assert.deepEqual(await storage.users.findByIdsOrEmails([], []), []);
      });

      it('import: createMany inserts all or nothing; an id or email taken fails the whole statement', async () => {
        const taken = newUser();
        await storage.users.create(taken);
        const fresh = newUser();
        await assert.rejects(storage.users.createMany([fresh, newUser({ email: taken.email })]));
        assert.equal(await storage.users.findById(fresh.id), undefined);
        await assert.rejects(storage.users.createMany([newUser({ id: taken.id })]));
        await storage.users.createMany([]);
        await storage.users.createMany([fresh]);
        assert.deepEqual(await storage.users.findById(fresh.id), fresh);
      });

      it('import: replaceUnlessChanged replaces every field but id and creation time, unless changed meanwhile', async () => {
        const seen = newUser({ passwordHash: '$2b$10$imported' });
        await storage.users.create(seen);
        const next: User = {
          ...seen,
          email: `${randomUUID()}@example.com`,
          name: 'Renamed',
          passwordHash: '$2b$10$newer',
          emailVerified: true,
          updatedAt: T0 + 5,
          disabledAt: T0 + 5,
        };
        assert.equal(await storage.users.replaceUnlessChanged(next, seen), true);
        assert.deepEqual(await storage.users.findById(seen.id), next);
        // The row moved on (a sign-in's rehash changes the hash alone; an admin action updatedAt).
        assert.equal(await storage.users.replaceUnlessChanged({ ...next, name: 'Again' }, seen), false);
        await storage.users.rehashPassword(seen.id, next.passwordHash, 'scrypt$11$8$1$n$n');
        assert.equal(await storage.users.replaceUnlessChanged({ ...next, name: 'Again' }, next), false);
        assert.equal((await storage.users.findById(seen.id))?.name, 'Renamed');
        assert.equal(await storage.users.replaceUnlessChanged(newUser(), newUser()), false);
      });
    });

    describe('sessions', () => {
      it('find returns the session until it expires, then never again', async () => {
        const session: Session = {
          idHash: hash(),
          userId: id('user'),
          authTime: T0 - MINUTE,
          createdAt: T0,
          expiresAt: T0 + 8 * 60 * MINUTE,
        };
        await storage.sessions.create(session);
        assert.deepEqual(await storage.sessions.find(session.idHash, T0), session);
        assert.deepEqual(await storage.sessions.find(session.idHash, session.expiresAt - 1), session);
        assert.equal(await storage.sessions.find(session.idHash, session.expiresAt), undefined);
        assert.equal(await storage.sessions.find(session.idHash, session.expiresAt + MINUTE), undefined);
      });

      it('amr and acr round-trip; a session without them reads back without them', async () => {
        const session: Session = {
          idHash: hash(),
          userId: id('user'),
          authTime: T0,
          createdAt: T0,
          expiresAt: T0 + MINUTE,
          amr: ['pwd', 'mfa'],
          acr: 'urn:example:loa:2',
        };
        await storage.sessions.create(session);
        assert.deepEqual(await storage.sessions.find(session.idHash, T0), session);
        const plain: Session = { ...session, idHash: hash(), amr: undefined, acr: undefined };
        delete plain.amr;
        delete plain.acr;
        await storage.sessions.create(plain);
        assert.deepEqual(await storage.sessions.find(plain.idHash, T0), plain);
      });

      it('delete removes the session; unknown ids find nothing', async () => {
        const session: Session = {
          idHash: hash(),
          userId: id('user'),
          authTime: T0,
          createdAt: T0,
          expiresAt: T0 + MINUTE,
        };
        await storage.sessions.create(session);
        await storage.sessions.delete(session.idHash);
        assert.equal(await storage.sessions.find(session.idHash, T0), undefined);
        await storage.sessions.delete(session.idHash); // deleting twice is harmless
        assert.equal(await storage.sessions.find(hash(), T0), undefined);
      });
    });

    describe('linked identities', () => {
      const link = (overrides: Partial<LinkedIdentity> = {}): LinkedIdentity => ({
        providerId: 'upstream',
        subject: id('sub'),
        userId: id('user'),
        email: 'person@example.com',
        createdAt: T0,
        lastUsedAt: null,
        ...overrides,
      });

      it('create then find and listForUser return the link; markUsed records the use', async () => {
        const first = link();
        const second = link({ providerId: 'another', userId: first.userId, email: null });
        assert.equal(await storage.linkedIdentities.create(first), true);
        assert.equal(await storage.linkedIdentities.create(second), true);
        assert.deepEqual(await storage.linkedIdentities.find('upstream', first.subject), first);
        assert.equal(await storage.linkedIdentities.find('another', first.subject), undefined);
        assert.deepEqual(await storage.linkedIdentities.listForUser(first.userId), [second, first]);
        await storage.linkedIdentities.markUsed('upstream', first.subject, T0 + MINUTE);
        assert.equal(
          (await storage.linkedIdentities.find('upstream', first.subject))?.lastUsedAt,
          T0 + MINUTE,
        );
      });

      it('U-03: an upstream account links to one user only, and a user has one account per provider', async () => {
        const existing = link();
        assert.equal(await storage.linkedIdentities.create(existing), true);
        // The same upstream account for another user: refused, the first link unchanged.
        assert.equal(await storage.linkedIdentities.create(link({ subject: existing.subject })), false);
        // Another account at the same provider for the same user: refused.
        assert.equal(await storage.linkedIdentities.create(link({ userId: existing.userId })), false);
        assert.deepEqual(await storage.linkedIdentities.listForUser(existing.userId), [existing]);
        assert.deepEqual(await storage.linkedIdentities.find('upstream', existing.subject), existing);
      });

      it('U-03: of 20 concurrent links of one upstream account to different users, exactly one is made', async () => {
        const subject = id('sub');
        const results = await Promise.all(
          Array.from({ length: 20 }, () => storage.linkedIdentities.create(link({ subject }))),
        );
        assert.equal(count(results, true), 1);
      });

      it("delete removes only the named user's link", async () => {
        const existing = link();
        await storage.linkedIdentities.create(existing);
        assert.equal(await storage.linkedIdentities.delete('upstream', existing.subject, id('user')), false);
        assert.ok(await storage.linkedIdentities.find('upstream', existing.subject));
        assert.equal(
          await storage.linkedIdentities.delete('upstream', existing.subject, existing.userId),
          true,
        );
        assert.equal(await storage.linkedIdentities.find('upstream', existing.subject), undefined);
        assert.equal(
          await storage.linkedIdentities.delete('upstream', existing.subject, existing.userId),
          false,
        );
      });
    });

    describe('interactions', () => {
      it('create then find returns the interaction (request included) until it expires', async () => {
        const interaction = newInteraction();
        await storage.interactions.create(interaction);
        assert.deepEqual(await storage.interactions.find(interaction.id, T0), interaction);
        assert.deepEqual(
          await storage.interactions.find(interaction.id, interaction.expiresAt - 1),
          interaction,
        );
        assert.equal(await storage.interactions.find(interaction.id, interaction.expiresAt), undefined);
        assert.equal(
          await storage.interactions.find(interaction.id, interaction.expiresAt + MINUTE),
          undefined,
        );
        assert.equal(await storage.interactions.find(id('ia'), T0), undefined);
      });

      it('a request with nulls and no prompt round-trips', async () => {
        const interaction = newInteraction({
          request: newRequest({
            redirectUriProvided: false,
            state: null,
            nonce: null,
            codeChallenge: null,
            prompt: [],
            maxAge: null,
          }),
        });
        await storage.interactions.create(interaction);
        assert.deepEqual(await storage.interactions.find(interaction.id, T0), interaction);
      });

      it('update changes only the fields it is given', async () => {
        const interaction = newInteraction();
        await storage.interactions.create(interaction);
        const userId = id('user');
        await storage.interactions.update(interaction.id, { loginUserId: userId, loginAuthTime: T0 + 5 });
        assert.deepEqual(await storage.interactions.find(interaction.id, T0), {
          ...interaction,
          loginUserId: userId,
          loginAuthTime: T0 + 5,
        });
        await storage.interactions.update(interaction.id, { consentedScope: 'openid' });
        await storage.interactions.update(interaction.id, { denied: true });
        const updated = await storage.interactions.find(interaction.id, T0);
        assert.deepEqual(updated, {
          ...interaction,
          loginUserId: userId,
          loginAuthTime: T0 + 5,
          consentedScope: 'openid',
          denied: true,
        });
        assert.equal(updated?.denied, true);
      });

      it('update with no changes leaves the interaction as it was', async () => {
        const interaction = newInteraction();
        await storage.interactions.create(interaction);
        await storage.interactions.update(interaction.id, {});
        assert.deepEqual(await storage.interactions.find(interaction.id, T0), interaction);
      });

      it('update of one interaction does not touch another', async () => {
        const one = newInteraction();
        const other = newInteraction();
        await storage.interactions.create(one);
        await storage.interactions.create(other);
        await storage.interactions.update(one.id, { denied: true, consentedScope: 'openid' });
        assert.deepEqual(await storage.interactions.find(other.id, T0), other);
      });

      it('finish deletes the interaction and reports true once, then false', async () => {
        const interaction = newInteraction();
        await storage.interactions.create(interaction);
        assert.equal(await storage.interactions.finish(interaction.id), true);
        assert.equal(await storage.interactions.find(interaction.id, T0), undefined);
        assert.equal(await storage.interactions.finish(interaction.id), false);
        assert.equal(await storage.interactions.finish(id('ia')), false);
      });

      it('finish is atomic: of 20 concurrent calls exactly one gets true', async () => {
        const interaction = newInteraction();
        await storage.interactions.create(interaction);
        const results = await Promise.all(
          Array.from({ length: 20 }, () => storage.interactions.finish(interaction.id)),
        );
        assert.equal(count(results, true), 1, `results: ${results.join(',')}`);
        assert.equal(count(results, false), 19);
        assert.equal(await storage.interactions.find(interaction.id, T0), undefined);
      });

      it('settleChallenge applies the changes and clears the challenge once; of 20 concurrent calls exactly one wins', async () => {
        const challengeHash = hash();
        const external = {
          stage: 'login' as const,
          skipSubject: null,
          skipAuthTime: null,
          login: null,
          rejection: null,
        };
        const interaction = newInteraction({ challengeHash, external });
        await storage.interactions.create(interaction);
        assert.deepEqual(await storage.interactions.findByChallenge(challengeHash), interaction);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            storage.interactions.settleChallenge(challengeHash, T0, {
              loginUserId: `acme|${i}`,
              loginAuthTime: T0,
              external: { ...external, login: { remember: true, rememberFor: 60, acr: null, amr: ['pwd'] } },
            }),
          ),
        );
        assert.equal(count(results, true), 1, `results: ${results.join(',')}`);
        const settled = await storage.interactions.find(interaction.id, T0);
        assert.equal(settled?.challengeHash, null);
        assert.equal(settled?.loginUserId, `acme|${results.indexOf(true)}`);
        assert.deepEqual(settled?.external?.login?.amr, ['pwd']);
        assert.equal(await storage.interactions.findByChallenge(challengeHash), undefined);
      });

      it('settleChallenge refuses an expired interaction; findIncludingExpired still finds it', async () => {
        const challengeHash = hash();
        const interaction = newInteraction({ challengeHash, expiresAt: T0 + MINUTE });
        await storage.interactions.create(interaction);
        assert.equal(
          await storage.interactions.settleChallenge(challengeHash, T0 + MINUTE, {
            consentedScope: 'openid',
          }),
          false,
        );
        assert.equal(await storage.interactions.find(interaction.id, T0 + MINUTE), undefined);
        assert.deepEqual(await storage.interactions.findIncludingExpired(interaction.id), interaction);
      });
    });

    describe('authorization codes', () => {
      it('consume: ok once (marked used at now), then reused, never ok again', async () => {
        const code = newCode();
        await storage.authorizationCodes.create(code);
        const first = await storage.authorizationCodes.consume(code.codeHash, T0 + 1000);
        assert.deepEqual(first, { status: 'ok', code: { ...code, consumedAt: T0 + 1000 } });
        const second = await storage.authorizationCodes.consume(code.codeHash, T0 + 2000);
        assert.deepEqual(second, { status: 'reused', code: { ...code, consumedAt: T0 + 1000 } });
        const third = await storage.authorizationCodes.consume(code.codeHash, T0 + 3000);
        assert.equal(third.status, 'reused');
      });

      it("a code carries its session's amr and acr to the token endpoint", async () => {
        const code = newCode({ amr: ['hwk'], acr: 'phr' });
        await storage.authorizationCodes.create(code);
        assert.deepEqual(await storage.authorizationCodes.consume(code.codeHash, T0), {
          status: 'ok',
          code: { ...code, consumedAt: T0 },
        });
      });

      it("a code carries its login session's sid and the claims request to the token endpoint", async () => {
        const code = newCode({
          sid: 'sid-1',
          claimsRequest: { userinfo: { phone_number: { essential: true } } },
        });
        await storage.authorizationCodes.create(code);
        assert.deepEqual(await storage.authorizationCodes.find(code.codeHash), code);
      });

      it('a code without nonce, challenge or provided redirect_uri round-trips', async () => {
        const code = newCode({ nonce: null, codeChallenge: null, redirectUriProvided: false });
        await storage.authorizationCodes.create(code);
        assert.deepEqual(await storage.authorizationCodes.consume(code.codeHash, T0), {
          status: 'ok',
          code: { ...code, consumedAt: T0 },
        });
      });

      it('an expired code is not_found, and stays unredeemable', async () => {
        const code = newCode();
        await storage.authorizationCodes.create(code);
        assert.deepEqual(await storage.authorizationCodes.consume(code.codeHash, code.expiresAt), {
          status: 'not_found',
        });
        assert.deepEqual(await storage.authorizationCodes.consume(code.codeHash, code.expiresAt + MINUTE), {
          status: 'not_found',
        });
      });

      it('a code whose grant was revoked before redemption is not_found (a reset or "Remove access" in between)', async () => {
        const grant = newGrant();
        await storage.grants.create(grant);
        const code = newCode({
          grantId: grant.id,
          clientId: grant.clientId,
          userId: grant.userId ?? id('user'),
        });
        await storage.authorizationCodes.create(code);
        await storage.grants.revoke(grant.id, T0);
        assert.deepEqual(await storage.authorizationCodes.consume(code.codeHash, T0 + 1), {
          status: 'not_found',
        });
        // Another code of a live grant is unaffected.
        const live = newGrant();
        await storage.grants.create(live);
        const other = newCode({
          grantId: live.id,
          clientId: live.clientId,
          userId: live.userId ?? id('user'),
        });
        await storage.authorizationCodes.create(other);
        assert.equal((await storage.authorizationCodes.consume(other.codeHash, T0 + 1)).status, 'ok');
      });

      it('an unknown code is not_found', async () => {
        assert.deepEqual(await storage.authorizationCodes.consume(hash(), T0), { status: 'not_found' });
      });

      it('R2/C-07: 50 concurrent consume calls for one code → exactly one ok and 49 reused', async () => {
        const code = newCode();
        await storage.authorizationCodes.create(code);
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => storage.authorizationCodes.consume(code.codeHash, T0 + 1 + i)),
        );
        const statuses = results.map((result) => result.status);
        assert.equal(count(statuses, 'ok'), 1, `statuses: ${statuses.join(',')}`);
        assert.equal(count(statuses, 'reused'), 49, `statuses: ${statuses.join(',')}`);
        const winner = results.find((result) => result.status === 'ok');
        assert.ok(winner && winner.status === 'ok');
        // Every loser sees the one redemption that won.
        for (const result of results) {
          assert.ok(result.status !== 'not_found');
          assert.equal(result.code.consumedAt, winner.code.consumedAt);
          assert.equal(result.code.grantId, code.grantId);
        }
      });

      it('R2: 20 concurrent redemptions that issue tokens: one ok, and only its tokens are stored', async () => {
        const grant = newGrant();
        const code = newCode({ grantId: grant.id, clientId: grant.clientId, userId: grant.userId! });
        await storage.authorizationCodes.createWithGrant(code, grant);
        assert.equal(
          (await storage.grants.find(grant.id))?.id,
          grant.id,
          'the grant was stored with the code',
        );
        const attempts = Array.from({ length: 20 }, (_, i) => {
          const issued = {
            access: newAccessToken(grant, { id: id(`jti-${i}`) }),
            refresh: i % 2 === 0 ? newRefreshToken(grant) : undefined,
          };
          return storage.authorizationCodes
            .consume(code.codeHash, T0 + 1, issued)
            .then((result) => ({ result, issued }));
        });
        const outcomes = await Promise.all(attempts);
        const winners = outcomes.filter((outcome) => outcome.result.status === 'ok');
        assert.equal(winners.length, 1);
        assert.equal(outcomes.filter((outcome) => outcome.result.status === 'reused').length, 19);
        for (const { result, issued } of outcomes) {
          const won = result.status === 'ok';
          const access = await storage.accessTokens.findActive(issued.access.id, T0 + 2);
          assert.equal(access !== undefined, won, 'only the winner stored its access token');
          if (issued.refresh) {
            const refresh = await storage.refreshTokens.find(issued.refresh.tokenHash);
            assert.equal(refresh !== undefined, won, 'only the winner stored its refresh token');
          }
        }
      });

      it('a redemption that issues tokens for an expired or revoked code stores nothing', async () => {
        const grant = newGrant();
        const expired = newCode({ grantId: grant.id, expiresAt: T0 + 10 });
        await storage.authorizationCodes.createWithGrant(expired, grant);
        const late = newAccessToken(grant);
        assert.deepEqual(
          await storage.authorizationCodes.consume(expired.codeHash, T0 + 10, {
            access: late,
            refresh: undefined,
          }),
          { status: 'not_found' },
        );
        assert.equal(await storage.accessTokens.findActive(late.id, T0 + 11), undefined);
        const revokedGrant = newGrant();
        const code = newCode({ grantId: revokedGrant.id });
        await storage.authorizationCodes.createWithGrant(code, revokedGrant);
        await storage.grants.revoke(revokedGrant.id, T0 + 1);
        const refresh = newRefreshToken(revokedGrant);
        assert.deepEqual(
          await storage.authorizationCodes.consume(code.codeHash, T0 + 2, {
            access: newAccessToken(revokedGrant),
            refresh,
          }),
          { status: 'not_found' },
        );
        assert.equal(await storage.refreshTokens.find(refresh.tokenHash), undefined);
      });

      it('consuming one code leaves other codes untouched', async () => {
        const one = newCode();
        const other = newCode();
        await storage.authorizationCodes.create(one);
        await storage.authorizationCodes.create(other);
        assert.equal((await storage.authorizationCodes.consume(one.codeHash, T0)).status, 'ok');
        assert.equal((await storage.authorizationCodes.consume(other.codeHash, T0)).status, 'ok');
      });
    });

    describe('device authorizations (RFC 8628)', () => {
      const approval = (grantId: string) => ({
        userId: id('user'),
        grantId,
        authTime: T0 - MINUTE,
        amr: ['pwd', 'mfa'],
        acr: 'urn:test:loa:2',
      });

      it('create stores a pending request, found by device code and (while pending and live) by user code', async () => {
        const request = newDeviceAuthorization();
        assert.equal(await storage.deviceAuthorizations.create(request), true);
        assert.deepEqual(await storage.deviceAuthorizations.find(request.deviceCodeHash), request);
        assert.deepEqual(
          await storage.deviceAuthorizations.findPendingByUserCode(request.userCodeHash, T0),
          request,
        );
        assert.equal(
          await storage.deviceAuthorizations.findPendingByUserCode(request.userCodeHash, request.expiresAt),
          undefined,
          'expired: the page cannot find it',
        );
        assert.equal(await storage.deviceAuthorizations.find(hash()), undefined);
        assert.equal(await storage.deviceAuthorizations.findPendingByUserCode(hash(), T0), undefined);
      });

      it('create refuses a user code that is taken and writes nothing', async () => {
        const first = newDeviceAuthorization();
        await storage.deviceAuthorizations.create(first);
        const clash = newDeviceAuthorization({ userCodeHash: first.userCodeHash });
        assert.equal(await storage.deviceAuthorizations.create(clash), false);
        assert.equal(await storage.deviceAuthorizations.find(clash.deviceCodeHash), undefined);
      });

      it('poll: on time after the interval, slow_down sooner, and each slow_down adds 5 s for good', async () => {
        const request = newDeviceAuthorization();
        await storage.deviceAuthorizations.create(request);
        const poll = (at: number) => storage.deviceAuthorizations.poll(request.deviceCodeHash, at);
        assert.deepEqual(await poll(T0), { slowDown: false, interval: 5 });
        assert.deepEqual(await poll(T0 + 5000), { slowDown: false, interval: 5 });
        assert.deepEqual(await poll(T0 + 9999), { slowDown: true, interval: 10 });
        // The interval is now 10 s from the slowed poll on.
        assert.deepEqual(await poll(T0 + 9999 + 9000), { slowDown: true, interval: 15 });
        assert.deepEqual(await poll(T0 + 9999 + 9000 + 15_000), { slowDown: false, interval: 15 });
        const stored = await storage.deviceAuthorizations.find(request.deviceCodeHash);
        assert.equal(stored?.interval, 15);
        assert.equal(stored?.lastPolledAt, T0 + 9999 + 9000 + 15_000);
        assert.equal(await storage.deviceAuthorizations.poll(hash(), T0), undefined);
      });

      it('poll: of 10 concurrent polls at one instant at most one is on time', async () => {
        const request = newDeviceAuthorization();
        await storage.deviceAuthorizations.create(request);
        const results = await Promise.all(
          Array.from({ length: 10 }, () => storage.deviceAuthorizations.poll(request.deviceCodeHash, T0)),
        );
        const onTime = results.filter((result) => result && !result.slowDown).length;
        assert.ok(onTime <= 1, `on time: ${onTime}`);
        assert.ok(results.every((result) => result !== undefined));
      });

      it('approve records the user once; deny and a second approve then change nothing', async () => {
        const request = newDeviceAuthorization();
        await storage.deviceAuthorizations.create(request);
        const given = approval(id('grant'));
        assert.equal(await storage.deviceAuthorizations.approve(request.userCodeHash, T0, given), true);
        assert.equal(
          await storage.deviceAuthorizations.approve(request.userCodeHash, T0, approval('g2')),
          false,
        );
        assert.equal(await storage.deviceAuthorizations.deny(request.userCodeHash, T0), false);
        assert.deepEqual(await storage.deviceAuthorizations.find(request.deviceCodeHash), {
          ...request,
          status: 'approved',
          ...given,
        });
        assert.equal(
          await storage.deviceAuthorizations.findPendingByUserCode(request.userCodeHash, T0),
          undefined,
        );
      });

      it('deny, and a decision on an expired request, are refused the same way', async () => {
        const denied = newDeviceAuthorization();
        await storage.deviceAuthorizations.create(denied);
        assert.equal(await storage.deviceAuthorizations.deny(denied.userCodeHash, T0), true);
        assert.equal((await storage.deviceAuthorizations.find(denied.deviceCodeHash))?.status, 'denied');
        assert.equal(
          await storage.deviceAuthorizations.approve(denied.userCodeHash, T0, approval('g')),
          false,
        );
        const late = newDeviceAuthorization();
        await storage.deviceAuthorizations.create(late);
        assert.equal(
          await storage.deviceAuthorizations.approve(late.userCodeHash, late.expiresAt, approval('g')),
          false,
        );
        assert.equal(await storage.deviceAuthorizations.deny(late.userCodeHash, late.expiresAt), false);
      });

      it('concurrent decisions: exactly one of 20 approvals and denials wins', async () => {
        const request = newDeviceAuthorization();
        await storage.deviceAuthorizations.create(request);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            i % 2
              ? storage.deviceAuthorizations.deny(request.userCodeHash, T0)
              : storage.deviceAuthorizations.approve(request.userCodeHash, T0, approval(id('grant'))),
          ),
        );
        assert.equal(count(results, true), 1);
      });

      it('redeem: only an approved, live request, once; 30 concurrent redemptions give exactly one', async () => {
        const pending = newDeviceAuthorization();
        await storage.deviceAuthorizations.create(pending);
        assert.equal(await storage.deviceAuthorizations.redeem(pending.deviceCodeHash, T0), undefined);

        const grant = newGrant();
        await storage.grants.create(grant);
        const request = newDeviceAuthorization({ clientId: grant.clientId });
        await storage.deviceAuthorizations.create(request);
        await storage.deviceAuthorizations.approve(request.userCodeHash, T0, approval(grant.id));
        const results = await Promise.all(
          Array.from({ length: 30 }, () =>
            storage.deviceAuthorizations.redeem(request.deviceCodeHash, T0 + 1),
          ),
        );
        const won = results.filter((result) => result !== undefined);
        assert.equal(won.length, 1);
        assert.equal(won[0]?.status, 'redeemed');
        assert.equal(won[0]?.grantId, grant.id);
        assert.deepEqual(won[0]?.amr, ['pwd', 'mfa']);
        assert.equal(await storage.deviceAuthorizations.redeem(request.deviceCodeHash, T0 + 2), undefined);
      });

      it('redeem refuses an expired approval and one whose grant was revoked after the approval', async () => {
        const expiring = newDeviceAuthorization();
        await storage.deviceAuthorizations.create(expiring);
        await storage.deviceAuthorizations.approve(expiring.userCodeHash, T0, approval(id('grant')));
        assert.equal(
          await storage.deviceAuthorizations.redeem(expiring.deviceCodeHash, expiring.expiresAt),
          undefined,
        );

        const grant = newGrant();
        await storage.grants.create(grant);
        const revoked = newDeviceAuthorization({ clientId: grant.clientId });
        await storage.deviceAuthorizations.create(revoked);
        await storage.deviceAuthorizations.approve(revoked.userCodeHash, T0, approval(grant.id));
        await storage.grants.revoke(grant.id, T0 + 1);
        assert.equal(await storage.deviceAuthorizations.redeem(revoked.deviceCodeHash, T0 + 2), undefined);
        assert.equal((await storage.deviceAuthorizations.find(revoked.deviceCodeHash))?.status, 'approved');
      });
    });

    describe('grants, access tokens, refresh tokens', () => {
      async function refreshRow(tokenHash: string) {
        return opened.db
          .selectFrom('refresh_tokens')
          .select(['revoked_at', 'rotated_at'])
          .where('token_hash', '=', tokenHash)
          .executeTakeFirstOrThrow();
      }

      it('create then find returns the grant (userId may be null)', async () => {
        const grant = newGrant();
        const machine = newGrant({ userId: null, scope: 'api:read' });
        await storage.grants.create(grant);
        await storage.grants.create(machine);
        assert.deepEqual(await storage.grants.find(grant.id), grant);
        assert.deepEqual(await storage.grants.find(machine.id), machine);
        assert.equal(await storage.grants.find(id('grant')), undefined);
      });

      it('markUsed records the latest use and never moves it back; lastUsedByClient reads the grants', async () => {
        const user = id('user');
        const [clientA, clientB] = [id('client'), id('client')];
        const older = newGrant({ userId: user, clientId: clientA, createdAt: T0 });
        const newer = newGrant({ userId: user, clientId: clientA, createdAt: T0 + 5 });
        const onlyCreated = newGrant({ userId: user, clientId: clientB, createdAt: T0 + 7 });
        const someoneElse = newGrant({ clientId: clientA, createdAt: T0 + 99 });
        for (const grant of [older, newer, onlyCreated, someoneElse]) await storage.grants.create(grant);
        await storage.grants.markUsed(older.id, T0 + 50);
        await storage.grants.markUsed(older.id, T0 + 40);
        assert.equal((await storage.grants.find(older.id))?.lastUsedAt, T0 + 50, 'never moves back');
        await storage.grants.revoke(older.id, T0 + 60);
        assert.deepEqual(
          await storage.grants.lastUsedByClient(user),
          new Map([
            [clientA, T0 + 50],
            [clientB, T0 + 7],
          ]),
          'the latest use, else the latest creation, of each client (revoked grants included: it is history)',
        );
        assert.deepEqual(await storage.grants.lastUsedByClient(id('user')), new Map());
      });

      it("refreshTokens.find carries its grant's last use", async () => {
        const grant = newGrant();
        await storage.grants.create(grant);
        const token = newRefreshToken(grant);
        await storage.refreshTokens.create(token);
        assert.equal((await storage.refreshTokens.find(token.tokenHash))?.grantLastUsedAt, null);
        await storage.grants.markUsed(grant.id, T0 + 3);
        assert.equal((await storage.refreshTokens.find(token.tokenHash))?.grantLastUsedAt, T0 + 3);
      });

      it('createIfMissing creates once and never overwrites (not even a revoked grant), inside a transaction too', async () => {
        const machine = newGrant({ userId: null, scope: '' });
        await storage.grants.createIfMissing(machine);
        await storage.grants.createIfMissing({ ...machine, scope: 'changed' });
        assert.deepEqual(await storage.grants.find(machine.id), machine);
        await storage.grants.revoke(machine.id, T0);
        await storage.transaction((tx) => tx.grants.createIfMissing({ ...machine, revokedAt: null }));
        assert.equal((await storage.grants.find(machine.id))?.revokedAt, T0);
      });

      it('findActive returns a live token, and nothing once it expired or was revoked', async () => {
        const grant = newGrant();
        await storage.grants.create(grant);
        const token = newAccessToken(grant);
        const revoked = newAccessToken(grant, { revokedAt: T0 });
        const machine = newGrant({ userId: null });
        await storage.grants.create(machine);
        const machineToken = newAccessToken(machine);
        await storage.accessTokens.create(token);
        await storage.accessTokens.create(revoked);
        await storage.accessTokens.create(machineToken);
        assert.deepEqual(await storage.accessTokens.findActive(token.id, T0), token);
        assert.deepEqual(await storage.accessTokens.findActive(token.id, token.expiresAt - 1), token);
        assert.equal(await storage.accessTokens.findActive(token.id, token.expiresAt), undefined);
        assert.equal(await storage.accessTokens.findActive(revoked.id, T0), undefined);
        assert.deepEqual(await storage.accessTokens.findActive(machineToken.id, T0), machineToken);
        assert.equal(await storage.accessTokens.findActive(id('jti'), T0), undefined);
      });

      it("findActive: a disabled user's tokens are not active, and are again once the user is enabled", async () => {
        const user = newUser();
        await storage.users.create(user);
        const grant = newGrant({ userId: user.id });
        await storage.grants.create(grant);
        const token = newAccessToken(grant);
        await storage.accessTokens.create(token);
        assert.deepEqual(await storage.accessTokens.findActive(token.id, T0), token);
        await storage.users.update({ ...user, disabledAt: T0 + 1 });
        assert.equal(await storage.accessTokens.findActive(token.id, T0 + 2), undefined);
        await storage.users.update({ ...user, disabledAt: null });
        assert.deepEqual(await storage.accessTokens.findActive(token.id, T0 + 3), token);
      });

      it('revoke revokes the grant and so all its access and refresh tokens, and only those', async () => {
        const grant = newGrant();
        const bystander = newGrant();
        await storage.grants.create(grant);
        await storage.grants.create(bystander);
        const tokens = [newAccessToken(grant), newAccessToken(grant, { createdAt: T0 + 1 })];
        const refresh = [newRefreshToken(grant), newRefreshToken(grant, { rotatedAt: T0 + 2 })];
        const bystanderToken = newAccessToken(bystander);
        const bystanderRefresh = newRefreshToken(bystander);
        for (const token of [...tokens, bystanderToken]) await storage.accessTokens.create(token);
        for (const token of [...refresh, bystanderRefresh]) await storage.refreshTokens.create(token);
        for (const token of tokens) assert.ok(await storage.accessTokens.findActive(token.id, T0 + 5));

        const revokedAt = T0 + 10;
        await storage.grants.revoke(grant.id, revokedAt);

        assert.deepEqual(await storage.grants.find(grant.id), { ...grant, revokedAt });
        for (const token of tokens) {
          assert.equal(await storage.accessTokens.findActive(token.id, revokedAt), undefined);
          assert.equal(
            await storage.accessTokens.findActive(token.id, T0),
            undefined,
            'even at an earlier now',
          );
        }
        // Tokens are judged through their grant (one row written, however many tokens the family has).
        for (const token of refresh) {
          assert.equal((await storage.refreshTokens.find(token.tokenHash))?.grantRevoked, true);
        }
        assert.equal(Number((await refreshRow(refresh[1]!.tokenHash)).rotated_at), T0 + 2);

        // Another grant's tokens are untouched.
        assert.equal((await storage.grants.find(bystander.id))?.revokedAt, null);
        assert.deepEqual(await storage.accessTokens.findActive(bystanderToken.id, revokedAt), bystanderToken);
        assert.equal((await storage.refreshTokens.find(bystanderRefresh.tokenHash))?.grantRevoked, false);
      });

      it('after revoke, an access token created later under the grant is not active either', async () => {
        const grant = newGrant();
        await storage.grants.create(grant);
        await storage.grants.revoke(grant.id, T0 + 10);
        // A token a concurrent first redemption was still writing when the revocation committed.
        const late = newAccessToken(grant, { createdAt: T0 + 20, expiresAt: T0 + 20 + 10 * MINUTE });
        await storage.accessTokens.create(late);
        assert.equal(await storage.accessTokens.findActive(late.id, T0 + 30), undefined);
      });

      it('revoke is idempotent: a second revoke changes nothing and does not fail', async () => {
        const grant = newGrant();
        await storage.grants.create(grant);
        const token = newRefreshToken(grant);
        await storage.refreshTokens.create(token);
        await storage.grants.revoke(grant.id, T0 + 10);
        await storage.grants.revoke(grant.id, T0 + 99);
        assert.equal((await storage.grants.find(grant.id))?.revokedAt, T0 + 10);
        assert.equal((await storage.refreshTokens.find(token.tokenHash))?.grantRevoked, true);
        await storage.grants.revoke(id('grant'), T0); // an unknown grant: nothing to do, no error
      });

      it('a grant keeps its OpenID context (sign-in, sid, claims request); the refresh query reads it and the user', async () => {
        const user = newUser({
          phoneNumber: '+1 555 0100',
          phoneNumberVerified: true,
          address: { locality: 'Springfield', country: 'US' },
        });
        await storage.users.create(user);
        const openId = {
          authTime: T0 - 5000,
          amr: ['pwd', 'otp'],
          acr: 'urn:example:loa:2',
          sid: 'sid-1',
          claimsRequest: { id_token: { email: { essential: true } }, userinfo: { address: null } },
        };
        const grant = newGrant({ userId: user.id, openId });
        await storage.grants.create(grant);
        assert.deepEqual(await storage.grants.find(grant.id), grant);
        const token = newRefreshToken(grant);
        await storage.refreshTokens.create(token);
        const found = await storage.refreshTokens.find(token.tokenHash);
        assert.deepEqual(found?.openId, openId);
        assert.deepEqual(found?.user, user);
        // Only the sign-in time known: the rest stays absent.
        const bare = newGrant({ userId: user.id, openId: { authTime: T0 } });
        await storage.grants.create(bare);
        assert.deepEqual((await storage.grants.find(bare.id))?.openId, { authTime: T0 });
      });

      it('refreshTokens.create stores every field, find reads it back with its grant and user state', async () => {
        const user = newUser();
        await storage.users.create(user);
        const grant = newGrant({ userId: user.id });
        await storage.grants.create(grant);
        const token = newRefreshToken(grant, {
          rotatedAt: T0 + 1,
          resource: 'https://api.example/v1',
          parentId: 'rt-parent',
          idleExpiresAt: T0 + 5 * MINUTE,
          rotationFingerprint: 'fp',
        });
        await storage.refreshTokens.create(token);
        assert.deepEqual(await storage.refreshTokens.find(token.tokenHash), {
          ...token,
          grantRevoked: false,
          grantLastUsedAt: null,
          userActive: true,
          openId: undefined,
          user,
        });
        await storage.users.update({ ...user, disabledAt: T0 + 1 });
        assert.equal((await storage.refreshTokens.find(token.tokenHash))?.userActive, false, 'user disabled');
        await storage.users.update({ ...user, disabledAt: null });
        assert.equal((await storage.refreshTokens.find(token.tokenHash))?.userActive, true, 'enabled again');
        await storage.grants.revoke(grant.id, T0 + 2);
        const after = await storage.refreshTokens.find(token.tokenHash);
        assert.equal(after?.grantRevoked, true);
        const orphan = newRefreshToken(grant, { userId: id('user') });
        await storage.refreshTokens.create(orphan);
        assert.equal((await storage.refreshTokens.find(orphan.tokenHash))?.userActive, false, 'no such user');
        assert.equal(await storage.refreshTokens.find(hash()), undefined);
        await assert.rejects(
          storage.refreshTokens.create({ ...token, id: id('rt') }),
          'token hashes are unique',
        );
      });

      it('refreshTokens.rotate: of 20 concurrent rotations of one token exactly one wins and writes', async () => {
        const grant = newGrant();
        await storage.grants.create(grant);
        const parent = newRefreshToken(grant);
        await storage.refreshTokens.create(parent);
        const attempts = Array.from({ length: 20 }, (_, i) => {
          const child = newRefreshToken(grant, { parentId: parent.id, createdAt: T0 + 1 });
          const access = newAccessToken(grant, { id: id(`jti-${i}`) });
          return storage.refreshTokens
            .rotate(parent.tokenHash, `fp-${i}`, T0 + 1, child, access)
            .then((won) => ({
              won,
              child,
              access,
            }));
        });
        const results = await Promise.all(attempts);
        const winners = results.filter((result) => result.won);
        assert.equal(winners.length, 1);
        const found = await storage.refreshTokens.find(parent.tokenHash);
        assert.equal(found?.rotatedAt, T0 + 1);
        assert.equal(found?.rotationFingerprint, `fp-${results.indexOf(winners[0]!)}`);
        for (const result of results) {
          const child = await storage.refreshTokens.find(result.child.tokenHash);
          const access = await storage.accessTokens.findActive(result.access.id, T0 + 2);
          assert.equal(child !== undefined, result.won, 'only the winner stored its successor');
          assert.equal(access !== undefined, result.won, 'only the winner stored its access token');
        }
      });

      it('refreshTokens.rotate marks the grant used only when asked, and only when it wins', async () => {
        const grant = newGrant();
        await storage.grants.create(grant);
        const parent = newRefreshToken(grant);
        await storage.refreshTokens.create(parent);
        const child = () => newRefreshToken(grant, { parentId: parent.id, createdAt: T0 + 5 });
        assert.equal(
          await storage.refreshTokens.rotate(
            parent.tokenHash,
            'fp',
            T0 + 5,
            child(),
            newAccessToken(grant),
            true,
          ),
          true,
        );
        assert.equal((await storage.grants.find(grant.id))?.lastUsedAt, T0 + 5);
        // The parent is spent: a second rotation claims nothing, so it marks nothing either.
        assert.equal(
          await storage.refreshTokens.rotate(
            parent.tokenHash,
            'fp',
            T0 + 9,
            child(),
            newAccessToken(grant),
            true,
          ),
          false,
        );
        assert.equal((await storage.grants.find(grant.id))?.lastUsedAt, T0 + 5);
        const unmarked = newRefreshToken(grant);
        await storage.refreshTokens.create(unmarked);
        assert.equal(
          await storage.refreshTokens.rotate(
            unmarked.tokenHash,
            'fp',
            T0 + 9,
            child(),
            newAccessToken(grant),
          ),
          true,
        );
        assert.equal((await storage.grants.find(grant.id))?.lastUsedAt, T0 + 5, 'not asked to mark it');
      });

      it('refreshTokens.rotate refuses a revoked parent', async () => {
        const grant = newGrant();
        await storage.grants.create(grant);
        const parent = newRefreshToken(grant, { revokedAt: T0 });
        await storage.refreshTokens.create(parent);
        const won = await storage.refreshTokens.rotate(
          parent.tokenHash,
          'fp',
          T0 + 1,
          newRefreshToken(grant),
          newAccessToken(grant),
        );
        assert.equal(won, false);
      });
    });

    describe('consents', () => {
      it('find returns undefined before anything was granted', async () => {
        assert.equal(await storage.consents.find(id('user'), id('client')), undefined);
      });

      it('twenty consents given at once (two tabs, two devices) keep every scope: none overwrites another', async () => {
        const userId = id('user');
        const clientId = id('client');
        const scopes = Array.from({ length: 20 }, (_, n) => `scope_${n}`);
        await Promise.all(scopes.map((scope, n) => storage.consents.grant(userId, clientId, scope, T0 + n)));
        const stored = new Set((await storage.consents.find(userId, clientId))?.scope.split(' '));
        assert.deepEqual([...stored].sort(), [...scopes].sort());
      });

      it('grant stores the scope, and a later grant stores the union of both', async () => {
        const userId = id('user');
        const clientId = id('client');
        await storage.consents.grant(userId, clientId, 'openid profile', T0);
        const first = await storage.consents.find(userId, clientId);
        assert.deepEqual(
          { ...first, scope: scopeSet(first?.scope) },
          {
            userId,
            clientId,
            scope: new Set(['openid', 'profile']),
            updatedAt: T0,
          },
        );

        await storage.consents.grant(userId, clientId, 'profile email', T0 + 1000);
        const merged = await storage.consents.find(userId, clientId);
        assert.deepEqual(scopeSet(merged?.scope), new Set(['openid', 'profile', 'email']));
        assert.equal(merged?.scope.split(' ').length, 3, `no duplicates or empty tokens: "${merged?.scope}"`);
        assert.equal(merged?.updatedAt, T0 + 1000);

        // Granting a subset keeps everything granted before.
        await storage.consents.grant(userId, clientId, 'openid', T0 + 2000);
        assert.deepEqual(
          scopeSet((await storage.consents.find(userId, clientId))?.scope),
          new Set(['openid', 'profile', 'email']),
        );
      });

      it('consent is per (user, client)', async () => {
        const userId = id('user');
        const clientA = id('client');
        const clientB = id('client');
        await storage.consents.grant(userId, clientA, 'openid email', T0);
        await storage.consents.grant(userId, clientB, 'openid', T0);
        await storage.consents.grant(id('user'), clientA, 'offline_access', T0);
        assert.deepEqual(
          scopeSet((await storage.consents.find(userId, clientA))?.scope),
          new Set(['openid', 'email']),
        );
        assert.deepEqual(
          scopeSet((await storage.consents.find(userId, clientB))?.scope),
          new Set(['openid']),
        );
      });
    });

    describe('signing keys', () => {
      it('rotateIn: the new key signs; older keys of that alg get rotatedAt and retireAt; other algs untouched', async () => {
        const t1 = T0;
        const t2 = T0 + 60 * MINUTE;
        const t3 = T0 + 120 * MINUTE;
        const retire = 24 * 60 * MINUTE;
        const es1 = newKey('ES256', t1);
        const rs1 = newKey('RS256', t1);
        await storage.keys.rotateIn(es1, t1, retire);
        await storage.keys.rotateIn(rs1, t1, retire);
        const byKid = async () => new Map((await storage.keys.list()).map((key) => [key.kid, key]));

        let keys = await byKid();
        assert.deepEqual(keys.get(es1.kid), es1);
        assert.deepEqual(keys.get(rs1.kid), rs1);

        const es2 = newKey('ES256', t2);
        await storage.keys.rotateIn(es2, t2, retire);
        keys = await byKid();
        // Retirement counts from when the new key starts signing (its activatesAt), not from the rotation.
        assert.deepEqual(keys.get(es1.kid), { ...es1, rotatedAt: t2, retireAt: es2.activatesAt + retire });
        assert.deepEqual(keys.get(es2.kid), es2);
        assert.deepEqual(keys.get(rs1.kid), rs1, 'a key of another alg keeps signing');

        const es3 = newKey('ES256', t3);
        await storage.keys.rotateIn(es3, t3, 0);
        keys = await byKid();
        assert.deepEqual(
          keys.get(es1.kid),
          { ...es1, rotatedAt: t2, retireAt: es2.activatesAt + retire },
          'rotated once only',
        );
        assert.deepEqual(keys.get(es2.kid), { ...es2, rotatedAt: t3, retireAt: es3.activatesAt });
        assert.deepEqual(keys.get(es3.kid), es3);
        assert.deepEqual(keys.get(rs1.kid), rs1);

        const signing = [...keys.values()].filter((key) => key.rotatedAt === null);
        assert.deepEqual(
          signing.map((key) => key.kid).sort(),
          [es3.kid, rs1.kid].sort(),
          'one signing key per alg',
        );
      });
    });

    describe('signing keys: retire (gatehouse keys reset)', () => {
      it('takes the named keys out at once, keeps an earlier rotation time, touches no other key, moves the version', async () => {
        const alg = `TEST-${randomUUID()}`;
        const old = newKey(alg, T0);
        const current = newKey(alg, T0 + MINUTE);
        const other = newKey(`TEST-${randomUUID()}`, T0);
        await storage.keys.rotateIn(old, T0, 60 * MINUTE);
        await storage.keys.rotateIn(current, T0 + MINUTE, 60 * MINUTE);
        await storage.keys.rotateIn(other, T0, 60 * MINUTE);
        const v0 = await storage.keys.version();
        const now = T0 + 2 * MINUTE;
        await storage.keys.retire([old.kid, current.kid], now);
        const keys = new Map((await storage.keys.list()).map((key) => [key.kid, key]));
        assert.deepEqual(keys.get(old.kid), { ...old, rotatedAt: T0 + MINUTE, retireAt: now });
        assert.deepEqual(keys.get(current.kid), { ...current, rotatedAt: now, retireAt: now });
        assert.deepEqual(keys.get(other.kid), other);
        assert.notEqual(await storage.keys.version(), v0);
        await storage.keys.retire([], now);
      });
    });

    describe('signing keys: the version running servers watch', () => {
      it('version moves with every rotateIn and every addFirst that adds, and only then', async () => {
        const alg = `TEST-${randomUUID()}`;
        const v0 = await storage.keys.version();
        assert.equal(await storage.keys.version(), v0, 'reading changes nothing');
        await storage.keys.rotateIn(newKey(alg, T0), T0, MINUTE);
        const v1 = await storage.keys.version();
        assert.notEqual(v1, v0);
        await storage.keys.list();
        assert.equal(await storage.keys.version(), v1);
        assert.equal(await storage.keys.addFirst(newKey(alg, T0 + 1)), false);
        assert.equal(await storage.keys.version(), v1, 'a refused addFirst changes nothing');
        assert.equal(await storage.keys.addFirst(newKey(`TEST-${randomUUID()}`, T0 + 2)), true);
        const v2 = await storage.keys.version();
        assert.ok(v2 !== v1 && v2 !== v0);
      });
    });

    describe('signing keys: the first key of an alg (R10)', () => {
      it('addFirst adds a key only while its alg has no current key', async () => {
        const alg = `TEST-${randomUUID()}`;
        const first = newKey(alg, T0);
        assert.equal(await storage.keys.addFirst(first), true);
        assert.equal(await storage.keys.addFirst(newKey(alg, T0 + 1)), false);
        const ofAlg = (await storage.keys.list()).filter((key) => key.alg === alg);
        assert.deepEqual(ofAlg, [first]);
        // Once every key of the alg is rotated out, a first key may be added again.
        const other = `TEST-${randomUUID()}`;
        await storage.keys.rotateIn(newKey(other, T0), T0, 0);
        assert.equal(await storage.keys.addFirst(newKey(other, T0 + 1)), false);
      });

      it('concurrent addFirst calls for one alg store exactly one key', async () => {
        const alg = `TEST-${randomUUID()}`;
        const added = await Promise.all(
          Array.from({ length: 8 }, (_, i) => storage.keys.addFirst(newKey(alg, T0 + i))),
        );
        assert.equal(added.filter(Boolean).length, 1, JSON.stringify(added));
        const current = (await storage.keys.list()).filter(
          (key) => key.alg === alg && key.rotatedAt === null,
        );
        assert.equal(current.length, 1);
      });
    });

    describe('login throttle', () => {
      it('find returns undefined for a key without failures', async () => {
        assert.equal(await storage.loginThrottle.find(id('ip')), undefined);
      });

      const RULE = { freeAttempts: 5, firstDelayMs: 1000, maxDelayMs: MINUTE, windowMs: 15 * MINUTE };

      it('reserve is atomic: of 30 concurrent attempts at one instant exactly freeAttempts go ahead', async () => {
        const key = id('account');
        const answers = await Promise.all(
          Array.from({ length: 30 }, () => storage.loginThrottle.reserve(key, T0, RULE)),
        );
        assert.equal(answers.filter((answer) => answer.allowed).length, 5, JSON.stringify(answers));
        for (const answer of answers.filter((a) => !a.allowed)) {
          assert.deepEqual(answer, { allowed: false, blockedUntil: T0 + 1000 });
        }
        // The refused ones were not counted.
        assert.deepEqual(await storage.loginThrottle.find(key), {
          key,
          failures: 5,
          lastFailureAt: T0,
          blockedUntil: T0 + 1000,
        });
      });

      it('reserve: the delay doubles with each counted attempt up to the maximum; a refused one changes nothing', async () => {
        const key = id('account');
        for (let i = 1; i <= 4; i++) {
          assert.deepEqual(await storage.loginThrottle.reserve(key, T0, RULE), { allowed: true });
          assert.equal((await storage.loginThrottle.find(key))?.blockedUntil, 0, `attempt ${i} is free`);
        }
        let at = T0;
        for (const delay of [1000, 2000, 4000, 8000, 16000, 32000, MINUTE, MINUTE]) {
          assert.deepEqual(await storage.loginThrottle.reserve(key, at, RULE), { allowed: true });
          assert.equal((await storage.loginThrottle.find(key))?.blockedUntil, at + delay);
          assert.deepEqual(await storage.loginThrottle.reserve(key, at + delay - 1, RULE), {
            allowed: false,
            blockedUntil: at + delay,
          });
          at += delay;
        }
        assert.equal((await storage.loginThrottle.find(key))?.failures, 12);
      });

      it('reserve: attempts older than the window are forgotten', async () => {
        const key = id('account');
        await storage.loginThrottle.reserve(key, T0, RULE);
        await storage.loginThrottle.reserve(key, T0 + MINUTE, RULE);
        await storage.loginThrottle.reserve(key, T0 + 2 * MINUTE, RULE);
        assert.equal((await storage.loginThrottle.find(key))?.failures, 3);
        const later = T0 + 2 * MINUTE + RULE.windowMs + 1;
        assert.deepEqual(await storage.loginThrottle.reserve(key, later, RULE), { allowed: true });
        assert.deepEqual(await storage.loginThrottle.find(key), {
          key,
          failures: 1,
          lastFailureAt: later,
          blockedUntil: 0,
        });
      });

      it('reserve: one free attempt blocks from the first; counts far past the doubling stay at the maximum', async () => {
        const key = id('ip');
        const strict = { freeAttempts: 1, firstDelayMs: 1000, maxDelayMs: 5000, windowMs: 10 * MINUTE };
        assert.deepEqual(await storage.loginThrottle.reserve(key, T0, strict), { allowed: true });
        assert.equal((await storage.loginThrottle.find(key))?.blockedUntil, T0 + 1000);
        assert.equal((await storage.loginThrottle.reserve(key, T0 + 999, strict)).allowed, false);
        let at = T0 + 1000;
        for (let i = 2; i <= 70; i++) {
          assert.deepEqual(
            await storage.loginThrottle.reserve(key, at, strict),
            { allowed: true },
            `attempt ${i}`,
          );
          const delay = Math.min(1000 * 2 ** (i - 1), 5000);
          assert.equal((await storage.loginThrottle.find(key))?.blockedUntil, at + delay, `attempt ${i}`);
          at += delay;
        }
      });

      it('refund gives one attempt back and lifts the block below freeAttempts, never below zero; clear forgets', async () => {
        const key = id('ip');
        const other = id('ip');
        for (let i = 0; i < 5; i++) await storage.loginThrottle.reserve(key, T0, RULE);
        await storage.loginThrottle.reserve(other, T0, RULE);
        assert.equal((await storage.loginThrottle.reserve(key, T0, RULE)).allowed, false);
        await storage.loginThrottle.refund(key, RULE.freeAttempts);
        assert.deepEqual(await storage.loginThrottle.find(key), {
          key,
          failures: 4,
          lastFailureAt: T0,
          blockedUntil: 0,
        });
        assert.deepEqual(await storage.loginThrottle.reserve(key, T0, RULE), { allowed: true });
        assert.equal((await storage.loginThrottle.find(key))?.blockedUntil, T0 + 1000, 'the 5th again');
        // Above the free attempts a refund keeps the block.
        await storage.loginThrottle.reserve(key, T0 + 1000, RULE);
        await storage.loginThrottle.refund(key, RULE.freeAttempts);
        assert.deepEqual(await storage.loginThrottle.find(key), {
          key,
          failures: 5,
          lastFailureAt: T0 + 1000,
          blockedUntil: T0 + 3000,
        });
        await storage.loginThrottle.refund(other, RULE.freeAttempts);
        await storage.loginThrottle.refund(other, RULE.freeAttempts);
        assert.equal((await storage.loginThrottle.find(other))?.failures, 0, 'never below zero');
        await storage.loginThrottle.refund(id('ip'), RULE.freeAttempts);
        await storage.loginThrottle.clear(key);
        assert.equal(await storage.loginThrottle.find(key), undefined);
        assert.equal((await storage.loginThrottle.find(other))?.failures, 0, 'other keys are untouched');
        assert.deepEqual(await storage.loginThrottle.reserve(key, T0 + 1000, RULE), { allowed: true });
        assert.equal((await storage.loginThrottle.find(key))?.failures, 1, 'counts from zero');
      });
    });

    describe('rate limits', () => {
      const HOUR = 60 * MINUTE;

      it('hit counts atomically: 25 concurrent hits on one key see 1..25, all in one window', async () => {
        const key = id('register');
        const hits = await Promise.all(
          Array.from({ length: 25 }, () => storage.rateLimits.hit(key, T0, HOUR)),
        );
        assert.deepEqual(
          hits.map((hit) => hit.count).sort((a, b) => a - b),
          Array.from({ length: 25 }, (_, i) => i + 1),
        );
        for (const hit of hits) assert.equal(hit.resetAt, T0 + HOUR);
      });

      it('a window lasts windowMs from its first hit; the next hit after it starts a new one; keys are separate', async () => {
        const key = id('register');
        const other = id('register');
        assert.deepEqual(await storage.rateLimits.hit(key, T0, HOUR), { count: 1, resetAt: T0 + HOUR });
        assert.deepEqual(await storage.rateLimits.hit(key, T0 + HOUR - 1, HOUR), {
          count: 2,
          resetAt: T0 + HOUR,
        });
        assert.deepEqual(await storage.rateLimits.hit(other, T0 + 5, HOUR), {
          count: 1,
          resetAt: T0 + 5 + HOUR,
        });
        assert.deepEqual(await storage.rateLimits.hit(key, T0 + HOUR, HOUR), {
          count: 1,
          resetAt: T0 + 2 * HOUR,
        });
        assert.deepEqual(await storage.rateLimits.hit(key, T0 + HOUR + 1, HOUR), {
          count: 2,
          resetAt: T0 + 2 * HOUR,
        });
        assert.deepEqual(await storage.rateLimits.hit(other, T0 + 6, HOUR), {
          count: 2,
          resetAt: T0 + 5 + HOUR,
        });
      });

      it('purgeExpired with eventsBefore removes older security events, oldest first, in bounded batches', async () => {
        const base = T0 - 400 * 24 * HOUR;
        const old = Array.from({ length: 5 }, (_, n) => ({ id: id('event'), createdAt: base + n }));
        const recent = { id: id('event'), createdAt: T0 };
        for (const event of [...old, recent]) {
          await storage.securityEvents.record({
            id: event.id,
            type: 'login_failed',
            clientId: null,
            userId: null,
            grantId: null,
            detail: {},
            createdAt: event.createdAt,
          });
        }
        const kept = async () =>
          (
            await opened.db
              .selectFrom('security_events')
              .select('id')
              .where(
                'id',
                'in',
                [...old, recent].map((event) => event.id),
              )
              .execute()
          ).map((row) => row.id);
        // Without eventsBefore nothing goes (the default: every event is kept).
        await storage.housekeeping.purgeExpired(T0, 2, MINUTE);
        assert.equal((await kept()).length, 6);
        const first = await storage.housekeeping.purgeExpired(T0, 2, MINUTE, T0 - 365 * 24 * HOUR);
        assert.equal(first.security_events, 2);
        assert.deepEqual(
          (await kept()).sort(),
          [...old.slice(2).map((e) => e.id), recent.id].sort(),
          'oldest first',
        );
        for (let i = 0; i < 3; i++)
          await storage.housekeeping.purgeExpired(T0, 2, MINUTE, T0 - 365 * 24 * HOUR);
        assert.deepEqual(await kept(), [recent.id]);
      });

      it('purgeExpired removes ended windows in bounded batches and keeps running ones', async () => {
        const now = T0 + 100 * 24 * HOUR;
        const ended = Array.from({ length: 5 }, () => id('register'));
        for (const key of ended) await storage.rateLimits.hit(key, now - 2 * HOUR, HOUR);
        const running = id('register');
        await storage.rateLimits.hit(running, now - MINUTE, HOUR);
        await storage.rateLimits.hit(running, now - MINUTE, HOUR);
        const first = await storage.housekeeping.purgeExpired(now, 2, MINUTE);
        assert.ok((first.rate_limits ?? 0) <= 2, JSON.stringify(first));
        for (let i = 0; i < 10; i++) await storage.housekeeping.purgeExpired(now, 2, MINUTE);
        const rows = await opened.db
          .selectFrom('rate_limits')
          .select('key')
          .where('key', 'in', [...ended, running])
          .execute();
        assert.deepEqual(
          rows.map((row) => row.key),
          [running],
        );
        assert.deepEqual(await storage.rateLimits.hit(running, now, HOUR), {
          count: 3,
          resetAt: now - MINUTE + HOUR,
        });
        // A purged key starts afresh.
        assert.deepEqual(await storage.rateLimits.hit(ended[0]!, now, HOUR), {
          count: 1,
          resetAt: now + HOUR,
        });
      });
    });

    describe('settings', () => {
      it('get / set / overwrite / delete (true once, then false)', async () => {
        const key = id('setting');
        assert.equal(await storage.settings.get(key), undefined);
        await storage.settings.set(key, 'first');
        assert.equal(await storage.settings.get(key), 'first');
        await storage.settings.set(key, 'second');
        assert.equal(await storage.settings.get(key), 'second');
        assert.equal(await storage.settings.delete(key), true);
        assert.equal(await storage.settings.get(key), undefined);
        assert.equal(await storage.settings.delete(key), false);
        assert.equal(await storage.settings.delete(id('setting')), false);
      });

      it('concurrent deletes of one setting: exactly one true (a one-time setup link works once)', async () => {
        const key = id('setting');
        await storage.settings.set(key, 'token-hash');
        const results = await Promise.all(Array.from({ length: 10 }, () => storage.settings.delete(key)));
        assert.equal(count(results, true), 1, `results: ${results.join(',')}`);
      });
    });

    describe('housekeeping, API keys, security events, grant management', () => {
      it('purgeExpired deletes expired rows in bounded batches and keeps live ones and recent used codes', async () => {
        const grant = newGrant();
        await storage.grants.create(grant);
        const now = T0 + 2 * 24 * 60 * MINUTE;
        const expired = Array.from({ length: 5 }, () => newAccessToken(grant, { expiresAt: now - 1 }));
        const live = newAccessToken(grant, { expiresAt: now + MINUTE });
        for (const token of [...expired, live]) await storage.accessTokens.create(token);
        const oldCode = newCode({ expiresAt: now - 25 * 60 * MINUTE });
        const recentUsedCode = newCode({ expiresAt: now - MINUTE, consumedAt: now - MINUTE });
        await storage.authorizationCodes.create(oldCode);
        await storage.authorizationCodes.create(recentUsedCode);
        // Refresh rows: gone once expired and older than the longest a row can live (here 1 day).
        const lifetime = 24 * 60 * MINUTE;
        const oldExpired = newRefreshToken(grant, { createdAt: now - lifetime - 1, expiresAt: now - 1 });
        const oldIdle = newRefreshToken(grant, {
          createdAt: now - lifetime - 1,
          expiresAt: now + lifetime,
          idleExpiresAt: now - 1,
        });
        const youngExpired = newRefreshToken(grant, { createdAt: now - MINUTE, expiresAt: now - 1 });
        const oldLive = newRefreshToken(grant, {
          createdAt: now - lifetime - 1,
          expiresAt: now + lifetime,
          idleExpiresAt: null,
          rotatedAt: now - lifetime,
        });
        for (const token of [oldExpired, oldIdle, youngExpired, oldLive])
          await storage.refreshTokens.create(token);
        const first = await storage.housekeeping.purgeExpired(now, 3, lifetime);
        assert.ok((first.access_tokens ?? 0) <= 3 && (first.access_tokens ?? 0) > 0, JSON.stringify(first));
        for (let i = 0; i < 10; i++) await storage.housekeeping.purgeExpired(now, 3, lifetime);
        assert.equal(await storage.refreshTokens.find(oldExpired.tokenHash), undefined);
        assert.equal(await storage.refreshTokens.find(oldIdle.tokenHash), undefined);
        assert.ok(
          await storage.refreshTokens.find(youngExpired.tokenHash),
          'younger than the lifetime: kept',
        );
        assert.ok(await storage.refreshTokens.find(oldLive.tokenHash), 'a used token of a live family: kept');
        for (const token of expired) {
          assert.equal(await storage.accessTokens.findActive(token.id, now - 2), undefined);
        }
        assert.ok(await storage.accessTokens.findActive(live.id, now));
        assert.equal(await storage.authorizationCodes.find(oldCode.codeHash), undefined);
        assert.ok(
          await storage.authorizationCodes.find(recentUsedCode.codeHash),
          'used codes stay a day for reuse detection',
        );
      });

      it('purgeExpired removes device authorizations a day past expiry, in bounded batches', async () => {
        const now = T0 + 3 * 24 * 60 * MINUTE;
        const old = Array.from({ length: 5 }, () =>
          newDeviceAuthorization({ expiresAt: now - 25 * 60 * MINUTE }),
        );
        const recent = newDeviceAuthorization({ expiresAt: now - MINUTE });
        const live = newDeviceAuthorization({ expiresAt: now + MINUTE });
        for (const request of [...old, recent, live]) await storage.deviceAuthorizations.create(request);
        const first = await storage.housekeeping.purgeExpired(now, 2, MINUTE);
        assert.ok(
          (first.device_authorizations ?? 0) > 0 && (first.device_authorizations ?? 0) <= 2,
          JSON.stringify(first),
        );
        for (let i = 0; i < 10; i++) await storage.housekeeping.purgeExpired(now, 2, MINUTE);
        for (const request of old) {
          assert.equal(await storage.deviceAuthorizations.find(request.deviceCodeHash), undefined);
        }
        assert.ok(
          await storage.deviceAuthorizations.find(recent.deviceCodeHash),
          'kept a day: a late poll hears expired_token',
        );
        assert.ok(await storage.deviceAuthorizations.find(live.deviceCodeHash));
      });

      it('purgeExpired removes login-throttle rows quiet for a day and not blocked, in bounded batches', async () => {
        const now = T0 + 10 * 24 * 60 * MINUTE;
        const quiet = Array.from({ length: 5 }, () => id('ip'));
        const rule = { freeAttempts: 5, firstDelayMs: 1000, maxDelayMs: MINUTE, windowMs: MINUTE };
        for (const key of quiet) await storage.loginThrottle.reserve(key, now - 2 * 24 * 60 * MINUTE, rule);
        const recent = id('ip');
        await storage.loginThrottle.reserve(recent, now - MINUTE, rule);
        // Blocked past `now` although its last attempt is two days old (a rule with a two-day maximum).
        const blocked = id('ip');
        const long = {
          freeAttempts: 1,
          firstDelayMs: 3 * 24 * 60 * MINUTE,
          maxDelayMs: 3 * 24 * 60 * MINUTE,
          windowMs: MINUTE,
        };
        await storage.loginThrottle.reserve(blocked, now - 2 * 24 * 60 * MINUTE, long);
        const first = await storage.housekeeping.purgeExpired(now, 2, MINUTE);
        assert.ok((first.login_throttle ?? 0) <= 2, JSON.stringify(first));
        for (let i = 0; i < 10; i++) await storage.housekeeping.purgeExpired(now, 2, MINUTE);
        for (const key of quiet) assert.equal(await storage.loginThrottle.find(key), undefined, key);
        assert.ok(await storage.loginThrottle.find(recent), 'a recent failure is kept');
        assert.ok(await storage.loginThrottle.find(blocked), 'a block still in force is kept');
      });

      it('api keys: findActive honours revocation and expiry; revoke answers true once', async () => {
        const key = {
          id: id('key'),
          keyHash: hash(),
          userId: id('user'),
          name: 'ci',
          scope: 'meeting:read',
          createdAt: T0,
          expiresAt: T0 + MINUTE,
          revokedAt: null,
          resources: ['https://api.example/meetings', 'https://api.example/files'],
        };
        await storage.apiKeys.create(key);
        assert.deepEqual(await storage.apiKeys.findActive(key.keyHash, T0), key);
        // Without resources (and every key made before they existed): an empty list.
        const plain = { ...key, id: id('key'), keyHash: hash(), resources: [] };
        await storage.apiKeys.create(plain);
        assert.deepEqual((await storage.apiKeys.findActive(plain.keyHash, T0))?.resources, []);
        assert.equal(await storage.apiKeys.findActive(key.keyHash, T0 + MINUTE), undefined);
        assert.ok((await storage.apiKeys.list(key.userId)).some((k) => k.id === key.id));
        assert.equal(await storage.apiKeys.revoke(key.id, T0), true);
        assert.equal(await storage.apiKeys.revoke(key.id, T0), false);
        assert.equal(await storage.apiKeys.findActive(key.keyHash, T0), undefined);
      });

      it('security events are listed newest first; a bare number is { limit }', async () => {
        const base = { clientId: null, userId: null, grantId: null, detail: { n: 1 } };
        await storage.securityEvents.record({
          ...base,
          id: id('ev'),
          type: 'first',
          createdAt: T0 + 10 * MINUTE,
        });
        await storage.securityEvents.record({
          ...base,
          id: id('ev'),
          type: 'second',
          createdAt: T0 + 11 * MINUTE,
        });
        const events = await storage.securityEvents.list(2);
        assert.deepEqual(
          events.map((event) => event.type),
          ['second', 'first'],
        );
        assert.deepEqual(events[0]?.detail, { n: 1 });
        assert.deepEqual(
          (await storage.securityEvents.list({ limit: 2 })).map((event) => event.id),
          events.map((event) => event.id),
        );
      });

      it('clients.delete revokes every grant of that client (and only its), forgets its consents and origins', async () => {
        const client = newClient();
        const bystander = newClient();
        await storage.clients.create(client);
        await storage.clients.create(bystander);
        const users = [id('user'), id('user'), id('user')];
        const grants = users.map((userId) => newGrant({ userId, clientId: client.id }));
        const machine = newGrant({ userId: null, clientId: client.id });
        const other = newGrant({ userId: users[0]!, clientId: bystander.id });
        for (const grant of [...grants, machine, other]) await storage.grants.create(grant);
        await storage.consents.grant(users[0]!, client.id, 'openid', T0);
        await storage.consents.grant(users[0]!, bystander.id, 'openid', T0);
        assert.equal(await storage.clients.hasCorsOrigin(client.allowedCorsOrigins[0]!), true);

        assert.equal(await storage.clients.delete(client.id, T0 + 9), true);
        for (const grant of [...grants, machine]) {
          assert.equal((await storage.grants.find(grant.id))?.revokedAt, T0 + 9, grant.id);
        }
        assert.equal((await storage.grants.find(other.id))?.revokedAt, null);
        assert.equal(await storage.consents.find(users[0]!, client.id), undefined);
        assert.ok(await storage.consents.find(users[0]!, bystander.id));
        assert.equal(await storage.clients.find(client.id), undefined);
        assert.equal(await storage.clients.delete(client.id, T0 + 10), false, 'already gone');
      });

      it("sessions.deleteForUser ends that user's sessions only", async () => {
        const [alice, bob] = [id('user'), id('user')];
        const session = (userId: string) => ({
          idHash: hash(),
          userId,
          authTime: T0,
          createdAt: T0,
          expiresAt: T0 + 60 * MINUTE,
        });
        const aliceSessions = [session(alice), session(alice)];
        const bobSession = session(bob);
        for (const s of [...aliceSessions, bobSession]) await storage.sessions.create(s);
        await storage.sessions.deleteForUser(alice);
        for (const s of aliceSessions) assert.equal(await storage.sessions.find(s.idHash, T0), undefined);
        assert.ok(await storage.sessions.find(bobSession.idHash, T0));
      });

      it('revokeForUserAndClient revokes that pair only; consents.forget forgets', async () => {
        const user = id('user');
        const client = id('client');
        const mine = [
          newGrant({ userId: user, clientId: client }),
          newGrant({ userId: user, clientId: client }),
        ];
        const other = newGrant({ userId: user, clientId: id('client') });
        for (const grant of [...mine, other]) await storage.grants.create(grant);
        const token = newAccessToken(mine[0]!);
        await storage.accessTokens.create(token);
        assert.equal((await storage.grants.listActiveForUser(user)).length, 3);
        assert.equal(await storage.grants.revokeForUserAndClient(user, client, T0 + 1), 2);
        assert.equal(await storage.accessTokens.findActive(token.id, T0), undefined);
        assert.deepEqual(
          (await storage.grants.listActiveForUser(user)).map((g) => g.id),
          [other.id],
        );
        await storage.consents.grant(user, client, 'openid', T0);
        await storage.consents.forget(user, client);
        assert.equal(await storage.consents.find(user, client), undefined);
      });
    });

    describe('security events', () => {
      // Events of their own, far from the times other tests use, so the filters below see only these.
      const E0 = T0 + 400 * 24 * 60 * MINUTE;
      const tag = randomUUID().slice(0, 8);
      const userA = id('user');
      const userB = id('user');
      const clientA = id('client');
      const event = (n: number, overrides: Partial<SecurityEvent> = {}): SecurityEvent => ({
        // Ids that sort in a different order than they are created, so the tie-break is seen to be the id.
        id: `${tag}-${String((n * 7) % 31).padStart(2, '0')}-${n}`,
        type: `t${tag}_${n % 3}`,
        actor: null,
        ip: null,
        clientId: n % 2 === 0 ? clientA : null,
        clientName: n % 2 === 0 ? 'App A' : null,
        userId: n % 3 === 0 ? userA : userB,
        userEmail: n % 3 === 0 ? 'a@example.com' : 'b@example.com',
        grantId: null,
        detail: { n },
        // Five events share each millisecond.
        createdAt: E0 + Math.floor(n / 5),
        ...overrides,
      });
      const all = Array.from({ length: 30 }, (_, n) => event(n));
      const newestFirst = (events: SecurityEvent[]) =>
        [...events].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
      const ours = (query: Partial<SecurityEventQuery> = {}) =>
        storage.securityEvents.list({ since: E0, until: E0 + 1000, limit: 1000, ...query });

      before(async () => {
        for (const e of all) await storage.securityEvents.record(e);
      });

      it('keeps every column: the actor of each kind, the address, the names at the time', async () => {
        const actors: SecurityEvent['actor'][] = [
          { kind: 'user', id: userA, name: 'a@example.com' },
          { kind: 'admin_key', id: 'key-1', name: 'Company app' },
          { kind: 'client', id: clientA, name: null },
          { kind: 'cli' },
          { kind: 'system' },
          null,
        ];
        const recorded = actors.map((actor, n) =>
          event(100 + n, {
            id: id('ev'),
            type: `actors${tag}`,
            actor,
            ip: n % 2 ? '2001:db8::1' : '203.0.113.9',
            grantId: n === 0 ? 'grant-1' : null,
            detail: { nested: { list: [1, 'two'] }, n },
            createdAt: E0 + 2000 + n,
          }),
        );
        for (const e of recorded) await storage.securityEvents.record(e);
        const listed = await storage.securityEvents.list({ type: `actors${tag}`, limit: 10 });
        assert.deepEqual(listed, [...recorded].reverse());
      });

      it('fills what an older caller leaves out with null', async () => {
        const bare = { id: id('ev'), type: `bare${tag}`, clientId: null, userId: null, grantId: null };
        await storage.securityEvents.record({ ...bare, detail: {}, createdAt: E0 + 3000 });
        const [listed] = await storage.securityEvents.list({ type: `bare${tag}`, limit: 1 });
        assert.deepEqual(listed, {
          ...bare,
          actor: null,
          ip: null,
          clientName: null,
          userEmail: null,
          detail: {},
          createdAt: E0 + 3000,
        });
      });

      it('filters by type, user, client and time, alone and together, newest first then by id', async () => {
        assert.deepEqual(await ours(), newestFirst(all));
        const type = `t${tag}_1`;
        assert.deepEqual(await ours({ type }), newestFirst(all.filter((e) => e.type === type)));
        assert.deepEqual(await ours({ userId: userA }), newestFirst(all.filter((e) => e.userId === userA)));
        assert.deepEqual(
          await ours({ clientId: clientA }),
          newestFirst(all.filter((e) => e.clientId === clientA)),
        );
        // since is inclusive, until exclusive.
        assert.deepEqual(
          await ours({ since: E0 + 2, until: E0 + 4 }),
          newestFirst(all.filter((e) => e.createdAt >= E0 + 2 && e.createdAt < E0 + 4)),
        );
        assert.equal((await ours({ since: E0 + 2, until: E0 + 4 })).length, 10);
        const together = await ours({ type: `t${tag}_0`, userId: userA, clientId: clientA, since: E0 + 1 });
        assert.deepEqual(
          together,
          newestFirst(
            all.filter(
              (e) =>
                e.type === `t${tag}_0` &&
                e.userId === userA &&
                e.clientId === clientA &&
                e.createdAt >= E0 + 1,
            ),
          ),
        );
        assert.ok(together.length >= 2, 'the combined filter still selects something');
        assert.deepEqual(await ours({ userId: 'nobody' }), []);
        assert.equal((await ours({ limit: 4 })).length, 4);
      });

      it('pages with before: every event once, in order, whatever the page size (ties within a millisecond too)', async () => {
        for (const query of [{}, { userId: userB }, { clientId: clientA }, { type: `t${tag}_2` }]) {
          const expected = newestFirst(
            all.filter(
              (e) =>
                (!('userId' in query) || e.userId === query.userId) &&
                (!('clientId' in query) || e.clientId === query.clientId) &&
                (!('type' in query) || e.type === query.type),
            ),
          ).map((e) => e.id);
          for (const limit of [1, 4, 5, 7]) {
            const seen: string[] = [];
            let before: { createdAt: number; id: string } | undefined;
            for (let pages = 0; pages < 40; pages++) {
              const page = await ours({ ...query, limit, before });
              seen.push(...page.map((e) => e.id));
              const last = page.at(-1);
              if (!last || page.length < limit) break;
              before = { createdAt: last.createdAt, id: last.id };
            }
            assert.deepEqual(seen, expected, `${JSON.stringify(query)} in pages of ${limit}`);
          }
        }
      });

      it('an event recorded while paging, newer than the first page, does not shift the pages', async () => {
        const first = await ours({ userId: userA, limit: 3 });
        const last = first.at(-1);
        assert.ok(last);
        await storage.securityEvents.record(event(999, { id: id('ev'), userId: userA, createdAt: E0 + 500 }));
        const rest = await ours({
          userId: userA,
          limit: 1000,
          before: { createdAt: last.createdAt, id: last.id },
        });
        const expected = newestFirst(all.filter((e) => e.userId === userA)).map((e) => e.id);
        assert.deepEqual(
          [...first, ...rest].map((e) => e.id),
          expected,
        );
      });
    });

    describe('grants.revokeForUser (password reset)', () => {
      it("revokes every live grant of the user at every client, and so their tokens; nobody else's", async () => {
        const [user, other] = [id('user'), id('user')];
        const mine = [
          newGrant({ userId: user }),
          newGrant({ userId: user }),
          newGrant({ userId: user, clientId: id('client') }),
        ];
        const alreadyRevoked = newGrant({ userId: user, revokedAt: T0 - 1 });
        const theirs = newGrant({ userId: other });
        const machine = newGrant({ userId: null });
        for (const grant of [...mine, alreadyRevoked, theirs, machine]) await storage.grants.create(grant);
        const access = newAccessToken(mine[0]!);
        const refresh = newRefreshToken(mine[2]!);
        const theirAccess = newAccessToken(theirs);
        for (const token of [access, theirAccess]) await storage.accessTokens.create(token);
        await storage.refreshTokens.create(refresh);

        assert.equal(await storage.grants.revokeForUser(user, T0 + 5), 3, 'the live ones only');
        for (const grant of mine) assert.equal((await storage.grants.find(grant.id))?.revokedAt, T0 + 5);
        assert.equal((await storage.grants.find(alreadyRevoked.id))?.revokedAt, T0 - 1, 'kept as it was');
        assert.equal(await storage.accessTokens.findActive(access.id, T0 + 6), undefined);
        assert.equal((await storage.refreshTokens.find(refresh.tokenHash))?.grantRevoked, true);
        assert.deepEqual(await storage.grants.listActiveForUser(user), []);
        assert.deepEqual(await storage.accessTokens.findActive(theirAccess.id, T0 + 6), theirAccess);
        assert.equal((await storage.grants.find(theirs.id))?.revokedAt, null);
        assert.equal((await storage.grants.find(machine.id))?.revokedAt, null);
        assert.equal(await storage.grants.revokeForUser(user, T0 + 7), 0, 'idempotent');
      });

      it('inside a transaction, together with the password update, and rolled back with it', async () => {
        const user = newUser();
        await storage.users.create(user);
        const grant = newGrant({ userId: user.id });
        await storage.grants.create(grant);
        await assert.rejects(
          storage.transaction(async (tx) => {
            await tx.users.update({ ...user, passwordHash: 'scrypt$new', updatedAt: T0 + 1 });
            assert.equal(await tx.grants.revokeForUser(user.id, T0 + 1), 1);
            throw new Error('rolled back');
          }),
          /rolled back/,
        );
        assert.equal((await storage.grants.find(grant.id))?.revokedAt, null);
        assert.equal((await storage.users.findById(user.id))?.passwordHash, user.passwordHash);
        await storage.transaction(async (tx) => {
          await tx.users.update({ ...user, passwordHash: 'scrypt$new', updatedAt: T0 + 2 });
          await tx.grants.revokeForUser(user.id, T0 + 2);
        });
        assert.equal((await storage.grants.find(grant.id))?.revokedAt, T0 + 2);
        assert.equal((await storage.users.findById(user.id))?.passwordHash, 'scrypt$new');
      });
    });

    describe('users.delete and grants.revokeForClient (operations)', () => {
      it('users.delete ends everything of that user and nobody else’s; the events stay', async () => {
        const [user, other] = [newUser(), newUser()];
        for (const person of [user, other]) await storage.users.create(person);
        const grant = newGrant({ userId: user.id });
        const theirGrant = newGrant({ userId: other.id });
        for (const g of [grant, theirGrant]) await storage.grants.create(g);
        const access = newAccessToken(grant);
        await storage.accessTokens.create(access);
        const session = {
          idHash: hash(),
          userId: user.id,
          authTime: T0,
          createdAt: T0,
          expiresAt: T0 + MINUTE,
        };
        await storage.sessions.create(session);
        await storage.consents.grant(user.id, grant.clientId, 'openid', T0);
        await storage.linkedIdentities.create({
          providerId: 'upstream',
          subject: id('sub'),
          userId: user.id,
          email: null,
          createdAt: T0,
          lastUsedAt: null,
        });
        const key = {
          id: id('key'),
          keyHash: hash(),
          userId: user.id,
          name: 'k',
          scope: 'openid',
          createdAt: T0,
          expiresAt: null,
          revokedAt: null,
          resources: [],
        };
        await storage.apiKeys.create(key);
        const owned = newClient({ ownerUserId: user.id });
        await storage.clients.create(owned);
        assert.equal((await storage.clients.find(owned.id))?.ownerUserId, user.id, 'read (and cached) first');

        assert.equal(await storage.users.delete(user.id, T0 + 1), true);
        assert.equal(await storage.users.findById(user.id), undefined);
        assert.equal(await storage.accessTokens.findActive(access.id, T0 + 2), undefined);
        assert.equal((await storage.grants.find(grant.id))?.revokedAt, T0 + 1);
        assert.equal(await storage.sessions.find(session.idHash, T0), undefined);
        assert.equal(await storage.consents.find(user.id, grant.clientId), undefined);
        assert.deepEqual(await storage.linkedIdentities.listForUser(user.id), []);
        assert.equal(await storage.apiKeys.findActive(key.keyHash, T0 + 2), undefined);
        assert.equal((await storage.clients.find(owned.id))?.ownerUserId, null, 'no stale cached owner');
        assert.ok(await storage.users.findById(other.id));
        assert.equal((await storage.grants.find(theirGrant.id))?.revokedAt, null);
        assert.equal(await storage.users.delete(user.id, T0 + 3), false, 'gone already');
      });

      it('grants.revokeForClient revokes that client’s live grants for every user, no other client’s', async () => {
        const client = id('client');
        const mine = [newGrant({ clientId: client }), newGrant({ clientId: client, userId: null })];
        const other = newGrant({ clientId: id('client') });
        for (const g of [...mine, other]) await storage.grants.create(g);
        const access = newAccessToken(mine[0]!);
        await storage.accessTokens.create(access);
        assert.equal(await storage.grants.revokeForClient(client, T0 + 1), 2);
        assert.equal(await storage.accessTokens.findActive(access.id, T0 + 2), undefined);
        assert.equal((await storage.grants.find(other.id))?.revokedAt, null);
        assert.equal(await storage.grants.revokeForClient(client, T0 + 3), 0, 'idempotent');
      });
    });

    describe('transaction', () => {
      it('commits on success and returns the work result; reads inside see the writes', async () => {
        const client = newClient();
        const key = id('setting');
        const result = await storage.transaction(async (tx) => {
          await tx.clients.create(client);
          await tx.settings.set(key, 'v');
          assert.deepEqual(await tx.clients.find(client.id), client);
          return 42;
        });
        assert.equal(result, 42);
        assert.deepEqual(await storage.clients.find(client.id), client);
        assert.equal(await storage.settings.get(key), 'v');
      });

      it('rolls back every write when the work throws, and rethrows that error', async () => {
        const client = newClient();
        const user = newUser();
        const grant = newGrant();
        const key = id('setting');
        const boom = new Error('boom');
        await assert.rejects(
          storage.transaction(async (tx) => {
            await tx.clients.create(client);
            await tx.users.create(user);
            await tx.grants.create(grant);
            await tx.settings.set(key, 'v');
            await tx.consents.grant(user.id, client.id, 'openid', T0);
            throw boom;
          }),
          (error) => error === boom,
        );
        assert.equal(await storage.clients.find(client.id), undefined);
        assert.equal(await storage.users.findById(user.id), undefined);
        assert.equal(await storage.grants.find(grant.id), undefined);
        assert.equal(await storage.settings.get(key), undefined);
        assert.equal(await storage.consents.find(user.id, client.id), undefined);
      });

      it('store operations that run their own transaction join the outer one and roll back with it', async () => {
        const grant = newGrant();
        await storage.grants.create(grant);
        const token = newAccessToken(grant);
        await storage.accessTokens.create(token);
        const key = newKey('EdDSA', T0);
        await assert.rejects(
          storage.transaction(async (tx) => {
            await tx.grants.revoke(grant.id, T0 + 1);
            await tx.keys.rotateIn(key, T0 + 1, MINUTE);
            throw new Error('abort');
          }),
          /abort/,
        );
        assert.equal((await storage.grants.find(grant.id))?.revokedAt, null);
        assert.deepEqual(await storage.accessTokens.findActive(token.id, T0), token);
        assert.ok(!(await storage.keys.list()).some((k) => k.kid === key.kid));
      });

      it('concurrent transactions (group commit on SQLite): one that fails rolls back alone, the rest commit', async () => {
        const clients = Array.from({ length: 10 }, () => newClient());
        const email = `dup.${randomUUID()}@example.com`;
        await storage.users.create(newUser({ email }));
        const results = await Promise.allSettled(
          clients.map((client, i) =>
            storage.transaction(async (tx) => {
              await tx.clients.create(client);
              if (i === 4) await tx.users.create(newUser({ email })); // unique violation: this one fails
              return i;
            }),
          ),
        );
        assert.deepEqual(
          results.map((result) => result.status),
          clients.map((_, i) => (i === 4 ? 'rejected' : 'fulfilled')),
        );
        for (const [i, client] of clients.entries()) {
          assert.equal((await storage.clients.find(client.id)) !== undefined, i !== 4, `client ${i}`);
        }
        assert.deepEqual(
          results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])),
          [0, 1, 2, 3, 5, 6, 7, 8, 9],
          'each transaction gets its own result',
        );
      });

      it('a failing statement inside the transaction rolls back the writes before it', async () => {
        const client = newClient();
        const email = `dup.${randomUUID()}@example.com`;
        await storage.users.create(newUser({ email }));
        await assert.rejects(
          storage.transaction(async (tx) => {
            await tx.clients.create(client);
            await tx.users.create(newUser({ email })); // unique violation
          }),
        );
        assert.equal(await storage.clients.find(client.id), undefined);
      });
    });
  });
}
