import { describe, expect, it } from 'vitest';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { registerScorerPlugins } from '../../../../scheduler/plugins/scorers/index.js';
import { RUNNING_REQUESTS_SIZE_SCORER_TYPE, RunningRequestsSizeScorer } from '../../../../scheduler/plugins/scorers/running-requests-size-scorer.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle, scoresByName } from '../../helpers.js';

const score = (running: number[]) => {
  const endpoints = running.map((r, i) => makeEndpoint({ name: `e${i}`, metrics: { runningRequestsSize: r, waitingQueueSize: 100 - i } }));
  return scoresByName(new RunningRequestsSizeScorer().score(makeContext(endpoints), chatRequest('x'), endpoints));
};

describe('running-requests-size-scorer', () => {
  it('min–max normalises running requests (and ignores the queue)', () => {
    expect(score([8, 0, 2])).toEqual({ e0: 0, e1: 1, e2: 0.75 });
  });

  it('gives 1 to all when equal, and to a single endpoint', () => {
    expect(score([5, 5])).toEqual({ e0: 1, e1: 1 });
    expect(score([9])).toEqual({ e0: 1 });
  });

  it('returns an empty map for no endpoints; zero metrics look idle', () => {
    expect(score([])).toEqual({});
    const endpoints = [makeEndpoint({ name: 'fresh' }), makeEndpoint({ name: 'busy', metrics: { runningRequestsSize: 3 } })];
    expect(scoresByName(new RunningRequestsSizeScorer().score(makeContext(endpoints), chatRequest('x'), endpoints))).toEqual({ fresh: 1, busy: 0 });
  });

  it('is registered under its llm-d type', () => {
    const plugin = registerScorerPlugins(new PluginRegistry()).create(RUNNING_REQUESTS_SIZE_SCORER_TYPE, 'r', undefined, makeHandle());
    expect(plugin.type).toBe('running-requests-size-scorer');
    expect(plugin.name).toBe('r');
  });
});
