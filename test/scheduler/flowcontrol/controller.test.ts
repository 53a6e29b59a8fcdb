import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FlowController, type BandPolicy, type FlowControllerOptions } from '../../../scheduler/flowcontrol/controller.js';
import { GlobalStrictFairness, RoundRobinFairness } from '../../../scheduler/flowcontrol/fairness.js';
import { FlowControlMetrics } from '../../../scheduler/flowcontrol/metrics.js';
import { FcfsOrdering } from '../../../scheduler/flowcontrol/queue.js';
import { ConcurrencyDetector, UtilizationDetector } from '../../../scheduler/flowcontrol/saturation.js';
import type { AdmitResult, FlowRequest } from '../../../scheduler/flowcontrol/types.js';
import { StaticUsageLimitPolicy } from '../../../scheduler/flowcontrol/usage-limits.js';
import type { Endpoint } from '../../../scheduler/framework/endpoint.js';
import { makeEndpoint } from '../helpers.js';
import { ManualClock } from './manual-clock.js';

const band = (over: Partial<BandPolicy> = {}): BandPolicy => ({ maxRequests: 100, maxBytes: 1e9, fairness: new GlobalStrictFairness(), ordering: new FcfsOrdering(), ...over });
const req = (id: string, over: Partial<FlowRequest> = {}): FlowRequest => ({ id, fairnessId: 'default-flow', priority: 0, byteSize: 100, model: 'm', ...over });

/** A controller over one endpoint that is saturated with `maxConcurrency` requests in flight. */
function setup(over: Partial<FlowControllerOptions> & { maxConcurrency?: number } = {}) {
  const clock = new ManualClock();
  let endpoints: Endpoint[] = [makeEndpoint({ name: 'e0' })];
  const controller = new FlowController({
    detector: new ConcurrencyDetector('concurrency-detector', over.maxConcurrency ?? 1),
    endpoints: () => endpoints,
    bandFor: () => band(),
    clock,
    ...over,
  });
  return { clock, controller, setEndpoints: (list: Endpoint[]) => { endpoints = list; } };
}

/** Tracks a pending admit: `result` is set once it settles. */
function track(promise: Promise<AdmitResult>) {
  const state: { result?: AdmitResult } = {};
  void promise.then((r) => { state.result = r; });
  return state;
}
const settle = () => new Promise((resolve) => setImmediate(resolve));
const ticketOf = (r: AdmitResult | undefined) => {
  if (!r?.admitted) throw new Error(`not admitted: ${JSON.stringify(r)}`);
  return r.ticket;
};

describe('FlowController', () => {
  it('admits at once while the pool is not saturated; the next one waits until a release', async () => {
    const { controller, clock } = setup();
    const first = await controller.admit(req('a'));
    expect(first.admitted).toBe(true);
    const second = track(controller.admit(req('b')));
    await settle();
    expect(second.result).toBeUndefined();
    expect(controller.queued).toBe(1);
    clock.advance(250);
    await settle();
    expect(second.result).toBeUndefined();
    ticketOf(first).release();
    await settle();
    expect(second.result?.admitted).toBe(true);
    expect(ticketOf(second.result).waitedMs).toBe(250);
    expect(controller.queued).toBe(0);
    expect(controller.inFlight).toBe(1);
  });

  it('dispatches higher priority bands first, FCFS inside a band', async () => {
    const { controller } = setup();
    const blocker = ticketOf(await controller.admit(req('blocker')));
    const order: string[] = [];
    const admit = (id: string, priority: number) => void controller.admit(req(id, { priority })).then((r) => { order.push(id); ticketOf(r).release(); });
    admit('low-1', 0);
    admit('high', 10);
    admit('low-2', 0);
    admit('sheddable', -1);
    await settle();
    expect(order).toEqual([]);
    blocker.release();
    for (let i = 0; i < 6; i++) await settle();
    expect(order).toEqual(['high', 'low-1', 'low-2', 'sheddable']);
  });

  it('sheds a queued request with 429 when its TTL passes, not a millisecond earlier', async () => {
    const { controller, clock } = setup({ defaultRequestTtlMs: 5000, pollIntervalMs: 10 });
    await controller.admit(req('blocker'));
    const waiting = track(controller.admit(req('w')));
    clock.advance(4990);
    await settle();
    expect(waiting.result).toBeUndefined();
    clock.advance(10);
    await settle();
    expect(waiting.result).toMatchObject({ admitted: false, status: 429, outcome: 'EvictedTTL', droppedReason: 'rejected-ttl-expired' });
    expect(controller.queued).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a TTL of 0 never sheds', async () => {
    const { controller, clock } = setup({ defaultRequestTtlMs: 0 });
    await controller.admit(req('blocker'));
    const waiting = track(controller.admit(req('w')));
    clock.advance(3_600_000);
    await settle();
    expect(waiting.result).toBeUndefined();
    expect(controller.queued).toBe(1);
    controller.close();
    await settle();
    expect(waiting.result).toMatchObject({ admitted: false, status: 503, outcome: 'RejectedOther' });
  });

  it('rejects with 429 when the band is full (requests or bytes), and when the global limit is', async () => {
    const { controller } = setup({ bandFor: () => band({ maxRequests: 2, maxBytes: 250 }), maxRequests: 0 });
    await controller.admit(req('blocker'));
    void controller.admit(req('q1'));
    void controller.admit(req('q2'));
    expect(await controller.admit(req('q3'))).toMatchObject({ admitted: false, status: 429, outcome: 'RejectedCapacity', droppedReason: 'rejected-saturated' });
    const bytes = setup({ bandFor: () => band({ maxBytes: 250 }) });
    await bytes.controller.admit(req('blocker'));
    void bytes.controller.admit(req('q1', { byteSize: 200 }));
    expect(await bytes.controller.admit(req('q2', { byteSize: 51 }))).toMatchObject({ status: 429, outcome: 'RejectedCapacity' });
    expect(track(bytes.controller.admit(req('q3', { byteSize: 50 }))).result).toBeUndefined();
    const global = setup({ maxRequests: 1 });
    await global.controller.admit(req('blocker'));
    void global.controller.admit(req('q1', { priority: 5 }));
    expect(await global.controller.admit(req('q2', { priority: 9 }))).toMatchObject({ status: 429, outcome: 'RejectedCapacity' });
  });

  it('with no endpoints: waits, sheds with 503 after noEndpointRequestTTL, dispatches when the pool comes back', async () => {
    const { controller, clock, setEndpoints } = setup({ defaultRequestTtlMs: 1000, noEndpointRequestTtlMs: 30_000, bandFor: () => band({ maxRequests: 1 }) });
    setEndpoints([]);
    const cold = track(controller.admit(req('cold')));
    expect(await controller.admit(req('full'))).toMatchObject({ status: 503, outcome: 'RejectedNoEndpoints' });
    clock.advance(29_990);
    await settle();
    expect(cold.result).toBeUndefined();
    clock.advance(10);
    await settle();
    expect(cold.result).toMatchObject({ admitted: false, status: 503, outcome: 'EvictedNoEndpoints' });

    const warm = track(controller.admit(req('warm')));
    clock.advance(10_000);
    setEndpoints([makeEndpoint({ name: 'e1' })]);
    clock.advance(10);
    await settle();
    expect(warm.result?.admitted).toBe(true);
  });

  it('a regime change starts a fresh budget, within the bound of the longer budget', async () => {
    const { controller, clock, setEndpoints } = setup({ defaultRequestTtlMs: 1000, noEndpointRequestTtlMs: 10_000 });
    await controller.admit(req('blocker'));
    const waiting = track(controller.admit(req('w')));
    clock.advance(900);
    setEndpoints([]);
    clock.advance(4000); // 4.9 s queued, 4 s of it with an empty pool: within the 10 s budget
    await settle();
    expect(waiting.result).toBeUndefined();
    setEndpoints([makeEndpoint({ name: 'e0' })]);
    clock.advance(990); // fresh 1 s budget, not yet spent
    await settle();
    expect(waiting.result).toBeUndefined();
    clock.advance(20);
    await settle();
    expect(waiting.result).toMatchObject({ status: 429, outcome: 'EvictedTTL' });

    // Flapping regimes never extend the wait past the longer budget (10 s).
    const flapping = track(controller.admit(req('f')));
    for (let t = 0; t < 9; t++) {
      setEndpoints(t % 2 === 0 ? [] : [makeEndpoint({ name: 'e0' })]);
      clock.advance(900);
    }
    setEndpoints([]);
    clock.advance(1000); // 9.1 s queued; the empty-pool budget restarted 1 s ago
    await settle();
    expect(flapping.result).toBeUndefined();
    clock.advance(900); // 10 s queued: the bound, though the current budget has 9 s left
    await settle();
    expect(flapping.result).toMatchObject({ admitted: false, outcome: 'EvictedNoEndpoints' });
  });

  it('a client that leaves is removed from the queue (503) and does not hold up the next one', async () => {
    const { controller } = setup();
    const blocker = ticketOf(await controller.admit(req('blocker')));
    const abort = new AbortController();
    const leaving = track(controller.admit(req('leaving'), abort.signal));
    const staying = track(controller.admit(req('staying')));
    abort.abort();
    await settle();
    expect(leaving.result).toMatchObject({ admitted: false, status: 503, outcome: 'EvictedContextCancelled' });
    expect(controller.queued).toBe(1);
    blocker.release();
    await settle();
    expect(staying.result?.admitted).toBe(true);
    const gone = new AbortController();
    gone.abort();
    expect(await controller.admit(req('already-gone'), gone.signal)).toMatchObject({ outcome: 'EvictedContextCancelled' });
  });

  it('a usage limit below 1 gates dispatch earlier', async () => {
    const { controller } = setup({ maxConcurrency: 4, usageLimit: new StaticUsageLimitPolicy('s', 0.5) });
    expect((await controller.admit(req('a'))).admitted).toBe(true); // 0/4
    expect((await controller.admit(req('b'))).admitted).toBe(true); // 1/4 = 0.25
    const third = track(controller.admit(req('c'))); // 2/4 = 0.5 ≥ 0.5 → waits
    await settle();
    expect(third.result).toBeUndefined();
  });

  it('round-robin fairness alternates flows of one band; global-strict is FCFS across them', async () => {
    for (const [fairness, expected] of [
      [new RoundRobinFairness(), ['a1', 'b1', 'a2', 'a3']],
      [new GlobalStrictFairness(), ['a1', 'a2', 'a3', 'b1']],
    ] as const) {
      const { controller, clock } = setup({ bandFor: () => band({ fairness }) });
      const blocker = ticketOf(await controller.admit(req('blocker')));
      const order: string[] = [];
      for (const [id, flow] of [['a1', 'a'], ['a2', 'a'], ['a3', 'a'], ['b1', 'b']] as const) {
        void controller.admit(req(id, { fairnessId: flow })).then((r) => { order.push(id); ticketOf(r).release(); });
        clock.advance(1);
      }
      blocker.release();
      for (let i = 0; i < 6; i++) await settle();
      expect(order).toEqual(expected);
    }
  });

  it('utilization detector: never-scraped endpoints count as saturated; fresh idle metrics let requests through', async () => {
    const clock = new ManualClock();
    const endpoint = makeEndpoint({ name: 'e0' });
    const controller = new FlowController({ detector: new UtilizationDetector('u'), endpoints: () => [endpoint], bandFor: () => band(), clock });
    const waiting = track(controller.admit(req('w')));
    clock.advance(50);
    await settle();
    expect(waiting.result).toBeUndefined();
    (endpoint.metrics as { updatedAt: number }).updatedAt = clock.now();
    clock.advance(10);
    await settle();
    expect(waiting.result?.admitted).toBe(true);
  });

  it('records upstream-named metrics', async () => {
    const registry = new Registry();
    const metrics = new FlowControlMetrics(registry, 'pool-a');
    const { controller, clock } = setup({ metrics, defaultRequestTtlMs: 100 });
    await controller.admit(req('a'));
    const waiting = track(controller.admit(req('b', { fairnessId: 'tenant' })));
    const text = await registry.metrics();
    expect(text).toMatch(/llm_d_epp_flow_control_queue_size\{fairness_id="tenant",priority="0",inference_pool="pool-a",model_name="m",target_model_name="m"\} 1/);
    clock.advance(100);
    await settle();
    expect(waiting.result?.admitted).toBe(false);
    const after = await registry.metrics();
    expect(after).toMatch(/llm_d_epp_flow_control_requests_total\{outcome="Dispatched",priority="0",inference_pool="pool-a"\} 1/);
    expect(after).toMatch(/llm_d_epp_flow_control_requests_total\{outcome="EvictedTTL",priority="0",inference_pool="pool-a"\} 1/);
    expect(after).toMatch(/llm_d_epp_flow_control_queue_size\{fairness_id="tenant",[^}]*\} 0/);
    expect(after).toMatch(/llm_d_epp_flow_control_pool_saturation\{inference_pool="pool-a",stage="effective"\} 1/);
  });
});
