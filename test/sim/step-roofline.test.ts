/**
 * The step engine's roofline against step times measured on a real H200 (test/fixtures/
 * h200-steptime.json): Llama-3.1-8B and Qwen3-32B shapes, whole model on one GPU. The model must
 * land within ±35 % of every measured point (the measurement's generic kernels are a realistic
 * upper bound for vLLM's; the point is the physics: memory-bound decode, compute-bound prefill,
 * attention quadratic in the prompt).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { completeConfig } from '../../src/sim/config.js';
import { resolveSpec, type EngineSpec } from '../../src/sim/step/presets.js';
import { kvCapacityBlocks, stepTime, totalParams, type ScheduledSeq } from '../../src/sim/step/roofline.js';

interface Table {
  decode_step: Array<{ batch: number; context: number; ms: number }>;
  prefill_forward: Array<{ tokens: number; ms: number }>;
  dense: Array<{ tokens: number; ms: number }>;
}
const fixture = JSON.parse(readFileSync(new URL('../fixtures/h200-steptime.json', import.meta.url), 'utf8')) as { models: Record<string, Table> };

const spec = (modelProfile: string): EngineSpec =>
  resolveSpec(completeConfig({ model: 'm', engineModel: 'step', hardware: 'h200', modelProfile, tensorParallelSize: 1 }));

const decode = (batch: number, context: number): ScheduledSeq[] =>
  Array.from({ length: batch }, () => ({ newTokens: 1, contextTokens: context, samples: true }));
const prefill = (tokens: number): ScheduledSeq[] => [{ newTokens: tokens, contextTokens: 0, samples: true }];

function within(simulated: number, measured: number, tolerance = 0.35): void {
  expect(simulated, `simulated ${simulated.toFixed(1)} ms vs measured ${measured} ms`).toBeGreaterThanOrEqual(measured * (1 - tolerance));
  expect(simulated, `simulated ${simulated.toFixed(1)} ms vs measured ${measured} ms`).toBeLessThanOrEqual(measured * (1 + tolerance));
}

describe('step roofline vs measured H200 step times', () => {
  for (const model of ['llama-3.1-8b', 'qwen3-32b']) {
    const table = fixture.models[model]!;
    it(`${model}: decode steps (memory-bound, growing with batch and context)`, () => {
      // The measuring script passes one tensor as both K and V, so it reads half the KV bytes of a
      // real engine: compare with the model at half the context (same bytes, same batch).
      for (const point of table.decode_step) within(stepTime(spec(model), decode(point.batch, point.context / 2)).ms, point.ms);
    });
    it(`${model}: whole prefill forwards (compute-bound, attention quadratic)`, () => {
      for (const point of table.prefill_forward) within(stepTime(spec(model), prefill(point.tokens)).ms, point.ms);
    });
  }

  it('llama-3.1-8b: a step carrying a 2048-token prefill chunk takes ~55 ms, ten times a decode step', () => {
    const chunk = stepTime(spec('llama-3.1-8b'), prefill(2048)).ms;
    within(chunk, 55);
    expect(chunk / stepTime(spec('llama-3.1-8b'), decode(1, 2048)).ms).toBeGreaterThan(7);
  });

  it('attention FLOPs matter at long prompts: 16k costs more than 16 × 1k', () => {
    const model = spec('llama-3.1-8b');
    expect(stepTime(model, prefill(16384)).computeMs).toBeGreaterThan(16 * stepTime(model, prefill(1024)).computeMs * 1.15);
  });

  it('parameters from the shapes match the published sizes (8.03 B, 32.8 B, 70.6 B)', () => {
    const params = (modelProfile: string) => totalParams(resolveSpec(completeConfig({ model: 'm', engineModel: 'step', modelProfile, hardware: 'h200' })).shape) / 1e9;
    expect(params('llama-3.1-8b')).toBeCloseTo(8.03, 1);
    expect(params('qwen3-32b')).toBeCloseTo(32.8, 0);
    expect(params('llama-3.1-70b')).toBeCloseTo(70.6, 0);
  });

  it('KV capacity = HBM × utilization − weights: Llama-8B on an H200 holds ~845k tokens', () => {
    const model = spec('llama-3.1-8b');
    // (141 GB × 0.9 − 16.06 GB) / 128 KiB per token.
    expect(kvCapacityBlocks(model, 16) * 16).toBeGreaterThan(840_000);
    expect(kvCapacityBlocks(model, 16) * 16).toBeLessThan(850_000);
  });
});
