// Every statement the storage layer runs, checked against SQLite's query plan: none may read a whole table
// that grows with use. node:sqlite runs on the event loop, so such a scan stalls every request (about 130 ns
// a row: 200 ms for the 1.5 million tokens of the large-store benchmark). The statements are captured from
// node:sqlite itself while each store method runs, then explained with the parameters they ran with.
import assert from 'node:assert/strict';
import { DatabaseSync, StatementSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { openStorage } from '../../src/storage/open.ts';
import type { SecurityEventQuery, Storage } from '../../src/storage/storage.ts';

const GROWING =
  /\b(access_tokens|refresh_tokens|grants|authorization_codes|device_authorizations|sessions|interactions|consents|clients|users|api_keys|security_events|client_cors_origins|login_throttle|rate_limits|initial_access_tokens|linked_identities|admin_keys)\b/;

// Reads of a whole table that are accepted, and why. Anything else that scans fails the test.
const ACCEPTED: Record<string, string> = {
  'clients.list': '`gatehouse clients list` lists every client, in its own process',
  'apiKeys.list()': '`gatehouse api-keys list` without --user, in its own process',
  'adminKeys.list': '`gatehouse admin-keys list`, in its own process (a handful of operator keys)',
};

// The security event log's filters, each with and without a page cursor and a time range.
const eventQueries: SecurityEventQuery[] = [{}, { type: 't' }, { userId: 'u1' }, { clientId: 'c1' }].flatMap(
  (filter) => [
    { ...filter, limit: 50 },
    { ...filter, limit: 50, before: { createdAt: 5, id: 'e1' } },
    { ...filter, limit: 50, since: 1, until: 9, before: { createdAt: 5, id: 'e1' } },
  ],
);

interface Captured {
  method: string;
  sql: string;
  parameters: unknown[];
}

describe('storage query plans (SQLite): no statement scans a growing table', () => {
  const captured: Captured[] = [];
  let method = '';
  let connection: DatabaseSync | undefined;
  const originals = new Map<string, (...args: unknown[]) => unknown>();
  const originalPrepare = DatabaseSync.prototype.prepare;
  let storage: Storage;

  before(async () => {
    DatabaseSync.prototype.prepare = function (this: DatabaseSync, sql: string) {
      connection = this;
      return originalPrepare.call(this, sql);
    } as typeof DatabaseSync.prototype.prepare;
    for (const name of ['all', 'run', 'get', 'iterate'] as const) {
      const original = StatementSync.prototype[name] as (...args: unknown[]) => unknown;
      originals.set(name, original);
      (StatementSync.prototype as unknown as Record<string, unknown>)[name] = function (
        this: StatementSync,
        ...parameters: unknown[]
      ) {
        if (method !== '' && !/^(begin|commit|rollback|savepoint|release)/i.test(this.sourceSQL)) {
          captured.push({ method, sql: this.sourceSQL, parameters });
        }
        return original.apply(this, parameters);
      };
    }
    ({ storage } = await openStorage('sqlite::memory:'));
  });

  after(async () => {
    await storage?.close();
    DatabaseSync.prototype.prepare = originalPrepare;
    for (const [name, original] of originals) {
      (StatementSync.prototype as unknown as Record<string, unknown>)[name] = original;
    }
  });

  it('every store method', async () => {
    const S = storage;
    const now = Date.now();
    const client = {
      id: 'c1',
      name: 'C',
      secretHash: 'h',
      redirectUris: ['https://a.example/cb'],
      grantTypes: ['authorization_code'],
      scope: 'openid',
      tokenEndpointAuthMethod: 'client_secret_basic' as const,
      applicationType: 'web' as const,
      requirePkce: true,
      allowedCorsOrigins: ['https://a.example'],
      idTokenSignedResponseAlg: null,
      allowedResources: [],
      nonExpiringTokens: false,
      resourceServer: false,
      status: 'active' as const,
      registeredVia: 'cli' as const,
      registrationAccessTokenHash: null,
      metadata: {},
      ownerUserId: 'u1',
      requestedScope: 'openid',
      previousSecretHash: null,
      previousSecretExpiresAt: null,
      createdAt: now,
      disabledAt: null,
      reviewedAt: now,
      pendingChanges: null,
    };
    const user = {
      id: 'u1',
      email: 'a@example.com',
      name: 'A',
      passwordHash: 'p',
      isAdmin: false,
      emailVerified: true,
      createdAt: now,
      updatedAt: now,
      disabledAt: null,
      claims: null,
    };
    const grant = {
      id: 'g1',
      clientId: 'c1',
      userId: 'u1',
      scope: 'openid',
      createdAt: now,
      revokedAt: null,
      lastUsedAt: null,
    };
    const access = (id: string) => ({
      id,
      grantId: 'g1',
      clientId: 'c1',
      userId: 'u1',
      scope: 'openid',
      audience: 'x',
      createdAt: now,
      expiresAt: now + 1e6,
      revokedAt: null,
    });
    const refresh = (tokenHash: string, id: string) => ({
      tokenHash,
      id,
      grantId: 'g1',
      clientId: 'c1',
      userId: 'u1',
      scope: 'openid',
      resource: null,
      parentId: null,
      createdAt: now,
      expiresAt: now + 1e6,
      idleExpiresAt: null,
      rotatedAt: null,
      rotationFingerprint: null,
      revokedAt: null,
    });
    const code = (codeHash: string, grantId: string) => ({
      codeHash,
      grantId,
      clientId: 'c1',
      userId: 'u1',
      redirectUri: 'https://a.example/cb',
      redirectUriProvided: true,
      scope: 'openid',
      nonce: null,
      codeChallenge: null,
      resource: null,
      authTime: now,
      createdAt: now,
      expiresAt: now + 1e6,
      consumedAt: null,
    });
    const calls: [string, () => Promise<unknown>][] = [
      ['users.create', () => S.users.create(user)],
      ['users.findById', () => S.users.findById('u1')],
      ['users.findByEmail', () => S.users.findByEmail('a@example.com')],
      ['users.exists', () => S.users.exists()],
      ['users.listPage', () => S.users.listPage({ limit: 50 })],
      ['users.listPage (after)', () => S.users.listPage({ limit: 50, before: { createdAt: now, id: 'u9' } })],
      ['users.update', () => S.users.update(user)],
      ['users.rehashPassword', () => S.users.rehashPassword('u1', 'old', 'new')],
      ['users.upsertExternal (new)', () => S.users.upsertExternal('acme|1', { name: 'A' }, 'A', now)],
      ['users.upsertExternal (again)', () => S.users.upsertExternal('acme|1', { name: 'B' }, 'B', now)],
      ['users.upsertExternal (a Gatehouse user)', () => S.users.upsertExternal('u1', {}, null, now)],
      ['users.findByIdsOrEmails', () => S.users.findByIdsOrEmails(['u1', 'u2'], ['a@example.com'])],
      ['users.createMany', () => S.users.createMany([{ ...user, id: 'u2', email: 'b@example.com' }])],
      ['users.replaceUnlessChanged', () => S.users.replaceUnlessChanged(user, user)],
      ['clients.create', () => S.clients.create(client)],
      ['clients.find', () => S.clients.find('c1')],
      ['clients.list', () => S.clients.list()],
      ['clients.listPage', () => S.clients.listPage({ limit: 50 })],
      [
        'clients.listPage (after)',
        () => S.clients.listPage({ limit: 50, before: { createdAt: now, id: 'c9' } }),
      ],
      ['clients.listAwaitingReview', () => S.clients.listAwaitingReview()],
      ['clients.listByOwner', () => S.clients.listByOwner('u1')],
      ['clients.hasCorsOrigin', () => S.clients.hasCorsOrigin('https://a.example')],
      ['clients.update', () => S.clients.update(client)],
      [
        'sessions.create',
        () =>
          S.sessions.create({
            idHash: 's1',
            userId: 'u1',
            authTime: now,
            createdAt: now,
            expiresAt: now + 1e6,
          }),
      ],
      ['sessions.find', () => S.sessions.find('s1', now)],
      [
        'linkedIdentities.create',
        () =>
          S.linkedIdentities.create({
            providerId: 'idp',
            subject: 'sub-1',
            userId: 'u1',
            email: 'a@example.com',
            createdAt: now,
            lastUsedAt: null,
          }),
      ],
      ['linkedIdentities.find', () => S.linkedIdentities.find('idp', 'sub-1')],
      ['linkedIdentities.listForUser', () => S.linkedIdentities.listForUser('u1')],
      ['linkedIdentities.markUsed', () => S.linkedIdentities.markUsed('idp', 'sub-1', now)],
      ['linkedIdentities.delete', () => S.linkedIdentities.delete('idp', 'sub-1', 'u1')],
      ['sessions.delete', () => S.sessions.delete('s1')],
      ['sessions.deleteForUser', () => S.sessions.deleteForUser('u1')],
      [
        'interactions.create',
        () =>
          S.interactions.create({
            id: 'i1',
            browserHash: 'b',
            clientId: 'c1',
            request: {} as never,
            loginUserId: null,
            loginAuthTime: null,
            consentedScope: null,
            denied: false,
            createdAt: now,
            expiresAt: now + 1e6,
            challengeHash: 'chal',
            external: null,
          }),
      ],
      ['interactions.find', () => S.interactions.find('i1', now)],
      ['interactions.findIncludingExpired', () => S.interactions.findIncludingExpired('i1')],
      ['interactions.findByChallenge', () => S.interactions.findByChallenge('chal')],
      [
        'interactions.settleChallenge',
        () => S.interactions.settleChallenge('chal', now, { consentedScope: 'openid' }),
      ],
      ['interactions.update', () => S.interactions.update('i1', { loginUserId: 'u1', loginAuthTime: now })],
      ['interactions.finish', () => S.interactions.finish('i1')],
      ['grants.create', () => S.grants.create(grant)],
      ['grants.createIfMissing', () => S.grants.createIfMissing(grant)],
      ['grants.find', () => S.grants.find('g1')],
      ['grants.markUsed', () => S.grants.markUsed('g1', now)],
      ['grants.lastUsedByClient', () => S.grants.lastUsedByClient('u1')],
      ['grants.listActiveForUser', () => S.grants.listActiveForUser('u1')],
      ['authorizationCodes.create', () => S.authorizationCodes.create(code('ch', 'g1'))],
      [
        'authorizationCodes.createWithGrant',
        () =>
          S.authorizationCodes.createWithGrant(code('ch2', 'g2'), {
            id: 'g2',
            clientId: 'c1',
            userId: 'u1',
            scope: 'openid',
            createdAt: now,
            revokedAt: null,
            lastUsedAt: null,
          }),
      ],
      ['authorizationCodes.find', () => S.authorizationCodes.find('ch')],
      ['authorizationCodes.consume', () => S.authorizationCodes.consume('ch', now)],
      ['authorizationCodes.consume (again)', () => S.authorizationCodes.consume('ch', now)],
      [
        'authorizationCodes.consume (issuing tokens)',
        () =>
          S.authorizationCodes.consume('ch2', now, { access: access('a9'), refresh: refresh('r9', 'rid9') }),
      ],
      [
        'deviceAuthorizations.create',
        () =>
          S.deviceAuthorizations.create({
            deviceCodeHash: 'dh',
            userCodeHash: 'uh',
            clientId: 'c1',
            scope: 'openid',
            resource: null,
            createdAt: now,
            expiresAt: now + 1e6,
            interval: 5,
            lastPolledAt: null,
            status: 'pending',
            userId: null,
            grantId: null,
            authTime: null,
          }),
      ],
      ['deviceAuthorizations.find', () => S.deviceAuthorizations.find('dh')],
      [
        'deviceAuthorizations.findPendingByUserCode',
        () => S.deviceAuthorizations.findPendingByUserCode('uh', now),
      ],
      ['deviceAuthorizations.poll', () => S.deviceAuthorizations.poll('dh', now)],
      ['deviceAuthorizations.poll (again)', () => S.deviceAuthorizations.poll('dh', now)],
      ['deviceAuthorizations.deny', () => S.deviceAuthorizations.deny('uh-other', now)],
      [
        'deviceAuthorizations.approve',
        () => S.deviceAuthorizations.approve('uh', now, { userId: 'u1', grantId: 'g1', authTime: now }),
      ],
      ['deviceAuthorizations.redeem', () => S.deviceAuthorizations.redeem('dh', now)],
      ['accessTokens.create', () => S.accessTokens.create(access('a1'))],
      ['accessTokens.findActive', () => S.accessTokens.findActive('a1', now)],
      ['accessTokens.revoke', () => S.accessTokens.revoke('a1', now)],
      ['refreshTokens.create', () => S.refreshTokens.create(refresh('r1', 'rid1'))],
      ['refreshTokens.find', () => S.refreshTokens.find('r1')],
      [
        'refreshTokens.rotate',
        () => S.refreshTokens.rotate('r1', 'fp', now, refresh('r2', 'rid2'), access('a2')),
      ],
      ['consents.find', () => S.consents.find('u1', 'c1')],
      ['consents.grant', () => S.consents.grant('u1', 'c1', 'openid', now)],
      ['consents.forget', () => S.consents.forget('u1', 'c1')],
      [
        'apiKeys.create',
        () =>
          S.apiKeys.create({
            id: 'k1',
            keyHash: 'kh',
            userId: 'u1',
            name: 'n',
            scope: 's',
            createdAt: now,
            expiresAt: null,
            revokedAt: null,
            resources: [],
          }),
      ],
      ['apiKeys.findActive', () => S.apiKeys.findActive('kh', now)],
      ['apiKeys.list()', () => S.apiKeys.list()],
      ['apiKeys.list(userId)', () => S.apiKeys.list('u1')],
      ['apiKeys.revoke', () => S.apiKeys.revoke('k1', now)],
      [
        'adminKeys.create',
        () =>
          S.adminKeys.create({
            id: 'm1',
            keyHash: 'mh',
            name: 'n',
            scope: 'interactions',
            createdAt: now,
            expiresAt: null,
            revokedAt: null,
          }),
      ],
      ['adminKeys.findActive', () => S.adminKeys.findActive('mh', now)],
      ['adminKeys.list', () => S.adminKeys.list()],
      ['adminKeys.revoke', () => S.adminKeys.revoke('m1', now)],
      [
        'securityEvents.record',
        () =>
          S.securityEvents.record({
            id: 'e1',
            type: 't',
            clientId: 'c1',
            userId: 'u1',
            grantId: 'g1',
            actor: { kind: 'user', id: 'u1', name: 'a@example.com' },
            ip: '203.0.113.1',
            clientName: 'C',
            userEmail: 'a@example.com',
            detail: {},
            createdAt: now,
          }),
      ],
      ['securityEvents.list', () => S.securityEvents.list(50)],
      ...eventQueries.map((query): [string, () => Promise<unknown>] => [
        `securityEvents.list ${JSON.stringify(query)}`,
        () => S.securityEvents.list(query),
      ]),
      ['initialAccessTokens.create', () => S.initialAccessTokens.create('it', 3, now, now + 1e6)],
      ['initialAccessTokens.consume', () => S.initialAccessTokens.consume('it', now)],
      ...[1, 2, 3].map((attempt): [string, () => Promise<unknown>] => [
        `loginThrottle.reserve (${attempt})`,
        () =>
          S.loginThrottle.reserve('ip:1', now, {
            freeAttempts: 2,
            firstDelayMs: 1000,
            maxDelayMs: 60_000,
            windowMs: 60_000,
          }),
      ]),
      ['loginThrottle.find', () => S.loginThrottle.find('ip:1')],
      ['loginThrottle.refund', () => S.loginThrottle.refund('ip:1', 2)],
      ['rateLimits.hit (new key)', () => S.rateLimits.hit('register:192.0.2.1', now, 60_000)],
      ['rateLimits.hit (same window)', () => S.rateLimits.hit('register:192.0.2.1', now + 1, 60_000)],
      ['rateLimits.hit (next window)', () => S.rateLimits.hit('register:192.0.2.1', now + 60_000, 60_000)],
      ['loginThrottle.clear', () => S.loginThrottle.clear('ip:1')],
      [
        'keys.addFirst',
        () =>
          S.keys.addFirst({
            kid: 'k1',
            alg: 'ES256',
            publicJwk: '{}',
            privateJwkEncrypted: 'v1.a.b.c',
            createdAt: now,
            activatesAt: now,
            rotatedAt: null,
            retireAt: null,
          }),
      ],
      ['keys.retire', () => S.keys.retire(['k1'], now)],
      ['settings.set', () => S.settings.set('k', 'v')],
      ['settings.get', () => S.settings.get('k')],
      ['settings.delete', () => S.settings.delete('k')],
      ['housekeeping.purgeExpired', () => S.housekeeping.purgeExpired(now + 1e9, 500, 1e6, now)],
      ['grants.revokeForUserAndClient', () => S.grants.revokeForUserAndClient('u1', 'c1', now)],
      ['grants.revoke', () => S.grants.revoke('g1', now)],
      ['grants.revokeForUser', () => S.grants.revokeForUser('u1', now)],
      ['clients.delete', () => S.clients.delete('c1', now)],
    ];
    for (const [name, call] of calls) {
      method = name;
      await call();
    }
    method = '';

    assert.ok(connection);
    const partial = new Set(
      (
        originalPrepare
          .call(connection, "select name from sqlite_master where type = 'index' and sql like '% where %'")
          .all() as { name: string }[]
      ).map((row) => row.name),
    );
    const scans: string[] = [];
    const explained = new Set<string>();
    for (const { method: name, sql, parameters } of captured) {
      if (!GROWING.test(sql) || explained.has(`${name}\u0000${sql}`)) continue;
      explained.add(`${name}\u0000${sql}`);
      assert.ok(connection);
      const plan = (
        originalPrepare.call(connection, `EXPLAIN QUERY PLAN ${sql}`).all(...(parameters as never[])) as {
          detail: string;
        }[]
      ).map((row) => row.detail);
      // Any SCAN of a growing table reads all of it (or all of an index over it), unless a LIMIT stops it or
      // the index is partial (it holds only the rows its WHERE selects).
      const bounded = /\blimit\b/i.test(sql);
      const whole = plan.filter((detail) => {
        const index = / USING (?:COVERING )?INDEX (\w+)/.exec(detail)?.[1];
        return /^SCAN /.test(detail) && GROWING.test(detail) && !bounded && !(index && partial.has(index));
      });
      if (whole.length > 0 && !(name in ACCEPTED)) scans.push(`${name}: ${sql}\n    ${plan.join(' | ')}`);
    }
    assert.ok(explained.size > 60, `only ${explained.size} statements were captured`);

    // A LIMIT bounds a scan only when the rows come in the order asked for: a filtered page of the event log
    // must be a range read of the index for its filter, never a scan or a sort of the whole log.
    const eventPlans = captured.filter(({ method: name }) => name.startsWith('securityEvents.list {'));
    assert.equal(eventPlans.length, eventQueries.length);
    for (const { method: name, sql, parameters } of eventPlans) {
      const plan = (
        originalPrepare.call(connection, `EXPLAIN QUERY PLAN ${sql}`).all(...(parameters as never[])) as {
          detail: string;
        }[]
      ).map((row) => row.detail);
      const filter = /"(type|userId|clientId)"/.exec(name)?.[1];
      const index = {
        type: 'security_events_type',
        userId: 'security_events_user_id',
        clientId: 'security_events_client_id',
      }[filter ?? ''];
      const text = plan.join(' | ');
      assert.match(
        text,
        new RegExp(`USING INDEX ${index ?? 'security_events_created_at'}\\b`),
        `${name}: ${text}`,
      );
      assert.doesNotMatch(text, /TEMP B-TREE/, `${name} sorts: ${text}`);
      if (filter || /before/.test(name)) assert.match(text, /^SEARCH /, `${name} reads a range: ${text}`);
    }
    assert.deepEqual(scans, [], `statements that read a whole growing table:\n${scans.join('\n')}`);
  });
});
