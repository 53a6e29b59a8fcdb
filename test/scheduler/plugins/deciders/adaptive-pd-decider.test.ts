/** adaptive-pd-decider on constructed pod states (default parameters = the priors; no timing). */
import { describe, expect, it } from 'vitest';
import { PREFIX_CACHE_MATCH_INFO } from '../../../../scheduler/framework/cycle-state.js';
import type { Endpoint, EndpointMetrics } from '../../../../scheduler/framework/endpoint.js';
import { ConfigError } from '../../../../scheduler/framework/errors.js';
import { isDecider, type PdDecision } from '../../../../scheduler/framework/plugins.js';
import { EppMetrics } from '../../../../scheduler/metrics.js';
import { AdaptivePdDecider, adaptivePdDeciderFactory } from '../../../../scheduler/plugins/deciders/adaptive-pd-decider.js';
import { createDefaultRegistry } from '../../../../scheduler/plugins/index.js';
import { makeContext, makeEndpoint, makeHandle, makeRequest } from '../../helpers.js';

const metrics = (running: number, waiting: number, more: Partial<EndpointMetrics> = {}): Partial<EndpointMetrics> =>
  ({ runningRequestsSize: running, waitingQueueSize: waiting, updatedAt: 1, ...more });
const decodePod = (running: number, waiting: number) => makeEndpoint({ name: 'decode-0', role: 'decode', metrics: metrics(running, waiting) });
const prefillPod = (name: string, running: number, waiting: number, more: Partial<EndpointMetrics> = {}) =>
  makeEndpoint({ name, role: 'prefill', metrics: metrics(running, waiting, more) });

/** A completions request of exactly `tokens` estimated tokens (4 bytes each). */
const prompt = (tokens: number) => makeRequest({ model: 'm', prompt: 'abcd'.repeat(tokens) });

function decide(decode: Endpoint, prefills: Endpoint[], tokens: number, cachedOnDecode = 0, decider = build()): PdDecision {
  const ctx = makeContext([decode, ...prefills]);
  ctx.attributes.set(decode, PREFIX_CACHE_MATCH_INFO, { matchBlocks: cachedOnDecode, totalBlocks: tokens, blockSizeTokens: 1 });
  return decider.decide(ctx, prompt(tokens), decode);
}

function build(parameters: Record<string, unknown> = {}, eppMetrics?: EppMetrics): AdaptivePdDecider {
  return adaptivePdDeciderFactory('adaptive', parameters, { ...makeHandle(), metrics: eppMetrics }) as AdaptivePdDecider;
}

describe('adaptive-pd-decider: when not to ask the model', () => {
  it('short input → short_input', () => {
    expect(decide(decodePod(0, 0), [prefillPod('p', 0, 0)], 100)).toEqual({ disaggregate: false, reason: 'short_input', estimates: { input_tokens: 100 } });
  });

  it('fully or mostly cached on the decode pod → cached', () => {
    expect(decide(decodePod(64, 0), [prefillPod('p', 0, 0)], 8000, 8000)).toMatchObject({ disaggregate: false, reason: 'cached', estimates: { uncached_tokens: 0 } });
    expect(decide(decodePod(64, 0), [prefillPod('p', 0, 0)], 8000, 7800)).toMatchObject({ disaggregate: false, reason: 'cached', estimates: { uncached_tokens: 200 } });
  });

  it('no prefill pod among the candidates (or only stale ones) → no_prefill_pod', () => {
    expect(decide(decodePod(64, 4), [], 8000).reason).toBe('no_prefill_pod');
    const stale = makeEndpoint({ name: 'p', role: 'prefill', metrics: { stale: true } });
    const otherDecode = makeEndpoint({ name: 'decode-1', role: 'decode' });
    expect(decide(decodePod(64, 4), [stale, otherDecode], 8000)).toMatchObject({ disaggregate: false, reason: 'no_prefill_pod' });
  });

  it('every prefill pod saturated (queue or KV) → prefill_saturated, local, counted as a warning', async () => {
    const eppMetrics = new EppMetrics();
    const decider = build({}, eppMetrics);
    const saturated = [prefillPod('p0', 4, 9), prefillPod('p1', 4, 0, { kvCacheUsagePercent: 0.95 })];
    expect(decide(decodePod(64, 4), saturated, 8000, 0, decider)).toMatchObject({ disaggregate: false, reason: 'prefill_saturated' });
    const { values } = await eppMetrics.prefillFallback.get();
    expect(values.map((v) => [v.labels.reason, v.value])).toEqual([['prefill_saturated', 1]]);
    // One open pod is enough.
    expect(decide(decodePod(64, 4), [...saturated, prefillPod('p2', 0, 0)], 8000, 0, decider).disaggregate).toBe(true);
  });
});

describe('adaptive-pd-decider: the cost comparison', () => {
  it('idle prefill pool, long uncached prompt, busy decode pod → remote (TPOT would suffer: protect_tpot)', () => {
    // local: queue 4·1024/20000 s = 204.8 ms + 8000/20000 s + 4 chunks · step(64)=13.12 ms → 657.3 ms;
    // chunk ITL 13.12 + 2048/20000 s = 115.5 ms > 50. Remote: 400 + 4·8 + 8000·128 KiB/25 GB/s + 2 + step(65).
    const decision = decide(decodePod(64, 4), [prefillPod('p', 0, 0)], 8000);
    expect(decision.disaggregate).toBe(true);
    expect(decision.reason).toBe('protect_tpot');
    expect(decision.estimates).toMatchObject({ input_tokens: 8000, uncached_tokens: 8000, ttft_local_ms: 657.3, itl_local_ms: 115.5 });
    expect(decision.estimates!.ttft_remote_ms).toBeLessThan(decision.estimates!.ttft_local_ms!);
  });

  it('nothing decoding but a queue on the decode pod → remote_cheaper (TTFT alone)', () => {
    const decision = decide(decodePod(0, 10), [prefillPod('p', 0, 0)], 8000);
    expect(decision).toMatchObject({ disaggregate: true, reason: 'remote_cheaper' });
    expect(decision.estimates!.ttft_remote_ms).toBeLessThan(decision.estimates!.ttft_local_ms!);
  });

  it('TTFT a little worse remotely, but the local prefill would break TPOT for 32 running requests → protect_tpot', () => {
    const decision = decide(decodePod(32, 0), [prefillPod('p', 0, 0)], 2000);
    expect(decision.reason).toBe('protect_tpot');
    expect(decision.estimates!.ttft_remote_ms).toBeGreaterThan(decision.estimates!.ttft_local_ms!);
    // With a looser TPOT SLO the same state stays local.
    expect(decide(decodePod(32, 0), [prefillPod('p', 0, 0)], 2000, 0, build({ tpotSloMs: 200 })).reason).toBe('local_cheaper');
  });

  it('idle decode pod, busy prefill pool → local_cheaper', () => {
    const decision = decide(decodePod(0, 0), [prefillPod('p0', 4, 6), prefillPod('p1', 6, 5)], 8000);
    expect(decision).toMatchObject({ disaggregate: false, reason: 'local_cheaper' });
    expect(decision.estimates!.ttft_local_ms).toBeLessThan(decision.estimates!.ttft_remote_ms!);
  });

  it('a slow KV transfer makes remote prefill lose', () => {
    expect(decide(decodePod(0, 10), [prefillPod('p', 0, 0)], 8000, 0, build({ transferGBps: 0.5 })).reason).toBe('local_cheaper');
  });

  it('learned speeds change the decision: a decode pod measured slow at prefill sends the same request remote', () => {
    const decider = build({ learnAlpha: 1 });
    const quietDecode = (counters: EndpointMetrics['engineCounters'], at: number) =>
      makeEndpoint({ name: 'decode-0', role: 'decode', metrics: metrics(0, 0, { updatedAt: at, engineCounters: counters }) });
    const zero = { ttftSeconds: 0, ttftCount: 0, itlSeconds: 0, itlCount: 0, promptTokens: 0, generationTokens: 0 };
    const prefills = [prefillPod('p0', 2, 1)];
    expect(decide(quietDecode(zero, 1000), prefills, 4000, 0, decider).reason).toBe('local_cheaper');
    // 20 prompts of 1000 tokens took 10 s of TTFT with nothing queued: 2000 tokens/s, not 20 000.
    const slow = quietDecode({ ...zero, ttftSeconds: 10, ttftCount: 20, promptTokens: 20_000 }, 11_000);
    expect(decide(slow, prefills, 4000, 0, decider).reason).toBe('remote_cheaper');
  });
});

describe('adaptive-pd-decider: configuration', () => {
  it('is registered, is a decider, and reads PrefixCacheMatchInfo', () => {
    const plugin = createDefaultRegistry().create('adaptive-pd-decider', 'a', undefined, makeHandle());
    expect(isDecider(plugin)).toBe(true);
    expect((plugin as AdaptivePdDecider).consumes).toEqual([PREFIX_CACHE_MATCH_INFO]);
    expect((plugin as AdaptivePdDecider).parameters).toMatchObject({ minInputTokens: 256, ttftSloMs: 1000, tpotSloMs: 50, learn: true });
  });

  it.each([
    [{ tpotSloMs: 0 }, /^parameters\.tpotSloMs: tpotSloMs must be > 0/],
    [{ ttftSloMs: -5 }, /^parameters\.ttftSloMs/],
    [{ maxPrefillKvUsage: 1.5 }, /^parameters\.maxPrefillKvUsage: .*\(0, 1\]/],
    [{ minInputTokens: 0 }, /^parameters\.minInputTokens/],
    [{ learnAlpha: 0 }, /^parameters\.learnAlpha/],
    [{ transferGBps: '25' }, /^parameters\.transferGBps/],
    [{ tpotSLOms: 50 }, /tpotSLOms/],
  ])('rejects %j', (parameters, message) => {
    expect(() => build(parameters)).toThrow(ConfigError);
    expect(() => build(parameters)).toThrow(message);
  });
});
