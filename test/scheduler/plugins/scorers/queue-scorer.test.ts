import { describe, expect, it } from 'vitest';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { registerScorerPlugins } from '../../../../scheduler/plugins/scorers/index.js';
import { QUEUE_SCORER_TYPE, QueueScorer } from '../../../../scheduler/plugins/scorers/queue-scorer.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle, scoresByName } from '../../helpers.js';

const score = (queues: number[]) => {
  const endpoints = queues.map((q, i) => makeEndpoint({ name: `e${i}`, metrics: { waitingQueueSize: q } }));
  return scoresByName(new QueueScorer().score(makeContext(endpoints), chatRequest('x'), endpoints));
};

describe('queue-scorer', () => {
  it('min–max normalises waiting queues: shortest 1, longest 0', () => {
    expect(score([0, 5, 10])).toEqual({ e0: 1, e1: 0.5, e2: 0 });
    expect(score([4, 2, 3])).toEqual({ e0: 0, e1: 1, e2: 0.5 });
  });

  it('gives 1 to all when queues are equal, and to a single endpoint', () => {
    expect(score([3, 3, 3])).toEqual({ e0: 1, e1: 1, e2: 1 });
    expect(score([42])).toEqual({ e0: 1 });
  });

  it('returns an empty map for no endpoints', () => {
    expect(score([])).toEqual({});
  });

  it('treats a never-scraped endpoint (zero metrics) as idle', () => {
    const fresh = makeEndpoint({ name: 'fresh' });
    const busy = makeEndpoint({ name: 'busy', metrics: { waitingQueueSize: 7, updatedAt: Date.now() } });
    expect(scoresByName(new QueueScorer().score(makeContext([fresh, busy]), chatRequest('x'), [fresh, busy]))).toEqual({ fresh: 1, busy: 0 });
  });

  it('is registered, refuses parameters, and is a distribution scorer', () => {
    const registry = registerScorerPlugins(new PluginRegistry());
    expect(() => registry.create(QUEUE_SCORER_TYPE, 'q', { anything: true }, makeHandle())).toThrow(/anything: unknown parameter of queue-scorer/);
    const plugin = registry.create(QUEUE_SCORER_TYPE, 'q', {}, makeHandle());
    expect(plugin).toBeInstanceOf(QueueScorer);
    expect(plugin.name).toBe('q');
    expect((plugin as QueueScorer).category).toBe('distribution');
  });
});
