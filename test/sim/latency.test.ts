import { describe, expect, it } from 'vitest';
import { interTokenLatency, jitter, loadFactor, timeToFirstToken, type LatencySettings } from '../../src/sim/latency.js';
import { Random } from '../../src/sim/random.js';

const zero: LatencySettings = {
  timeToFirstToken: 0, timeToFirstTokenStdDev: 0, interTokenLatency: 0, interTokenLatencyStdDev: 0,
  kvCacheTransferLatency: 0, kvCacheTransferLatencyStdDev: 0, prefillOverhead: 0, prefillTimePerToken: 0,
  prefillTimeStdDev: 0, kvCacheTransferTimePerToken: 0, kvCacheTransferTimeStdDev: 0, latencyCalculator: '', timeFactorUnderLoad: 1,
};
const context = (maxNumSeqs = 5, wholeMs = false) => ({ random: new Random(7), maxNumSeqs, wholeMs });
const params = { promptTokens: 100, cachedTokens: 0, doRemotePrefill: false, running: 1 };

describe('jitter', () => {
  it('σ = 0 returns the mean without drawing', () => {
    const random = new Random(1);
    expect(jitter(random, 50, 0, false)).toBe(50);
    expect(jitter(random, 0, 0, true)).toBe(0);
  });

  it('stays within [0.3·mean, 1.7·mean] and clamps extreme draws', () => {
    const random = new Random(42);
    const samples = Array.from({ length: 5000 }, () => jitter(random, 100, 200, false));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(30);
    expect(Math.max(...samples)).toBeLessThanOrEqual(170);
    // σ twice the mean: plenty of draws land on both clamps.
    expect(samples.filter((s) => s === 30).length).toBeGreaterThan(100);
    expect(samples.filter((s) => s === 170).length).toBeGreaterThan(100);
  });

  it('is roughly centred on the mean (deterministic seed)', () => {
    const random = new Random(3);
    const samples = Array.from({ length: 4000 }, () => jitter(random, 100, 10, false));
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    expect(mean).toBeGreaterThan(98);
    expect(mean).toBeLessThan(102);
  });

  it('Go parity: whole milliseconds (0.9 ms → 0, 1.9 ms → 1 ms)', () => {
    const random = new Random(5);
    expect(jitter(random, 0.9, 0, true)).toBe(0);
    expect(jitter(random, 1.9, 0, true)).toBe(1);
    expect(jitter(random, 1.9, 0, false)).toBe(1.9);
    for (let i = 0; i < 100; i++) expect(Number.isInteger(jitter(random, 20.7, 3.9, true))).toBe(true);
  });

  it('the same seed replays the same samples', () => {
    const a = new Random(99);
    const b = new Random(99);
    for (let i = 0; i < 20; i++) expect(jitter(a, 40, 10, false)).toBe(jitter(b, 40, 10, false));
  });
});

describe('load factor', () => {
  it('is 1 + (f − 1)·(running − 1)/(max − 1)', () => {
    expect(loadFactor(3, 1, 5)).toBe(1);
    expect(loadFactor(3, 5, 5)).toBe(3);
    expect(loadFactor(3, 3, 5)).toBe(2);
    expect(loadFactor(1, 5, 5)).toBe(1);
  });

  it('is 1 when max-num-seqs ≤ 1', () => {
    expect(loadFactor(10, 1, 1)).toBe(1);
    expect(loadFactor(10, 3, 0)).toBe(1);
  });
});

describe('TTFT calculators', () => {
  it('constant: ttft·L', () => {
    const settings = { ...zero, latencyCalculator: 'constant' as const, timeToFirstToken: 100, timeFactorUnderLoad: 2 };
    expect(timeToFirstToken(settings, params, context())).toBe(100);
    expect(timeToFirstToken(settings, { ...params, running: 5 }, context())).toBe(200);
  });

  it('per-token: (overhead + (n − c)·per-token)·L; hits shorten it', () => {
    const settings = { ...zero, latencyCalculator: 'per-token' as const, prefillOverhead: 10, prefillTimePerToken: 2, timeFactorUnderLoad: 3 };
    expect(timeToFirstToken(settings, params, context())).toBe(210);
    expect(timeToFirstToken(settings, { ...params, cachedTokens: 96 }, context())).toBe(18);
    expect(timeToFirstToken(settings, { ...params, running: 5 }, context())).toBe(630);
  });

  it('remote prefill: KV transfer time, full prompt length, not load-scaled', () => {
    const constant = { ...zero, latencyCalculator: 'constant' as const, timeToFirstToken: 500, kvCacheTransferLatency: 50, timeFactorUnderLoad: 4 };
    expect(timeToFirstToken(constant, { ...params, doRemotePrefill: true, running: 5 }, context())).toBe(50);
    const perToken = { ...zero, latencyCalculator: 'per-token' as const, kvCacheTransferTimePerToken: 0.5, prefillTimePerToken: 10 };
    expect(timeToFirstToken(perToken, { ...params, doRemotePrefill: true, cachedTokens: 96 }, context())).toBe(50);
  });

  it('legacy "": per-token when ttft and its std are 0, else constant — separately for remote prefill', () => {
    const perTokenish = { ...zero, prefillTimePerToken: 1, kvCacheTransferLatency: 30 };
    expect(timeToFirstToken(perTokenish, params, context())).toBe(100);
    expect(timeToFirstToken(perTokenish, { ...params, doRemotePrefill: true }, context())).toBe(30);
    const constantish = { ...zero, timeToFirstToken: 20, prefillTimePerToken: 1, kvCacheTransferTimePerToken: 2 };
    expect(timeToFirstToken(constantish, params, context())).toBe(20);
    expect(timeToFirstToken(constantish, { ...params, doRemotePrefill: true }, context())).toBe(200);
  });
});

describe('inter-token latency', () => {
  it('is itl·L, re-evaluated with the running count', () => {
    const settings = { ...zero, interTokenLatency: 10, timeFactorUnderLoad: 2 };
    expect(interTokenLatency(settings, 1, context(3))).toBe(10);
    expect(interTokenLatency(settings, 3, context(3))).toBe(20);
  });
});
