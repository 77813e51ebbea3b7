import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../src/config.ts';
import { configFrom, environmentWithConfigFile } from '../src/config-file.ts';

describe('gatehouse.config.json', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gh-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, value: unknown) => {
    const file = path.join(dir, name);
    writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
    return file;
  };

  it('expresses a provider by configuration alone, and the environment overrides single values', () => {
    const file = write('readmill.json', {
      $schema: './gatehouse.config.schema.json',
      issuer: 'https://readmill.example',
      lifetimes: { accessToken: 3600, code: 600, refreshGrace: 0 },
      paths: { authorize: '/oauth/authorize', token: '/oauth/token', userEndpoint: '/api/v2/users/me' },
      legacy: { userDeniedError: true, tokenParamsInQuery: true, oauthAuthScheme: true },
      clientAuthMethods: ['client_secret_post'],
      pkce: 'optional-for-confidential',
      registration: { policy: 'approval', rateLimitPerHour: 5 },
      resources: [{ uri: 'https://api.readmill.example', format: 'opaque', scopes: ['read'] }],
      scopes: [{ name: 'non-expiring', description: 'Never expire', requires_approval: true }],
      realm: 'Readmill',
    });
    const config = configFrom({ GATEHOUSE_CONFIG: file, GATEHOUSE_CODE_TTL: '60' });
    assert.equal(config.issuer, 'https://readmill.example');
    assert.equal(config.accessTokenTtl, 3600);
    assert.equal(config.codeTtl, 60, 'the environment wins over the file');
    assert.equal(config.refreshGrace, 0);
    assert.equal(config.paths.authorize, '/oauth/authorize');
    assert.equal(config.paths.token, '/oauth/token');
    assert.equal(config.paths.userEndpoint, '/api/v2/users/me');
    assert.deepEqual(config.legacy, {
      userDeniedError: true,
      tokenParamsInQuery: true,
      queryAccessToken: false,
      oauthAuthScheme: true,
      anySecretMethod: false,
      impliedResponseType: false,
      impliedGrantType: false,
      echoAuthorizationParams: false,
    });
    assert.deepEqual(config.clientAuthMethods, ['client_secret_post']);
    assert.equal(config.pkcePolicy, 'optional-for-confidential');
    assert.equal(config.registrationPolicy, 'approval');
    assert.equal(config.registrationRateLimit, 5);
    assert.equal(config.realm, 'Readmill');
    assert.deepEqual(config.resources.at(-1), {
      uri: 'https://api.readmill.example',
      match: 'exact',
      format: 'opaque',
      scopes: ['read'],
    });
    assert.deepEqual(
      config.scopes.find((scope) => scope.name === 'non-expiring'),
      { name: 'non-expiring', description: 'Never expire', requiresApproval: true, isDefault: false },
    );
  });

  it('upstream identity providers: the README example validates, the secret comes from the environment', () => {
    const githubSecret = write('github-secret', 'gh-secret\n');
    const file = write('upstreams.json', {
      $schema: './gatehouse.config.schema.json',
      upstreams: [
        {
          id: 'google',
          name: 'Google',
          issuer: 'https://accounts.google.com',
          clientId: '1234.apps.googleusercontent.com',
          accounts: 'create',
        },
        {
          id: 'github',
          name: 'GitHub',
          kind: 'oauth2',
          authorizationEndpoint: 'https://github.com/login/oauth/authorize',
          tokenEndpoint: 'https://github.com/login/oauth/access_token',
          userinfoEndpoint: 'https://api.github.com/user',
          clientId: 'Iv1.0123',
          clientSecretFile: githubSecret,
          scopes: ['read:user', 'user:email'],
          claims: { subject: 'id', email: 'email', name: 'name' },
          trustEmails: true,
        },
      ],
    });
    const config = configFrom({ GATEHOUSE_CONFIG: file, GATEHOUSE_UPSTREAM_GOOGLE_SECRET: 'g-secret' });
    assert.deepEqual(
      config.upstreams.map((upstream) => [
        upstream.id,
        upstream.kind,
        upstream.accounts,
        upstream.clientSecret,
      ]),
      [
        ['google', 'oidc', 'create', 'g-secret'],
        ['github', 'oauth2', 'link-only', 'gh-secret'],
      ],
    );
    const bad = write('bad-upstream.json', {
      upstreams: [{ id: 'x', name: 'X', clientId: 'c', clientSecret: 'inline' }],
    });
    assert.throws(() => configFrom({ GATEHOUSE_CONFIG: bad }), /clientSecret/);
  });

  it('a file that breaks the schema stops start-up naming the bad key', () => {
    const file = write('bad.json', {
      issuer: 'https://as.example',
      lifetimes: { code: 601 },
      paths: { tokn: '/t' },
    });
    assert.throws(
      () => environmentWithConfigFile({ GATEHOUSE_CONFIG: file }),
      (error: unknown) =>
        error instanceof ConfigError && /lifetimes\/code/.test(error.message) && /tokn/.test(error.message),
    );
  });

  it('trustProxy takes a count or a list of addresses; true is not in the schema', () => {
    const count = configFrom({ GATEHOUSE_CONFIG: write('proxy-count.json', { trustProxy: 1 }) });
    assert.deepEqual(count.trustProxy, { hops: 1 });
    const list = configFrom({
      GATEHOUSE_CONFIG: write('proxy-list.json', { trustProxy: ['10.0.0.0/8', '::1'], passwordCost: 16 }),
    });
    assert.deepEqual(list.trustProxy, { addresses: ['10.0.0.0/8', '::1'] });
    assert.equal(list.passwordCost, 16);
    assert.throws(
      () => environmentWithConfigFile({ GATEHOUSE_CONFIG: write('proxy-true.json', { trustProxy: true }) }),
      (error: unknown) => error instanceof ConfigError && /trustProxy/.test(error.message),
    );
  });

  it('unreadable or malformed files are configuration errors, not crashes', () => {
    assert.throws(
      () => environmentWithConfigFile({ GATEHOUSE_CONFIG: path.join(dir, 'missing.json') }),
      ConfigError,
    );
    assert.throws(
      () => environmentWithConfigFile({ GATEHOUSE_CONFIG: write('broken.json', '{ nope') }),
      ConfigError,
    );
  });

  it('without GATEHOUSE_CONFIG, ./gatehouse.config.json is used only when it exists', () => {
    const env = { PORT: '4000' };
    assert.equal(environmentWithConfigFile(env, dir), env);
    write('gatehouse.config.json', { productName: 'Acme Login' });
    assert.equal(environmentWithConfigFile(env, dir).GATEHOUSE_PRODUCT_NAME, 'Acme Login');
  });

  it('the schema itself is what editors get: every top-level key of a full file is known to it', () => {
    const file = write('paths.json', { paths: { register: '/oauth/register', playground: '/oauth/ui' } });
    const config = configFrom({ GATEHOUSE_CONFIG: file });
    assert.equal(config.paths.playground, '/oauth/ui');
  });
});
