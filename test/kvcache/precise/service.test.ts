/**
 * The PrecisePrefixCache service through the scorer plugin: back-pressure (a pool of one worker
 * and a queue of one: concurrent requests beyond it are scored without precise prefix, counted),
 * the tail estimate learning from the response's usage.prompt_tokens (real Qwen3 tokenizer), and parity — the metric
 * stays 1 when the pod's events carry our keys and drops (with a warning) when they never yield them,
 * including a simulator KV cache with another block size and hash seed.
 */
import { describe, expect, it } from 'vitest';
import { blockKeys, rootKey } from '../../../src/kvblock/keys.js';
import type { Endpoint } from '../../../scheduler/framework/endpoint.js';
import type { ResponseInfo } from '../../../scheduler/framework/plugins.js';
import { EppMetrics } from '../../../scheduler/metrics.js';
import { PromptTokenizer } from '../../../src/tokenization/prompt-tokens.js';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo } from '../../../scheduler/framework/cycle-state.js';
import { TINY_MODEL, TINY_MODEL_DIR } from '../../fixtures/tiny-model/build.js';
import { ensureModels, QWEN3 } from '../../helpers/models.js';
import { captureLogger, makeContext, makeEndpoint, makeHandle, makeRequest, WARN_LEVEL } from '../../scheduler/helpers.js';
import { message, metricValue, range, stored, waitFor } from '../events/helpers.js';
import type { PrecisePrefixCacheScorer } from '../../../scheduler/plugins/scorers/precise-prefix-cache-scorer.js';
import { BLOCK, MODEL, scorerFixture } from './scorer-fixture.js';
import { KvCache } from '../../../src/sim/kv-cache.js';

const build = scorerFixture();

const pod = (): Endpoint => makeEndpoint({ name: 'p', address: '10.1.0.1', port: 8000 });
const ok = (promptTokens?: number): ResponseInfo => ({ status: 200, headers: new Map(), completed: true, ...(promptTokens !== undefined ? { usage: { promptTokens } } : {}) });

describe('back-pressure', () => {
  it('with one worker and a queue of one, concurrent cold requests beyond it score 0 at once, counted', async () => {
    const metrics = new EppMetrics();
    const plugin = await build({ tokenizer: { modelTokenizerMap: { [TINY_MODEL]: TINY_MODEL_DIR } }, tokenizerPool: { workers: 1, maxQueue: 1 } }, { ...makeHandle(), metrics });
    await plugin.tokenizer.warm();
    const eps = [pod()];
    // One request alone first: it loads the tokenizer and probes its special tokens.
    expect((await plugin.cache.match(TINY_MODEL, makeRequest({ model: TINY_MODEL, prompt: 'hello world how are you' }).body, [pod().hostPort])).outcome).toBe('scored');
    const words = ['hello', 'world', 'how', 'are', 'you'];
    const requests = Array.from({ length: 8 }, (_, i) => makeRequest({ model: TINY_MODEL, prompt: Array.from({ length: 30 }, (_, j) => words[(i * 7 + j * 3) % 5]).join(' ') + ` ${'you '.repeat(i)}` }));
    const outcomes = await Promise.all(requests.map((request) => plugin.cache.match(TINY_MODEL, request.body, eps.map((ep) => ep.hostPort))));
    const kinds = outcomes.map((match) => match.outcome);
    expect(kinds).toContain('overloaded');
    expect(kinds.some((kind) => kind === 'scored' || kind === 'no_full_block')).toBe(true);
    expect(await metricValue(metrics.registry, 'pd_router_precise_prefix_skipped_total', { reason: 'overloaded' })).toBe(kinds.filter((kind) => kind === 'overloaded').length);
    // Once the backlog is gone, the same request is tokenized again.
    expect((await plugin.cache.match(TINY_MODEL, requests[7]!.body, [pod().hostPort])).outcome).not.toBe('overloaded');
  });
});

describe('tail estimate', () => {
  it('learns bytes per token from usage.prompt_tokens of requests it estimated (Qwen3)', async () => {
    const models = await ensureModels();
    const metrics = new EppMetrics();
    const plugin = await build({ tokenizer: { tokenizersDir: models } }, { ...makeHandle(), metrics });
    const eps = [pod()];
    // ~60 KB of prose, nothing cached: the walk stops after the first batch, the rest is estimated.
    const prompt = Array.from({ length: 1500 }, (_, i) => `Clause ${i} says the tenant shall keep the premises in good repair.`).join('\n');
    const request = makeRequest({ model: QWEN3, prompt });
    const ctx = makeContext(eps);
    await plugin.produce(ctx, request, eps);
    const info = ctx.attributes.get<PrefixCacheMatchInfo>(eps[0]!, PREFIX_CACHE_MATCH_INFO)!;
    const prompts = new PromptTokenizer({ searchDirs: [models] });
    const actual = (await prompts.tokenizeText(QWEN3, prompt, true)).length;
    await prompts.close();
    expect(await metricValue(metrics.registry, 'pd_router_precise_prefix_tokens_total', { kind: 'tokenized' })).toBeLessThan(actual / 4);
    expect(await metricValue(metrics.registry, 'pd_router_precise_prefix_tokens_total', { kind: 'estimated' })).toBeGreaterThan(actual / 2);
    // Before learning, 4 bytes/token: the decider's input count is an estimate, within 50% here.
    expect(Math.abs(info.inputTokens! / actual - 1)).toBeLessThan(0.5);
    const tokenized = await metricValue(metrics.registry, 'pd_router_precise_prefix_tokens_total', { kind: 'tokenized' });
    plugin.responseComplete(request, ok(actual), eps);
    const learned = plugin.cache.bytesPerToken.ratio(QWEN3);
    // The first sample replaces the default: the untokenized bytes / their real token count.
    expect(learned).not.toBe(4);
    expect(learned).toBeGreaterThan(Buffer.byteLength(prompt) / actual * 0.9);
    expect(learned).toBeLessThan(Buffer.byteLength(prompt) / actual * 1.1);
    expect(await metricValue(metrics.registry, 'pd_router_precise_prefix_bytes_per_token', { model: QWEN3 })).toBe(learned);
    expect(tokenized).toBeGreaterThan(0);
    // A second request of the same kind is now estimated within 5%.
    const next = makeRequest({ model: QWEN3, prompt: prompt.replaceAll('tenant', 'landlord') });
    const ctx2 = makeContext(eps);
    await plugin.produce(ctx2, next, eps);
    const second = ctx2.attributes.get<PrefixCacheMatchInfo>(eps[0]!, PREFIX_CACHE_MATCH_INFO)!;
    const prompts2 = new PromptTokenizer({ searchDirs: [models] });
    const actual2 = (await prompts2.tokenizeText(QWEN3, prompt.replaceAll('tenant', 'landlord'), true)).length;
    await prompts2.close();
    expect(Math.abs(second.inputTokens! / actual2 - 1)).toBeLessThan(0.05);
  });
});

describe('parity', () => {
  const TOKENS = range(1, 16);
  const KEYS = blockKeys(TOKENS, BLOCK, rootKey('', MODEL));

  async function routeAndStore(plugin: PrecisePrefixCacheScorer, eventBlockSize: number): Promise<void> {
    const ep = pod();
    const request = makeRequest({ model: MODEL, prompt: TOKENS, max_tokens: 1 });
    const ctx = makeContext([ep]);
    await plugin.produce(ctx, request, [ep]);
    // The pod stores the prompt: one event per engine block of `eventBlockSize` tokens.
    let parent: bigint | null = null;
    for (let i = 0; i * eventBlockSize < TOKENS.length; i++) {
      const hash = BigInt(1000 + i);
      plugin.processor!.submit(message(ep.hostPort, [stored([hash], parent, TOKENS.slice(i * eventBlockSize, (i + 1) * eventBlockSize), eventBlockSize)], MODEL));
      parent = hash;
    }
    await plugin.processor!.drain();
    plugin.responseComplete(request, ok(TOKENS.length), [ep]);
  }

  it('stays at 1 when the pod\'s events carry our keys', async () => {
    const metrics = new EppMetrics();
    const plugin = await build({ parity: { sampleEvery: 1, delay: '10ms' } }, { ...makeHandle(), metrics });
    await routeAndStore(plugin, BLOCK);
    await waitFor(async () => (await metricValue(metrics.registry, 'pd_router_precise_prefix_parity_samples_total', { model: MODEL })) === 1, 'the parity sample');
    expect(await metricValue(metrics.registry, 'pd_router_precise_prefix_parity_ratio', { model: MODEL })).toBe(1);
    expect(KEYS).toHaveLength(4);
  });

  it('drops, with a warning, when the pod\'s events never yield our keys (engine blocks smaller than ours, one per event)', async () => {
    const metrics = new EppMetrics();
    const { logger, records } = captureLogger();
    const plugin = await build({ parity: { sampleEvery: 1, delay: '10ms' } }, { ...makeHandle({ logger }), metrics });
    await routeAndStore(plugin, 2); // 2-token engine blocks: no full 4-token block in any event
    await waitFor(async () => (await metricValue(metrics.registry, 'pd_router_precise_prefix_parity_samples_total', { model: MODEL })) === 1, 'the parity sample');
    expect(await metricValue(metrics.registry, 'pd_router_precise_prefix_parity_ratio', { model: MODEL })).toBe(0);
    expect(records.some((r) => r.level === WARN_LEVEL && String(r.msg).includes('disagree'))).toBe(true);
  });

  it('a simulator KV cache with half our block size and another hash seed: 1 while cached prefixes end on our block boundaries, below the threshold (warning) when one ends inside our block', async () => {
    const metrics = new EppMetrics();
    const { logger, records } = captureLogger();
    const plugin = await build({ parity: { sampleEvery: 1, delay: '10ms' } }, { ...makeHandle({ logger }), metrics });
    const ep = pod();
    // The simulator's own cache (pd-router sim's prefix cache) publishes what it stores, as vLLM does.
    const cache = new KvCache({
      capacity: 1000, blockSize: BLOCK / 2, hashSeed: '42', loadedModels: [MODEL],
      sink: {
        blockStored: (event) => plugin.processor!.submit(message(ep.hostPort, [stored(event.blockHashes, event.parentBlockHash, event.tokenIds, event.blockSize)], MODEL)),
        blockRemoved: () => {},
        allCleared: () => {},
      },
    });
    let served = 0;
    const serve = async (prompt: number[]): Promise<void> => {
      const request = makeRequest({ model: MODEL, prompt, max_tokens: 1 });
      await plugin.produce(makeContext([ep]), request, [ep]);
      cache.admit(`r${served++}`, prompt, MODEL);
      await plugin.processor!.drain();
      plugin.responseComplete(request, ok(prompt.length), [ep]);
    };
    const samples = () => metricValue(metrics.registry, 'pd_router_precise_prefix_parity_samples_total', { model: MODEL });
    const ratio = () => metricValue(metrics.registry, 'pd_router_precise_prefix_parity_ratio', { model: MODEL });
    // Turns of 8 then 16 tokens: the engine's events re-key to exactly our keys (block size and
    // seed only shape the engine's own keys).
    await serve(range(1, 8));
    await serve(range(1, 16));
    await waitFor(async () => (await samples()) === 2, 'two parity samples');
    expect(await ratio()).toBe(1);
    // Turns of 10 then 20 tokens: the pod's cached prefix ends mid-way through our third block, so
    // its next event continues from a parent we can only place at our block boundary — the keys
    // after it are not ours, and the monitor says so.
    await serve(range(100, 10));
    await serve(range(100, 20));
    await waitFor(async () => (await samples()) === 4, 'four parity samples');
    expect(await ratio()).toBeLessThan(0.9);
    expect(records.some((r) => r.level === WARN_LEVEL && String(r.msg).includes('disagree'))).toBe(true);
  });

  it('samples one request in sampleEvery', async () => {
    const metrics = new EppMetrics();
    const plugin = await build({ parity: { sampleEvery: 3, delay: '10ms' } }, { ...makeHandle(), metrics });
    for (let i = 0; i < 4; i++) await routeAndStore(plugin, BLOCK);
    await waitFor(async () => (await metricValue(metrics.registry, 'pd_router_precise_prefix_parity_samples_total', { model: MODEL })) === 2, 'two parity samples');
  });
});
