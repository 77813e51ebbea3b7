// Client registration rules (RFC 7591 §2, RFC 8252, OAuth 2.1 "Client Redirection Endpoint"), docs/security.md A-07:
// every bad redirect URI → invalid_redirect_uri; private-use schemes with a dot only for native clients.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OAuthError } from '../../src/errors.ts';
import { buildClient, type ClientInput, checkRedirectUri } from '../../src/oauth/client-metadata.ts';
import { isWellFormedOpaqueToken, TOKEN_PREFIX } from '../../src/oauth/opaque-token.ts';
import type { ApplicationType } from '../../src/storage/storage.ts';
import { sha256 } from '../../src/util/hash.ts';

const NOW = Date.UTC(2026, 0, 1);

function oauthError(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof OAuthError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.status, 400);
    return true;
  };
}

// docs/security.md A-07, refused for web and native clients alike.
const ALWAYS_BAD = [
  'https://rp.example/cb#x',
  'https://rp.example/cb#',
  'javascript:alert(1)',
  'data:text/html,x',
  'vbscript:x',
  'file:///etc/passwd',
  'https://*.rp.example/cb',
  'https://rp.example/*',
  '/cb',
  'cb',
  '//rp.example/cb',
  '',
  'https://user:pw@rp.example/cb',
  'https://user@rp.example/cb',
  'myapp:/cb',
  'myapp://cb',
  'http://rp.example/cb',
  'http://127.0.0.1.evil.example/cb',
  // docs/security.md A-07: only the one spelling of a loopback host, never a look-alike.
  'http://LOCALHOST/cb',
  'http://localhost./cb',
  'http://localhost.evil.example/cb',
  'http://localhost:80@evil.example/cb',
  'http://user@localhost/cb',
  'http://127.0.0.1.nip.io/cb',
  'http://127.1/cb',
  'http://0x7f000001/cb',
  'http://localhost/cb#x',
  'blob:https://rp.example/uuid',
  'about:blank',
  `https://rp.example/${'a'.repeat(2000)}`,
];

describe('checkRedirectUri: A-07 refusals', () => {
  for (const applicationType of ['web', 'native'] as ApplicationType[]) {
    for (const uri of ALWAYS_BAD) {
      it(`${applicationType}: ${JSON.stringify(uri.slice(0, 60))} → invalid_redirect_uri`, () => {
        assert.throws(() => checkRedirectUri(uri, applicationType), oauthError('invalid_redirect_uri'));
      });
    }
  }

  for (const uri of [
    'http://127.0.0.1/cb',
    'http://127.0.0.1:8080/cb',
    'http://[::1]/cb',
    'http://localhost/cb',
    'http://localhost:8090/callback',
    'com.example.app:/cb',
  ]) {
    it(`web: ${uri} → invalid_redirect_uri (loopback http and private-use schemes are for native apps)`, () => {
      assert.throws(() => checkRedirectUri(uri, 'web'), oauthError('invalid_redirect_uri'));
    });
  }

  it('the message names the URI and the reason', () => {
    assert.throws(
      () => checkRedirectUri('http://rp.example/cb', 'web'),
      (error: unknown) => {
        assert.ok(error instanceof OAuthError);
        assert.match(error.description ?? '', /http:\/\/rp\.example\/cb/);
        assert.match(error.description ?? '', /https/);
        return true;
      },
    );
  });
});

describe('checkRedirectUri: accepted URIs', () => {
  const accepted: [string, ApplicationType][] = [
    ['https://rp.example/cb', 'web'],
    ['https://rp.example/cb?tenant=a', 'web'],
    ['https://rp.example:8443/cb', 'web'],
    ['https://rp.example/cb', 'native'],
    ['com.example.app:/cb', 'native'],
    ['com.example.app:/oauth2redirect/example-provider', 'native'],
    ['http://127.0.0.1/cb', 'native'],
    ['http://127.0.0.1:51004/cb', 'native'],
    ['http://[::1]/cb', 'native'],
    // docs/security.md A-07: RFC 8252 §8.3 calls localhost NOT RECOMMENDED, not forbidden; MCP clients use it.
    ['http://localhost/cb', 'native'],
    ['http://localhost:8090/callback', 'native'],
    ['https://localhost:8443/cb', 'web'],
  ];
  for (const [uri, applicationType] of accepted) {
    it(`${applicationType}: ${uri}`, () => {
      assert.doesNotThrow(() => checkRedirectUri(uri, applicationType));
    });
  }
});

describe('buildClient', () => {
  const base: ClientInput = { name: 'App', redirectUris: ['https://rp.example/cb'] };

  it('a confidential client gets a ghs_ secret shown once and stored only as its SHA-256', () => {
    const { client, secret } = buildClient(base, NOW);
    assert.ok(secret);
    assert.ok(isWellFormedOpaqueToken(secret, TOKEN_PREFIX.clientSecret));
    assert.equal(client.secretHash, sha256(secret));
    assert.ok(!JSON.stringify(client).includes(secret));
    assert.equal(client.tokenEndpointAuthMethod, 'client_secret_basic');
    assert.equal(client.applicationType, 'web');
    assert.equal(client.requirePkce, true);
    assert.deepEqual(client.grantTypes, ['authorization_code', 'refresh_token']);
    assert.equal(client.scope, 'openid profile email offline_access');
    assert.equal(client.createdAt, NOW);
    assert.equal(client.disabledAt, null);
    assert.match(client.id, /^[A-Za-z0-9_-]{22}$/);
  });

  it('a public client gets no secret, is native by default, and always requires PKCE', () => {
    const { client, secret } = buildClient(
      { ...base, redirectUris: ['http://127.0.0.1/cb'], tokenEndpointAuthMethod: 'none', requirePkce: false },
      NOW,
    );
    assert.equal(secret, undefined);
    assert.equal(client.secretHash, null);
    assert.equal(client.applicationType, 'native');
    assert.equal(client.requirePkce, true);
  });

  it('application_type defaults to native when every redirect URI is loopback or a private-use scheme (A-07)', () => {
    const cases: [string[], ClientInput['tokenEndpointAuthMethod'], ApplicationType][] = [
      [['http://localhost:8090/callback'], 'none', 'native'],
      // The MCP TypeScript SDK's example client: localhost, client_secret_post, no application_type.
      [['http://localhost:8090/callback'], 'client_secret_post', 'native'],
      [['http://127.0.0.1/cb', 'http://[::1]/cb', 'com.example.app:/cb'], 'client_secret_basic', 'native'],
      [['https://rp.example/cb'], 'none', 'web'],
      [['https://rp.example/cb'], 'client_secret_basic', 'web'],
    ];
    for (const [redirectUris, tokenEndpointAuthMethod, expected] of cases) {
      const { client } = buildClient({ ...base, redirectUris, tokenEndpointAuthMethod }, NOW);
      assert.equal(client.applicationType, expected, redirectUris.join(' '));
    }
  });

  it('one https URI among loopback ones keeps the default web, and the loopback URI is refused naming application_type', () => {
    assert.throws(
      () =>
        buildClient(
          { ...base, redirectUris: ['https://rp.example/cb', 'http://localhost:8090/callback'] },
          NOW,
        ),
      (error: unknown) => {
        assert.ok(error instanceof OAuthError);
        assert.equal(error.code, 'invalid_redirect_uri');
        assert.match(error.description ?? '', /application_type "native"/);
        return true;
      },
    );
    const native = buildClient(
      {
        ...base,
        redirectUris: ['https://rp.example/cb', 'http://localhost:8090/callback'],
        applicationType: 'native',
      },
      NOW,
    );
    assert.equal(native.client.applicationType, 'native');
  });

  it('an explicit web client cannot register localhost, even as a public client', () => {
    assert.throws(
      () =>
        buildClient(
          {
            ...base,
            redirectUris: ['http://localhost:8090/callback'],
            tokenEndpointAuthMethod: 'none',
            applicationType: 'web',
          },
          NOW,
        ),
      oauthError('invalid_redirect_uri'),
    );
  });

  it('a confidential client may be native (RFC 8252 §8.5): it keeps its secret and requires PKCE by default', () => {
    const { client, secret } = buildClient(
      { ...base, redirectUris: ['http://localhost/cb'], applicationType: 'native' },
      NOW,
    );
    assert.ok(secret);
    assert.equal(client.applicationType, 'native');
    assert.equal(client.requirePkce, true);
  });

  it('a confidential client may opt out of PKCE; client ids and secrets differ between clients', () => {
    const one = buildClient({ ...base, requirePkce: false }, NOW);
    const two = buildClient(base, NOW);
    assert.equal(one.client.requirePkce, false);
    assert.notEqual(one.client.id, two.client.id);
    assert.notEqual(one.secret, two.secret);
  });

  it('duplicate redirect URIs and grant types are stored once', () => {
    const { client } = buildClient(
      {
        ...base,
        redirectUris: ['https://rp.example/cb', 'https://rp.example/cb'],
        grantTypes: ['authorization_code', 'authorization_code'],
      },
      NOW,
    );
    assert.deepEqual(client.redirectUris, ['https://rp.example/cb']);
    assert.deepEqual(client.grantTypes, ['authorization_code']);
  });

  it('checks every redirect URI against the application type', () => {
    assert.throws(
      () => buildClient({ ...base, redirectUris: ['https://rp.example/cb', 'http://127.0.0.1/cb'] }, NOW),
      oauthError('invalid_redirect_uri'),
    );
    assert.throws(
      () =>
        buildClient(
          {
            ...base,
            redirectUris: ['com.example.app:/cb'],
            tokenEndpointAuthMethod: 'none',
            applicationType: 'web',
          },
          NOW,
        ),
      oauthError('invalid_redirect_uri'),
    );
    const native = buildClient(
      { ...base, redirectUris: ['com.example.app:/cb'], tokenEndpointAuthMethod: 'none' },
      NOW,
    );
    assert.deepEqual(native.client.redirectUris, ['com.example.app:/cb']);
  });

  const refusals: [string, Partial<ClientInput>, string][] = [
    ['no redirect URI', { redirectUris: [] }, 'invalid_redirect_uri'],
    [
      '21 redirect URIs',
      { redirectUris: Array.from({ length: 21 }, (_, i) => `https://rp.example/${i}`) },
      'invalid_redirect_uri',
    ],
    ['an empty name', { name: '   ' }, 'invalid_client_metadata'],
    ['a 201-character name', { name: 'n'.repeat(201) }, 'invalid_client_metadata'],
    ['the password grant', { grantTypes: ['authorization_code', 'password'] }, 'invalid_client_metadata'],
    ['the implicit grant', { grantTypes: ['implicit'] }, 'invalid_client_metadata'],
    [
      'client_credentials for a public client',
      { grantTypes: ['client_credentials'], tokenEndpointAuthMethod: 'none' },
      'invalid_client_metadata',
    ],
    ['no grant type at all', { grantTypes: [] }, 'invalid_client_metadata'],
    [
      'a resource with a fragment',
      { allowedResources: ['https://api.example/#x'] },
      'invalid_client_metadata',
    ],
    ['a relative resource', { allowedResources: ['/api'] }, 'invalid_client_metadata'],
    [
      'an unknown auth method',
      { tokenEndpointAuthMethod: 'private_key_jwt' as never },
      'invalid_client_metadata',
    ],
    ['a malformed scope', { scope: 'openid "admin"' }, 'invalid_client_metadata'],
  ];
  for (const [label, change, code] of refusals) {
    it(`refuses ${label} → ${code}`, () => {
      assert.throws(() => buildClient({ ...base, ...change }, NOW), oauthError(code));
    });
  }

  it('a confidential machine client may use client_credentials without any redirect URI', () => {
    const built = buildClient({ ...base, redirectUris: [], grantTypes: ['client_credentials'] }, NOW);
    assert.deepEqual(built.client.grantTypes, ['client_credentials']);
    assert.deepEqual(built.client.redirectUris, []);
    assert.ok(built.secret);
  });

  it('accepts 20 redirect URIs', () => {
    const redirectUris = Array.from({ length: 20 }, (_, i) => `https://rp.example/${i}`);
    assert.equal(buildClient({ ...base, redirectUris }, NOW).client.redirectUris.length, 20);
  });
});
