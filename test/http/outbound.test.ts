// http/outbound.ts, the SSRF guard every outbound request goes through (docs/security.md H-03, H-07): the
// address rules as pure functions, then real requests to canary listeners on 127.0.0.1 that count connections.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  addressRange,
  checkAddress,
  checkHostPolicy,
  checkOutboundUrl,
  HostRateLimiter,
  isHostPattern,
  OutboundRefusedError,
  outboundFetch,
} from '../../src/http/outbound.ts';

describe('checkAddress: which addresses may be reached (H-03)', () => {
  const refusedAlways = [
    ['169.254.169.254', 'cloud metadata (link-local)'],
    ['169.254.0.1', 'link-local'],
    ['fe80::1', 'IPv6 link-local'],
    ['fd00:ec2::254', 'AWS IPv6 metadata'],
    ['100.100.100.200', 'Alibaba metadata'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'IPv6 unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'IPv6 multicast'],
    ['192.0.2.1', 'documentation (reserved)'],
    ['240.0.0.1', 'reserved'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
    ['64:ff9b::7f00:1', 'NAT64 of 127.0.0.1'],
    ['2002:7f00:1::', '6to4 of 127.0.0.1'],
    ['2001::1', 'Teredo'],
  ] as const;
  const privateRanges = [
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback /8'],
    ['::1', 'IPv6 loopback'],
    ['[::1]', 'bracketed IPv6 loopback'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback, dotted'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback, hex'],
    ['10.0.0.1', 'RFC 1918 10/8'],
    ['172.16.0.1', 'RFC 1918 172.16/12'],
    ['192.168.1.1', 'RFC 1918 192.168/16'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['fd00::1', 'unique-local fd00::/8'],
    ['fc00::1', 'unique-local fc00::/7'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
  ] as const;
  const publicAddresses = ['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8'];

  for (const [address, what] of refusedAlways) {
    it(`refuses ${address} (${what}), with or without the operator allowance`, () => {
      assert.equal(checkAddress(address).allowed, false);
      assert.equal(checkAddress(address, true).allowed, false);
    });
  }
  for (const [address, what] of privateRanges) {
    it(`refuses ${address} (${what}) unless the operator allowed a private network`, () => {
      assert.equal(checkAddress(address).allowed, false);
      assert.equal(checkAddress(address, true).allowed, true);
    });
  }
  for (const address of publicAddresses) {
    it(`allows the public address ${address}`, () => {
      assert.deepEqual(checkAddress(address), { allowed: true });
    });
  }
  it('judges an IPv4-mapped IPv6 address as the IPv4 address it carries', () => {
    assert.equal(addressRange('::ffff:127.0.0.1'), 'loopback');
    assert.equal(addressRange('::ffff:a9fe:a9fe'), 'linkLocal');
    assert.equal(addressRange('::ffff:8.8.8.8'), 'unicast');
  });
  it('refuses what is not an IP address in textual form (legacy numeric forms included)', () => {
    for (const value of [
      'localhost',
      '2130706433',
      '0x7f000001',
      '0177.0.0.1',
      '127.1',
      '',
      'fe80::1%eth0',
    ]) {
      assert.equal(checkAddress(value, true).allowed, false, value);
    }
  });
});

describe('checkOutboundUrl: scheme and credentials', () => {
  it('allows https', () => {
    assert.equal(
      checkOutboundUrl('https://idp.example/.well-known/openid-configuration').hostname,
      'idp.example',
    );
  });
  it('refuses plain http unless the operator allowed a private network', () => {
    assert.throws(() => checkOutboundUrl('http://idp.example/'), OutboundRefusedError);
    assert.equal(checkOutboundUrl('http://127.0.0.1:4000/', true).port, '4000');
  });
  it('refuses other schemes, relative URLs and credentials in the URL', () => {
    for (const url of [
      'ftp://idp.example/',
      'file:///etc/passwd',
      '/relative',
      'https://user:pw@idp.example/',
    ]) {
      assert.throws(() => checkOutboundUrl(url, true), OutboundRefusedError, url);
    }
  });
  it('sees numeric host forms the way the URL parser normalises them (2130706433, 0x7f000001, 0177.0.0.1 → 127.0.0.1)', () => {
    for (const url of ['https://2130706433/', 'https://0x7f000001/', 'https://0177.0.0.1/']) {
      const { hostname } = checkOutboundUrl(url);
      assert.equal(hostname, '127.0.0.1', url);
      assert.equal(checkAddress(hostname).allowed, false, url);
    }
  });
});

describe('outboundFetch against canary listeners on 127.0.0.1 (H-03, H-07)', () => {
  let canary: Server;
  let port = 0;
  let connections = 0;

  before(async () => {
    canary = createServer((request, response) => {
      const path = request.url ?? '/';
      if (path === '/redirect') {
        response.writeHead(302, { location: 'http://127.0.0.1/elsewhere' });
        response.end();
      } else if (path === '/big') {
        response.writeHead(200, { 'content-type': 'application/json' });
        // 10 MB streamed without a Content-Length: the cap must cut it off while reading.
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let sent = 0;
        const pump = () => {
          while (sent < 160) {
            sent += 1;
            if (!response.write(chunk)) return response.once('drain', pump);
          }
          response.end();
        };
        pump();
      } else if (path === '/slow') {
        setTimeout(() => response.end('late'), 10_000).unref();
      } else {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ cookie: request.headers.cookie ?? null, method: request.method }));
      }
    });
    canary.on('connection', () => {
      connections += 1;
    });
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    const address = canary.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });

  after(async () => {
    canary.closeAllConnections();
    await new Promise((resolve) => canary.close(resolve));
  });

  it('refuses loopback targets without the allowance, by IP and by a name that resolves there: 0 connections', async () => {
    const guarded = outboundFetch();
    const before = connections;
    for (const url of [
      `https://127.0.0.1:${port}/`,
      `https://[::1]:${port}/`,
      `https://[::ffff:127.0.0.1]:${port}/`,
      `https://2130706433:${port}/`,
      `https://localhost:${port}/`,
      `http://127.0.0.1:${port}/`,
      `https://169.254.169.254/latest/meta-data/`,
    ]) {
      await assert.rejects(guarded(url), OutboundRefusedError, url);
    }
    assert.equal(connections, before);
  });

  it('with the operator allowance, reaches the loopback target over http and sends no cookie', async () => {
    const guarded = outboundFetch({ allowPrivateNetwork: true });
    const response = await guarded(`http://127.0.0.1:${port}/ok`, { method: 'POST', body: 'a=1' });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { cookie: null, method: 'POST' });
  });

  it('the allowance still never reaches the metadata address', async () => {
    await assert.rejects(
      outboundFetch({ allowPrivateNetwork: true })('http://169.254.169.254/latest/meta-data/'),
      /metadata|linkLocal/,
    );
  });

  it('plain http with the allowance goes to loopback only', async () => {
    await assert.rejects(
      outboundFetch({ allowPrivateNetwork: true })('http://10.0.0.1/'),
      /plain http only to loopback/,
    );
  });

  it('does not follow a redirect', async () => {
    await assert.rejects(
      outboundFetch({ allowPrivateNetwork: true })(`http://127.0.0.1:${port}/redirect`),
      /redirects are not followed/,
    );
  });

  it('aborts a body beyond the cap while it streams', async () => {
    const started = Date.now();
    await assert.rejects(
      outboundFetch({ allowPrivateNetwork: true, maxResponseBytes: 64 * 1024 })(
        `http://127.0.0.1:${port}/big`,
      ),
      /larger than 65536 bytes/,
    );
    assert.ok(Date.now() - started < 3000);
  });

  it('gives up on a server that does not answer in time', async () => {
    const started = Date.now();
    await assert.rejects(
      outboundFetch({ allowPrivateNetwork: true, timeoutMs: 300 })(`http://127.0.0.1:${port}/slow`),
      /within 300 ms/,
    );
    assert.ok(Date.now() - started < 3000);
  });
});

describe('the operator host lists (checkHostPolicy) and the per-host rate limit (HostRateLimiter)', () => {
  it('a pattern is a host name or *. and a domain, lower case, without port or scheme', () => {
    for (const good of [
      'app.example.com',
      '*.example.com',
      'localhost',
      '127.0.0.1',
      'xn--bcher-kva.example',
    ]) {
      assert.equal(isHostPattern(good), true, good);
    }
    for (const bad of [
      'https://a.example',
      'a.example:443',
      'a.*.example',
      '*',
      '*.',
      'A.example',
      'a..b',
      '-a.b',
    ]) {
      assert.equal(isHostPattern(bad), false, bad);
    }
  });

  it('exact names match exactly; *.domain matches names under it, not the domain itself', () => {
    const policy = { allow: ['app.example.com', '*.mcp.example'], deny: [] };
    assert.equal(checkHostPolicy('app.example.com', policy).allowed, true);
    assert.equal(checkHostPolicy('APP.example.com.', policy).allowed, true, 'case and a trailing dot');
    assert.equal(checkHostPolicy('a.b.mcp.example', policy).allowed, true);
    assert.equal(checkHostPolicy('mcp.example', policy).allowed, false);
    assert.equal(checkHostPolicy('evilmcp.example', policy).allowed, false);
    assert.equal(checkHostPolicy('app.example.com.evil.example', policy).allowed, false);
  });

  it('the deny-list wins over the allow-list; an empty allow-list admits any host', () => {
    assert.equal(checkHostPolicy('x.example', { allow: [], deny: [] }).allowed, true);
    const verdict = checkHostPolicy('bad.mcp.example', {
      allow: ['*.mcp.example'],
      deny: ['bad.mcp.example'],
    });
    assert.deepEqual(verdict, {
      allowed: false,
      reason: "bad.mcp.example is on the operator's deny-list (bad.mcp.example)",
    });
  });

  it('counts per host per minute, and the host table stays bounded', () => {
    const limiter = new HostRateLimiter(2, 3);
    const t = 1_000_000;
    assert.deepEqual(
      [limiter.take('a', t), limiter.take('A.', t), limiter.take('a', t)],
      [true, true, false],
    );
    assert.equal(limiter.take('b', t), true, 'another host has its own count');
    assert.equal(limiter.take('a', t + 60_000), true, 'a new minute');
    for (let i = 0; i < 100; i++) limiter.take(`host-${i}`, t + 60_000);
    // Only the newest 3 hosts are remembered: "a" starts afresh.
    assert.equal(limiter.take('a', t + 60_001), true);
  });
});

describe('outboundFetch with host lists and a rate limit (loopback)', () => {
  let server: Server;
  let port = 0;
  let hits = 0;
  before(async () => {
    server = createServer((_request, response) => {
      hits += 1;
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('a denied host is refused before any connection', async () => {
    const before = hits;
    const guarded = outboundFetch({
      allowPrivateNetwork: true,
      hostPolicy: { allow: [], deny: ['127.0.0.1'] },
    });
    await assert.rejects(guarded(`http://127.0.0.1:${port}/`), /deny-list/);
    const allowOnly = outboundFetch({
      allowPrivateNetwork: true,
      hostPolicy: { allow: ['*.example'], deny: [] },
    });
    await assert.rejects(allowOnly(`http://127.0.0.1:${port}/`), /not on the operator's allow-list/);
    assert.equal(hits, before);
  });

  it('past the per-host limit a request is refused before any connection; refused requests cost nothing', async () => {
    const limiter = new HostRateLimiter(3);
    const guarded = outboundFetch({ allowPrivateNetwork: true, rateLimiter: limiter });
    const denied = outboundFetch({
      allowPrivateNetwork: true,
      rateLimiter: limiter,
      hostPolicy: { allow: [], deny: ['127.0.0.1'] },
    });
    await assert.rejects(denied(`http://127.0.0.1:${port}/`), /deny-list/);
    const before = hits;
    for (let i = 0; i < 3; i++) assert.equal((await guarded(`http://127.0.0.1:${port}/`)).status, 200);
    await assert.rejects(guarded(`http://127.0.0.1:${port}/`), /too many requests to 127\.0\.0\.1/);
    assert.equal(hits, before + 3);
  });
});
