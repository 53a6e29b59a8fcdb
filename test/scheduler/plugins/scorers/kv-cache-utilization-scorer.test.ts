import { describe, expect, it } from 'vitest';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { registerScorerPlugins } from '../../../../scheduler/plugins/scorers/index.js';
import {
  KV_CACHE_SCORER_ALIAS, KV_CACHE_UTILIZATION_SCORER_TYPE, KvCacheUtilizationScorer,
} from '../../../../scheduler/plugins/scorers/kv-cache-utilization-scorer.js';
import { captureLogger, chatRequest, makeContext, makeEndpoint, makeHandle, scoresByName, WARN_LEVEL } from '../../helpers.js';

const score = (usage: number[]) => {
  const endpoints = usage.map((u, i) => makeEndpoint({ name: `e${i}`, metrics: { kvCacheUsagePercent: u } }));
  return scoresByName(new KvCacheUtilizationScorer().score(makeContext(endpoints), chatRequest('x'), endpoints));
};

describe('kv-cache-utilization-scorer', () => {
  it('scores 1 − usage, without normalising across endpoints', () => {
    expect(score([0, 0.25, 1])).toEqual({ e0: 1, e1: 0.75, e2: 0 });
    expect(score([0.5, 0.5])).toEqual({ e0: 0.5, e1: 0.5 });
    expect(score([0.9])).toEqual({ e0: 1 - 0.9 });
  });

  it('returns an empty map for no endpoints; a never-scraped endpoint scores 1', () => {
    expect(score([])).toEqual({});
    const fresh = makeEndpoint({ name: 'fresh' });
    expect(scoresByName(new KvCacheUtilizationScorer().score(makeContext([fresh]), chatRequest('x'), [fresh]))).toEqual({ fresh: 1 });
  });

  it('is registered, and "kv-cache-scorer" is a deprecated alias of it', () => {
    const registry = registerScorerPlugins(new PluginRegistry());
    expect(registry.create(KV_CACHE_UTILIZATION_SCORER_TYPE, 'kv', undefined, makeHandle())).toBeInstanceOf(KvCacheUtilizationScorer);
    const { logger, records } = captureLogger();
    const old = registry.create(KV_CACHE_SCORER_ALIAS, 'old-kv', {}, makeHandle({ logger }));
    expect(old).toBeInstanceOf(KvCacheUtilizationScorer);
    expect(old.type).toBe('kv-cache-utilization-scorer');
    expect(records.some((r) => r.level === WARN_LEVEL && String(r.msg).includes('deprecated'))).toBe(true);
  });
});
