import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../scheduler/framework/errors.js';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { registerScorerPlugins } from '../../../../scheduler/plugins/scorers/index.js';
import {
  DEFAULT_QUEUE_THRESHOLD, LOAD_AWARE_SCORER_TYPE, LoadAwareScorer, loadAwareScorerFactory,
} from '../../../../scheduler/plugins/scorers/load-aware-scorer.js';
import { captureLogger, chatRequest, makeContext, makeEndpoint, makeHandle, scoresByName, WARN_LEVEL } from '../../helpers.js';

const score = (scorer: LoadAwareScorer, queues: number[]) => {
  const endpoints = queues.map((q, i) => makeEndpoint({ name: `e${i}`, metrics: { waitingQueueSize: q } }));
  return scoresByName(scorer.score(makeContext(endpoints), chatRequest('x'), endpoints));
};

describe('load-aware-scorer', () => {
  it('upstream case: T=10, queues 2/0/15 → 0.4/0.5/0', () => {
    const scorer = loadAwareScorerFactory('la', { threshold: 10 }, makeHandle()) as LoadAwareScorer;
    const scores = score(scorer, [2, 0, 15]);
    expect(scores.e0).toBeCloseTo(0.4, 12);
    expect(scores.e1).toBe(0.5);
    expect(scores.e2).toBe(0);
  });

  it('is not normalised: equal queues share the same absolute score; a lone endpoint too', () => {
    const scorer = new LoadAwareScorer('la', 10);
    expect(score(scorer, [5, 5])).toEqual({ e0: 0.25, e1: 0.25 });
    expect(score(scorer, [10])).toEqual({ e0: 0 });
    expect(score(scorer, [])).toEqual({});
  });

  it('defaults T to 128; a never-scraped endpoint scores 0.5', () => {
    const scorer = loadAwareScorerFactory('la', undefined, makeHandle()) as LoadAwareScorer;
    expect(scorer.threshold).toBe(DEFAULT_QUEUE_THRESHOLD);
    expect(score(scorer, [0, 64])).toEqual({ e0: 0.5, e1: 0.25 });
  });

  it('falls back to 128 with a warning when threshold ≤ 0', () => {
    const { logger, records } = captureLogger();
    const scorer = loadAwareScorerFactory('la', { threshold: -3 }, makeHandle({ logger })) as LoadAwareScorer;
    expect(scorer.threshold).toBe(128);
    expect(records.some((r) => r.level === WARN_LEVEL)).toBe(true);
    expect((loadAwareScorerFactory('la', { threshold: 0 }, makeHandle()) as LoadAwareScorer).threshold).toBe(128);
  });

  it.each([[{ threshold: '10' }], [{ threshold: 2.5 }], [{ threshold: true }]])('rejects a bad threshold %j naming parameters.threshold', (parameters) => {
    expect(() => loadAwareScorerFactory('la', parameters, makeHandle())).toThrow(ConfigError);
    expect(() => loadAwareScorerFactory('la', parameters, makeHandle())).toThrow('parameters.threshold');
  });

  it('is registered under its llm-d type', () => {
    expect(registerScorerPlugins(new PluginRegistry()).create(LOAD_AWARE_SCORER_TYPE, 'la', { threshold: 10 }, makeHandle())).toBeInstanceOf(LoadAwareScorer);
  });
});
