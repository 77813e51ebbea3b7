// Sign-in hashing throughput at each scrypt cost (GATEHOUSE_PASSWORD_COST): how many password checks per second
// one process can do, and how long one takes. A sign-in costs one verifyPassword (the unknown-email path hashes
// against a dummy of the same cost), so checks per second is the ceiling on sign-ins per second per process.
// scrypt runs on libuv's thread pool (UV_THREADPOOL_SIZE, default 4), so the throughput run keeps that many
// checks in flight. CPU time per check (process.cpuUsage, all threads) is also shown: on a shared machine the
// wall-clock figures follow the load, CPU per check much less, and 1000 / it is checks per second per core.
// Usage: node bench/password-cost.ts [--costs 15,16,17] [--seconds 10]
import os from 'node:os';
import { parseArgs } from 'node:util';
import { hashPassword, verifyPassword } from '../src/accounts/password.ts';

const { values } = parseArgs({
  options: {
    costs: { type: 'string', default: '15,16,17' },
    seconds: { type: 'string', default: '10' },
  },
});
const costs = values.costs.split(',').map(Number);
const seconds = Number(values.seconds);
const inFlight = Number(process.env.UV_THREADPOOL_SIZE) || 4;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

console.log(
  `node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, load ${os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(' ')}, ${inFlight} checks in flight`,
);
console.log(
  '| cost (log2 N) | memory per check | one check (median ms) | checks per second | CPU ms per check | checks per second per core |',
);
console.log('|---|---|---|---|---|---|');
for (const cost of costs) {
  const stored = await hashPassword('correct horse battery staple', cost);
  const single: number[] = [];
  for (let i = 0; i < 7; i++) {
    const started = performance.now();
    await verifyPassword('correct horse battery staple', stored);
    single.push(performance.now() - started);
  }
  let done = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < deadline) {
        await verifyPassword('wrong password', stored);
        done += 1;
      }
    }),
  );
  const rate = done / ((performance.now() - started) / 1000);
  const cpu = process.cpuUsage(cpuBefore);
  const cpuPerCheck = (cpu.user + cpu.system) / 1000 / done;
  const mib = (128 * 2 ** cost * 8) / 2 ** 20;
  console.log(
    `| ${cost} | ${mib} MiB | ${median(single).toFixed(0)} | ${rate.toFixed(1)} | ${cpuPerCheck.toFixed(0)} | ${(1000 / cpuPerCheck).toFixed(1)} |`,
  );
}
