// API keys at an API that checks its own audience. Introspection used to answer every key with aud = the issuer,
// so an API checking its resource identifier (as @gatehouse/resource and docs/any-language.md tell it to) refused
// every API key. A key made with --resource is now good at exactly those APIs (and Gatehouse's own endpoints);
// a key without one still only at Gatehouse's endpoints; a resource outside the catalogue is refused at creation.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BearerError, createVerifier } from '@gatehouse/resource';
import { createApiKey } from '../../src/accounts/api-keys.ts';
import { UserInputError } from '../../src/accounts/users.ts';
import { type LoopbackServer, startLoopbackServer } from '../e2e/loopback.ts';

const MEETINGS = 'https://api.example.test/meetings';
const FILES = 'https://api.example.test/files';

describe('API keys made for resources', () => {
  let as: LoopbackServer;
  let userId: string;
  let introspection: { endpoint: string; clientId: string; clientSecret: string; cacheSeconds: number };

  before(async () => {
    as = await startLoopbackServer({
      GATEHOUSE_RESOURCES: JSON.stringify([
        { uri: MEETINGS, format: 'opaque', scopes: ['meetings:read'] },
        { uri: FILES, format: 'opaque', scopes: ['files:read'] },
      ]),
      GATEHOUSE_SCOPES: JSON.stringify([
        { name: 'meetings:read', description: 'Read your meetings' },
        { name: 'files:read', description: 'Read your files' },
      ]),
    });
    userId = (await as.server.addUser()).id;
    const rs = await as.server.addClient({
      grantTypes: ['client_credentials'],
      redirectUris: [],
      scope: 'meetings:read',
      resourceServer: true,
    });
    assert.ok(rs.secret);
    introspection = {
      endpoint: `${as.issuer}/introspect`,
      clientId: rs.client.id,
      clientSecret: rs.secret,
      cacheSeconds: 0,
    };
  });
  after(() => as?.close());

  const apiAt = (audience: string) => createVerifier({ issuer: as.issuer, audience, introspection });
  const newKey = (resources?: string[]) =>
    createApiKey(
      as.server.deps.storage,
      { userId, name: 'Reporting script', scope: 'meetings:read', ...(resources ? { resources } : {}) },
      as.server.clock.now(),
      ['meetings:read', 'files:read'],
      [MEETINGS, FILES],
    );

  it('a key made for a resource is accepted there, and still at Gatehouse’s own endpoints', async () => {
    const { key, record } = await newKey([MEETINGS]);
    assert.deepEqual(record.resources, [MEETINGS]);
    const token = await apiAt(MEETINGS).verifyToken(key);
    assert.equal(token.subject, userId);
    assert.deepEqual(token.audience, [as.issuer, MEETINGS]);
    assert.equal((await apiAt(as.issuer).verifyToken(key)).subject, userId);
  });

  it('at another API it is refused: "not meant for this resource"', async () => {
    const { key } = await newKey([MEETINGS]);
    await assert.rejects(apiAt(FILES).verifyToken(key), (error: unknown) => {
      assert.ok(error instanceof BearerError);
      assert.equal(error.status, 401);
      assert.equal(error.description, 'The access token is not meant for this resource');
      return true;
    });
  });

  it('a key without resources is good at Gatehouse’s endpoints only (as every key made before)', async () => {
    const { key, record } = await newKey();
    assert.deepEqual(record.resources, []);
    assert.equal((await apiAt(as.issuer).verifyToken(key)).subject, userId);
    await assert.rejects(apiAt(MEETINGS).verifyToken(key), BearerError);
  });

  it('a resource outside GATEHOUSE_RESOURCES is refused when the key is made, and nothing is stored', async () => {
    const before = (await as.server.deps.storage.apiKeys.list(userId)).length;
    await assert.rejects(newKey(['https://api.example.test/typo']), (error: unknown) => {
      assert.ok(error instanceof UserInputError);
      assert.match(error.message, /Unknown resource "https:\/\/api\.example\.test\/typo"/);
      return true;
    });
    assert.equal((await as.server.deps.storage.apiKeys.list(userId)).length, before);
  });
});
