import { describe, expect, it } from 'vitest';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo, type SchedulingContext } from '../../../../scheduler/framework/cycle-state.js';
import type { Endpoint } from '../../../../scheduler/framework/endpoint.js';
import { ConfigError } from '../../../../scheduler/framework/errors.js';
import { isDataProducer, isPreRequest } from '../../../../scheduler/framework/plugins.js';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import type { InferenceRequest } from '../../../../scheduler/framework/request.js';
import {
  APPROX_PREFIX_CACHE_PRODUCER_TYPE, ApproxPrefixCacheProducer, approxPrefixCacheProducerFactory, parseApproxPrefixConfig,
} from '../../../../scheduler/plugins/producers/approx-prefix-cache-producer.js';
import { registerProducerPlugins } from '../../../../scheduler/plugins/producers/index.js';
import { PrefixCacheScorer } from '../../../../scheduler/plugins/scorers/prefix-cache-scorer.js';
import { captureLogger, makeContext, makeEndpoint, makeHandle, makeRequest, makeResult, scoresByName, WARN_LEVEL } from '../../helpers.js';

/** A completions request made of full 64-byte blocks (16 tokens × 4 bytes), one per chunk character. */
const prompt = (...chunks: string[]) => makeRequest({ model: 'm', prompt: chunks.map((c) => c.repeat(64)).join('') });

function produce(producer: ApproxPrefixCacheProducer, request: InferenceRequest, endpoints: Endpoint[]): { ctx: SchedulingContext; info: Record<string, PrefixCacheMatchInfo> } {
  const ctx = makeContext(endpoints);
  producer.produce(ctx, request, endpoints);
  const info = Object.fromEntries(endpoints.map((e) => [e.name, ctx.attributes.get<PrefixCacheMatchInfo>(e, PREFIX_CACHE_MATCH_INFO)!]));
  return { ctx, info };
}

/** Produce + PreRequest with `decode` (and optionally `prefill`) as the picks. */
function route(producer: ApproxPrefixCacheProducer, request: InferenceRequest, endpoints: Endpoint[], decode: Endpoint, prefill?: Endpoint) {
  const { ctx, info } = produce(producer, request, endpoints);
  producer.preRequest(ctx, request, makeResult(prefill ? { decode: [decode], prefill: [prefill] } : { decode: [decode] }));
  producer.flush();
  return info;
}

const matchBlocks = (info: Record<string, PrefixCacheMatchInfo>) => Object.fromEntries(Object.entries(info).map(([name, i]) => [name, i.matchBlocks]));

describe('approx-prefix-cache-producer', () => {
  const [e1, e2, e3] = ['e1', 'e2', 'e3'].map((name) => makeEndpoint({ name })) as [Endpoint, Endpoint, Endpoint];
  const all = [e1, e2, e3];

  it('writes match info on every candidate; nothing matches before any routing', () => {
    const { info } = produce(new ApproxPrefixCacheProducer(), prompt('a', 'b', 'c'), all);
    expect(info).toEqual({
      e1: { matchBlocks: 0, totalBlocks: 3, blockSizeTokens: 16 },
      e2: { matchBlocks: 0, totalBlocks: 3, blockSizeTokens: 16 },
      e3: { matchBlocks: 0, totalBlocks: 3, blockSizeTokens: 16 },
    });
  });

  it('after routing, the same request fully matches the chosen endpoint (hashing is stable across calls)', () => {
    const producer = new ApproxPrefixCacheProducer();
    route(producer, prompt('a', 'b', 'c'), all, e2);
    expect(matchBlocks(produce(producer, prompt('a', 'b', 'c'), all).info)).toEqual({ e1: 0, e2: 3, e3: 0 });
  });

  it('the match walk stops at the first block no endpoint holds', () => {
    const producer = new ApproxPrefixCacheProducer();
    route(producer, prompt('a', 'b', 'c', 'd'), all, e1);
    route(producer, prompt('a', 'b'), all, e3);
    // Shares a, b with both, then diverges: c is held by e1 only, x by nobody → stop.
    expect(matchBlocks(produce(producer, prompt('a', 'b', 'x', 'c', 'd'), all).info)).toEqual({ e1: 2, e2: 0, e3: 2 });
    expect(matchBlocks(produce(producer, prompt('a', 'b', 'c', 'x'), all).info)).toEqual({ e1: 3, e2: 0, e3: 2 });
  });

  it('records the prefill target as well as the primary one (P/D)', () => {
    const producer = new ApproxPrefixCacheProducer();
    route(producer, prompt('p', 'q'), all, e1, e3);
    expect(matchBlocks(produce(producer, prompt('p', 'q'), all).info)).toEqual({ e1: 2, e2: 0, e3: 2 });
  });

  it('separates models and cache salts', () => {
    const producer = new ApproxPrefixCacheProducer();
    route(producer, prompt('s', 't'), all, e1);
    expect(produce(producer, makeRequest({ model: 'other', prompt: 's'.repeat(64) + 't'.repeat(64) }), all).info.e1!.matchBlocks).toBe(0);
    expect(produce(producer, makeRequest({ model: 'm', prompt: 's'.repeat(64) + 't'.repeat(64), cache_salt: 'x' }), all).info.e1!.matchBlocks).toBe(0);
    expect(produce(producer, prompt('s', 't'), all).info.e1!.matchBlocks).toBe(2);
  });

  it('short input (< one block) gives totalBlocks 0 and records nothing', () => {
    const producer = new ApproxPrefixCacheProducer();
    const short = makeRequest({ model: 'm', prompt: 'hello' });
    expect(route(producer, short, all, e1).e1).toEqual({ matchBlocks: 0, totalBlocks: 0, blockSizeTokens: 16 });
    expect(producer.index.blockCount()).toBe(0);
  });

  it('autoTune takes the block size from the first candidate\'s metrics', () => {
    const big = makeEndpoint({ name: 'big', metrics: { cacheBlockSize: 32 } });
    const producer = new ApproxPrefixCacheProducer();
    const request = makeRequest({ model: 'm', prompt: 'z'.repeat(128 * 3) });
    expect(produce(producer, request, [big, e1]).info.e1).toEqual({ matchBlocks: 0, totalBlocks: 3, blockSizeTokens: 32 });
    // Only the first candidate counts; 0 (unknown) falls back to blockSizeTokens.
    expect(produce(producer, request, [e1, big]).info.big!.blockSizeTokens).toBe(16);
    const fixed = new ApproxPrefixCacheProducer('p', { autoTune: false, blockSizeTokens: 8 });
    expect(produce(fixed, request, [big]).info.big).toEqual({ matchBlocks: 0, totalBlocks: 12, blockSizeTokens: 8 });
  });

  it('caps the hashed blocks: maxPrefixBlocksToMatch, overridden by maxPrefixTokensToMatch; 0 blocks = no cap', () => {
    const request = makeRequest({ model: 'm', prompt: 'q'.repeat(64 * 10) });
    expect(produce(new ApproxPrefixCacheProducer('p', { maxPrefixBlocksToMatch: 4 }), request, [e1]).info.e1!.totalBlocks).toBe(4);
    expect(produce(new ApproxPrefixCacheProducer('p', { maxPrefixBlocksToMatch: 4, maxPrefixTokensToMatch: 96 }), request, [e1]).info.e1!.totalBlocks).toBe(6);
    expect(produce(new ApproxPrefixCacheProducer('p', { maxPrefixTokensToMatch: 10 }), request, [e1]).info.e1!.totalBlocks).toBe(0);
    expect(produce(new ApproxPrefixCacheProducer('p', { maxPrefixBlocksToMatch: 0 }), request, [e1]).info.e1!.totalBlocks).toBe(10);
  });

  it('sizes each endpoint\'s LRU by cacheNumBlocks (autoTune), else lruCapacityPerServer', () => {
    const small = makeEndpoint({ name: 'small', metrics: { cacheNumBlocks: 2 } });
    const producer = new ApproxPrefixCacheProducer('p', { lruCapacityPerServer: 3 });
    route(producer, prompt('a', 'b', 'c', 'd', 'e'), [small, e1], small);
    route(producer, prompt('a', 'b', 'c', 'd', 'e'), [small, e1], e1);
    expect([producer.index.blockCount('small'), producer.index.blockCount('e1')]).toEqual([2, 3]);
    const manual = new ApproxPrefixCacheProducer('p', { autoTune: false, lruCapacityPerServer: 4 });
    route(manual, prompt('a', 'b', 'c', 'd', 'e'), [small], small);
    expect(manual.index.blockCount('small')).toBe(4);
  });

  it('purges endpoints that left the pool, lazily and never on an empty endpoint list', () => {
    let now = 0;
    let pool: Endpoint[] = all;
    const producer = approxPrefixCacheProducerFactory('p', undefined, makeHandle({ endpoints: () => pool }), { now: () => now });
    route(producer, prompt('a'), all, e1);
    route(producer, prompt('b'), all, e2);
    pool = [];
    now = 3 * 60_000;
    route(producer, prompt('c'), all, e3);
    expect(producer.index.endpoints().sort()).toEqual(['e1', 'e2', 'e3']);
    pool = [e1, e3];
    now = 6 * 60_000;
    route(producer, prompt('d'), [e1, e3], e1);
    expect(producer.index.endpoints().sort()).toEqual(['e1', 'e3']);
  });

  it('PreRequest without a Produce in the same cycle does nothing', () => {
    const producer = new ApproxPrefixCacheProducer();
    producer.preRequest(makeContext(all), prompt('a'), makeResult({ decode: [e1] }));
    producer.flush();
    expect(producer.index.blockCount()).toBe(0);
  });

  it('feeds prefix-cache-scorer (chat requests, real plugins end to end)', () => {
    const producer = new ApproxPrefixCacheProducer();
    const long = 'You are a helpful assistant. '.repeat(20);
    const chat = (q: string) => makeRequest({ model: 'm', messages: [{ role: 'system', content: long }, { role: 'user', content: q }] });
    route(producer, chat('first question'), all, e2);
    const { ctx, info } = produce(producer, chat('second question'), all);
    const total = info.e2!.totalBlocks;
    expect(info.e2!.matchBlocks).toBeGreaterThan(0);
    expect(info.e2!.matchBlocks).toBeLessThan(total);
    const scores = scoresByName(new PrefixCacheScorer().score(ctx, chat('second question'), all));
    expect(scores).toEqual({ e1: 0, e2: info.e2!.matchBlocks / total, e3: 0 });
  });

  describe('parameters', () => {
    it('defaults to llm-d\'s code defaults', () => {
      expect(parseApproxPrefixConfig(undefined)).toEqual({
        autoTune: true, blockSizeTokens: 16, maxPrefixBlocksToMatch: 256, maxPrefixTokensToMatch: 0, lruCapacityPerServer: 31250,
      });
      expect(parseApproxPrefixConfig({ lruCapacityPerServer: 0 }).lruCapacityPerServer).toBe(31250);
      expect(() => parseApproxPrefixConfig({ unknownKey: 1 })).toThrow('parameters.unknownKey: unknown parameter');
    });

    it('rejects the deprecated blockSize unless blockSizeTokens is set (then warns)', () => {
      expect(() => parseApproxPrefixConfig({ blockSize: 64 })).toThrow(ConfigError);
      expect(() => parseApproxPrefixConfig({ blockSize: 64 })).toThrow('parameters.blockSize');
      const { logger, records } = captureLogger();
      expect(parseApproxPrefixConfig({ blockSize: 64, blockSizeTokens: 32 }, makeHandle({ logger })).blockSizeTokens).toBe(32);
      expect(records.some((r) => r.level === WARN_LEVEL && String(r.msg).includes('blockSize'))).toBe(true);
    });

    it.each([
      [{ autoTune: false, blockSizeTokens: 0 }, 'parameters.blockSizeTokens'],
      [{ blockSizeTokens: -1 }, 'parameters.blockSizeTokens'],
      [{ maxPrefixTokensToMatch: -5 }, 'parameters.maxPrefixTokensToMatch'],
      [{ maxPrefixBlocksToMatch: -1 }, 'parameters.maxPrefixBlocksToMatch'],
      [{ autoTune: 'yes' }, 'parameters.autoTune'],
      [{ lruCapacityPerServer: '31250' }, 'parameters.lruCapacityPerServer'],
    ])('rejects %j naming %s', (parameters, path) => {
      expect(() => parseApproxPrefixConfig(parameters)).toThrow(ConfigError);
      expect(() => parseApproxPrefixConfig(parameters)).toThrow(path);
    });

    it('allows blockSizeTokens 0 with autoTune (the metric supplies it; without one nothing is hashed)', () => {
      const producer = approxPrefixCacheProducerFactory('p', { blockSizeTokens: 0 }, makeHandle());
      expect(produce(producer, prompt('a', 'b'), [e1]).info.e1!.totalBlocks).toBe(0);
      expect(produce(producer, prompt('a', 'b'), [makeEndpoint({ name: 'x', metrics: { cacheBlockSize: 16 } })]).info.x!.totalBlocks).toBe(2);
    });
  });

  it('is registered as a data producer of PrefixCacheMatchInfo that is also a PreRequest', () => {
    const registry = registerProducerPlugins(new PluginRegistry());
    expect(registry.types()).toContain(APPROX_PREFIX_CACHE_PRODUCER_TYPE);
    const plugin = registry.create(APPROX_PREFIX_CACHE_PRODUCER_TYPE, 'approx', { maxPrefixBlocksToMatch: 128 }, makeHandle());
    expect(isDataProducer(plugin) && isPreRequest(plugin)).toBe(true);
    expect((plugin as ApproxPrefixCacheProducer).produces).toEqual([PREFIX_CACHE_MATCH_INFO]);
    expect((plugin as ApproxPrefixCacheProducer).config.maxPrefixBlocksToMatch).toBe(128);
  });

  it('updates the index off the request path: after the decision, on the next event-loop turn', async () => {
    const producer = new ApproxPrefixCacheProducer();
    const e1 = makeEndpoint({ name: 'e1', role: 'decode' });
    const request = prompt('deferred');
    const ctx = makeContext([e1]);
    producer.produce(ctx, request, [e1]);
    producer.preRequest(ctx, request, makeResult({ decode: [e1] }));
    expect(producer.index.blockCount('e1')).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(producer.index.blockCount('e1')).toBeGreaterThan(0);
  });
});
