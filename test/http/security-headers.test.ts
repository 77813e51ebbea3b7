import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiSecurityHeaders, securityHeaders } from '../../src/http/security-headers.ts';
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
      for (const url of ['/login', '/jwks']) {
        const https = await secure.app.inject({ url });
        assert.match(String(https.headers['strict-transport-security']), /max-age=31536000/, url);
      }
    } finally {
      await local.close();
      await secure.close();
    }
  });

  it('JSON endpoints carry the API set; pages, assets and 404s the document set', async () => {
    const local = await buildTestServer();
    try {
      const documentOnly = ['cross-origin-opener-policy', 'x-xss-protection', 'x-download-options'];
      for (const url of ['/jwks', '/.well-known/openid-configuration', '/token']) {
        const response = await local.app.inject({ url, method: url === '/token' ? 'POST' : 'GET' });
        assert.equal(
          response.headers['content-security-policy'],
          "default-src 'none';frame-ancestors 'none'",
        );
        assert.equal(response.headers['x-content-type-options'], 'nosniff', url);
        assert.equal(response.headers['referrer-policy'], 'no-referrer', url);
        for (const name of documentOnly) assert.equal(response.headers[name], undefined, `${url} ${name}`);
      }
      for (const url of ['/login', '/assets/gatehouse.css', '/does-not-exist?secret=1']) {
        const response = await local.app.inject({ url });
        assert.match(String(response.headers['content-security-policy']), /script-src 'self'/, url);
        for (const name of documentOnly) assert.ok(response.headers[name], `${url} ${name}`);
      }
      const missing = await local.app.inject({ url: '/does-not-exist?secret=1' });
      assert.equal(missing.statusCode, 404);
      assert.doesNotMatch(missing.body, /secret/);
    } finally {
      await local.close();
    }
  });

  it('the API set', () => {
    assert.deepEqual(Object.keys(apiSecurityHeaders(false)).sort(), [
      'content-security-policy',
      'referrer-policy',
      'x-content-type-options',
      'x-frame-options',
    ]);
    assert.match(apiSecurityHeaders(true)['strict-transport-security'] ?? '', /^max-age=31536000/);
  });
});
