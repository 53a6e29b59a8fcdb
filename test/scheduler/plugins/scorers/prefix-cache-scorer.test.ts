import { PrecisePrefixCacheScorer } from '../../../../scheduler/plugins/scorers/precise-prefix-cache-scorer.js';
import { describe, expect, it } from 'vitest';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo } from '../../../../scheduler/framework/cycle-state.js';
import { ConfigError } from '../../../../scheduler/framework/errors.js';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { registerScorerPlugins } from '../../../../scheduler/plugins/scorers/index.js';
import {
  PREFIX_CACHE_SCORER_TYPE, PrefixCacheScorer, prefixCacheScorerFactory,
} from '../../../../scheduler/plugins/scorers/prefix-cache-scorer.js';
import { captureLogger, chatRequest, makeContext, makeEndpoint, makeHandle, scoresByName, WARN_LEVEL } from '../../helpers.js';

function scoreWith(infos: Array<PrefixCacheMatchInfo | undefined>): Record<string, number> {
  const endpoints = infos.map((_, i) => makeEndpoint({ name: `e${i}` }));
  const ctx = makeContext(endpoints);
  infos.forEach((info, i) => info && ctx.attributes.set(endpoints[i]!, PREFIX_CACHE_MATCH_INFO, info));
  return scoresByName(new PrefixCacheScorer().score(ctx, chatRequest('x'), endpoints));
}

describe('prefix-cache-scorer', () => {
  it('scores matchBlocks / totalBlocks', () => {
    expect(scoreWith([
      { matchBlocks: 4, totalBlocks: 4, blockSizeTokens: 16 },
      { matchBlocks: 1, totalBlocks: 4, blockSizeTokens: 16 },
      { matchBlocks: 0, totalBlocks: 4, blockSizeTokens: 16 },
    ])).toEqual({ e0: 1, e1: 0.25, e2: 0 });
  });

  it('scores 0 when the info is missing or totalBlocks is 0; equal infos score equally', () => {
    expect(scoreWith([undefined, { matchBlocks: 0, totalBlocks: 0, blockSizeTokens: 16 }])).toEqual({ e0: 0, e1: 0 });
    expect(scoreWith([{ matchBlocks: 2, totalBlocks: 8, blockSizeTokens: 16 }, { matchBlocks: 2, totalBlocks: 8, blockSizeTokens: 16 }])).toEqual({ e0: 0.25, e1: 0.25 });
    expect(scoreWith([])).toEqual({});
  });

  it('ignores unknown parameters (upstream samples put producer settings here)', () => {
    const plugin = prefixCacheScorerFactory('p', { blockSize: 64, maxPrefixBlocksToMatch: 256, lruCapacityPerServer: 31250 }, makeHandle());
    expect(plugin).toBeInstanceOf(PrefixCacheScorer);
  });

  it('accepts mode: approximate silently, and maps mode: cache_tracking to the precise scorer', async () => {
    const quiet = captureLogger();
    const approximate = prefixCacheScorerFactory('p', { mode: 'approximate' }, makeHandle({ logger: quiet.logger }));
    expect(approximate).toBeInstanceOf(PrefixCacheScorer);
    expect(quiet.records.filter((r) => r.level === WARN_LEVEL)).toEqual([]);
    const precise = prefixCacheScorerFactory('p', { mode: 'cache_tracking', kvEventsConfig: { discoverPods: false } }, makeHandle({ logger: quiet.logger }));
    expect(precise).toBeInstanceOf(PrecisePrefixCacheScorer);
    expect(precise.name).toBe('p');
    await (precise as PrecisePrefixCacheScorer).close();
  });

  it.each([[{ mode: 'precise' }], [{ mode: 1 }]])('rejects a bad mode %j naming parameters.mode', (parameters) => {
    expect(() => prefixCacheScorerFactory('p', parameters, makeHandle())).toThrow(ConfigError);
    expect(() => prefixCacheScorerFactory('p', parameters, makeHandle())).toThrow('parameters.mode');
  });

  it('is registered as an affinity scorer that consumes PrefixCacheMatchInfo', () => {
    const plugin = registerScorerPlugins(new PluginRegistry()).create(PREFIX_CACHE_SCORER_TYPE, 'prefix', undefined, makeHandle()) as PrefixCacheScorer;
    expect(plugin.consumes).toEqual([PREFIX_CACHE_MATCH_INFO]);
    expect(plugin.category).toBe('affinity');
  });
});
