// One autocannon run, in its own process so it can be pinned to its own core. Reads the options as JSON from
// argv[2] and prints autocannon's result as JSON.
import autocannon from 'autocannon';

const options = JSON.parse(process.argv[2] ?? '{}');
const result = await autocannon({ ...options, title: undefined });
// A benchmark that measured errors is no benchmark: say so loudly (the table also counts them).
if (result.non2xx > 0)
  process.stderr.write(`warning: ${result.non2xx} non-2xx answers from ${options.url}\n`);
process.stdout.write(
  JSON.stringify({
    requests: result.requests.total,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    duration: result.duration,
  }),
);
