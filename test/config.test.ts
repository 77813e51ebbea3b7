// Configuration from the environment: defaults, one ConfigError per bad value naming its variable, the issuer
// rules (https unless loopback or explicitly allowed; no trailing slash drift, RFC 8414 §2).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { ConfigError, isLoopbackHost, loadConfig, RFC8176_AMR } from '../src/config.ts';

function refuses(env: Record<string, string>, variable: string) {
  assert.throws(
    () => loadConfig(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.ok(error.message.startsWith(`${variable}: `), error.message);
      return true;
    },
    `${JSON.stringify(env)} should be refused`,
  );
}

describe('loadConfig: defaults', () => {
  it('an empty environment gives the documented defaults', () => {
    const dataDir = path.resolve('data');
    assert.deepEqual(loadConfig({}), {
      issuer: 'http://localhost:3000',
      host: 'localhost',
      port: 3000,
      databaseUrl: `sqlite:${path.join(dataDir, 'gatehouse.db')}`,
      dataDir,
      secret: undefined,
      accessTokenTtl: 600,
      codeTtl: 60,
      idTokenTtl: 3600,
      refreshTokenTtl: 30 * 86_400,
      refreshTokenIdleTtl: 14 * 86_400,
      refreshGrace: 10,
      resources: [{ uri: 'http://localhost:3000', match: 'exact', format: 'jwt', scopes: [] }],
      registrationPolicy: 'open',
      registrationScopes: ['openid', 'profile', 'email', 'phone', 'address', 'offline_access'],
      registrationRateLimit: 30,
      eventRetentionDays: 365,
      scopes: [
        { name: 'openid', description: 'Confirm your identity', requiresApproval: false, isDefault: false },
        { name: 'profile', description: 'See your name', requiresApproval: false, isDefault: false },
        { name: 'email', description: 'See your email address', requiresApproval: false, isDefault: false },
        { name: 'phone', description: 'See your phone number', requiresApproval: false, isDefault: false },
        {
          name: 'address',
          description: 'See your postal address',
          requiresApproval: false,
          isDefault: false,
        },
        {
          name: 'offline_access',
          description: 'Keep access while you are away',
          requiresApproval: false,
          isDefault: false,
        },
      ],
      logoUrl: undefined,
      loginUrl: undefined,
      consentUrl: undefined,
      secretRotationOverlap: 86_400,
      paths: {
        authorize: '/authorize',
        token: '/token',
        userinfo: '/userinfo',
        jwks: '/jwks',
        revoke: '/revoke',
        introspect: '/introspect',
        register: '/oauth/register',
        deauthorize: '/oauth/deauthorize',
        testToken: '/oauth/test-token-with-scopes',
        endSession: '/oauth/logout',
        par: '/oauth/par',
        deviceAuthorization: '/oauth/device_authorization',
        device: '/device',
        playground: '/playground',
        userEndpoint: undefined,
      },
      legacy: {
        userDeniedError: false,
        tokenParamsInQuery: false,
        queryAccessToken: false,
        oauthAuthScheme: false,
        anySecretMethod: false,
        impliedResponseType: false,
        impliedGrantType: false,
        echoAuthorizationParams: false,
      },
      clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
      pkcePolicy: 'required',
      realm: 'Gatehouse',
      sessionTtl: 8 * 3600,
      interactionTtl: 1800,
      accessTokenAlg: 'ES256',
      idTokenAlg: 'RS256',
      requireOfflineAccess: false,
      requirePushedAuthorizationRequests: false,
      dpop: 'allowed',
      dpopNonce: true,
      allowInsecureIssuer: false,
      trustProxy: false,
      shutdownDrain: 5,
      shutdownTimeout: 15,
      productName: 'Gatehouse',
      logLevel: 'info',
      metricsAddress: undefined,
      passwordCost: 17,
      upstreams: [],
      clientDocuments: {
        metadataDocuments: true,
        allowHosts: [],
        denyHosts: [],
        cacheMinSeconds: 60,
        cacheMaxSeconds: 86_400,
        cacheEntries: 1000,
        maxBytes: 16_384,
        hostRateLimit: 30,
      },
    });
  });

  it('empty strings count as unset', () => {
    const config = loadConfig({
      PORT: '',
      GATEHOUSE_ISSUER: '',
      GATEHOUSE_CODE_TTL: '',
      GATEHOUSE_TRUST_PROXY: '',
    });
    assert.equal(config.port, 3000);
    assert.equal(config.issuer, 'http://localhost:3000');
    assert.equal(config.codeTtl, 60);
    assert.equal(config.trustProxy, false);
  });

  it('the default issuer follows PORT', () => {
    assert.equal(loadConfig({ PORT: '4000' }).issuer, 'http://localhost:4000');
  });

  it('the default database lives in GATEHOUSE_DATA_DIR', () => {
    const config = loadConfig({ GATEHOUSE_DATA_DIR: '/var/lib/gatehouse' });
    assert.equal(config.dataDir, '/var/lib/gatehouse');
    assert.equal(config.databaseUrl, 'sqlite:/var/lib/gatehouse/gatehouse.db');
  });

  it('reads every variable', () => {
    const config = loadConfig({
      GATEHOUSE_ISSUER: 'https://as.example',
      HOST: '0.0.0.0',
      PORT: '8080',
      DATABASE_URL: 'postgres://gatehouse@db/gatehouse',
      GATEHOUSE_DATA_DIR: '/srv/gh',
      GATEHOUSE_SECRET: 's'.repeat(32),
      GATEHOUSE_ACCESS_TOKEN_TTL: '300',
      GATEHOUSE_CODE_TTL: '600',
      GATEHOUSE_ID_TOKEN_TTL: '86400',
      GATEHOUSE_REFRESH_TOKEN_TTL: '60',
      GATEHOUSE_REFRESH_TOKEN_IDLE_TTL: '0',
      GATEHOUSE_REFRESH_GRACE: '0',
      GATEHOUSE_RESOURCES: '[{"uri":"https://api.example/v1","format":"opaque","scopes":["meeting:read"]}]',
      GATEHOUSE_ACCESS_TOKEN_FORMAT: 'opaque',
      GATEHOUSE_REALM: 'acme',
      GATEHOUSE_REGISTRATION: 'approval',
      GATEHOUSE_REGISTRATION_SCOPES: 'openid meeting:read',
      GATEHOUSE_REGISTRATION_RATE_LIMIT: '5',
      GATEHOUSE_SCOPES:
        '[{"name":"meeting:read","description":"Read your meetings","default":true},{"name":"screen_pop","description":"Use the screen pop API","requires_approval":true}]',
      GATEHOUSE_LOGO_URL: 'https://cdn.acme.example/logo.svg',
      GATEHOUSE_LOGIN_URL: 'https://www.acme.example/oauth/login',
      GATEHOUSE_CONSENT_URL: 'https://www.acme.example/oauth/consent?step=1',
      GATEHOUSE_SECRET_ROTATION_OVERLAP: '3600',
      GATEHOUSE_PATH_TOKEN: '/oauth2/token',
      GATEHOUSE_PATH_AUTHORIZE: '/oauth/authorize',
      GATEHOUSE_PATH_USER_ENDPOINT: '/api/v2/users/me',
      GATEHOUSE_LEGACY_USER_DENIED: 'true',
      GATEHOUSE_LEGACY_TOKEN_PARAMS_IN_QUERY: 'true',
      GATEHOUSE_LEGACY_QUERY_ACCESS_TOKEN: 'true',
      GATEHOUSE_LEGACY_OAUTH_SCHEME: 'true',
      GATEHOUSE_LEGACY_ANY_SECRET_METHOD: 'true',
      GATEHOUSE_CLIENT_AUTH_METHODS: 'client_secret_post',
      GATEHOUSE_PKCE: 'optional-for-confidential',
      GATEHOUSE_SESSION_TTL: '3600',
      GATEHOUSE_INTERACTION_TTL: '60',
      GATEHOUSE_ACCESS_TOKEN_ALG: 'EdDSA',
      GATEHOUSE_ID_TOKEN_ALG: 'ES256',
      GATEHOUSE_REQUIRE_OFFLINE_ACCESS: 'yes',
      GATEHOUSE_REQUIRE_PAR: 'true',
      GATEHOUSE_DPOP: 'required',
      GATEHOUSE_DPOP_NONCE: 'false',
      GATEHOUSE_EVENT_RETENTION_DAYS: '0',
      GATEHOUSE_ALLOW_INSECURE_ISSUER: 'off',
      GATEHOUSE_TRUST_PROXY: '10.0.0.0/8, loopback',
      GATEHOUSE_PRODUCT_NAME: 'Acme Login',
      LOG_LEVEL: 'warn',
      GATEHOUSE_METRICS_ADDRESS: '0.0.0.0:9464',
      GATEHOUSE_PASSWORD_COST: '20',
      GATEHOUSE_SHUTDOWN_DRAIN: '2',
      GATEHOUSE_SHUTDOWN_TIMEOUT: '30',
      GATEHOUSE_CLIENT_ID_METADATA_DOCUMENTS: 'off',
      GATEHOUSE_CLIENT_DOCUMENT_ALLOW_HOSTS: 'app.example.com, *.mcp.example',
      GATEHOUSE_CLIENT_DOCUMENT_DENY_HOSTS: 'evil.example',
      GATEHOUSE_CLIENT_DOCUMENT_CACHE_MIN: '0',
      GATEHOUSE_CLIENT_DOCUMENT_CACHE_MAX: '600',
      GATEHOUSE_CLIENT_DOCUMENT_CACHE_ENTRIES: '50',
      GATEHOUSE_CLIENT_DOCUMENT_MAX_BYTES: '4096',
      GATEHOUSE_OUTBOUND_HOST_RATE_LIMIT: '5',
    });
    assert.deepEqual(config, {
      issuer: 'https://as.example',
      host: '0.0.0.0',
      port: 8080,
      databaseUrl: 'postgres://gatehouse@db/gatehouse',
      dataDir: '/srv/gh',
      secret: 's'.repeat(32),
      accessTokenTtl: 300,
      codeTtl: 600,
      idTokenTtl: 86_400,
      refreshTokenTtl: 60,
      refreshTokenIdleTtl: 0,
      refreshGrace: 0,
      resources: [
        { uri: 'https://as.example', match: 'exact', format: 'opaque', scopes: [] },
        { uri: 'https://api.example/v1', match: 'exact', format: 'opaque', scopes: ['meeting:read'] },
      ],
      registrationPolicy: 'approval',
      registrationScopes: ['openid', 'meeting:read'],
      registrationRateLimit: 5,
      eventRetentionDays: 0,
      scopes: [
        { name: 'openid', description: 'Confirm your identity', requiresApproval: false, isDefault: false },
        { name: 'profile', description: 'See your name', requiresApproval: false, isDefault: false },
        { name: 'email', description: 'See your email address', requiresApproval: false, isDefault: false },
        { name: 'phone', description: 'See your phone number', requiresApproval: false, isDefault: false },
        {
          name: 'address',
          description: 'See your postal address',
          requiresApproval: false,
          isDefault: false,
        },
        {
          name: 'offline_access',
          description: 'Keep access while you are away',
          requiresApproval: false,
          isDefault: false,
        },
        { name: 'meeting:read', description: 'Read your meetings', requiresApproval: false, isDefault: true },
        {
          name: 'screen_pop',
          description: 'Use the screen pop API',
          requiresApproval: true,
          isDefault: false,
        },
      ],
      logoUrl: 'https://cdn.acme.example/logo.svg',
      loginUrl: 'https://www.acme.example/oauth/login',
      consentUrl: 'https://www.acme.example/oauth/consent?step=1',
      secretRotationOverlap: 3600,
      paths: {
        authorize: '/oauth/authorize',
        token: '/oauth2/token',
        userinfo: '/userinfo',
        jwks: '/jwks',
        revoke: '/revoke',
        introspect: '/introspect',
        register: '/oauth/register',
        deauthorize: '/oauth/deauthorize',
        testToken: '/oauth/test-token-with-scopes',
        endSession: '/oauth/logout',
        par: '/oauth/par',
        deviceAuthorization: '/oauth/device_authorization',
        device: '/device',
        playground: '/playground',
        userEndpoint: '/api/v2/users/me',
      },
      legacy: {
        userDeniedError: true,
        tokenParamsInQuery: true,
        queryAccessToken: true,
        oauthAuthScheme: true,
        anySecretMethod: true,
        impliedResponseType: false,
        impliedGrantType: false,
        echoAuthorizationParams: false,
      },
      clientAuthMethods: ['client_secret_post'],
      pkcePolicy: 'optional-for-confidential',
      realm: 'acme',
      sessionTtl: 3600,
      interactionTtl: 60,
      accessTokenAlg: 'EdDSA',
      idTokenAlg: 'ES256',
      requireOfflineAccess: true,
      requirePushedAuthorizationRequests: true,
      dpop: 'required',
      dpopNonce: false,
      allowInsecureIssuer: false,
      trustProxy: { addresses: ['10.0.0.0/8', 'loopback'] },
      shutdownDrain: 2,
      shutdownTimeout: 30,
      productName: 'Acme Login',
      logLevel: 'warn',
      metricsAddress: { host: '0.0.0.0', port: 9464 },
      passwordCost: 20,
      upstreams: [],
      clientDocuments: {
        metadataDocuments: false,
        allowHosts: ['app.example.com', '*.mcp.example'],
        denyHosts: ['evil.example'],
        cacheMinSeconds: 0,
        cacheMaxSeconds: 600,
        cacheEntries: 50,
        maxBytes: 4096,
        hostRateLimit: 5,
      },
    });
  });

  for (const url of [
    'sqlite:/tmp/g.db',
    'sqlite::memory:',
    './data/g.db',
    '/var/lib/g.db',
    'postgresql://u@h/db',
  ]) {
    it(`DATABASE_URL=${url} is accepted as given`, () => {
      assert.equal(loadConfig({ DATABASE_URL: url }).databaseUrl, url);
    });
  }
});

describe('loadConfig: each bad value names its variable', () => {
  const bad: [string, string][] = [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['PORT', ' 80'],
    ['GATEHOUSE_ACCESS_TOKEN_TTL', '0'],
    ['GATEHOUSE_ACCESS_TOKEN_TTL', '1e3'],
    ['GATEHOUSE_CODE_TTL', '0'],
    ['GATEHOUSE_CODE_TTL', '601'],
    ['GATEHOUSE_CODE_TTL', '60s'],
    ['GATEHOUSE_ID_TOKEN_TTL', '86401'],
    ['GATEHOUSE_REFRESH_TOKEN_TTL', '59'],
    ['GATEHOUSE_SESSION_TTL', 'forever'],
    ['GATEHOUSE_INTERACTION_TTL', '59'],
    ['GATEHOUSE_PASSWORD_COST', '9'],
    ['GATEHOUSE_PASSWORD_COST', '21'],
    ['GATEHOUSE_ACCESS_TOKEN_ALG', 'none'],
    ['GATEHOUSE_ACCESS_TOKEN_ALG', 'HS256'],
    ['GATEHOUSE_ID_TOKEN_ALG', 'rs256'],
    ['GATEHOUSE_REQUIRE_OFFLINE_ACCESS', 'maybe'],
    ['GATEHOUSE_EVENT_RETENTION_DAYS', 'forever'],
    ['GATEHOUSE_EVENT_RETENTION_DAYS', '-1'],
    ['GATEHOUSE_ALLOW_INSECURE_ISSUER', '2'],
    ['GATEHOUSE_TRUST_PROXY', 'yesplease'],
    ['GATEHOUSE_TRUST_PROXY', 'true'],
    ['GATEHOUSE_TRUST_PROXY', 'TRUE'],
    ['GATEHOUSE_TRUST_PROXY', 'on'],
    ['GATEHOUSE_TRUST_PROXY', '11'],
    ['GATEHOUSE_TRUST_PROXY', '-1'],
    ['GATEHOUSE_TRUST_PROXY', '10.0.0.0/33'],
    ['GATEHOUSE_TRUST_PROXY', '10.0.0.0/0'],
    ['GATEHOUSE_TRUST_PROXY', '10.0.0.0/8/8'],
    ['GATEHOUSE_TRUST_PROXY', '10.0.0.0/255.0.0.0'],
    ['GATEHOUSE_TRUST_PROXY', '10.0.0.1, proxy.internal'],
    ['GATEHOUSE_TRUST_PROXY', '::1/129'],
    ['GATEHOUSE_SHUTDOWN_DRAIN', '1.5'],
    ['GATEHOUSE_SHUTDOWN_TIMEOUT', '0'],
    // The timeout counts from the signal and includes the drain window.
    ['GATEHOUSE_SHUTDOWN_TIMEOUT', '5'],
    ['GATEHOUSE_SECRET', 'too-short'],
    ['GATEHOUSE_SECRET', 'x'.repeat(31)],
    ['GATEHOUSE_ISSUER', 'not a url'],
    ['GATEHOUSE_ISSUER', 'https://as.example/?tenant=a'],
    ['GATEHOUSE_ISSUER', 'https://as.example/#x'],
    ['GATEHOUSE_ISSUER', 'ftp://as.example'],
    ['GATEHOUSE_ISSUER', 'http://as.example'],
    ['DATABASE_URL', '::not-a-path'],
    ['GATEHOUSE_CLIENT_ID_METADATA_DOCUMENTS', 'auto'],
    ['GATEHOUSE_CLIENT_DOCUMENT_ALLOW_HOSTS', 'https://app.example.com'],
    ['GATEHOUSE_CLIENT_DOCUMENT_ALLOW_HOSTS', 'app.example.com:443'],
    ['GATEHOUSE_CLIENT_DOCUMENT_DENY_HOSTS', 'evil.*.example'],
    ['GATEHOUSE_CLIENT_DOCUMENT_DENY_HOSTS', 'Evil.Example'],
    ['GATEHOUSE_CLIENT_DOCUMENT_CACHE_MAX', '0'],
    // The ceiling is below the default floor (60 s).
    ['GATEHOUSE_CLIENT_DOCUMENT_CACHE_MAX', '30'],
    ['GATEHOUSE_CLIENT_DOCUMENT_CACHE_ENTRIES', '0'],
    ['GATEHOUSE_CLIENT_DOCUMENT_MAX_BYTES', '100'],
    ['GATEHOUSE_OUTBOUND_HOST_RATE_LIMIT', '0'],
  ];
  for (const [variable, value] of bad) {
    it(`${variable}=${JSON.stringify(value)}`, () => refuses({ [variable]: value }, variable));
  }

  it('the message quotes the bad value', () => {
    assert.throws(() => loadConfig({ GATEHOUSE_CODE_TTL: 'soon' }), /GATEHOUSE_CODE_TTL: .*"soon"/);
    assert.throws(() => loadConfig({ GATEHOUSE_ID_TOKEN_ALG: 'none' }), /GATEHOUSE_ID_TOKEN_ALG: .*"none"/);
  });

  it('DATABASE_URL with an unsupported URL scheme is refused, not taken for a SQLite file name', () => {
    for (const url of [
      'mysql://user@db/gatehouse',
      'https://db.example/gatehouse',
      'mongodb://db/gatehouse',
    ]) {
      refuses({ DATABASE_URL: url }, 'DATABASE_URL');
    }
  });
});

describe('loadConfig: GATEHOUSE_TRUST_PROXY', () => {
  it('a number is how many proxies are in front; 0 and false are off', () => {
    assert.deepEqual(loadConfig({ GATEHOUSE_TRUST_PROXY: '1' }).trustProxy, { hops: 1 });
    assert.deepEqual(loadConfig({ GATEHOUSE_TRUST_PROXY: '2' }).trustProxy, { hops: 2 });
    for (const off of ['0', 'false', 'off', ' ']) {
      assert.equal(loadConfig({ GATEHOUSE_TRUST_PROXY: off }).trustProxy, false, off);
    }
  });

  it('addresses and CIDR ranges of either family, separated by commas or spaces', () => {
    assert.deepEqual(
      loadConfig({ GATEHOUSE_TRUST_PROXY: '203.0.113.5,10.0.0.0/8 fd00::/8  ::1 uniquelocal' }).trustProxy,
      { addresses: ['203.0.113.5', '10.0.0.0/8', 'fd00::/8', '::1', 'uniquelocal'] },
    );
  });

  it('true is refused with what to write instead (it used to believe the leftmost X-Forwarded-For)', () => {
    assert.throws(
      () => loadConfig({ GATEHOUSE_TRUST_PROXY: 'true' }),
      /GATEHOUSE_TRUST_PROXY: .*number of proxies in front of Gatehouse \(e\.g\. 1\).*addresses/,
    );
  });
});

describe('loadConfig: the issuer', () => {
  for (const issuer of [
    'http://localhost:3000',
    'http://127.0.0.1:3000',
    'http://127.1.2.3',
    'http://[::1]:3000',
    'https://as.example',
    'https://as.example/tenant',
  ]) {
    it(`${issuer} is accepted unchanged`, () => {
      assert.equal(loadConfig({ GATEHOUSE_ISSUER: issuer }).issuer, issuer);
    });
  }

  for (const issuer of [
    'http://as.example',
    'http://localhost.evil.example',
    'http://127.0.0.1.nip.io',
    'http://10.0.0.1',
  ]) {
    it(`${issuer} (plain http, not loopback) is refused unless allowed`, () => {
      refuses({ GATEHOUSE_ISSUER: issuer }, 'GATEHOUSE_ISSUER');
      assert.throws(() => loadConfig({ GATEHOUSE_ISSUER: issuer }), /GATEHOUSE_ALLOW_INSECURE_ISSUER/);
      assert.equal(
        loadConfig({ GATEHOUSE_ISSUER: issuer, GATEHOUSE_ALLOW_INSECURE_ISSUER: 'true' }).issuer,
        issuer,
      );
    });
  }

  it('a trailing slash is dropped, the path kept', () => {
    assert.equal(loadConfig({ GATEHOUSE_ISSUER: 'https://as.example/' }).issuer, 'https://as.example');
    assert.equal(
      loadConfig({ GATEHOUSE_ISSUER: 'https://as.example/tenant/' }).issuer,
      'https://as.example/tenant',
    );
    assert.equal(loadConfig({ GATEHOUSE_ISSUER: 'http://localhost:3000/' }).issuer, 'http://localhost:3000');
  });

  it('an empty query or fragment marker, surrounding whitespace or a double slash never reach the issuer', () => {
    // Each value is either refused (naming GATEHOUSE_ISSUER) or normalised to a clean issuer: WHATWG URL parsing
    // hides these (search and hash are '' for a lone ? or #, whitespace is stripped), the raw string does not.
    for (const value of [
      'https://as.example/?',
      'https://as.example#',
      'https://as.example\n',
      ' https://as.example',
      'https://as.example//',
    ]) {
      let issuer: string | undefined;
      try {
        issuer = loadConfig({ GATEHOUSE_ISSUER: value }).issuer;
      } catch (error) {
        assert.ok(error instanceof ConfigError, String(error));
        assert.ok(error.message.startsWith('GATEHOUSE_ISSUER: '), error.message);
        continue;
      }
      assert.equal(
        issuer,
        'https://as.example',
        `GATEHOUSE_ISSUER=${JSON.stringify(value)} gave ${JSON.stringify(issuer)}`,
      );
    }
  });

  it('allowing an insecure issuer does not allow a query, fragment or other scheme', () => {
    const allow = { GATEHOUSE_ALLOW_INSECURE_ISSUER: 'true' };
    refuses({ ...allow, GATEHOUSE_ISSUER: 'http://as.example/?x=1' }, 'GATEHOUSE_ISSUER');
    refuses({ ...allow, GATEHOUSE_ISSUER: 'ws://as.example' }, 'GATEHOUSE_ISSUER');
  });
});

describe('loadConfig: Client ID Metadata Documents follow the registration policy by default', () => {
  for (const [policy, on] of [
    ['open', true],
    ['approval', true],
    ['token', false],
    ['closed', false],
  ] as const) {
    it(`GATEHOUSE_REGISTRATION=${policy}: ${on ? 'on' : 'off'} unless set`, () => {
      const config = loadConfig({ GATEHOUSE_REGISTRATION: policy });
      assert.equal(config.clientDocuments.metadataDocuments, on);
      const flipped = loadConfig({
        GATEHOUSE_REGISTRATION: policy,
        GATEHOUSE_CLIENT_ID_METADATA_DOCUMENTS: on ? 'off' : 'on',
      });
      assert.equal(flipped.clientDocuments.metadataDocuments, !on);
    });
  }
});

describe('isLoopbackHost', () => {
  const cases: [string, boolean][] = [
    ['localhost', true],
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['[::1]', true],
    ['::1', false],
    ['localhost.example', false],
    ['127.0.0.1.example', false],
    ['128.0.0.1', false],
    ['10.0.0.1', false],
  ];
  for (const [host, expected] of cases) {
    it(`${host} → ${expected}`, () => assert.equal(isLoopbackHost(host), expected));
  }
});

describe('loadConfig: GATEHOUSE_UPSTREAMS', () => {
  const okta = {
    id: 'okta',
    name: 'Okta',
    issuer: 'https://example.okta.com',
    clientId: '0oa1',
  };
  const load = (list: unknown[], extra: Record<string, string> = {}) =>
    loadConfig({ GATEHOUSE_UPSTREAMS: JSON.stringify(list), ...extra });

  it('an oidc upstream gets the documented defaults; its secret comes from GATEHOUSE_UPSTREAM_<ID>_SECRET and is never serialised', () => {
    const [upstream] = load([okta], { GATEHOUSE_UPSTREAM_OKTA_SECRET: 's3cret-value' }).upstreams;
    assert.ok(upstream);
    assert.equal(upstream.clientSecret, 's3cret-value');
    assert.deepEqual(JSON.parse(JSON.stringify(upstream)), {
      id: 'okta',
      name: 'Okta',
      kind: 'oidc',
      issuer: 'https://example.okta.com',
      clientId: '0oa1',
      tokenEndpointAuthMethod: 'client_secret_basic',
      scopes: ['openid', 'email', 'profile'],
      claims: { subject: 'sub', email: 'email', emailVerified: 'email_verified', name: 'name' },
      accounts: 'link-only',
      trustEmails: false,
      passAmr: RFC8176_AMR,
      passAcr: [],
      allowPrivateNetwork: false,
    });
    assert.ok(!inspect(upstream).includes('s3cret-value'));
    assert.ok(!JSON.stringify(upstream).includes('s3cret-value'));
  });

  it('the secret may come from a named variable or a file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-secret-'));
    try {
      const file = path.join(dir, 'okta-secret');
      writeFileSync(file, 'from-a-file\n');
      assert.equal(load([{ ...okta, clientSecretFile: file }]).upstreams[0]?.clientSecret, 'from-a-file');
      assert.equal(
        load([{ ...okta, clientSecretEnv: 'MY_SECRET' }], { MY_SECRET: 'named' }).upstreams[0]?.clientSecret,
        'named',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a GitHub-style oauth2 upstream takes endpoints and a claim mapping', () => {
    const [github] = load(
      [
        {
          id: 'github',
          name: 'GitHub',
          kind: 'oauth2',
          authorizationEndpoint: 'https://github.com/login/oauth/authorize',
          tokenEndpoint: 'https://github.com/login/oauth/access_token',
          userinfoEndpoint: 'https://api.github.com/user',
          clientId: 'Iv1.abc',
          claims: { subject: 'id' },
          accounts: 'create',
        },
      ],
      { GATEHOUSE_UPSTREAM_GITHUB_SECRET: 'x' },
    ).upstreams;
    assert.equal(github?.issuer, 'https://github.com');
    assert.equal(github?.claims.subject, 'id');
    assert.deepEqual(github?.scopes, []);
  });

  const refusals: [string, unknown[], Record<string, string>, RegExp][] = [
    ['a secret written into the configuration', [{ ...okta, clientSecret: 'x' }], {}, /clientSecretEnv/],
    ['no secret anywhere', [okta], {}, /set GATEHOUSE_UPSTREAM_OKTA_SECRET/],
    ['plain http without allowPrivateNetwork', [{ ...okta, issuer: 'http://idp.example' }], {}, /https URL/],
    ['an id with capitals', [{ ...okta, id: 'Okta' }], {}, /"id"/],
    ['the same id twice', [okta, okta], { GATEHOUSE_UPSTREAM_OKTA_SECRET: 'x' }, /used twice/],
    ['an unknown key', [{ ...okta, clientSecrett: 'x' }], {}, /unknown key "clientSecrett"/],
    ['endpoints on an oidc upstream', [{ ...okta, tokenEndpoint: 'https://x.example/t' }], {}, /discovery/],
    ['an oauth2 upstream without endpoints', [{ ...okta, kind: 'oauth2' }], {}, /authorizationEndpoint/],
    [
      'an unknown account policy',
      [{ ...okta, accounts: 'always' }],
      { GATEHOUSE_UPSTREAM_OKTA_SECRET: 'x' },
      /accounts/,
    ],
    [
      'scopes without openid',
      [{ ...okta, scopes: ['email'] }],
      { GATEHOUSE_UPSTREAM_OKTA_SECRET: 'x' },
      /openid/,
    ],
    [
      'this Gatehouse as its own upstream',
      [{ ...okta, issuer: 'http://localhost:3000', allowPrivateNetwork: true }],
      { GATEHOUSE_UPSTREAM_OKTA_SECRET: 'x' },
      /itself/,
    ],
  ];
  for (const [what, list, extra, message] of refusals) {
    it(`refuses ${what}, naming GATEHOUSE_UPSTREAMS`, () => {
      assert.throws(
        () => load(list, extra),
        (error: unknown) =>
          error instanceof ConfigError &&
          /^GATEHOUSE_UPSTREAMS: /.test(error.message) &&
          message.test(error.message),
      );
    });
  }
});

describe('loadConfig: GATEHOUSE_LOGIN_URL and GATEHOUSE_CONSENT_URL (the company’s own pages)', () => {
  const https = { GATEHOUSE_ISSUER: 'https://login.acme.example' };
  it('unset by default: Gatehouse’s own pages', () => {
    const config = loadConfig(https);
    assert.equal(config.loginUrl, undefined);
    assert.equal(config.consentUrl, undefined);
  });
  it('https URLs are taken as they are, a query included', () => {
    const config = loadConfig({
      ...https,
      GATEHOUSE_LOGIN_URL: 'https://www.acme.example/signin?brand=1',
      GATEHOUSE_CONSENT_URL: 'https://www.acme.example/consent',
    });
    assert.equal(config.loginUrl, 'https://www.acme.example/signin?brand=1');
    assert.equal(config.consentUrl, 'https://www.acme.example/consent');
  });
  it('plain http is refused unless the issuer itself is a loopback http address (development)', () => {
    for (const name of ['GATEHOUSE_LOGIN_URL', 'GATEHOUSE_CONSENT_URL']) {
      assert.throws(
        () => loadConfig({ ...https, [name]: 'http://www.acme.example/signin' }),
        (error: Error) => error instanceof ConfigError && error.message.startsWith(`${name}:`),
      );
      assert.throws(
        () =>
          loadConfig({
            GATEHOUSE_ISSUER: 'http://gatehouse.internal',
            GATEHOUSE_ALLOW_INSECURE_ISSUER: 'true',
            [name]: 'http://www.acme.example/signin',
          }),
        ConfigError,
      );
    }
    const dev = loadConfig({
      GATEHOUSE_ISSUER: 'http://localhost:3000',
      GATEHOUSE_LOGIN_URL: 'http://localhost:4000/login',
    });
    assert.equal(dev.loginUrl, 'http://localhost:4000/login');
  });
  it('a fragment, credentials, another scheme or a relative URL are refused', () => {
    for (const bad of [
      'https://www.acme.example/signin#x',
      'https://user:pw@www.acme.example/signin',
      'javascript:alert(1)',
      '/signin',
    ]) {
      assert.throws(() => loadConfig({ ...https, GATEHOUSE_LOGIN_URL: bad }), ConfigError, bad);
    }
  });
});
