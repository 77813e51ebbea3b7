import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { securityHeaders } from '../../src/http/security-headers.ts';
import { buildTestServer } from '../helpers/server.ts';

describe('security headers computed once from helmet', () => {
  it('turns helmet options into the headers helmet would set', () => {
    const headers = securityHeaders({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'self'"], frameAncestors: ["'none'"] },
      },
      frameguard: { action: 'deny' },
      referrerPolicy: { policy: 'no-referrer' },
      hsts: { maxAge: 31_536_000 },
    });
    assert.equal(headers['content-security-policy'], "default-src 'self';frame-ancestors 'none'");
    assert.equal(headers['x-frame-options'], 'DENY');
    assert.equal(headers['referrer-policy'], 'no-referrer');
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.match(headers['strict-transport-security'] ?? '', /^max-age=31536000/);
    assert.equal(securityHeaders({ hsts: false })['strict-transport-security'], undefined);
  });

  it('every response carries them: a JSON endpoint, a page, an asset; HSTS only on an https issuer', async () => {
    const local = await buildTestServer();
    const secure = await buildTestServer({ GATEHOUSE_ISSUER: 'https://as.example' });
    try {
      for (const url of ['/jwks', '/login', '/assets/gatehouse.css', '/does-not-exist']) {
        const response = await local.app.inject({ url });
        assert.match(String(response.headers['content-security-policy']), /frame-ancestors 'none'/, url);
        assert.equal(response.headers['x-frame-options'], 'DENY', url);
        assert.equal(response.headers['strict-transport-security'], undefined, url);
      }
      const https = await secure.app.inject({ url: '/login' });
      assert.match(String(https.headers['strict-transport-security']), /max-age=31536000/);
    } finally {
      await local.close();
      await secure.close();
    }
  });
});
