/**
 * P/D benchmark: goodput of colocated serving vs three P/D deciders, side by side, on the same
 * GPUs (step-model sims, H200 + Llama-3.1-8B, docs/simulator.md "Step engine"), through real
 * sidecars and the EPP's built-in gateway, with an open-loop Poisson client.
 *
 *   node dist/bench/pd.js [--seconds 12] [--time-scale S] [--pods 3] [--ttft-slo 1000] [--tpot-slo 20]
 *                         [--workloads long-in,long-out,multi-turn] [--rows colocated,always-disagg,threshold,adaptive]
 *                         [--svg-dir docs/img]
 *
 * Goodput = offered rate × the share of requests that finished with TTFT ≤ --ttft-slo and
 * TPOT ≤ --tpot-slo. All times are H200 times (wall clock ÷ time scale). See docs/benchmarks.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROWS, startPdCluster, type RowName } from './pd-cluster.js';
import { jobSource, openLoop, WORKLOADS, type WorkloadName } from './pd-load.js';
import { svgPlot, table, type Cell } from './pd-report.js';
import { quantile } from './stats.js';

/**
 * Offered rates (H200 req/s) per workload, up to saturation, and the time scale that lets this
 * CPU drive them: the host streams rate × output tokens ÷ S tokens per wall second through sims,
 * sidecars and gateway, so the decode-heavy workloads need a larger S (--time-scale overrides).
 */
const PLAN: Record<WorkloadName, { rates: number[]; timeScale: number }> = {
  'long-in': { rates: [4, 8, 12, 16], timeScale: 5 },
  'long-out': { rates: [32, 128], timeScale: 20 },
  'multi-turn': { rates: [32, 96, 160], timeScale: 20 },
};

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '12' },
    'time-scale': { type: 'string' },
    pods: { type: 'string', default: '3' },
    'ttft-slo': { type: 'string', default: '1000' },
    'tpot-slo': { type: 'string', default: '20' },
    workloads: { type: 'string', default: Object.keys(WORKLOADS).join(',') },
    rows: { type: 'string', default: ROWS.join(',') },
    rates: { type: 'string' },
    'svg-dir': { type: 'string', default: 'docs/img' },
  },
});

const seconds = Number(values.seconds);
const scaleOverride = values['time-scale'] === undefined ? undefined : Number(values['time-scale']);
const pods = Number(values.pods);
const ttftSloMs = Number(values['ttft-slo']);
const tpotSloMs = Number(values['tpot-slo']);
const workloads = values.workloads.split(',') as WorkloadName[];
const rows = values.rows.split(',') as RowName[];
for (const w of workloads) if (!(w in WORKLOADS)) throw new Error(`unknown workload ${w}`);
for (const r of rows) if (!ROWS.includes(r)) throw new Error(`unknown row ${r}`);
if (!(seconds > 0 && (scaleOverride === undefined || scaleOverride >= 1) && pods >= 2)) throw new Error('need --seconds > 0, --time-scale ≥ 1, --pods ≥ 2');

console.log(`P/D goodput: ${pods} × H200, Llama-3.1-8B step sims, ${seconds} s of arrivals (wall) per cell; ` +
  `SLO TTFT ≤ ${ttftSloMs} ms, TPOT ≤ ${tpotSloMs} ms (H200 time)`);

for (const workload of workloads) {
  const rates = values.rates ? values.rates.split(',').map(Number) : PLAN[workload].rates;
  const scale = scaleOverride ?? PLAN[workload].timeScale;
  const cells: Cell[] = [];
  for (const row of rows) {
    const cluster = await startPdCluster({ row, pods, timeScale: scale, ttftSloMs, tpotSloMs });
    try {
      let before = await cluster.decisions();
      for (const [i, rate] of rates.entries()) {
        const next = jobSource(workload, 7 + i);
        const samples = await openLoop(cluster.gatewayUrl, next, rate / scale, seconds, 100 + i, 120_000 * scale);
        const after = await cluster.decisions();
        const delta = (a: Map<string, number>, b: Map<string, number>): Map<string, number> =>
          new Map([...a].map(([k, v]) => [k, v - (b.get(k) ?? 0)] as [string, number]).filter(([, v]) => v > 0));
        const types = delta(after.types, before.types);
        const reasons = delta(after.reasons, before.reasons);
        before = after;
        const ok = samples.filter((s) => s.ok);
        const ttft = ok.map((s) => s.ttftMs / scale).sort((a, b) => a - b);
        const tpot = ok.map((s) => s.tpotMs / scale).sort((a, b) => a - b);
        const good = ok.filter((s) => s.ttftMs / scale <= ttftSloMs && s.tpotMs / scale <= tpotSloMs).length;
        const decided = [...types.values()].reduce((a, b) => a + b, 0);
        const cell: Cell = {
          row,
          rate,
          sent: samples.length,
          failed: samples.length - ok.length,
          // Offered rate × share of requests meeting both SLOs (H200 req/s); every row replays
          // the same arrival times and prompts, so rows differ only in how they served them.
          goodput: samples.length === 0 ? 0 : rate * good / samples.length,
          ttftP50: quantile(ttft, 0.5),
          ttftP90: quantile(ttft, 0.9),
          tpotP50: quantile(tpot, 0.5),
          tpotP90: quantile(tpot, 0.9),
          disaggShare: decided === 0 ? 0 : (types.get('prefill-decode') ?? 0) / decided,
          reasons: row === 'colocated' ? '–' : [...reasons].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', '),
        };
        cells.push(cell);
        console.error(`${workload} ${row} rate ${rate}: goodput ${cell.goodput.toFixed(2)} (${good}/${samples.length} good, ${cell.failed} failed)`);
      }
    } finally {
      await cluster.close();
    }
  }
  console.log(`\n### ${workload}: ${WORKLOADS[workload]} (time scale ${scale})\n`);
  console.log(table(cells));
  mkdirSync(values['svg-dir'], { recursive: true });
  const file = join(values['svg-dir'], `pd-${workload}.svg`);
  writeFileSync(file, svgPlot(`${workload}: goodput vs rate (${pods} × H200, Llama-3.1-8B)`, cells));
  console.log(`\n(plot: ${file})`);
}
