/**
 * A precise-prefix-cache-scorer built from parameters over the simulated tokenizer (block 4, no
 * pod discovery), started, and closed after each test: the set-up the service-level tests share.
 */
import { afterEach } from 'vitest';
import { PrecisePrefixCacheScorer, precisePrefixCacheScorerFactory } from '../../../scheduler/plugins/scorers/precise-prefix-cache-scorer.js';
import { makeHandle } from '../../scheduler/helpers.js';

export const MODEL = 'test-model';
export const BLOCK = 4;
const BASE = { tokenProcessorConfig: { blockSize: BLOCK }, kvEventsConfig: { discoverPods: false }, tokenizer: { type: 'simulated' } };

/** Registers an afterEach that closes every scorer built in the test; returns the builder. */
export function scorerFixture(): (parameters: Record<string, unknown>, handle?: ReturnType<typeof makeHandle>) => Promise<PrecisePrefixCacheScorer> {
  const plugins: PrecisePrefixCacheScorer[] = [];
  afterEach(async () => {
    await Promise.all(plugins.splice(0).map((plugin) => plugin.close()));
  });
  return async (parameters, handle = makeHandle()) => {
    const plugin = precisePrefixCacheScorerFactory('precise', { ...BASE, ...parameters }, handle) as PrecisePrefixCacheScorer;
    plugins.push(plugin);
    await plugin.start();
    return plugin;
  };
}
