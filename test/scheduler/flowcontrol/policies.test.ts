import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ProbabilisticAdmitter, rooflineSaturation } from '../../../scheduler/flowcontrol/admitter.js';
import { jainsIndex, ProgramAwareFairness, PROGRAM_AWARE_DEFAULTS } from '../../../scheduler/flowcontrol/program-aware.js';
import { EdfOrdering, FcfsOrdering, FlowQueue, type QueueItem } from '../../../scheduler/flowcontrol/queue.js';
import { ConcurrencyDetector, UtilizationDetector } from '../../../scheduler/flowcontrol/saturation.js';
import { SoftReflectiveCeilingPolicy, StaticUsageLimitPolicy } from '../../../scheduler/flowcontrol/usage-limits.js';
import { makeEndpoint } from '../helpers.js';

const item = (seq: number, enqueuedAt: number, deadline = Infinity, fairnessId = 'f'): QueueItem => ({
  request: { id: `r${seq}`, fairnessId, priority: 0, byteSize: 10 }, seq, enqueuedAt, deadline,
});

describe('soft-reflective-ceiling-policy', () => {
  const policy = () => new SoftReflectiveCeilingPolicy('s');
  it('one band is always open; band 0 always gets 1', () => {
    expect(policy().ceilings(0.99, [5])).toEqual([1]);
    expect(policy().ceilings(2, [5, 0])[0]).toBe(1);
  });
  it('below every reflective ceiling all bands are open; at s ≥ 1 all lower bands close', () => {
    // 3 bands, s = 0.3: reflective = [1, 0.85, 0.7] → all open, and the tick does not move.
    expect(policy().ceilings(0.3, [2, 1, 0])).toEqual([1, 1, 1]);
    expect(policy().ceilings(1, [2, 1, 0])).toEqual([1, 0, 0]);
  });
  it('past its reflective ceiling a band is open on one call in round(s/(1−s))', () => {
    const p = policy();
    // 2 bands, s = 0.75: reflective[1] = 0.25 ≤ s → alternating, period = round(3) = 3.
    const opens = Array.from({ length: 9 }, () => p.ceilings(0.75, [1, 0])[1]);
    expect(opens).toEqual([0, 0, 1, 0, 0, 1, 0, 0, 1]);
  });
  it('in between, only the bands past their ceiling alternate', () => {
    // 3 bands, s = 0.62: reflective = [1, 0.69, 0.38]: band 1 open (0.62 < 0.69), band 2 alternates (period round(1.63) = 2).
    const p = policy();
    expect([p.ceilings(0.62, [2, 1, 0]), p.ceilings(0.62, [2, 1, 0])]).toEqual([[1, 1, 0], [1, 1, 1]]);
  });
  it('static policy gives every band its threshold', () => {
    expect(new StaticUsageLimitPolicy('s', 0.8).ceilings(0.5, [3, 2, 1])).toEqual([0.8, 0.8, 0.8]);
  });
});

describe('ordering policies', () => {
  it('fcfs: enqueue time, then arrival', () => {
    const q = new FlowQueue('f', new FcfsOrdering());
    q.push(item(2, 20));
    q.push(item(1, 10));
    q.push(item(3, 10));
    expect(q.list().map((i) => i.seq)).toEqual([1, 3, 2]);
    expect(q.bytes).toBe(30);
  });
  it('edf: earliest deadline first; no deadline goes last', () => {
    const q = new FlowQueue('f', new EdfOrdering());
    q.push(item(1, 0));
    q.push(item(2, 5, 500));
    q.push(item(3, 9, 100));
    expect(q.list().map((i) => i.seq)).toEqual([3, 2, 1]);
  });
});

describe('saturation detectors', () => {
  const now = 10_000;
  const ep = (waiting: number, kv: number, updatedAt = now) => makeEndpoint({ name: `e${waiting}-${kv}`, metrics: { waitingQueueSize: waiting, kvCacheUsagePercent: kv, updatedAt } });
  it('utilization: mean of max(queue/5, kv/0.8); stale or never scraped = 1; empty pool = 1', () => {
    const d = new UtilizationDetector('u');
    expect(d.saturation({ endpoints: [ep(5, 0), ep(0, 0.4)], inFlight: 0, now })).toBeCloseTo((1 + 0.5) / 2);
    expect(d.saturation({ endpoints: [ep(10, 0.2)], inFlight: 0, now })).toBe(2);
    expect(d.saturation({ endpoints: [ep(0, 0, now - 201), ep(0, 0, 0)], inFlight: 0, now })).toBe(1);
    expect(d.lastStale).toBe(2);
    expect(d.saturation({ endpoints: [ep(0, 0, now - 200)], inFlight: 0, now })).toBe(0);
    expect(d.saturation({ endpoints: [], inFlight: 0, now })).toBe(1);
  });
  it('concurrency: in flight / (max · endpoints)', () => {
    expect(new ConcurrencyDetector('c', 10).saturation({ endpoints: [ep(0, 0), ep(1, 0)], inFlight: 5, now })).toBe(0.25);
  });
});

describe('program-aware-fairness (LAS)', () => {
  const flows = (...specs: Array<[string, number]>) => specs.map(([id, enqueuedAt]) => {
    const q = new FlowQueue(id, new FcfsOrdering());
    q.push(item(0, enqueuedAt, Infinity, id));
    return q;
  });
  it('prefers the program with the least attained service; weighted tokens 1 in : 2 out', () => {
    const p = new ProgramAwareFairness('p');
    p.onComplete('heavy', { promptTokens: 100, completionTokens: 100 }, 0);
    p.onComplete('light', { promptTokens: 250, completionTokens: 0 }, 0);
    expect(p.service('heavy', 0)).toBe(300);
    expect(p.pick(flows(['heavy', 0], ['light', 0]), undefined, 0)?.fairnessId).toBe('light');
  });
  it('head wait breaks ties between equal service', () => {
    const p = new ProgramAwareFairness('p');
    expect(p.pick(flows(['new', 90], ['old', 10]), undefined, 100)?.fairnessId).toBe('old');
  });
  it('service halves every half-life', () => {
    const p = new ProgramAwareFairness('p', { ...PROGRAM_AWARE_DEFAULTS, halfLifeSeconds: 10 });
    p.onComplete('a', { promptTokens: 800 }, 0);
    expect(p.service('a', 10_000)).toBeCloseTo(400);
    expect(p.service('a', 30_000)).toBeCloseTo(100);
  });
  it('forgets idle programs after the eviction TTL, not while in flight; exports the gauges', async () => {
    const registry = new Registry();
    const p = new ProgramAwareFairness('p', { ...PROGRAM_AWARE_DEFAULTS, evictionTtlSeconds: 10, evictionSweepSeconds: 1 }, registry);
    p.pick([], undefined, 0);
    p.onDispatch('busy', 30, 0);
    p.onDispatch('idle', 10, 0);
    p.onComplete('idle', { promptTokens: 5 }, 0);
    expect(await registry.metrics()).toMatch(/llm_d_epp_program_aware_attained_service_tokens\{program_id="idle"\} 5/);
    p.pick([], undefined, 20_000);
    expect(p.size).toBe(1);
    expect(await registry.metrics()).not.toMatch(/program_id="idle"/);
  });
  it("Jain's index: 1 for equal values, 1/n for one non-zero", () => {
    expect(jainsIndex([5, 5, 5])).toBe(1);
    expect(jainsIndex([9, 0, 0])).toBeCloseTo(1 / 3);
  });
});

describe('probabilistic-admitter', () => {
  const loaded = (waiting: number) => makeEndpoint({ name: `e${waiting}`, metrics: { waitingQueueSize: waiting, updatedAt: 1 } });
  it('p = min(s^power · k, 1): ≈2.3% at s = 0.15, 100% from ≈0.34', () => {
    const a = new ProbabilisticAdmitter('a');
    expect(a.rejectProbability(0.15)).toBeCloseTo(0.0228, 3);
    expect(a.rejectProbability(0.34)).toBe(1);
    expect(rooflineSaturation([loaded(1), loaded(2)], 5, 0.8)).toBeCloseTo(0.3);
  });
  it('never sheds priority ≥ 0 or an empty pool; sheds sheddable ones by the draw', () => {
    const a = new ProbabilisticAdmitter('a', { queueDepthThreshold: 5, kvCacheUtilThreshold: 0.8, power: 1, k: 1, random: () => 0.5 });
    expect(a.admit(0, [loaded(5)])).toBe(true);
    expect(a.admit(-1, [])).toBe(true);
    expect(a.admit(-1, [loaded(2)])).toBe(true); // p = 0.4 ≤ draw 0.5
    expect(a.admit(-1, [loaded(3)])).toBe(false); // p = 0.6 > 0.5
  });
});
