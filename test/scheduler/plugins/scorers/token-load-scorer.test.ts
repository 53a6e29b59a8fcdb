import { describe, expect, it } from 'vitest';
import { IN_FLIGHT_LOAD, InFlightLoadProducer, requestTokens, UNCACHED_REQUEST_TOKENS } from '../../../../scheduler/plugins/producers/inflight-load-producer.js';
import { DEFAULT_QUEUE_THRESHOLD_TOKENS, tokenLoadScore, TokenLoadScorer, tokenLoadScorerFactory } from '../../../../scheduler/plugins/scorers/token-load-scorer.js';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo } from '../../../../scheduler/framework/cycle-state.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle, makeRequest, makeResult } from '../../helpers.js';

describe('token-load-scorer formula', () => {
  it('1 when idle, linear down to 0 at the threshold, 0 beyond', () => {
    expect(tokenLoadScore(0, 100)).toBe(1);
    expect(tokenLoadScore(-5, 100)).toBe(1);
    expect(tokenLoadScore(25, 100)).toBe(0.75);
    expect(tokenLoadScore(100, 100)).toBe(0);
    expect(tokenLoadScore(1e9, 100)).toBe(0);
  });

  it('threshold ≤ 0 or absent falls back to the default; unknown keys are errors', () => {
    expect(tokenLoadScorerFactory('t', { queueThresholdTokens: 0 }, makeHandle()).queueThresholdTokens).toBe(DEFAULT_QUEUE_THRESHOLD_TOKENS);
    expect(tokenLoadScorerFactory('t', undefined, makeHandle()).queueThresholdTokens).toBe(DEFAULT_QUEUE_THRESHOLD_TOKENS);
    expect(() => tokenLoadScorerFactory('t', { queueThreshold: 5 }, makeHandle())).toThrow(/queueThreshold/);
    expect(() => tokenLoadScorerFactory('t', { inFlightLoadProducerName: 'q' }, makeHandle({ plugins: { q: { type: 'queue-scorer', name: 'q' } } }))).toThrow(/not an inflight-load-producer/);
  });
});

describe('inflight-load-producer + token-load-scorer', () => {
  it('counts dispatched uncached prompt tokens until completion and scores by them', () => {
    const [a, b] = [makeEndpoint({ name: 'a' }), makeEndpoint({ name: 'b' })];
    const producer = new InFlightLoadProducer('p');
    const scorer = new TokenLoadScorer('t', 1000);
    const big = chatRequest('x'.repeat(2000)); // ≥ 500 tokens by the bytes/4 estimate
    const tokens = requestTokens(big, undefined);
    expect(tokens).toBeGreaterThan(400);

    const ctx1 = makeContext([a!, b!]);
    producer.produce(ctx1, big, [a!, b!]);
    producer.preRequest(ctx1, big, makeResult({ default: [a!] }));
    expect(producer.get('a')).toEqual({ requests: 1, tokens });

    const small = chatRequest('hi');
    const ctx2 = makeContext([a!, b!]);
    producer.produce(ctx2, small, [a!, b!]);
    const own = ctx2.attributes.get<number>(b!, UNCACHED_REQUEST_TOKENS)!;
    const scores = scorer.score(ctx2, small, [a!, b!]);
    expect(scores.get(a!)).toBeCloseTo(1 - (tokens + own) / 1000);
    expect(scores.get(b!)).toBeCloseTo(1 - own / 1000);
    expect(ctx2.attributes.get(a!, IN_FLIGHT_LOAD)).toEqual({ requests: 1, tokens });

    producer.responseComplete(big, { status: 200, headers: new Map(), completed: true }, [a!]);
    expect(producer.get('a')).toEqual({ requests: 0, tokens: 0 });
  });

  it('discounts cached blocks and adds capped output estimates', () => {
    const request = makeRequest({ model: 'm', prompt: 'y'.repeat(400), max_tokens: 30 });
    const info: PrefixCacheMatchInfo = { matchBlocks: 2, totalBlocks: 4, blockSizeTokens: 16, inputTokens: 100 };
    expect(requestTokens(request, info)).toBe(100 - 32);
    expect(requestTokens(request, { ...info, matchBlocks: 10 })).toBe(0);
    // output = min(round(100·1.5)=150, max_tokens 30) = 30
    expect(requestTokens(request, info, { addEstimatedOutputTokens: true })).toBe(68 + 30);
    expect(requestTokens(request, info, { addEstimatedOutputTokens: true, maxEstimatedOutputTokens: 10 })).toBe(68 + 10);
    const ctx = makeContext([makeEndpoint({ name: 'c' })]);
    ctx.attributes.set(ctx.candidates[0]!, PREFIX_CACHE_MATCH_INFO, info);
    new InFlightLoadProducer('p').produce(ctx, request, ctx.candidates);
    expect(ctx.attributes.get(ctx.candidates[0]!, UNCACHED_REQUEST_TOKENS)).toBe(68);
  });
});
