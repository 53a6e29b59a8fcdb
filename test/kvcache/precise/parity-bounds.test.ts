/**
 * Review of the parity monitor and the per-model estimate series (issue #12):
 *  - a response that did not succeed (4xx/5xx: the pod never prefilled the prompt) is not a
 *    parity sample — it would read 0 and warn that our keys disagree with the engine's;
 *  - model names come from client requests: the per-model parity windows and the per-model
 *    series (parity, estimate error, bytes per token) are kept for the most recent
 *    MAX_MODEL_SERIES models only, older ones removed from the registry;
 *  - checks whose index lookup never answers (Redis unreachable: node-redis queues commands) count
 *    against the monitor's pending bound, and do not keep close() — the EPP's shutdown — waiting.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { BlockKey } from '../../../src/kvblock/keys.js';
import type { ResponseInfo } from '../../../scheduler/framework/plugins.js';
import type { KvBlockIndex, PodEntry } from '../../../scheduler/kvcache/index/types.js';
import { MAX_MODEL_SERIES, PrecisePrefixMetrics } from '../../../scheduler/kvcache/precise/metrics.js';
import { ParityMonitor } from '../../../scheduler/kvcache/precise/parity.js';
import type { RequestMatch } from '../../../scheduler/kvcache/precise/service-types.js';
import { BytesPerToken } from '../../../scheduler/kvcache/precise/token-estimate.js';
import { EppMetrics } from '../../../scheduler/metrics.js';
import type { PrecisePrefixCacheScorer } from '../../../scheduler/plugins/scorers/precise-prefix-cache-scorer.js';
import { makeContext, makeEndpoint, makeHandle, makeRequest, silentLogger } from '../../scheduler/helpers.js';
import { message, metricValue, range, stored, waitFor } from '../events/helpers.js';
import { BLOCK, MODEL, scorerFixture } from './scorer-fixture.js';

const buildScorer = scorerFixture();
const build = (parameters: Record<string, unknown>, metrics: EppMetrics): Promise<PrecisePrefixCacheScorer> =>
  buildScorer(parameters, { ...makeHandle(), metrics });

async function seriesOf(registry: Registry, name: string): Promise<Set<string>> {
  const { values } = await registry.getSingleMetric(name)!.get();
  return new Set(values.map((sample) => String(sample.labels.model)));
}

describe('parity samples', () => {
  it('a response that failed (400, 503) is not a sample: only the successful one counts, at 1', async () => {
    const metrics = new EppMetrics();
    const plugin = await build({ parity: { sampleEvery: 1, delay: '10ms' } }, metrics);
    const ep = makeEndpoint({ name: 'p', address: '10.1.0.1', port: 8000 });
    const tokens = range(1, 16);
    const answered = (status: number): ResponseInfo => ({ status, headers: new Map(), completed: true });
    // Rejected by the pod (prompt too long, overloaded): nothing was prefilled, no event follows.
    for (const status of [400, 503]) {
      const rejected = makeRequest({ model: MODEL, prompt: tokens, max_tokens: 1 });
      await plugin.produce(makeContext([ep]), rejected, [ep]);
      plugin.responseComplete(rejected, answered(status), [ep]);
    }
    // Served: the pod stores the prompt and says so.
    const served = makeRequest({ model: MODEL, prompt: tokens, max_tokens: 1 });
    await plugin.produce(makeContext([ep]), served, [ep]);
    let parent: bigint | null = null;
    for (let i = 0; i * BLOCK < tokens.length; i++) {
      plugin.processor!.submit(message(ep.hostPort, [stored([BigInt(1000 + i)], parent, tokens.slice(i * BLOCK, (i + 1) * BLOCK), BLOCK)], MODEL));
      parent = BigInt(1000 + i);
    }
    await plugin.processor!.drain();
    plugin.responseComplete(served, answered(200), [ep]);
    await waitFor(async () => (await metricValue(metrics.registry, 'pd_router_precise_prefix_parity_samples_total', { model: MODEL })) >= 1, 'a parity sample');
    // The failed responses' timers fired first: had they counted, there would be 3 samples at 1/3.
    expect(await metricValue(metrics.registry, 'pd_router_precise_prefix_parity_samples_total', { model: MODEL })).toBe(1);
    expect(plugin.cache.parityRatio(MODEL)).toBe(1);
  });
});

describe('per-model state and series from client model names', () => {
  /** Holds every key confirmed on every pod. */
  const everything: KvBlockIndex = {
    lookup: async (keys: readonly BlockKey[], pods?: ReadonlySet<string>): Promise<PodEntry[][]> =>
      keys.map(() => [...(pods ?? [])].map((pod) => ({ pod, tier: 'gpu' }))),
  } as unknown as KvBlockIndex;

  it('parity keeps windows and series for the most recent MAX_MODEL_SERIES models only', async () => {
    const registry = new Registry();
    const metrics = new PrecisePrefixMetrics(registry);
    const monitor = new ParityMonitor(everything, { sampleEvery: 1, delayMs: 0, threshold: 0.9 }, metrics, silentLogger);
    const models = MAX_MODEL_SERIES + 300;
    // In rounds below the monitor's pending bound, each round's checks done before the next.
    for (let from = 0; from < models; from += 100) {
      for (let i = from; i < Math.min(models, from + 100); i++) monitor.observe(`client-model-${i}`, '10.0.0.1:8000', [1n as BlockKey]);
      await waitFor(() => monitor.ratio(`client-model-${Math.min(models, from + 100) - 1}`) !== undefined, 'the round\'s checks');
    }
    await monitor.close();
    expect((await seriesOf(registry, 'pd_router_precise_prefix_parity_ratio')).size).toBeLessThanOrEqual(MAX_MODEL_SERIES);
    expect((await seriesOf(registry, 'pd_router_precise_prefix_parity_samples_total')).size).toBeLessThanOrEqual(MAX_MODEL_SERIES);
    expect(monitor.ratio('client-model-0')).toBeUndefined();
    expect(monitor.ratio(`client-model-${models - 1}`)).toBe(1);
    expect(await seriesOf(registry, 'pd_router_precise_prefix_parity_ratio')).toContain(`client-model-${models - 1}`);
  });

  it('the estimate keeps ratios and series (bytes per token, error histogram) for the most recent MAX_MODEL_SERIES models only', async () => {
    const metrics = new EppMetrics();
    const plugin = await build({}, metrics);
    const models = MAX_MODEL_SERIES + 300;
    for (let i = 0; i < models; i++) {
      const model = `client-model-${i}`;
      const match = { keys: [], scores: new Map(), cachedBlocks: new Map(), outcome: 'scored', estimate: { model, knownTokens: 0, restBytes: 3000, estimated: 750 } } as RequestMatch;
      plugin.cache.observePromptTokens(match, 1000);
    }
    expect((await seriesOf(metrics.registry, 'pd_router_precise_prefix_bytes_per_token')).size).toBeLessThanOrEqual(MAX_MODEL_SERIES);
    expect((await seriesOf(metrics.registry, 'pd_router_precise_prefix_estimate_error_ratio')).size).toBeLessThanOrEqual(MAX_MODEL_SERIES);
    expect(plugin.cache.bytesPerToken.ratio(`client-model-${models - 1}`)).toBe(3);
    expect(await seriesOf(metrics.registry, 'pd_router_precise_prefix_bytes_per_token')).toContain(`client-model-${models - 1}`);
  });

  it('the estimate forgets the least recently learned model, not the first one learned', () => {
    const ratios = new BytesPerToken(4, 3);
    const learn = (model: string): void => void ratios.observe({ model, knownTokens: 0, restBytes: 3000, estimated: 750 }, 1000);
    for (const model of ['busy', 'b', 'c', 'busy', 'd']) learn(model);
    expect(ratios.ratio('busy')).toBe(3);
    expect(ratios.ratio('b')).toBe(4);
  });
});

describe('parity checks the index never answers', () => {
  it('are bounded in number, and close() does not wait for them', async () => {
    let lookups = 0;
    const stuck = { lookup: () => { lookups++; return new Promise(() => {}); } } as unknown as KvBlockIndex;
    const monitor = new ParityMonitor(stuck, { sampleEvery: 1, delayMs: 0, threshold: 0.9 }, new PrecisePrefixMetrics(new Registry()), silentLogger);
    // Rounds of 100, each round's timers fired before the next: only running checks accumulate.
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 100; i++) monitor.observe(MODEL, '10.0.0.1:8000', [1n as BlockKey]);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(lookups).toBeLessThanOrEqual(256);
    const closed = await Promise.race([monitor.close().then(() => 'closed'), new Promise((resolve) => setTimeout(resolve, 1000, 'still waiting'))]);
    expect(closed).toBe('closed');
  });
});
