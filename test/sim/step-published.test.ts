/**
 * The step engine, behind the modelled vLLM API server at its defaults, against published vLLM
 * serving measurements (bench/sim-validate-points.ts, docs/simulator.md "Validation"), replayed in
 * virtual time at the published load. Asserted: the issue's ±25 % wherever the published number is
 * GPU time plus that API server — vLLM's own long-prompt H100 run (TTFT and ITL), GPUStack's
 * Qwen3-14B runs on one A100 with every request sent at once (TTFT and ITL: compute-bound 2048-token
 * prefill chunks), every per-token figure up to C=4 on the H100, the A100 and L4 ITL. Not asserted (the docs give the numbers and
 * why): TTFT of short prompts (0.58 at C=1 on the H100, 0.27–0.30 on the L4 host: the client's time
 * and front-end time beyond what the sources support), InferenceBench at C ≥ 16 (its client's
 * ceiling), the 2024 CI end-to-end rows, GPUStack's H100 rows (its H100 decodes at ~50 % of HBM
 * bandwidth) and Qwen3-32B TP1 rows (KV capacity of the decimal-GB preset).
 */
import { describe, expect, it } from 'vitest';
import { GPUSTACK_A100, POINTS, type Point } from '../../bench/sim-validate-points.js';
import { runClosedLoop } from '../../src/sim/step/closed-loop.js';

function within(simulated: number, published: number, what: string): void {
  const ratio = simulated / published;
  expect(ratio, `${what}: simulated ${simulated.toFixed(2)} ms vs published ${published} ms`).toBeGreaterThanOrEqual(0.75);
  expect(ratio, `${what}: simulated ${simulated.toFixed(2)} ms vs published ${published} ms`).toBeLessThanOrEqual(1.25);
}

const point = (setup: string): Point => {
  const found = POINTS.find((p) => p.setup === setup);
  if (found === undefined) throw new Error(`no published point '${setup}'`);
  return found;
};

describe('step engine vs published vLLM measurements (±25 %)', () => {
  it('vLLM, one H100, Llama-3.1-8B, ~20k in / ~2k out at C=8: median TTFT and ITL', () => {
    const published = point('Llama-3.1-8B, H100, ~20k/~2k ±15 %, C=8');
    const simulated = runClosedLoop(published);
    within(simulated.ttftMs, published.ttftMs!, 'TTFT');
    within(simulated.itlMs, published.perTokenMs!, 'ITL');
  });

  it('GPUStack, Qwen3-14B on one A100, 32k/4k/2k prompts all sent at once: median TTFT and ITL', () => {
    const published = POINTS.filter((p) => p.source === GPUSTACK_A100);
    expect(published.length).toBe(3);
    for (const p of published) {
      const simulated = runClosedLoop(p);
      within(simulated.ttftMs, p.ttftMs!, `${p.setup} TTFT`);
      within(simulated.itlMs, p.perTokenMs!, `${p.setup} ITL`);
    }
  });

  it('per-token latency of every H100 run up to C=4 (ITL over 1k–120k tokens of context, TPOT), and the A100 and L4 ITL', () => {
    const perToken = POINTS.filter((p) => p.perTokenMs !== undefined && p.concurrency <= 4 && p.setup.includes('H100'))
      .concat(POINTS.filter((p) => p.setup.includes('A100 40GB') || p.setup.includes(', L4,')));
    expect(perToken.length).toBeGreaterThanOrEqual(12);
    for (const published of perToken) {
      const simulated = runClosedLoop(published);
      within(published.perToken === 'tpot' ? simulated.tpotMs : simulated.itlMs, published.perTokenMs!, published.setup);
    }
  });
});
