import { describe, expect, it } from 'vitest';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo, type SchedulingContext } from '../../../../scheduler/framework/cycle-state.js';
import type { Endpoint } from '../../../../scheduler/framework/endpoint.js';
import { ConfigError } from '../../../../scheduler/framework/errors.js';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { registerScorerPlugins } from '../../../../scheduler/plugins/scorers/index.js';
import {
  DEFAULT_LRU_SIZE, NO_HIT_LRU_SCORER_TYPE, NoHitLruScorer, noHitLruScorerFactory,
} from '../../../../scheduler/plugins/scorers/no-hit-lru-scorer.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle, makeResult, scoresByName } from '../../helpers.js';

function withMatch(ctx: SchedulingContext, endpoint: Endpoint, matchBlocks: number, totalBlocks = 10): SchedulingContext {
  const info: PrefixCacheMatchInfo = { matchBlocks, totalBlocks, blockSizeTokens: 16 };
  ctx.attributes.set(endpoint, PREFIX_CACHE_MATCH_INFO, info);
  return ctx;
}

/** One full request: Score, then PreRequest with `target` as the primary (decode) pick. */
function route(scorer: NoHitLruScorer, endpoints: Endpoint[], target: Endpoint, ctx = makeContext(endpoints)): Record<string, number> {
  const request = chatRequest('q');
  const scores = scoresByName(scorer.score(ctx, request, endpoints));
  scorer.preRequest(ctx, request, makeResult({ decode: [target] }));
  return scores;
}

describe('no-hit-lru-scorer', () => {
  const [a, b, c] = [makeEndpoint({ name: 'pod-a' }), makeEndpoint({ name: 'pod-b' }), makeEndpoint({ name: 'pod-c' })] as [Endpoint, Endpoint, Endpoint];
  const all = [a, b, c];

  it('cold request, nothing used yet: 1 − i/(n−1) in candidate order', () => {
    const scorer = new NoHitLruScorer('lru');
    expect(scoresByName(scorer.score(makeContext(all), chatRequest('x'), all))).toEqual({ 'pod-a': 1, 'pod-b': 0.5, 'pod-c': 0 });
  });

  it('warm request (any candidate has a hit): 0.5 for all', () => {
    const scorer = new NoHitLruScorer('lru');
    const ctx = withMatch(withMatch(makeContext(all), a, 5), b, 0);
    expect(scoresByName(scorer.score(ctx, chatRequest('x'), all))).toEqual({ 'pod-a': 0.5, 'pod-b': 0.5, 'pod-c': 0.5 });
  });

  it('a single endpoint scores 1; no endpoints score nothing; zero matches or missing info is cold', () => {
    const scorer = new NoHitLruScorer('lru');
    expect(scoresByName(scorer.score(makeContext([a]), chatRequest('x'), [a]))).toEqual({ 'pod-a': 1 });
    expect(scorer.score(makeContext([]), chatRequest('x'), []).size).toBe(0);
    const ctx = withMatch(makeContext(all), a, 0, 0);
    expect(scoresByName(scorer.score(ctx, chatRequest('x'), all))['pod-a']).toBe(1);
  });

  it('LRU order: cold requests rotate over the least recently used endpoints (upstream sequence)', () => {
    const scorer = new NoHitLruScorer('lru');
    route(scorer, all, a);
    // a was used: never-used b, c come first; a is last.
    expect(route(scorer, all, b)).toEqual({ 'pod-b': 1, 'pod-c': 0.5, 'pod-a': 0 });
    // A warm request leaves the LRU untouched, even though PreRequest runs.
    const warm = withMatch(makeContext(all), a, 3);
    expect(route(scorer, all, c, warm)).toEqual({ 'pod-a': 0.5, 'pod-b': 0.5, 'pod-c': 0.5 });
    expect(scorer.lru.keys()).toEqual(['pod-a', 'pod-b']);
    // c never used → 1; then a (oldest) → 0.5; b (most recent) → 0.
    expect(route(scorer, all, c)).toEqual({ 'pod-c': 1, 'pod-a': 0.5, 'pod-b': 0 });
    expect(route(scorer, all, a)).toEqual({ 'pod-a': 1, 'pod-b': 0.5, 'pod-c': 0 });
    expect(scorer.lru.keys()).toEqual(['pod-b', 'pod-c', 'pod-a']);
  });

  it('P/D: a cold request marks both the primary and the prefill target as most recently used', () => {
    const scorer = new NoHitLruScorer('lru');
    const [d, p] = [makeEndpoint({ name: 'dec' }), makeEndpoint({ name: 'pre' })];
    const ctx = makeContext([d!, p!]);
    scorer.score(ctx, chatRequest('x'), [d!, p!]);
    scorer.preRequest(ctx, chatRequest('x'), makeResult({ decode: [d!], prefill: [p!], encode: null }));
    expect(scorer.lru.keys()).toEqual(['dec', 'pre']);
    // Only the first target of each profile counts; a failed (null) prefill run is skipped.
    const ctx2 = makeContext(all);
    scorer.score(ctx2, chatRequest('x'), all);
    scorer.preRequest(ctx2, chatRequest('x'), makeResult({ decode: [b, c], prefill: null }));
    expect(scorer.lru.keys()).toEqual(['dec', 'pre', 'pod-b']);
  });

  it('PreRequest without a Score in the same cycle changes nothing', () => {
    const scorer = new NoHitLruScorer('lru');
    scorer.preRequest(makeContext(all), chatRequest('x'), makeResult({ decode: [a] }));
    expect(scorer.lru.keys()).toEqual([]);
  });

  it('remembers at most lruSize endpoints, evicting the oldest', () => {
    const scorer = noHitLruScorerFactory('lru', { lruSize: 2, prefixPluginName: 'unused' }, makeHandle()) as NoHitLruScorer;
    for (const target of all) route(scorer, all, target);
    expect(scorer.lru.keys()).toEqual(['pod-b', 'pod-c']);
    expect((noHitLruScorerFactory('lru', { lruSize: 0 }, makeHandle()) as NoHitLruScorer).lru.capacity).toBe(DEFAULT_LRU_SIZE);
  });

  it.each([[{ lruSize: '10' }, 'parameters.lruSize'], [{ lruSize: 1.5 }, 'parameters.lruSize'], [{ prefixPluginType: 1 }, 'parameters.prefixPluginType']])(
    'rejects %j naming %s', (parameters, path) => {
      expect(() => noHitLruScorerFactory('lru', parameters, makeHandle())).toThrow(ConfigError);
      expect(() => noHitLruScorerFactory('lru', parameters, makeHandle())).toThrow(path);
    });

  it('is registered, consumes PrefixCacheMatchInfo and is a PreRequest', () => {
    const plugin = registerScorerPlugins(new PluginRegistry()).create(NO_HIT_LRU_SCORER_TYPE, 'lru', undefined, makeHandle()) as NoHitLruScorer;
    expect(plugin).toBeInstanceOf(NoHitLruScorer);
    expect(plugin.consumes).toEqual([PREFIX_CACHE_MATCH_INFO]);
    expect(plugin.lru.capacity).toBe(1024);
  });
});
