/**
 * vLLM's API server in front of the step engine (src/sim/step/frontend.ts), on a virtual clock:
 * one FIFO loop; a request reaches the engine after its input processing and each step's tokens
 * reach the client after their output processing; vLLM's TTFT and e2e histograms count from the
 * API server's arrival, the queue time from the engine's.
 */
import { describe, expect, it } from 'vitest';
import { completeConfig } from '../../src/sim/config.js';
import { NOOP_KV_EVENT_SINK } from '../../src/sim/kv-events.js';
import { SimMetrics } from '../../src/sim/metrics.js';
import { VirtualClock } from '../../src/sim/step/clock.js';
import { StepEngine, type StepSink } from '../../src/sim/step/engine.js';
import { Frontend, NO_FRONTEND, type FrontendSettings } from '../../src/sim/step/frontend.js';
import { resolveSpec } from '../../src/sim/step/presets.js';
import { metricValue } from './helpers.js';

const spec = resolveSpec(completeConfig({ model: 'm', engineModel: 'step', hardware: 'h200', modelProfile: 'llama-3.1-8b' }));
const costs = (frontendOverhead: number, frontendPromptTokenOverhead: number, frontendTokenOverhead: number): FrontendSettings =>
  ({ frontendOverhead, frontendPromptTokenOverhead, frontendTokenOverhead });

interface Trace { tokens: number[]; finished: boolean; failed: boolean }

function setup(frontend: FrontendSettings, limits: { maxNumSeqs?: number; maxWaitingQueueLength?: number } = {}) {
  const clock = new VirtualClock();
  const steps: Array<{ ids: string[]; start: number; end: number }> = [];
  const metrics = new SimMetrics({ modelName: 'm', maxLoras: 1, blockSize: 16, kvCacheSize: 10_000, maxModelLen: 4096, fakeMetrics: null });
  const engine = new StepEngine({
    spec, clock, blockSize: 16, kvCacheBlocks: 10_000, maxNumBatchedTokens: 8192, maxNumSeqs: limits.maxNumSeqs ?? 256, maxWaitingQueueLength: limits.maxWaitingQueueLength ?? 1000, hashSeed: '',
    holdTimeoutMs: 60_000, transfer: { bandwidth: 40e9, latencyMs: 2 }, kvEventSink: NOOP_KV_EVENT_SINK, frontend, metrics,
    onStep: (batch, cost) => steps.push({ ids: batch.map((entry) => entry.request.id), start: clock.now(), end: clock.now() + cost.ms }),
  });
  let counter = 0;
  const submit = (promptTokens: number, outputs: number): Trace => {
    const trace: Trace = { tokens: [], finished: false, failed: false };
    const sink: StepSink = {
      started: () => {},
      token: () => trace.tokens.push(clock.now()),
      finished: () => { trace.finished = true; },
      failed: () => { trace.failed = true; },
    };
    const id = counter++;
    engine.submit({ id: `r${id}`, promptIds: Array.from({ length: promptTokens }, (_, i) => id * 100_000 + i),
      outputIds: Array.from({ length: outputs }, (_, i) => i), model: 'm', remotePrefill: false, remoteDecode: false, sink });
    return trace;
  };
  return { clock, steps, metrics, engine, submit };
}

describe('the API server in front of the step engine (virtual time)', () => {
  it('runs its work in order on one loop; with no cost and nothing queued, at once', () => {
    const clock = new VirtualClock();
    const frontend = new Frontend(clock, costs(1, 0.001, 0.5));
    const done: Array<[string, number, number]> = [];
    for (const name of ['a', 'b', 'c']) frontend.admit(1000, (startedAt) => done.push([name, startedAt, clock.now()]));
    frontend.deliver(2, () => done.push(['tokens', -1, clock.now()]));
    expect(frontend.pending).toBe(4);
    clock.run();
    // Tokenization (1000 × 1 µs) on the tokenizer thread, one prompt after the other, then 1 ms each
    // on the loop; the 2 tokens (× 0.5 ms) were queued on the loop first and do not wait for tokenization.
    expect(done).toEqual([['tokens', -1, 1], ['a', 0, 2], ['b', 1, 3], ['c', 2, 4]]);
    let ran = false;
    new Frontend(clock, NO_FRONTEND).admit(10, () => { ran = true; });
    expect(ran).toBe(true);
  });

  it('one request: the engine starts after the input processing, every token reaches the client after the output processing', async () => {
    const { clock, steps, metrics, submit } = setup(costs(2, 0.01, 0.5));
    const trace = submit(100, 3);
    clock.run();
    expect(trace.finished).toBe(true);
    expect(steps[0]!.start).toBeCloseTo(3); // 2 ms + 100 × 10 µs
    expect(trace.tokens).toHaveLength(3);
    trace.tokens.forEach((at, i) => expect(at).toBeCloseTo(steps[i]!.end + 0.5));
    // vLLM's TTFT runs from the API server's arrival to the engine's first token, the queue time from the engine's arrival.
    const text = await metrics.text();
    expect(metricValue(text, 'vllm:time_to_first_token_seconds_sum{model_name="m"}')).toBeCloseTo(steps[0]!.end / 1000, 6);
    expect(metricValue(text, 'vllm:e2e_request_latency_seconds_sum{model_name="m"}')).toBeCloseTo(steps[2]!.end / 1000, 6);
    expect(metricValue(text, 'vllm:request_queue_time_seconds_sum{model_name="m"}')).toBeCloseTo(0, 6);
  });

  it('under load requests wait for the loop: they reach the engine one input processing apart', () => {
    const alone = setup(NO_FRONTEND);
    for (let i = 0; i < 4; i++) alone.submit(100, 2);
    alone.clock.run();
    // The engine alone: r0 starts a step at once, the other three share the next one.
    expect(alone.steps.slice(0, 2).map((step) => step.ids)).toEqual([['r0'], ['r0', 'r1', 'r2', 'r3']]);

    const behind = setup(costs(10, 0, 0));
    const traces = Array.from({ length: 4 }, () => behind.submit(100, 1));
    behind.clock.run();
    // A 100-token prefill step is shorter than 10 ms: each request has a step to itself.
    expect(behind.steps.map((step) => step.start)).toEqual([10, 20, 30, 40].map((t) => expect.closeTo(t, 6)));
    expect(behind.steps.map((step) => step.ids)).toEqual([['r0'], ['r1'], ['r2'], ['r3']]);
    expect(traces.every((trace) => trace.finished)).toBe(true);
  });

  it('requests still in the API server count against the waiting queue (429 as without it)', () => {
    for (const frontend of [NO_FRONTEND, costs(1, 0.001, 0.0077)]) {
      const { clock, engine, submit } = setup(frontend, { maxNumSeqs: 1, maxWaitingQueueLength: 1 });
      let rejected = 0;
      for (let i = 0; i < 10; i++) {
        try {
          submit(100, 2);
        } catch (err) {
          expect((err as { status?: number }).status).toBe(429);
          rejected++;
        }
      }
      expect(rejected).toBe(8);
      clock.run(0.5);
      expect(engine.numWaiting).toBeLessThanOrEqual(1);
      clock.run();
    }
  });

  it('the engine is idle only when the API server is; shutdown fails a request still in it instead of leaving it waiting', async () => {
    const { clock, engine, submit } = setup(costs(3, 0, 1));
    const first = submit(100, 1);
    let idle = false;
    void engine.whenIdle().then(() => { idle = true; });
    clock.run(3.1); // in the engine now, its token not yet out
    await Promise.resolve();
    expect(idle).toBe(false);
    clock.run();
    await Promise.resolve();
    expect(first.finished && idle).toBe(true);

    const late = submit(100, 5);
    engine.abort();
    expect(late.failed).toBe(true);
    expect(engine.numWaiting + engine.numRunning).toBe(0);
  });
});
