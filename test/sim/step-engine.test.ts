/**
 * The step engine on a virtual clock: deterministic, no wall-clock assertions. Budget, decode
 * before prefill, preemption and recompute, the prefill stall on co-located decodes vs a P/D decode
 * leg, prefix-cache hits.
 */
import { describe, expect, it } from 'vitest';
import { completeConfig } from '../../src/sim/config.js';
import { RecordingKvEventSink } from '../../src/sim/kv-events.js';
import { VirtualClock } from '../../src/sim/step/clock.js';
import { StepEngine, type StepJob, type StepSink } from '../../src/sim/step/engine.js';
import { resolveSpec } from '../../src/sim/step/presets.js';
import type { ScheduledEntry } from '../../src/sim/step/scheduler.js';

const spec = resolveSpec(completeConfig({ model: 'm', engineModel: 'step', hardware: 'h200', modelProfile: 'llama-3.1-8b' }));

interface Trace { tokens: number[]; finished: boolean; failed: boolean; preemptions: number; cachedTokens: number }

function setup(overrides: { kvCacheBlocks?: number; maxNumBatchedTokens?: number; maxNumSeqs?: number } = {}) {
  const clock = new VirtualClock();
  const steps: Array<{ batch: Array<{ id: string; newTokens: number; decode: boolean }>; ms: number }> = [];
  const events = new RecordingKvEventSink();
  const engine = new StepEngine({
    spec, clock, blockSize: 16, kvCacheBlocks: overrides.kvCacheBlocks ?? 10_000, maxNumBatchedTokens: overrides.maxNumBatchedTokens ?? 2048,
    maxNumSeqs: overrides.maxNumSeqs ?? 256, maxWaitingQueueLength: 1000, hashSeed: '', holdTimeoutMs: 60_000,
    transfer: { bandwidth: 40e9, latencyMs: 2 }, kvEventSink: events,
    onStep: (batch: readonly ScheduledEntry[], cost) => steps.push({ batch: batch.map((e) => ({ id: e.request.id, newTokens: e.newTokens, decode: e.newTokens === 1 && e.contextTokens > 0 })), ms: cost.ms }),
  });
  let counter = 0;
  const submit = (prompt: number[], outputs: number, extra: Partial<StepJob> = {}): Trace => {
    const trace: Trace = { tokens: [], finished: false, failed: false, preemptions: 0, cachedTokens: -1 };
    const sink: StepSink = {
      started: () => {},
      token: () => trace.tokens.push(clock.now()),
      finished: (outcome) => { trace.finished = true; trace.preemptions = outcome.preemptions; trace.cachedTokens = outcome.cachedTokens; },
      failed: () => { trace.failed = true; },
    };
    engine.submit({ id: extra.id ?? `r${counter++}`, promptIds: prompt, outputIds: Array.from({ length: outputs }, (_, i) => 100_000 + i), model: 'm', remotePrefill: false, remoteDecode: false, sink, ...extra });
    return trace;
  };
  return { clock, steps, events, engine, submit };
}

const ids = (n: number, base = 0) => Array.from({ length: n }, (_, i) => base + i);
const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

describe('step engine (virtual time)', () => {
  it('respects the token budget and schedules decode tokens before prefill chunks', () => {
    const { clock, steps, submit } = setup({ maxNumBatchedTokens: 512 });
    const decoders = [submit(ids(100, 0), 50), submit(ids(100, 1000), 50)];
    clock.advance(200);
    const long = submit(ids(3000, 5000), 5);
    clock.run();
    for (const step of steps) expect(step.batch.reduce((sum, e) => sum + e.newTokens, 0)).toBeLessThanOrEqual(512);
    const mixed = steps.filter((step) => step.batch.some((e) => e.id === 'r2') && step.batch.some((e) => e.id !== 'r2'));
    expect(mixed.length).toBeGreaterThan(1);
    for (const step of mixed) {
      // Both decoders got their token, the chunk took the rest of the budget.
      expect(step.batch.filter((e) => e.id !== 'r2').every((e) => e.newTokens === 1)).toBe(true);
      expect(step.batch.find((e) => e.id === 'r2')!.newTokens).toBeLessThanOrEqual(510);
    }
    expect(decoders.every((t) => t.finished && t.tokens.length === 50)).toBe(true);
    expect(long.finished).toBe(true);
  });

  it('preempts the newest request when the KV cache is full; it is recomputed and still completes', () => {
    // 40 blocks of 16 tokens; two requests that each grow to 26 blocks cannot both stay.
    const { clock, submit, engine } = setup({ kvCacheBlocks: 40 });
    const first = submit(ids(300, 0), 120);
    const second = submit(ids(300, 10_000), 120);
    clock.run();
    expect(first.finished && second.finished).toBe(true);
    expect(first.tokens).toHaveLength(120);
    expect(second.tokens).toHaveLength(120);
    expect(second.preemptions).toBeGreaterThan(0);
    expect(first.preemptions).toBe(0);
    expect(engine.pool.usedBlocks).toBe(0);
  });

  it('a long prefill stalls the decodes running on the pod; the same prompt as a P/D decode leg does not', () => {
    const itlDuring = (remote: boolean) => {
      const { clock, submit } = setup();
      const decoder = submit(ids(500), 200);
      clock.advance(100);
      const before = decoder.tokens.length;
      submit(ids(16_000, 50_000), 5, { remotePrefill: remote });
      clock.advance(400);
      const window = decoder.tokens.slice(before);
      clock.run();
      return Math.max(...gaps(window));
    };
    const colocated = itlDuring(false);
    const disaggregated = itlDuring(true);
    expect(colocated).toBeGreaterThan(40); // a step with a 2048-token chunk: ~55 ms on an H200
    expect(disaggregated).toBeLessThan(10); // decode steps only: ~5 ms
  });

  it('the decode leg waits for the KV transfer of its prompt, then decodes', () => {
    const { clock, submit } = setup();
    const leg = submit(ids(8192), 3, { remotePrefill: true });
    clock.run();
    // 8192 tokens × 128 KiB / 40 GB/s ≈ 26.8 ms + 2 ms, then one decode step (~5 ms).
    expect(leg.tokens[0]!).toBeGreaterThan(28.8);
    expect(leg.tokens[0]!).toBeLessThan(40);
  });

  it('prefix-cache hits skip computing the cached tokens, and the first request published its blocks', () => {
    const { clock, submit, events } = setup();
    const prompt = ids(4096, 7);
    const cold = submit(prompt, 1);
    clock.run();
    const coldTtft = cold.tokens[0]!;
    const start = clock.now();
    const warm = submit(prompt, 1);
    clock.run();
    expect(warm.cachedTokens).toBe(4096 - 16);
    expect(cold.cachedTokens).toBe(0);
    expect(warm.tokens[0]! - start).toBeLessThan(coldTtft / 5);
    expect(events.ofType('BlockStored').flatMap((e) => e.blockHashes)).toHaveLength(256);
  });

  it('a prefill leg holds its blocks until released', () => {
    const { clock, submit, engine } = setup();
    const leg = submit(ids(1024), 1, { remoteDecode: true, id: 'p1' });
    clock.run(5_000);
    expect(leg.finished).toBe(true);
    expect(engine.pool.usedBlocks).toBe(64);
    expect(engine.release('p1')).toBe(true);
    expect(engine.pool.usedBlocks).toBe(0);
  });
});
