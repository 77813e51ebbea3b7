// The log an operator reads: a real `gatehouse start`'s stdout is JSON, one line per request with method, route
// pattern, status and duration and an ISO time; no query string ever, even when it carries a PKCE challenge, a
// code or a token; health probes only at debug; the start-up banner (with its one-time setup link) on stderr.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../e2e/loopback.ts';
import { existingSqliteUrl, runCliCaptured } from '../helpers/cli.ts';
import { startGatehouse } from '../helpers/process.ts';

interface LogLine {
  level: number;
  time: string;
  msg: string;
  pid: number;
  reqId?: string;
  method?: string;
  route?: string;
  status?: number;
  durationMs?: number;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
// Secrets a client can put in a query string: none may reach the log.
const CHALLENGE = 'CHALLENGEabcdefghijklmnopqrstuvwxyz0123456789';
const QUERY_TOKEN = 'gha_QUERYTOKENqueryTOKENqueryTOKENqueryTOKEN123';
const QUERY_CODE = 'ghc_QUERYCODEqueryCODEqueryCODEqueryCODE4567';
const SETUP_TOKEN = 'SETUPTOKENsetupTOKENsetup';

describe('request log lines of a real server', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-request-log-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('one JSON line per request with method, route, status and duration; no query string; no health probes at info', async () => {
    const port = await freePort();
    const env = {
      DATABASE_URL: existingSqliteUrl(path.join(dir, 'gatehouse.db')),
      GATEHOUSE_DATA_DIR: dir,
      GATEHOUSE_SECRET: 'request-log-secret-request-log-secret-0123',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: String(port),
    };
    const created = await runCliCaptured(
      ['clients', 'add', '--name', 'web', '--redirect-uri', 'https://rp.example/cb'],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    const { client_id: clientId } = JSON.parse(created.stdout);

    const server = startGatehouse({ env, port });
    const sent: { method: string; route: string; status: number }[] = [];
    const send = async (method: string, pathAndQuery: string, route: string, init: RequestInit = {}) => {
      const response = await fetch(`${server.base}${pathAndQuery}`, { method, redirect: 'manual', ...init });
      await response.arrayBuffer();
      sent.push({ method, route, status: response.status });
    };
    try {
      await server.waitUntilReady();
      await server.waitForOutput('Discovery:');
      const authorize = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: 'https://rp.example/cb',
        scope: 'openid',
        state: 'xyz',
        code_challenge: CHALLENGE,
        code_challenge_method: 'S256',
      });
      await send('GET', `/authorize?${authorize}`, '/authorize');
      await send('GET', `/userinfo?access_token=${QUERY_TOKEN}`, '/userinfo');
      await send('POST', `/token?code=${QUERY_CODE}`, '/token', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=authorization_code&code=${QUERY_CODE}`,
      });
      await send('GET', `/setup?token=${SETUP_TOKEN}`, '/setup');
      await send('GET', `/no/such/page?code=${QUERY_CODE}`, 'unmatched');
      await send('GET', `/oauth/register/${clientId}?token=${QUERY_TOKEN}`, '/oauth/register/:clientId');
      for (const probe of ['/health', '/health/live', '/health/ready']) {
        const response = await fetch(`${server.base}${probe}`);
        assert.equal(response.status, 200);
        await response.arrayBuffer();
      }
    } finally {
      await server.stop();
    }
    assert.equal(await server.exited, 0, server.output());
    await server.closed;

    const stdout = server.stdout();
    const lines = stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        try {
          return JSON.parse(line) as LogLine;
        } catch {
          return assert.fail(`stdout carries a line that is not JSON: ${line}`);
        }
      });
    for (const line of lines) assert.match(line.time, ISO_TIME, JSON.stringify(line));

    const requests = lines.filter((line) => line.msg === 'request');
    assert.deepEqual(
      requests.map(({ method, route, status }) => ({ method, route, status })),
      sent,
      'one line per request, in order, naming the route pattern',
    );
    for (const line of requests) {
      assert.equal(line.level, 30);
      assert.equal(typeof line.reqId, 'string');
      assert.ok(typeof line.durationMs === 'number' && line.durationMs >= 0, JSON.stringify(line));
    }
    assert.equal(lines.filter((line) => /^\/health/.test(String(line.route))).length, 0);
    for (const secret of [CHALLENGE, QUERY_TOKEN, QUERY_CODE, SETUP_TOKEN, '?']) {
      assert.ok(!stdout.includes(secret), `stdout must not carry ${secret}`);
    }
    // The banner is for people: on stderr, not in the JSON stream.
    assert.doesNotMatch(stdout, /Gatehouse is listening/);
    assert.match(server.output(), /Gatehouse is listening on http:\/\/127\.0\.0\.1/);
  });
});
