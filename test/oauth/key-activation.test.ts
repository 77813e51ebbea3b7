// docs/security.md R8: a rotated-in key is published before it signs, and the old key stays published until every
// token it signed has expired.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { rotateSigningKeys } from '../../src/oauth/keys.ts';
import { exchangeCode, runAuthorizationFlow } from '../helpers/flow.ts';
import { buildTestServer, TEST_SECRET, type TestServer } from '../helpers/server.ts';

const MINUTE = 60_000;

describe('signing key rotation with a publication delay (R8)', () => {
  let server: TestServer;
  before(async () => {
    server = await buildTestServer();
  });
  after(() => server.close());

  async function accessTokenKid(): Promise<string> {
    const user = await server.addUser();
    const { client, secret } = await server.addClient();
    const flow = await runAuthorizationFlow(server, client, user);
    const response = await exchangeCode(server, client, secret, flow);
    assert.equal(response.statusCode, 200, response.body);
    return String(decodeProtectedHeader(response.json().access_token).kid);
  }

  it('publishes the new key at once, signs with it only from its activation, retires the old one later', async () => {
    const oldKid = await accessTokenKid();
    const [added] = await rotateSigningKeys(
      server.deps.storage,
      TEST_SECRET,
      ['ES256'],
      server.clock.now(),
      70 * MINUTE,
      10 * MINUTE,
    );
    await server.deps.keys.reload();
    const kids = () => server.deps.keys.jwks().keys.map((key) => key.kid);
    assert.ok(kids().includes(added!.kid), 'the new key is published before it signs');
    assert.ok(kids().includes(oldKid));
    assert.equal(await accessTokenKid(), oldKid, 'the old key still signs during the publication delay');

    server.clock.advance(10 * MINUTE);
    assert.equal(await accessTokenKid(), added!.kid, 'the new key signs once active');

    server.clock.advance(70 * MINUTE - 1);
    await server.deps.keys.reload();
    assert.ok(kids().includes(oldKid), 'the old key stays until every token it signed has expired');
    server.clock.advance(2);
    await server.deps.keys.reload();
    assert.ok(!kids().includes(oldKid), 'then it leaves the JWKS');
    assert.ok(kids().includes(added!.kid));
  });
});
