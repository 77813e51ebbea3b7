// oauth/client-documents.ts, the one fetch-and-cache for documents a client names (docs/security.md H-07, H-08):
// freshness from Cache-Control clamped to the operator's floor and ceiling, the bound on entries, one fetch for
// concurrent requests, the unknown-kid refresh interval, and refusals (slow, private address without the
// test-only allowance) against a real https server on 127.0.0.1.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HostRateLimiter } from '../../src/http/outbound.ts';
import {
  ClientDocumentCache,
  ClientDocumentError,
  freshnessSeconds,
} from '../../src/oauth/client-documents.ts';
import { type DocumentServer, startDocumentServer } from '../helpers/document-server.ts';

describe('freshnessSeconds (RFC 9111 §4.2)', () => {
  const of = (headers: Record<string, string>) => freshnessSeconds(new Headers(headers));
  it('max-age less Age; no-store, no-cache and private are 0; no Cache-Control is 300', () => {
    assert.equal(of({ 'cache-control': 'public, max-age=600' }), 600);
    assert.equal(of({ 'cache-control': 'max-age=600', age: '100' }), 500);
    assert.equal(of({ 'cache-control': 'max-age=60', age: '100' }), 0);
    assert.equal(of({ 'cache-control': 'no-store' }), 0);
    assert.equal(of({ 'cache-control': 'max-age=600, no-cache' }), 0);
    assert.equal(of({ 'cache-control': 'private, max-age=600' }), 0);
    assert.equal(of({}), 300);
    assert.equal(of({ 'cache-control': 'max-age=abc' }), 300);
  });
});

describe('ClientDocumentCache (loopback https)', () => {
  let site: DocumentServer;
  let now = 1_000_000;
  before(async () => {
    site = await startDocumentServer();
  });
  after(() => site?.close());

  const cache = (overrides: Partial<ConstructorParameters<typeof ClientDocumentCache>[0]> = {}) =>
    new ClientDocumentCache({
      minSeconds: 60,
      maxSeconds: 3600,
      maxEntries: 3,
      maxBytes: 4096,
      hostPolicy: { allow: [], deny: [] },
      rateLimiter: new HostRateLimiter(1000),
      now: () => now,
      allowPrivateNetwork: true,
      ca: site.ca,
      ...overrides,
    });

  it('the floor and the ceiling clamp what Cache-Control says', async () => {
    const documents = cache();
    const short = site.serve('/short', { headers: { 'cache-control': 'max-age=5' }, body: { a: 1 } });
    const long = site.serve('/long', { headers: { 'cache-control': 'max-age=999999' }, body: { a: 1 } });
    assert.equal((await documents.get(short)).expiresAt - now, 60_000);
    assert.equal((await documents.get(long)).expiresAt - now, 3_600_000);
  });

  it('concurrent requests share one fetch; a fresh entry is not fetched again; an expired one is', async () => {
    const documents = cache();
    const url = site.serve('/shared', { body: { n: 1 }, delayMs: 50 });
    const answers = await Promise.all(Array.from({ length: 6 }, () => documents.get(url)));
    assert.equal(site.hits('/shared'), 1);
    assert.ok(answers.every((answer) => answer === answers[0]));
    await documents.get(url);
    assert.equal(site.hits('/shared'), 1);
    now += 301_000;
    await documents.get(url);
    assert.equal(site.hits('/shared'), 2);
  });

  it('holds at most maxEntries documents, the least recently used go first', async () => {
    const documents = cache();
    const urls = ['/e1', '/e2', '/e3', '/e4'].map((path) => site.serve(path, { body: { path } }));
    for (const url of urls.slice(0, 3)) await documents.get(url);
    await documents.get(urls[0] as string);
    await documents.get(urls[3] as string);
    assert.equal(documents.size, 3);
    assert.ok(documents.peek(urls[0] as string), 'used recently: kept');
    assert.equal(documents.peek(urls[1] as string), undefined, 'least recently used: dropped');
  });

  it('refreshOlderThanMs fetches a fresh entry again only once it is that old (the unknown-kid rule)', async () => {
    const documents = cache();
    const url = site.serve('/keys', { body: { keys: [] } });
    await documents.get(url);
    await documents.get(url, { refreshOlderThanMs: 60_000 });
    assert.equal(site.hits('/keys'), 1);
    now += 61_000;
    await documents.get(url, { refreshOlderThanMs: 60_000 });
    assert.equal(site.hits('/keys'), 2);
  });

  it('a slow host is given up on (ClientDocumentError), and nothing is cached', async () => {
    const documents = cache({ timeoutMs: 300 });
    const slow = site.serve('/slow', { body: {}, delayMs: 2000 });
    await assert.rejects(documents.get(slow), (error: unknown) => {
      assert.ok(error instanceof ClientDocumentError);
      assert.match(error.message, /within 300 ms/);
      return true;
    });
    assert.equal(documents.peek(slow), undefined);
  });

  it('without the test-only allowance, 127.0.0.1 is a loopback address and is refused', async () => {
    const documents = cache({ allowPrivateNetwork: false });
    const url = site.serve('/private', { body: {} });
    await assert.rejects(documents.get(url), /loopback address/);
    assert.equal(site.hits('/private'), 0);
  });
});
