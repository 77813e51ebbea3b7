// The benchmark's regression guard (bench/drift.ts): it reads the committed table, compares CPU per operation and
// flags moves beyond 20 %, and says when the Node version changed. Plain functions on made-up tables, and the real
// committed table, so that a format change that makes the guard read nothing fails here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compareWithBaseline, driftSection, parseBaseline } from '../../bench/drift.ts';

const TABLE = `Measured 2026-11-22 on 2 × AMD EPYC, 24 GiB, Node v24.21.0; server pinned to core 0.

| workload | server | ops/s | p50 ms | p99 ms | server CPU µs/op | peak RSS MB | vs node-oidc-provider |
|---|---|---:|---:|---:|---:|---:|---:|
| cc-opaque | gatehouse | 8639 | 5.0 | 12.0 | 104 | 214 | 2.11× |
| introspection | gatehouse | 7000 | 5.0 | 12.0 | 82 | 214 | 2.32× |
| introspection | node-oidc-provider | 3000 | 5.0 | 12.0 | n/a | 214 | |
| refresh | gatehouse | 5000 | 5.0 | 12.0 | 100 | 214 | |
| refresh | node-http-ceiling | 20000 | 1.0 | 3.0 | 40 | 100 | |

| server | first start to ready, ms | restart to first 200, ms |
|---|---:|---:|
| gatehouse | 500 | 458 |
`;

describe('bench/drift.ts', () => {
  it('reads the Node version, the date and every row with a CPU figure (and nothing from other tables)', () => {
    const baseline = parseBaseline(TABLE);
    assert.equal(baseline.nodeVersion, 'v24.21.0');
    assert.equal(baseline.measured, '2026-11-22');
    assert.deepEqual(baseline.rows, [
      { workload: 'cc-opaque', server: 'gatehouse', cpuUsPerOp: 104 },
      { workload: 'introspection', server: 'gatehouse', cpuUsPerOp: 82 },
      { workload: 'refresh', server: 'gatehouse', cpuUsPerOp: 100 },
      { workload: 'refresh', server: 'node-http-ceiling', cpuUsPerOp: 40 },
    ]);
  });

  it('flags a move beyond 20 % either way, not one within it; rows the baseline lacks are left out', () => {
    const drifts = compareWithBaseline(
      [
        { workload: 'cc-opaque', server: 'gatehouse', cpuUsPerOp: 120 },
        { workload: 'introspection', server: 'gatehouse', cpuUsPerOp: 164 },
        { workload: 'login', server: 'gatehouse', cpuUsPerOp: 168 },
      ],
      parseBaseline(TABLE),
    );
    assert.deepEqual(
      drifts.map((drift) => [drift.workload, Math.round(drift.change * 100), drift.flagged]),
      [
        ['cc-opaque', 15, false],
        ['introspection', 100, true],
      ],
    );
    const faster = compareWithBaseline(
      [{ workload: 'cc-opaque', server: 'gatehouse', cpuUsPerOp: 80 }],
      parseBaseline(TABLE),
    );
    assert.equal(faster[0]?.flagged, true);
  });

  it('against the node:http ceiling: a machine twice as busy moves nothing; the server alone moving is flagged', () => {
    const baseline = parseBaseline(TABLE);
    const busier = compareWithBaseline(
      [
        { workload: 'refresh', server: 'gatehouse', cpuUsPerOp: 200 },
        { workload: 'refresh', server: 'node-http-ceiling', cpuUsPerOp: 80 },
      ],
      baseline,
    );
    assert.deepEqual(
      busier.map((drift) => [
        drift.server,
        Math.round(drift.change * 100),
        drift.changeAgainstCeiling,
        drift.flagged,
      ]),
      [
        ['gatehouse', 100, 0, false],
        ['node-http-ceiling', 100, undefined, false],
      ],
    );
    const regressed = compareWithBaseline(
      [
        { workload: 'refresh', server: 'gatehouse', cpuUsPerOp: 130 },
        { workload: 'refresh', server: 'node-http-ceiling', cpuUsPerOp: 40 },
      ],
      baseline,
    );
    assert.equal(regressed[0]?.flagged, true);
    assert.equal(Math.round((regressed[0]?.changeAgainstCeiling ?? 0) * 100), 30);
  });

  it('the section names both Node versions when they differ, and marks the moved rows', () => {
    const baseline = parseBaseline(TABLE);
    const section = driftSection(
      compareWithBaseline([{ workload: 'introspection', server: 'gatehouse', cpuUsPerOp: 164 }], baseline),
      baseline,
      'v24.22.3',
      'bench/results/latest.md',
    ).join('\n');
    assert.match(section, /Node changed: v24\.21\.0 then, v24\.22\.3 now/);
    assert.match(section, /\| introspection \| gatehouse \| 82 \| 164 \| \+100 % \| {2}\| \*\*moved\*\* \|/);
    assert.match(section, /1 flagged/);
  });

  it('reads the committed bench/results/latest.md: its Node version and its Gatehouse rows', () => {
    const committed = parseBaseline(
      readFileSync(new URL('../../bench/results/latest.md', import.meta.url), 'utf8'),
    );
    assert.match(String(committed.nodeVersion), /^v24\./);
    for (const workload of ['cc-opaque', 'introspection']) {
      assert.ok(
        committed.rows.some(
          (row) => row.workload === workload && row.server === 'gatehouse' && row.cpuUsPerOp > 0,
        ),
        `no ${workload} row for gatehouse`,
      );
    }
  });
});
