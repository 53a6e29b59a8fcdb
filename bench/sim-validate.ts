/**
 * The step engine against measurements (docs/simulator.md "Validation"):
 *
 * 1. published vLLM serving runs (bench/sim-validate-points.ts): the engine runs in process on
 *    virtual time at each published load (src/sim/step/closed-loop.ts: `concurrency` clients, the
 *    source's lengths) and the table shows published vs simulated median TTFT and ITL (or TPOT)
 *    with ratios (test/sim/step-published.test.ts asserts the rows the model must match);
 * 2. step times measured on one H200 (test/fixtures/h200-steptime.json, also asserted by
 *    test/sim/step-roofline.test.ts): measured vs modelled decode steps and whole prefills.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/sim-validate.js
 */
import { existsSync, readFileSync } from 'node:fs';
import { completeConfig } from '../src/sim/config.js';
import { runClosedLoop } from '../src/sim/step/closed-loop.js';
import { resolveSpec } from '../src/sim/step/presets.js';
import { stepTime, type ScheduledSeq } from '../src/sim/step/roofline.js';
import { POINTS } from './sim-validate-points.js';

const ratio = (sim: number, pub: number | undefined): string => (pub === undefined ? '—' : (sim / pub).toFixed(2));

console.log('Published vLLM measurements vs the step engine (medians; per token = ITL, or TPOT where marked):');
console.table(POINTS.filter((point) => point.perTokenMs !== undefined).map((point) => {
  const simulated = runClosedLoop(point);
  const perToken = point.perToken === 'tpot' ? simulated.tpotMs : simulated.itlMs;
  return {
    setup: point.setup,
    'TTFT pub': point.ttftMs?.toFixed(1) ?? '—',
    'TTFT sim': simulated.ttftMs.toFixed(1),
    'TTFT ratio': ratio(simulated.ttftMs, point.ttftMs),
    'per token': (point.perToken ?? 'itl').toUpperCase(),
    'pub (ms)': point.perTokenMs?.toFixed(2),
    'sim (ms)': perToken.toFixed(2),
    ratio: ratio(perToken, point.perTokenMs),
  };
}));
console.table(POINTS.filter((point) => point.e2eMs !== undefined).map((point) => {
  const simulated = runClosedLoop(point);
  return { setup: point.setup, 'E2E pub (ms)': point.e2eMs?.toFixed(1), 'E2E sim (ms)': simulated.e2eMs.toFixed(1), ratio: ratio(simulated.e2eMs, point.e2eMs),
    'sim TTFT': simulated.ttftMs.toFixed(1), 'sim ITL': simulated.itlMs.toFixed(2) };
}));
console.log('sources:', [...new Set(POINTS.map((point) => point.source))].join(' '));

interface StepTable {
  decode_step: Array<{ batch: number; context: number; ms: number }>;
  prefill_forward: Array<{ tokens: number; ms: number }>;
}

/** The H200 fixture, found from the repo root whether this runs as dist/bench/*.js or bench/*.ts. */
function loadStepFixture(): { models: Record<string, StepTable> } | undefined {
  for (const relative of ['../test/fixtures/h200-steptime.json', '../../test/fixtures/h200-steptime.json']) {
    const url = new URL(relative, import.meta.url);
    if (existsSync(url)) return JSON.parse(readFileSync(url, 'utf8')) as { models: Record<string, StepTable> };
  }
  return undefined;
}

const fixture = loadStepFixture();
if (fixture !== undefined) {
  console.log('\nStep times measured on one H200 vs the roofline (whole model on one GPU; the measuring script read K and V from one tensor,');
  console.log('so its decode steps are compared with the model at half the context):');
  const rows: Array<Record<string, string>> = [];
  for (const [model, table] of Object.entries(fixture.models)) {
    const spec = resolveSpec(completeConfig({ model: 'm', engineModel: 'step', hardware: 'h200', modelProfile: model, tensorParallelSize: 1 }));
    const row = (what: string, seqs: ScheduledSeq[], measured: number): void => {
      const ms = stepTime(spec, seqs).ms;
      rows.push({ model, step: what, 'measured (ms)': measured.toFixed(1), 'model (ms)': ms.toFixed(1), ratio: (ms / measured).toFixed(2) });
    };
    for (const { batch, context, ms } of table.decode_step) {
      row(`decode B=${batch}, C=${context}`, Array.from({ length: batch }, () => ({ newTokens: 1, contextTokens: context / 2, samples: true })), ms);
    }
    for (const { tokens, ms } of table.prefill_forward) row(`prefill ${tokens}`, [{ newTokens: tokens, contextTokens: 0, samples: true }], ms);
  }
  console.table(rows);
}
