import { describe, expect, it } from 'vitest';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo } from '../../../../scheduler/framework/cycle-state.js';
import { ConfigError } from '../../../../scheduler/framework/errors.js';
import type { PdDecision } from '../../../../scheduler/framework/plugins.js';
import { PrefixBasedPdDecider, prefixBasedPdDeciderFactory } from '../../../../scheduler/plugins/deciders/prefix-based-pd-decider.js';
import { makeContext, makeEndpoint, makeHandle, makeRequest } from '../../helpers.js';

const decode = makeEndpoint({ name: 'decode-0', role: 'decode' });

/** A completions request whose prompt is `tokens`×4 bytes, i.e. exactly `tokens` estimated tokens. */
function promptOf(tokens: number) {
  return makeRequest({ model: 'm', prompt: 'abcd'.repeat(tokens) });
}

function decision(nonCachedTokens: number, inputTokens: number, info?: PrefixCacheMatchInfo | unknown, endpoint = decode): PdDecision {
  const ctx = makeContext([decode]);
  if (info !== undefined) ctx.attributes.set(decode, PREFIX_CACHE_MATCH_INFO, info);
  return new PrefixBasedPdDecider('d', nonCachedTokens).decide(ctx, promptOf(inputTokens), endpoint);
}

const decide = (...args: Parameters<typeof decision>): boolean => decision(...args).disaggregate;

const hit = (matchBlocks: number, blockSizeTokens = 1, totalBlocks = 100): PrefixCacheMatchInfo => ({ matchBlocks, totalBlocks, blockSizeTokens });

describe('prefix-based-pd-decider', () => {
  it('nonCachedTokens 0 disables P/D, even for long uncached input', () => {
    expect(decide(0, 1000, hit(0))).toBe(false);
  });

  it('no decode endpoint → false', () => {
    const ctx = makeContext([]);
    expect(new PrefixBasedPdDecider('d', 4).decide(ctx, promptOf(100), undefined)).toEqual({ disaggregate: false, reason: 'no_decode_pod' });
  });

  it('input shorter than nonCachedTokens → false without reading match info', () => {
    expect(decide(10, 9)).toBe(false);
  });

  it('compares the non-cached suffix with N: below → false, equal → true, above → true', () => {
    // 20 tokens of input, 4 cached (4 blocks × 1 token) → 16 non-cached.
    expect(decide(17, 20, hit(4))).toBe(false);
    expect(decide(16, 20, hit(4))).toBe(true);
    expect(decide(15, 20, hit(4))).toBe(true);
  });

  it('fully cached → false; no hit → true', () => {
    expect(decide(4, 20, hit(20))).toBe(false);
    expect(decide(4, 20, hit(0))).toBe(true);
  });

  it('uses matchBlocks × blockSizeTokens (a partial last block counts whole, so nonCached may go negative)', () => {
    // 40 tokens; 3 blocks of 16 = 48 cached tokens → nonCached = −8.
    expect(decide(1, 40, hit(3, 16))).toBe(false);
    // 2 blocks of 16 = 32 cached → 8 non-cached.
    expect(decide(8, 40, hit(2, 16))).toBe(true);
    expect(decide(9, 40, hit(2, 16))).toBe(false);
  });

  it('missing or wrongly typed match info → false', () => {
    expect(decide(4, 100)).toBe(false);
    expect(decide(4, 100, 'not match info')).toBe(false);
    expect(decide(4, 100, { matchBlocks: '1', blockSizeTokens: 16 })).toBe(false);
  });

  it('spec example: N=16, 1-block hit of 16, [{"role":"user","content":"Hello"}] = 35 bytes → 8 tokens → no P/D', () => {
    const ctx = makeContext([decode]);
    ctx.attributes.set(decode, PREFIX_CACHE_MATCH_INFO, hit(1, 16));
    const request = makeRequest({ model: 'm', messages: [{ role: 'user', content: 'Hello' }] });
    expect(request.userInputBytes()).toBe(35);
    expect(new PrefixBasedPdDecider('d', 16).decide(ctx, request, decode).disaggregate).toBe(false);
  });

  it('counts token-id and string-array prompts (upstream counts them as 0, llm-d#860)', () => {
    const ctx = makeContext([decode]);
    ctx.attributes.set(decode, PREFIX_CACHE_MATCH_INFO, hit(0));
    const decider = new PrefixBasedPdDecider('d', 16);
    expect(decider.decide(ctx, makeRequest({ model: 'm', prompt: Array.from({ length: 16 }, (_, i) => i) }), decode).disaggregate).toBe(true);
    expect(decider.decide(ctx, makeRequest({ model: 'm', prompt: ['abcd'.repeat(8), 'abcd'.repeat(8)] }), decode).disaggregate).toBe(true);
  });

  it('declares that it reads PrefixCacheMatchInfo (so the loader injects a producer)', () => {
    expect(new PrefixBasedPdDecider('d', 1).consumes).toEqual([PREFIX_CACHE_MATCH_INFO]);
  });

  it('every outcome carries its reason and the token counts it compared', () => {
    expect(decision(0, 1000, hit(0))).toEqual({ disaggregate: false, reason: 'disabled' });
    expect(decision(10, 9)).toEqual({ disaggregate: false, reason: 'short_input', estimates: { input_tokens: 9 } });
    expect(decision(4, 100)).toEqual({ disaggregate: false, reason: 'no_match_info', estimates: { input_tokens: 100 } });
    expect(decision(17, 20, hit(4))).toEqual({ disaggregate: false, reason: 'cached', estimates: { input_tokens: 20, non_cached_tokens: 16 } });
    expect(decision(16, 20, hit(4))).toEqual({ disaggregate: true, reason: 'threshold_met', estimates: { input_tokens: 20, non_cached_tokens: 16 } });
  });

  describe('promptTokens (a floor on the whole prompt, checked before the non-cached rule)', () => {
    const ctx = makeContext([decode]);
    ctx.attributes.set(decode, PREFIX_CACHE_MATCH_INFO, hit(0));
    const withFloor = (promptTokens: number, inputTokens: number): PdDecision =>
      new PrefixBasedPdDecider('d', 4, promptTokens).decide(ctx, promptOf(inputTokens), decode);
    it('below the floor → short_prompt even when nothing is cached', () => {
      expect(withFloor(100, 99)).toEqual({ disaggregate: false, reason: 'short_prompt', estimates: { input_tokens: 99 } });
    });
    it('at and above the floor → the non-cached rule decides', () => {
      expect(withFloor(100, 100)).toMatchObject({ disaggregate: true, reason: 'threshold_met' });
      expect(withFloor(100, 101)).toMatchObject({ disaggregate: true, reason: 'threshold_met' });
    });
    it('0 (the default) is no floor; nonCachedTokens 0 still disables', () => {
      expect(withFloor(0, 5)).toMatchObject({ disaggregate: true });
      expect(new PrefixBasedPdDecider('d', 0, 10).decide(ctx, promptOf(50), decode)).toEqual({ disaggregate: false, reason: 'disabled' });
    });
    it('factory: default 0, rejects negative and non-integer values', () => {
      const handle = makeHandle();
      expect((prefixBasedPdDeciderFactory('x', { nonCachedTokens: 8 }, handle) as PrefixBasedPdDecider).promptTokens).toBe(0);
      expect((prefixBasedPdDeciderFactory('x', { nonCachedTokens: 8, promptTokens: 64 }, handle) as PrefixBasedPdDecider).promptTokens).toBe(64);
      expect(() => prefixBasedPdDeciderFactory('x', { promptTokens: -1 }, handle)).toThrow(/^parameters\.promptTokens: .*negative/);
      expect(() => prefixBasedPdDeciderFactory('x', { promptTokens: 2.5 }, handle)).toThrow(/^parameters\.promptTokens/);
    });
  });

  describe('factory', () => {
    const handle = makeHandle();
    it('defaults nonCachedTokens to 0', () => {
      expect((prefixBasedPdDeciderFactory('x', undefined, handle) as PrefixBasedPdDecider).nonCachedTokens).toBe(0);
      expect((prefixBasedPdDeciderFactory('x', { nonCachedTokens: 16 }, handle) as PrefixBasedPdDecider).nonCachedTokens).toBe(16);
    });
    it('rejects negative and non-integer values, naming the parameter', () => {
      expect(() => prefixBasedPdDeciderFactory('x', { nonCachedTokens: -1 }, handle)).toThrow(ConfigError);
      expect(() => prefixBasedPdDeciderFactory('x', { nonCachedTokens: -1 }, handle)).toThrow(/^parameters\.nonCachedTokens: .*negative/);
      expect(() => prefixBasedPdDeciderFactory('x', { nonCachedTokens: 1.5 }, handle)).toThrow(/^parameters\.nonCachedTokens/);
      expect(() => prefixBasedPdDeciderFactory('x', { nonCachedTokens: '16' }, handle)).toThrow(/^parameters\.nonCachedTokens/);
    });
  });

  it('uses the real input token count when the producer tokenized the request (precise prefix cache)', () => {
    // 20 estimated tokens, but the tokenizer counted 40: 40 − 4 cached = 36 non-cached.
    expect(decide(30, 20, { ...hit(4), inputTokens: 40 })).toBe(true);
    // …and the other way: 200 estimated, 10 real, 8 cached → 2 non-cached.
    expect(decide(16, 200, { ...hit(8), inputTokens: 10 })).toBe(false);
  });
});
