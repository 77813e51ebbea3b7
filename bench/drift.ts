// The guard against silent regressions (issue 17): every benchmark table records the Node version it ran on, and
// compares its server CPU per operation with the committed results (bench/results/latest.md), flagging any
// workload that moved by more than 20 %. CPU per operation, not ops/s: on this shared VM throughput drifts with
// the neighbours, while the CPU a request costs the server is what a code or runtime change moves. A Node patch
// release once doubled the introspection path's cost unnoticed; this table would have flagged it.

/** A row of a results table: its workload, its server and the server CPU per operation. */
export interface CpuRow {
  workload: string;
  server: string;
  cpuUsPerOp: number;
}

export interface Baseline {
  /** `v24.21.0`, read from the table's first line; undefined when the file does not say. */
  nodeVersion: string | undefined;
  /** `2026-11-22`, the date the baseline was measured. */
  measured: string | undefined;
  rows: CpuRow[];
}

/** Flag a workload whose CPU per operation moved by more than this fraction either way. */
export const DRIFT_THRESHOLD = 0.2;

/** Reads a table bench/run.ts wrote (Markdown). Rows without a number in the CPU column are skipped. */
export function parseBaseline(markdown: string): Baseline {
  const nodeVersion = /\bNode (v\d+\.\d+\.\d+)/.exec(markdown)?.[1];
  const measured = /^Measured (\d{4}-\d{2}-\d{2})/m.exec(markdown)?.[1];
  const rows: CpuRow[] = [];
  let cpuColumn = -1;
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('|')) {
      cpuColumn = -1;
      continue;
    }
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim());
    if (cells[0] === 'workload' && cells[1] === 'server') {
      cpuColumn = cells.indexOf('server CPU µs/op');
      continue;
    }
    if (cpuColumn < 0 || cells[0]?.startsWith('---')) continue;
    const cpu = Number(cells[cpuColumn]);
    if (cells[0] && cells[1] && cells[cpuColumn] !== '' && Number.isFinite(cpu)) {
      rows.push({ workload: cells[0], server: cells[1], cpuUsPerOp: cpu });
    }
  }
  return { nodeVersion, measured, rows };
}

export interface Drift extends CpuRow {
  before: number;
  /** (now − before) / before */
  change: number;
  /**
   * The same change measured against the node:http ceiling of the same workload in each run (undefined when
   * either run lacks it): a busier or slower machine moves the ceiling as much as the server, a code or runtime
   * change moves only the server.
   */
  changeAgainstCeiling: number | undefined;
  /** Beyond DRIFT_THRESHOLD: against the ceiling when both runs have one, else the raw change. */
  flagged: boolean;
}

const CEILING = 'node-http-ceiling';

/** Each current row that the baseline also measured, with its change; flagged beyond DRIFT_THRESHOLD. */
export function compareWithBaseline(current: readonly CpuRow[], baseline: Baseline): Drift[] {
  const find = (rows: readonly CpuRow[], workload: string, server: string) =>
    rows.find((row) => row.workload === workload && row.server === server);
  const drifts: Drift[] = [];
  for (const row of current) {
    const before = find(baseline.rows, row.workload, row.server);
    if (!before || before.cpuUsPerOp <= 0 || !Number.isFinite(row.cpuUsPerOp)) continue;
    const change = (row.cpuUsPerOp - before.cpuUsPerOp) / before.cpuUsPerOp;
    const ceilingNow = find(current, row.workload, CEILING)?.cpuUsPerOp;
    const ceilingThen = find(baseline.rows, row.workload, CEILING)?.cpuUsPerOp;
    const changeAgainstCeiling =
      row.server !== CEILING && ceilingNow && ceilingThen
        ? row.cpuUsPerOp / ceilingNow / (before.cpuUsPerOp / ceilingThen) - 1
        : undefined;
    const judged = changeAgainstCeiling ?? change;
    drifts.push({
      ...row,
      before: before.cpuUsPerOp,
      change,
      changeAgainstCeiling,
      flagged: row.server !== CEILING && Math.abs(judged) > DRIFT_THRESHOLD,
    });
  }
  return drifts;
}

/** The Markdown section bench/run.ts appends to its table. */
export function driftSection(
  drifts: readonly Drift[],
  baseline: Baseline,
  nodeVersion: string,
  source: string,
): string[] {
  if (drifts.length === 0) return [];
  const flagged = drifts.filter((drift) => drift.flagged);
  const versions =
    baseline.nodeVersion === undefined
      ? `the baseline does not say which Node it ran on; this run: ${nodeVersion}`
      : baseline.nodeVersion === nodeVersion
        ? `both on Node ${nodeVersion}`
        : `**Node changed: ${baseline.nodeVersion} then, ${nodeVersion} now**`;
  const percent = (value: number) => `${value > 0 ? '+' : ''}${(value * 100).toFixed(0)} %`;
  return [
    '',
    `Against the committed results (\`${source}\`, measured ${baseline.measured ?? 'on an unknown date'}; ${versions}): server CPU µs per operation, flagged when it moved by more than ${DRIFT_THRESHOLD * 100} % either way, judged against the node:http ceiling of the same workload where both runs have one (a busier or slower machine moves the ceiling too; a code or runtime change does not). ${flagged.length === 0 ? 'Nothing moved that far.' : `${flagged.length} flagged: profile them before trusting either table.`}`,
    '',
    '| workload | server | CPU µs/op then | now | change | change against the ceiling | |',
    '|---|---|---:|---:|---:|---:|---|',
    ...drifts.map(
      (drift) =>
        `| ${drift.workload} | ${drift.server} | ${drift.before} | ${Math.round(drift.cpuUsPerOp)} | ${percent(drift.change)} | ${drift.changeAgainstCeiling === undefined ? '' : percent(drift.changeAgainstCeiling)} | ${drift.flagged ? '**moved**' : ''} |`,
    ),
  ];
}
