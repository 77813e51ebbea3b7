// A rate limit's answer over HTTP (issue 12 item 12d): 429 with Retry-After and the registered error code
// temporarily_unavailable (RFC 6749 §4.1.2.1; RFC 6585 §4), not the unregistered "rate_limited" it used to be.
// Driven through the registration rate limit, the protocol's per-IP limit.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildTestServer, type TestServer } from '../helpers/server.ts';

describe('429 answers', () => {
  let server: TestServer;
  before(async () => {
    server = await buildTestServer({ GATEHOUSE_REGISTRATION_RATE_LIMIT: '1' });
  });
  after(() => server.close());

  const register = () =>
    server.app.inject({
      method: 'POST',
      url: '/oauth/register',
      remoteAddress: '203.0.113.70',
      payload: { redirect_uris: ['https://rp.example/cb'] },
    });

  it('are temporarily_unavailable with Retry-After, in the RFC 6749 §5.2 JSON shape', async () => {
    assert.equal((await register()).statusCode, 201);
    const limited = await register();
    assert.equal(limited.statusCode, 429, limited.body);
    assert.match(String(limited.headers['content-type']), /^application\/json/);
    assert.equal(limited.headers['cache-control'], 'no-store');
    assert.match(String(limited.headers['retry-after']), /^[1-9]\d*$/);
    const body = limited.json() as { error: string; error_description?: string };
    assert.equal(body.error, 'temporarily_unavailable');
    assert.equal(typeof body.error_description, 'string');
  });
});
