// private_key_jwt clients whose keys are at a jwks_uri (RFC 7591 §2, RFC 7523; issue 16), on SQLite and
// PostgreSQL: fetched through the SSRF guard from an https server on 127.0.0.1 (the test-only allowance),
// cached, fetched again once for an unknown kid but not more than once a minute, and refused cleanly
// (invalid_client, 401, never a 5xx) when the set cannot be had. Registration and Client ID Metadata Documents
// both may name one.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { JWT_BEARER_ASSERTION } from '../../src/oauth/client-auth.ts';
import { type DocumentServer, startDocumentServer } from '../helpers/document-server.ts';
import { onEachDatabase } from '../helpers/postgres.ts';
import { buildTestServer, ISSUER, type TestServer } from '../helpers/server.ts';

async function keyPair() {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  return {
    privateKey,
    jwk: { ...(await exportJWK(publicKey)), kid: randomUUID(), alg: 'ES256', use: 'sig' },
  };
}
type Signer = Awaited<ReturnType<typeof keyPair>>;

await onEachDatabase('jwks_uri', (database, databaseUrl) => {
  describe(`private_key_jwt with jwks_uri (${database})`, () => {
    let site: DocumentServer;
    let server: TestServer;
    before(async () => {
      site = await startDocumentServer();
      server = await buildTestServer(
        {},
        { databaseUrl: await databaseUrl(), documentServer: { ca: site.ca } },
      );
    });
    after(async () => {
      await server?.close();
      await site?.close();
    });

    const seconds = () => Math.floor(server.clock.now() / 1000);
    const assertion = (clientId: string, signer: Signer, aud = `${ISSUER}/token`) =>
      new SignJWT({ iss: clientId, sub: clientId, aud, jti: randomUUID(), exp: seconds() + 60 })
        .setProtectedHeader({ alg: 'ES256', kid: signer.jwk.kid })
        .sign(signer.privateKey);
    const post = (url: string, form: Record<string, string>) =>
      server.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(form).toString(),
      });
    const clientCredentials = async (clientId: string, signer: Signer) =>
      post('/token', {
        grant_type: 'client_credentials',
        client_assertion_type: JWT_BEARER_ASSERTION,
        client_assertion: await assertion(clientId, signer),
      });

    it('keys are fetched, cached, and fetched again once for an unknown kid, at most once a minute', async () => {
      const first = await keyPair();
      const second = await keyPair();
      let published = [first.jwk];
      const jwksUri = site.serve('/rotating-jwks', () => ({ body: { keys: published } }));
      const { client } = await server.addClient({
        tokenEndpointAuthMethod: 'private_key_jwt',
        grantTypes: ['client_credentials'],
        metadata: { jwks_uri: jwksUri },
      });
      assert.equal((await clientCredentials(client.id, first)).statusCode, 200);
      assert.equal((await clientCredentials(client.id, first)).statusCode, 200);
      assert.equal(site.hits('/rotating-jwks'), 1, 'cached');
      // The client rotates to a key the cached set lacks: one fetch finds it.
      published = [second.jwk];
      server.clock.advance(61_000);
      assert.equal((await clientCredentials(client.id, second)).statusCode, 200);
      assert.equal(site.hits('/rotating-jwks'), 2);
      // A kid nobody published: refused, and within the minute it costs the host no second fetch.
      const stranger = await keyPair();
      const refused = await clientCredentials(client.id, stranger);
      assert.equal(refused.statusCode, 401);
      assert.equal(refused.json().error, 'invalid_client');
      await clientCredentials(client.id, stranger);
      assert.equal(site.hits('/rotating-jwks'), 2);
    });

    it('a key set that cannot be had is invalid_client (401), never a 5xx', async () => {
      const signer = await keyPair();
      for (const [path, answer] of [
        ['/jwks-404', { status: 404 }],
        ['/jwks-redirect', { status: 302, headers: { location: '/elsewhere' } }],
        ['/jwks-not-a-set', { body: { keys: 'nope' } }],
        ['/jwks-html', { headers: { 'content-type': 'text/html' }, body: '<html>' }],
        ['/jwks-private', { body: { keys: [{ ...signer.jwk, d: 'private-part' }] } }],
        ['/jwks-symmetric', { body: { keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: signer.jwk.kid }] } }],
      ] as const) {
        const { client } = await server.addClient({
          tokenEndpointAuthMethod: 'private_key_jwt',
          grantTypes: ['client_credentials'],
          metadata: { jwks_uri: site.serve(path, answer) },
        });
        const answered = await clientCredentials(client.id, signer);
        assert.equal(answered.statusCode, 401, `${path}: ${answered.body}`);
        assert.equal(answered.json().error, 'invalid_client');
      }
    });

    it('dynamic registration takes jwks_uri (and answers it back)', async () => {
      const registered = await server.app.inject({
        method: 'POST',
        url: '/oauth/register',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({
          client_name: 'Signed RP',
          redirect_uris: ['https://rp.example/cb'],
          token_endpoint_auth_method: 'private_key_jwt',
          jwks_uri: `${site.origin}/rp-jwks`,
        }),
      });
      assert.equal(registered.statusCode, 201, registered.body);
      assert.equal(registered.json().jwks_uri, `${site.origin}/rp-jwks`);
      assert.equal(registered.json().client_secret, undefined);
    });

    it('a metadata document client with private_key_jwt and jwks_uri authenticates at the PAR endpoint', async () => {
      const signer = await keyPair();
      const jwksUri = site.serve('/cimd-jwks', { body: { keys: [signer.jwk] } });
      const clientId = site.serve('/signed-client.json', {
        body: {
          client_id: `${site.origin}/signed-client.json`,
          client_name: 'Signed MCP client',
          redirect_uris: ['https://agent.example/cb'],
          token_endpoint_auth_method: 'private_key_jwt',
          jwks_uri: jwksUri,
        },
      });
      const pushed = await post('/oauth/par', {
        client_id: clientId,
        client_assertion_type: JWT_BEARER_ASSERTION,
        client_assertion: await assertion(clientId, signer, ISSUER),
        response_type: 'code',
        redirect_uri: 'https://agent.example/cb',
        scope: 'openid',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      });
      assert.equal(pushed.statusCode, 201, pushed.body);
      assert.equal((await server.deps.storage.clients.find(clientId))?.registeredVia, 'cimd');
      const wrongKey = await keyPair();
      const refused = await post('/oauth/par', {
        client_id: clientId,
        client_assertion_type: JWT_BEARER_ASSERTION,
        client_assertion: await assertion(clientId, wrongKey, ISSUER),
        response_type: 'code',
        redirect_uri: 'https://agent.example/cb',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      });
      assert.equal(refused.statusCode, 401);
    });
  });
});
