// GATEHOUSE_TRUST_PROXY (issue 12 item 6): the client address is read from the right of X-Forwarded-For, past
// the configured proxies only, so a client that writes its own leftmost entry cannot pick its address and slip
// out of a per-IP limit. Checked on Fastify itself with the option Gatehouse gives it, and end to end through
// the sign-in throttle's per-IP limit.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.ts';
import { trustProxyOption } from '../../src/http/trust-proxy.ts';
import { Agent, csrfFrom } from '../helpers/agent.ts';
import { buildTestServer, type TestServer } from '../helpers/server.ts';

/** A bare Fastify with the trustProxy option Gatehouse derives from GATEHOUSE_TRUST_PROXY=value. */
async function echoServer(value: string): Promise<FastifyInstance> {
  const app = Fastify({
    trustProxy: trustProxyOption(loadConfig({ GATEHOUSE_TRUST_PROXY: value }).trustProxy),
  });
  app.get('/', async (request) => request.ip);
  await app.ready();
  return app;
}

async function clientAddress(app: FastifyInstance, remoteAddress: string, forwardedFor?: string) {
  const response = await app.inject({
    url: '/',
    remoteAddress,
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  });
  return response.body;
}

const randomAddress = () => [...randomBytes(4)].join('.');

describe('the client address Fastify resolves', () => {
  it('one proxy: the rightmost entry, whatever the client put to its left', async () => {
    const app = await echoServer('1');
    assert.equal(await clientAddress(app, '10.0.0.2', '203.0.113.7'), '203.0.113.7');
    assert.equal(await clientAddress(app, '10.0.0.2', '6.6.6.6, 203.0.113.7'), '203.0.113.7');
    assert.equal(await clientAddress(app, '10.0.0.2', '1.1.1.1,2.2.2.2, 203.0.113.7'), '203.0.113.7');
    assert.equal(await clientAddress(app, '10.0.0.2'), '10.0.0.2', 'no header: the peer');
    await app.close();
  });

  it('two proxies: the second entry from the right', async () => {
    const app = await echoServer('2');
    assert.equal(await clientAddress(app, '10.0.0.2', '6.6.6.6, 203.0.113.7, 10.0.0.9'), '203.0.113.7');
    await app.close();
  });

  it('proxy addresses: the rightmost entry not added by a listed proxy; an unlisted peer is the client', async () => {
    const app = await echoServer('10.0.0.0/8');
    assert.equal(await clientAddress(app, '10.0.0.2', '6.6.6.6, 203.0.113.7, 10.0.0.9'), '203.0.113.7');
    assert.equal(await clientAddress(app, '198.51.100.1', '6.6.6.6, 203.0.113.7'), '198.51.100.1');
    assert.equal(await clientAddress(app, '::ffff:10.0.0.2', '203.0.113.7'), '203.0.113.7');
    await app.close();
  });

  it('off: X-Forwarded-For is ignored', async () => {
    const app = await echoServer('false');
    assert.equal(await clientAddress(app, '198.51.100.1', '203.0.113.7'), '198.51.100.1');
    await app.close();
  });
});

describe('behind one trusted proxy, a client rotating the leftmost X-Forwarded-For keeps its own limit', () => {
  let server: TestServer;
  before(async () => {
    server = await buildTestServer({ GATEHOUSE_TRUST_PROXY: '1' });
  });
  after(() => server.close());

  async function failedSignIn(agent: Agent, client: string, attempt: number) {
    const page = await agent.get('/login');
    return agent.post(
      '/login',
      { _csrf: csrfFrom(page.body), email: `nobody-${attempt}@example.com`, password: 'wrong password' },
      // What the proxy forwards: the client's own header, with the address it saw appended.
      { 'x-forwarded-for': `${randomAddress()}, ${client}` },
    );
  }

  it('the sign-in throttle counts every attempt against 203.0.113.7', async () => {
    const agent = new Agent(server.app);
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 30 && !statuses.includes(429); attempt++) {
      statuses.push((await failedSignIn(agent, '203.0.113.7', attempt)).statusCode);
    }
    assert.ok(statuses.includes(429), `never throttled: ${statuses.join(' ')}`);
    assert.ok(
      statuses.every((status) => status === 401 || status === 429),
      statuses.join(' '),
    );

    // Another client behind the same proxy is not affected.
    const other = await failedSignIn(new Agent(server.app), '198.51.100.9', 1000);
    assert.equal(other.statusCode, 401);
  });
});
