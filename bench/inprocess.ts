// In-process workloads, no HTTP: signing a JWT access token; the resource-server library checking a Gatehouse JWT access token (the check
// an API runs on every request), next to jose's bare jwtVerify as its ceiling, and an opaque token through its
// introspection cache; and the password KDF that
// bounds sign-in by design (scrypt, N = 2^15, r = 8: about 32 MiB and tens of milliseconds per attempt).
// Usage: node bench/inprocess.ts [--seconds 3]   (run it pinned: taskset -c 0 node bench/inprocess.ts)

import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { createServer } from 'node:http';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { createVerifier } from '@gatehouse/resource';
import {
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  jwtVerify,
} from 'jose';
import { DEFAULT_PASSWORD_COST, hashPassword, verifyPassword } from '../src/accounts/password.ts';
import { signJwt } from '../src/oauth/jws.ts';
import { mintOpaqueAccessToken } from '../src/oauth/opaque-token.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' } } });
const SECONDS = Number(values.seconds);
const ISSUER = 'https://as.example';
const AUDIENCE = 'https://api.example';

/** Runs `operation` with `concurrency` in flight for SECONDS and returns operations per second (median of 3). */
async function rate(operation: () => Promise<unknown>, concurrency = 1, seconds = SECONDS): Promise<number> {
  const rates: number[] = [];
  for (let round = 0; round < 3; round++) {
    let done = 0;
    const deadline = performance.now() + (seconds * 1000) / 3;
    const began = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline) {
          await operation();
          done++;
        }
      }),
    );
    rates.push(done / ((performance.now() - began) / 1000));
  }
  return rates.sort((a, b) => a - b)[1]!;
}

const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
const privateJwk = await exportJWK(privateKey);
const publicJwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
const jwks = createLocalJWKSet({ keys: [publicJwk] } as JSONWebKeySet);
const now = Math.floor(Date.now() / 1000);
const signingKey = {
  kid: 'k1',
  alg: 'ES256' as const,
  privateKey: (await importJWK(privateJwk, 'ES256')) as CryptoKey,
  keyObject: createPrivateKey({ key: privateJwk as JsonWebKey, format: 'jwk' }),
};
const claims = {
  client_id: 'client-1',
  scope: 'openid api:read',
  iss: ISSUER,
  sub: 'user-1',
  aud: AUDIENCE,
  jti: 'j1',
  iat: now,
  exp: now + 3600,
};
const token = await signJwt(signingKey, 'at+jwt', claims);
// The default verifier remembers a verified JWT for 30 s (a client sends the same token request after
// request); the uncached one checks the signature every time, as for a token seen for the first time.
const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks });
const uncached = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks, jwtCacheSeconds: 0 });

const rows: string[] = [];
const checkWithLibrary = () => verifier.verifyToken(token);
const checkUncached = () => uncached.verifyToken(token);
const checkWithJose = () => jwtVerify(token, jwks, { issuer: ISSUER, audience: AUDIENCE, typ: 'at+jwt' });
// Warm all up (JIT, the key import jose caches) before measuring.
for (const check of [checkWithLibrary, checkUncached, checkWithJose]) await rate(check, 1, 1);
const bare = await rate(checkWithJose);
const first = await rate(checkUncached);
const repeated = await rate(checkWithLibrary);
// The signature term of the JWT access-token bound (opaque path + one signature).
const signOnce = () => signJwt(signingKey, 'at+jwt', claims);
await rate(signOnce, 1, 1);
const signed = await rate(signOnce);
rows.push(
  `| signJwt: an ES256 access token (header, claims, signature) | ${Math.round(signed)} | ${(1e6 / signed).toFixed(0)} | what a JWT costs over an opaque token |`,
);
rows.push(
  `| resource library: verifyToken, a JWT (ES256) seen before (cached) | ${Math.round(repeated)} | ${(1e6 / repeated).toFixed(1)} | a map lookup and a copy |`,
  `| resource library: verifyToken, a JWT seen for the first time | ${Math.round(first)} | ${(1e6 / first).toFixed(0)} | ${(first / bare).toFixed(2)}× of jose's bare jwtVerify (${Math.round(bare)}/s), the ceiling |`,
);

// Opaque tokens: the CRC32 tail, then RFC 7662 introspection. Cached: the answer for a token seen within
// cacheSeconds (a map lookup). Uncached: one POST to an introspection endpoint on loopback that answers a fixed
// JSON at once, so the row is the library's and fetch's cost, not Gatehouse's (npm run bench measures that).
const introspectionAnswer = JSON.stringify({
  active: true,
  sub: 'user-1',
  client_id: 'client-1',
  scope: 'api:read',
  aud: AUDIENCE,
  iss: ISSUER,
  exp: now + 3600,
  token_type: 'Bearer',
});
const endpoint = createServer((_request, response) => {
  _request.resume();
  _request.on('end', () =>
    response.writeHead(200, { 'content-type': 'application/json' }).end(introspectionAnswer),
  );
});
await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
const introspection = {
  endpoint: `http://127.0.0.1:${(endpoint.address() as { port: number }).port}/introspect`,
  clientId: 'rs',
  clientSecret: 'secret',
};
const opaque = mintOpaqueAccessToken(Date.now());
const introspectCached = createVerifier({ issuer: ISSUER, audience: AUDIENCE, introspection });
const introspectEachTime = createVerifier({
  issuer: ISSUER,
  audience: AUDIENCE,
  introspection: { ...introspection, cacheSeconds: 0 },
});
const cachedOpaque = () => introspectCached.verifyToken(opaque);
const uncachedOpaque = () => introspectEachTime.verifyToken(opaque);
for (const check of [cachedOpaque, uncachedOpaque]) await rate(check, 1, 1);
const opaqueCached = await rate(cachedOpaque);
const opaqueUncached = await rate(uncachedOpaque);
endpoint.close();
rows.push(
  `| resource library: verifyToken, an opaque token, introspection answer cached | ${Math.round(opaqueCached)} | ${(1e6 / opaqueCached).toFixed(1)} | the CRC32 tail and a map lookup |`,
  `| resource library: verifyToken, an opaque token, introspected (loopback endpoint, fixed answer) | ${Math.round(opaqueUncached)} | ${(1e6 / opaqueUncached).toFixed(0)} | fetch's round trip on loopback, one at a time |`,
);

const stored = await hashPassword('correct horse battery staple');
const oneAtATime = await rate(() => verifyPassword('correct horse battery staple', stored), 1, 6);
const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
const pooled = await rate(() => verifyPassword('correct horse battery staple', stored), threads, 6);
rows.push(
  `| password check (scrypt N=2^${DEFAULT_PASSWORD_COST}, r=8), one at a time | ${oneAtATime.toFixed(1)} | ${(1e6 / oneAtATime).toFixed(0)} | the KDF bounds sign-in by design |`,
  `| password check, ${threads} at once (libuv pool, ${os.cpus().length} cores) | ${pooled.toFixed(1)} | | the event loop keeps serving meanwhile |`,
);

process.stdout.write(
  [
    `In-process, Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}:`,
    '',
    '| operation | per second | µs per operation | note |',
    '|---|---:|---:|---|',
    ...rows,
    '',
  ].join('\n'),
);
