// Redirect URI matching (RFC 9700 §4.1.3, RFC 8252 §7.3): exact string comparison, any port for the loopback
// redirect URIs (127.0.0.1, [::1], localhost) of native clients only. Vectors from docs/security.md A-01..A-03.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  appendParams,
  findRedirectUri,
  isLoopbackRedirectUri,
  redirectUriMatches,
} from '../../src/oauth/redirect-uri.ts';

describe('redirectUriMatches: web client, registered https://rp.example/cb (A-01)', () => {
  const registered = 'https://rp.example/cb';
  const cases: [string, boolean][] = [
    ['https://rp.example/cb', true],
    ['https://rp.example/cb/', false],
    ['https://rp.example/CB', false],
    ['https://RP.EXAMPLE/cb', false],
    ['HTTPS://rp.example/cb', false],
    ['https://rp.example:443/cb', false],
    ['https://rp.example/cbx', false],
    ['https://rp.example/c', false],
    ['https://rp.example/cb/../cb', false],
    ['https://rp.example/cb%2F..%2Fevil', false],
    ['https://rp.example/cb/%2E%2E/', false],
    ['https://rp.example/cb/%252E%252E/', false],
    ['https://rp.example/cb..;/evil', false],
    ['https://rp.example/cb%00.evil.com', false],
    ['https://rp.example.evil.com/cb', false],
    ['https://rp.example@evil.com/cb', false],
    ['https://evil.com#@rp.example/cb', false],
    ['https://rp.example/cb#frag', false],
    ['https://rp.example/cb?x=1', false],
    ['https://rp.example:8443/cb', false],
    ['http://rp.example/cb', false],
    ['', false],
  ];
  for (const [requested, expected] of cases) {
    it(`${JSON.stringify(requested)} → ${expected}`, () => {
      assert.equal(redirectUriMatches(registered, requested, false), expected);
      // A web client's URI is never port-relaxed, and neither is a non-loopback URI of a native client.
      assert.equal(redirectUriMatches(registered, requested, true), expected);
    });
  }
});

describe('redirectUriMatches: registered query (A-02)', () => {
  const registered = 'https://rp.example/cb?tenant=a';
  const cases: [string, boolean][] = [
    ['https://rp.example/cb?tenant=a', true],
    ['https://rp.example/cb?tenant=b', false],
    ['https://rp.example/cb?tenant=a&x=1', false],
    ['https://rp.example/cb?x=1&tenant=a', false],
    ['https://rp.example/cb', false],
  ];
  for (const [requested, expected] of cases) {
    it(`${requested} → ${expected}`, () =>
      assert.equal(redirectUriMatches(registered, requested, false), expected));
  }
});

describe('redirectUriMatches: native client, registered http://127.0.0.1/cb (A-03)', () => {
  const registered = 'http://127.0.0.1/cb';
  const cases: [string, boolean][] = [
    ['http://127.0.0.1/cb', true],
    ['http://127.0.0.1:51004/cb', true],
    ['http://127.0.0.1:1/cb', true],
    ['http://127.0.0.1:51004/cb2', false],
    ['http://127.000.000.001:51004/cb', false],
    ['HTTP://127.0.0.1:51004/cb', false],
    ['http://127.0.0.1:51004/x/../cb', false],
    ['http://127.0.0.1.evil.com/cb', false],
    ['http://localhost:51004/cb', false],
    ['http://127.0.0.1:80@evil.com/cb', false],
    ['http://127.0.0.1:51004/cb#x', false],
    ['http://127.0.0.1:51004/cb?x=1', false],
    ['http://127.0.0.1:/cb', false],
    ['https://127.0.0.1:51004/cb', false],
    ['http://[::1]:51004/cb', false],
  ];
  for (const [requested, expected] of cases) {
    it(`${requested} → ${expected}`, () =>
      assert.equal(redirectUriMatches(registered, requested, true), expected));
  }

  it('the port is not relaxed for a client that is not native', () => {
    assert.equal(redirectUriMatches(registered, 'http://127.0.0.1:51004/cb', false), false);
  });
});

describe('redirectUriMatches: other loopback registrations', () => {
  const cases: [string, string, boolean][] = [
    ['http://[::1]/cb', 'http://[::1]:8080/cb', true],
    ['http://[::1]/cb', 'http://127.0.0.1:8080/cb', false],
    ['http://127.0.0.1:3000/cb', 'http://127.0.0.1:4000/cb', true],
    ['http://127.0.0.1:3000/cb', 'http://127.0.0.1/cb', true],
    ['http://127.0.0.1/cb?x=1', 'http://127.0.0.1:5000/cb?x=1', true],
    ['http://127.0.0.1/cb?x=1', 'http://127.0.0.1:5000/cb?x=2', false],
    ['http://127.0.0.1', 'http://127.0.0.1:5000', true],
    ['http://127.0.0.1', 'http://127.0.0.1:5000/', false],
    ['http://localhost/cb', 'http://localhost:5000/cb', true],
    ['http://localhost/cb', 'http://127.0.0.1:5000/cb', false],
    ['http://127.0.0.1/cb', 'http://localhost:5000/cb', false],
    ['com.example.app:/cb', 'com.example.app:/cb', true],
    ['com.example.app:/cb', 'com.example.app:/cb/', false],
  ];
  for (const [registered, requested, expected] of cases) {
    it(`${registered} vs ${requested} → ${expected}`, () =>
      assert.equal(redirectUriMatches(registered, requested, true), expected));
  }
});

describe('redirectUriMatches: native client, registered http://localhost:8090/callback (A-03)', () => {
  // The MCP TypeScript SDK's example client registers this URI; the port it then listens on may differ.
  const registered = 'http://localhost:8090/callback';
  const cases: [string, boolean][] = [
    ['http://localhost:8090/callback', true],
    ['http://localhost:51004/callback', true],
    ['http://localhost/callback', true],
    ['http://localhost:65535/callback', true],
    ['http://localhost:65536/callback', false],
    ['http://localhost:51004/callback/', false],
    ['http://localhost:51004/Callback', false],
    ['http://localhost:51004/callback?x=1', false],
    ['http://localhost:51004/callback#x', false],
    ['http://localhost:51004/x/../callback', false],
    ['http://LOCALHOST:51004/callback', false],
    ['http://Localhost:51004/callback', false],
    ['HTTP://localhost:51004/callback', false],
    ['http://localhost.:51004/callback', false],
    ['http://localhost.evil.example:51004/callback', false],
    ['http://localhost.evil.example/callback', false],
    ['http://localhost:80@evil.example/callback', false],
    ['http://user@localhost:51004/callback', false],
    ['http://user:pw@localhost:51004/callback', false],
    ['http://evil.example#@localhost:51004/callback', false],
    ['http://evil.localhost:51004/callback', false],
    ['http://localhost%2Eevil.example:51004/callback', false],
    ['http://localhost\\@evil.example/callback', false],
    ['http://127.0.0.1.nip.io:51004/callback', false],
    ['http://127.0.0.1:51004/callback', false],
    ['http://[::1]:51004/callback', false],
    ['https://localhost:51004/callback', false],
    ['http://localhost:/callback', false],
    ['http://localhost:-1/callback', false],
  ];
  for (const [requested, expected] of cases) {
    it(`${requested} → ${expected}`, () =>
      assert.equal(redirectUriMatches(registered, requested, true), expected));
  }

  it('a web client gets no port variance for localhost either', () => {
    assert.equal(redirectUriMatches(registered, 'http://localhost:51004/callback', false), false);
    assert.equal(redirectUriMatches(registered, registered, false), true);
  });
});

describe('isLoopbackRedirectUri', () => {
  for (const uri of [
    'http://localhost/cb',
    'http://localhost:8090/callback',
    'http://localhost',
    'http://127.0.0.1:1/cb?x=1',
    'http://[::1]/cb',
  ]) {
    it(`${uri} → true`, () => assert.equal(isLoopbackRedirectUri(uri), true));
  }
  for (const uri of [
    'https://localhost/cb',
    'http://LOCALHOST/cb',
    'http://localhost./cb',
    'http://localhost.evil.example/cb',
    'http://localhost:80@evil.example/cb',
    'http://user@localhost/cb',
    'http://127.0.0.1.nip.io/cb',
    'http://127.1/cb',
    'http://0x7f000001/cb',
    'http://2130706433/cb',
    'http://127.0.0.2/cb',
    'http://[::ffff:127.0.0.1]/cb',
    'http://[0:0:0:0:0:0:0:1]/cb',
    'http://localhost/cb#x',
    'http://localhost:99999/cb',
    'com.example.app:/cb',
  ]) {
    it(`${uri} → false`, () => assert.equal(isLoopbackRedirectUri(uri), false));
  }
});

describe('findRedirectUri', () => {
  const registered = ['https://rp.example/a', 'https://rp.example/b', 'http://127.0.0.1/cb'];

  it('returns the registered URI that matches', () => {
    assert.equal(findRedirectUri(registered, 'https://rp.example/b', false), 'https://rp.example/b');
    assert.equal(findRedirectUri(registered, 'http://127.0.0.1:9999/cb', true), 'http://127.0.0.1/cb');
  });

  it('returns undefined when none matches', () => {
    assert.equal(findRedirectUri(registered, 'https://rp.example/c', false), undefined);
    assert.equal(findRedirectUri(registered, 'http://127.0.0.1:9999/cb', false), undefined);
    assert.equal(findRedirectUri([], 'https://rp.example/a', false), undefined);
  });
});

describe('appendParams', () => {
  it('appends to a URI without a query', () => {
    assert.equal(
      appendParams('https://rp.example/cb', { code: 'c', state: 's', iss: 'http://localhost:3000' }),
      'https://rp.example/cb?code=c&state=s&iss=http%3A%2F%2Flocalhost%3A3000',
    );
  });

  it('keeps the registered query first and appends after it (A-02)', () => {
    assert.equal(
      appendParams('https://rp.example/cb?tenant=a', { code: 'c' }),
      'https://rp.example/cb?tenant=a&code=c',
    );
  });

  it('skips undefined and null values and encodes hostile ones', () => {
    const uri = appendParams('https://rp.example/cb', { state: null, error: undefined, x: 'a&b=c#d "e"' });
    assert.equal(uri, 'https://rp.example/cb?x=a%26b%3Dc%23d+%22e%22');
    assert.equal(new URL(uri).searchParams.get('x'), 'a&b=c#d "e"');
  });

  it('keeps a loopback port and a private-use scheme', () => {
    assert.equal(appendParams('http://127.0.0.1:5000/cb', { code: 'c' }), 'http://127.0.0.1:5000/cb?code=c');
    assert.equal(appendParams('com.example.app:/cb', { code: 'c' }), 'com.example.app:/cb?code=c');
  });
});
