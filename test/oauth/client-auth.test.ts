// Client authentication (RFC 6749 §2.3): readClientCredentials parses without lookups (strict Basic, the
// form-urlencoding of §2.3.1, one method per request); authenticateClient checks them against storage.
// docs/security.md D-03..D-06.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OAuthError } from '../../src/errors.ts';
import { authenticateClient, readClientCredentials } from '../../src/oauth/client-auth.ts';
import { buildClient } from '../../src/oauth/client-metadata.ts';
import { openStorage } from '../../src/storage/open.ts';
import type { Client, Storage } from '../../src/storage/storage.ts';

const basic = (raw: string) => `Basic ${Buffer.from(raw, 'utf8').toString('base64')}`;
const form = (value: string) => encodeURIComponent(value);

function oauthError(code: string, options: { basicChallenge?: boolean; status?: number } = {}) {
  return (error: unknown) => {
    assert.ok(error instanceof OAuthError, String(error));
    assert.equal(error.code, code);
    if (options.status !== undefined) assert.equal(error.status, options.status);
    if (options.basicChallenge === true) {
      assert.match(String(error.headers?.['WWW-Authenticate']), /^Basic realm="gatehouse"/);
    }
    if (options.basicChallenge === false) assert.equal(error.headers?.['WWW-Authenticate'], undefined);
    return true;
  };
}

describe('readClientCredentials: client_secret_basic', () => {
  it('reads id and secret', () => {
    assert.deepEqual(readClientCredentials(basic('client-1:s3cret'), {}), {
      method: 'client_secret_basic',
      clientId: 'client-1',
      secret: 's3cret',
    });
  });

  it('form-decodes both halves (RFC 6749 §2.3.1): %XX, + as space, UTF-8', () => {
    const id = 'my client:1/ü';
    const secret = 'p@ss:w%rd+ ü&=';
    assert.deepEqual(readClientCredentials(basic(`${form(id)}:${form(secret)}`), {}), {
      method: 'client_secret_basic',
      clientId: id,
      secret,
    });
    const plus = readClientCredentials(basic('a+b:c+d'), {});
    assert.equal(plus.clientId, 'a b');
    assert.equal(plus.secret, 'c d');
  });

  it('splits at the first colon: an encoded colon belongs to the id, a raw one to the secret', () => {
    const encoded = readClientCredentials(basic('a%3Ab:secret'), {});
    assert.equal(encoded.clientId, 'a:b');
    assert.equal(encoded.secret, 'secret');
    const raw = readClientCredentials(basic('id:sec:ret'), {});
    assert.equal(raw.clientId, 'id');
    assert.equal(raw.secret, 'sec:ret');
  });

  it('accepts the scheme name in any case (RFC 7235 §2.1)', () => {
    const header = basic('id:secret').replace('Basic', 'bAsIc');
    assert.equal(readClientCredentials(header, {}).clientId, 'id');
  });

  it('an empty secret is read as empty (authenticateClient refuses it)', () => {
    assert.equal(readClientCredentials(basic('id:'), {}).secret, '');
  });

  const malformed: [string, string][] = [
    ['not base64', 'Basic !!!'],
    ['no credentials', 'Basic'],
    ['a trailing space only', 'Basic '],
    ['two spaces', `Basic  ${Buffer.from('id:secret').toString('base64')}`],
    ['a trailing space', `${basic('id:secret')} `],
    ['another scheme', 'Bearer abc'],
    ['Digest', 'Digest username="id"'],
    ['base64 without a colon', basic('idsecret')],
    ['bad percent-encoding in the id', basic('id%ZZ:secret')],
    ['bad percent-encoding in the secret', basic('id:%E0%A4%A')],
    ['base64url alphabet', `Basic ${Buffer.from('id?:s>>?').toString('base64url')}`],
  ];
  for (const [label, header] of malformed) {
    it(`${label} → invalid_client 401 with a Basic challenge`, () => {
      assert.throws(
        () => readClientCredentials(header, {}),
        oauthError('invalid_client', { basicChallenge: true, status: 401 }),
      );
    });
  }

  it('a body client_id equal to the Basic id is fine; a different one → invalid_request', () => {
    assert.equal(readClientCredentials(basic('id:secret'), { client_id: 'id' }).clientId, 'id');
    assert.throws(
      () => readClientCredentials(basic('id:secret'), { client_id: 'other' }),
      oauthError('invalid_request', { status: 400 }),
    );
  });

  it('the body client_id is compared with the decoded Basic id', () => {
    assert.equal(readClientCredentials(basic('a%20b:secret'), { client_id: 'a b' }).clientId, 'a b');
    assert.throws(
      () => readClientCredentials(basic('a%20b:secret'), { client_id: 'a%20b' }),
      oauthError('invalid_request'),
    );
  });
});

describe('readClientCredentials: body methods', () => {
  it('client_id and client_secret → client_secret_post', () => {
    assert.deepEqual(readClientCredentials(undefined, { client_id: 'id', client_secret: 's' }), {
      method: 'client_secret_post',
      clientId: 'id',
      secret: 's',
    });
  });

  it('client_id alone → none', () => {
    assert.deepEqual(readClientCredentials(undefined, { client_id: 'id' }), {
      method: 'none',
      clientId: 'id',
      secret: undefined,
    });
  });

  it('nothing, or an empty client_id → invalid_client without a Basic challenge', () => {
    assert.throws(
      () => readClientCredentials(undefined, {}),
      oauthError('invalid_client', { basicChallenge: false }),
    );
    assert.throws(
      () => readClientCredentials(undefined, { client_id: '' }),
      oauthError('invalid_client', { basicChallenge: false }),
    );
    assert.throws(
      () => readClientCredentials(undefined, { client_secret: 'orphan' }),
      oauthError('invalid_client', { basicChallenge: false }),
    );
  });

  it('client_assertion without the jwt-bearer type → invalid_request; a non-JWT → invalid_client', () => {
    assert.throws(
      () => readClientCredentials(undefined, { client_id: 'id', client_assertion: 'x.y.z' }),
      oauthError('invalid_request'),
    );
    assert.throws(
      () =>
        readClientCredentials(undefined, {
          client_id: 'id',
          client_assertion: 'x.y.z',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        }),
      oauthError('invalid_client'),
    );
  });
});

describe('readClientCredentials: one method per request (D-03)', () => {
  const combinations: [string, string | undefined, Record<string, string>][] = [
    ['Basic + client_secret', basic('id:s'), { client_secret: 's' }],
    ['Basic + empty client_secret', basic('id:s'), { client_secret: '' }],
    ['Basic + client_assertion', basic('id:s'), { client_assertion: 'x.y.z' }],
    [
      'client_secret + client_assertion',
      undefined,
      { client_id: 'id', client_secret: 's', client_assertion: 'x' },
    ],
    ['malformed Basic + client_secret', 'Basic !!!', { client_secret: 's' }],
  ];
  for (const [label, header, params] of combinations) {
    it(`${label} → invalid_request`, () => {
      assert.throws(
        () => readClientCredentials(header, params),
        oauthError('invalid_request', { status: 400 }),
      );
    });
  }
});

describe('authenticateClient', () => {
  let storage: Storage;
  let confidential: { client: Client; secret: string };
  let post: { client: Client; secret: string };
  let pub: Client;
  let disabled: { client: Client; secret: string };

  before(async () => {
    ({ storage } = await openStorage('sqlite::memory:'));
    const now = Date.UTC(2026, 0, 1);
    const make = (input: Parameters<typeof buildClient>[0]) => buildClient(input, now);
    const a = make({ name: 'A', redirectUris: ['https://rp.example/cb'] });
    const b = make({
      name: 'B',
      redirectUris: ['https://rp.example/cb'],
      tokenEndpointAuthMethod: 'client_secret_post',
    });
    const c = make({ name: 'C', redirectUris: ['http://127.0.0.1/cb'], tokenEndpointAuthMethod: 'none' });
    const d = make({ name: 'D', redirectUris: ['https://rp.example/cb'] });
    d.client.disabledAt = now;
    for (const built of [a, b, c, d]) await storage.clients.create(built.client);
    confidential = { client: a.client, secret: a.secret! };
    post = { client: b.client, secret: b.secret! };
    pub = c.client;
    disabled = { client: d.client, secret: d.secret! };
  });
  after(() => storage.close());

  it('accepts each client with its registered method and secret', async () => {
    const basicClient = await authenticateClient(storage, {
      method: 'client_secret_basic',
      clientId: confidential.client.id,
      secret: confidential.secret,
    });
    assert.equal(basicClient.id, confidential.client.id);
    const postClient = await authenticateClient(storage, {
      method: 'client_secret_post',
      clientId: post.client.id,
      secret: post.secret,
    });
    assert.equal(postClient.id, post.client.id);
    const publicClient = await authenticateClient(storage, {
      method: 'none',
      clientId: pub.id,
      secret: undefined,
    });
    assert.equal(publicClient.id, pub.id);
  });

  const refusals: [string, () => Parameters<typeof authenticateClient>[1], boolean][] = [
    [
      'a wrong secret',
      () => ({
        method: 'client_secret_basic',
        clientId: confidential.client.id,
        secret: `${confidential.secret}x`,
      }),
      true,
    ],
    [
      'an empty secret',
      () => ({ method: 'client_secret_basic', clientId: confidential.client.id, secret: '' }),
      true,
    ],
    [
      'another method than registered (post for basic)',
      () => ({ method: 'client_secret_post', clientId: confidential.client.id, secret: confidential.secret }),
      false,
    ],
    [
      'another method than registered (basic for post)',
      () => ({ method: 'client_secret_basic', clientId: post.client.id, secret: post.secret }),
      true,
    ],
    [
      'a confidential client naming itself only',
      () => ({ method: 'none', clientId: confidential.client.id, secret: undefined }),
      false,
    ],
    [
      'a public client sending a secret',
      () => ({ method: 'client_secret_post', clientId: pub.id, secret: 'anything' }),
      false,
    ],
    ['an unknown client', () => ({ method: 'client_secret_basic', clientId: 'nobody', secret: 'x' }), true],
    [
      'a disabled client',
      () => ({ method: 'client_secret_basic', clientId: disabled.client.id, secret: disabled.secret }),
      true,
    ],
    [
      "another client's secret",
      () => ({ method: 'client_secret_basic', clientId: confidential.client.id, secret: disabled.secret }),
      true,
    ],
  ];
  for (const [label, credentials, basicUsed] of refusals) {
    it(`refuses ${label} with invalid_client 401`, async () => {
      await assert.rejects(
        authenticateClient(storage, credentials()),
        oauthError('invalid_client', { status: 401, basicChallenge: basicUsed }),
      );
    });
  }
});
