/**
 * token-producer against a real simulator: render backend (the sim serves vLLM's render routes),
 * fallback to the in-process tokenizer on refusal/timeout/bad status (counted), idempotence,
 * strict parameters; and precise-prefix-cache-producer consuming the published ids.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenizeChat } from '../../../src/tokenization/simulated.js';
import { tokenProducerFactory, type TokenProducer } from '../../../scheduler/plugins/producers/token-producer.js';
import { TOKENIZED_PROMPT, tokenizedPromptOf } from '../../../scheduler/plugins/producers/tokenized-prompt.js';
import { precisePrefixCacheProducerFactory, type PrecisePrefixCacheProducer } from '../../../scheduler/plugins/producers/precise-prefix-cache-producer.js';
import { PREFIX_CACHE_MATCH_INFO } from '../../../scheduler/framework/cycle-state.js';
import type { EppMetrics } from '../../../scheduler/metrics.js';
import { closeAll, sim } from '../../sim/helpers.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle, makeRequest } from '../helpers.js';
import type { RunningSimulator } from '../../../src/sim/simulator.js';
import { TINY_MODEL, TINY_MODEL_DIR } from '../../fixtures/tiny-model/build.js';

const PROMPT = 'the quick brown fox jumps over the lazy dog';
let simulator: RunningSimulator;
let slow: Server;
let slowUrl: string;
const open: TokenProducer[] = [];

beforeAll(async () => {
  simulator = await sim();
  // Never answers: the render call must time out.
  slow = createServer(() => undefined).listen(0, '127.0.0.1');
  await new Promise((resolve) => slow.once('listening', resolve));
  slowUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await Promise.all(open.map((p) => p.close()));
  slow.closeAllConnections();
  slow.close();
  await closeAll();
});

function producer(parameters: Record<string, unknown>, registry?: Registry): TokenProducer {
  const handle = makeHandle();
  const withMetrics = registry ? { ...handle, metrics: { registry } as unknown as EppMetrics } : handle;
  const plugin = tokenProducerFactory('token-producer', parameters, withMetrics) as TokenProducer;
  open.push(plugin);
  return plugin;
}

async function produced(plugin: TokenProducer, request = chatRequest(PROMPT)) {
  const ctx = makeContext([]);
  await plugin.produce(ctx, request);
  return tokenizedPromptOf(ctx);
}

describe('token-producer', () => {
  it('renders chat and completion prompts on the model server', async () => {
    const plugin = producer({ modelName: 'm', vllm: { url: `${simulator.url}/` }, tokenizer: { type: 'simulated' } });
    const chat = await produced(plugin);
    expect(chat?.source).toBe('vllm-render');
    expect(Array.from(chat!.tokenIds)).toEqual(tokenizeChat([{ role: 'user', content: PROMPT }]).ids);
    const completion = await produced(plugin, makeRequest({ model: 'm', prompt: PROMPT }));
    expect(completion?.source).toBe('vllm-render');
    expect(completion!.tokenIds.length).toBeGreaterThan(0);
    expect(plugin.fallbacks).toBe(0);
  });

  it('falls back to the in-process tokenizer on refusal, timeout and error status, counting each', async () => {
    const registry = new Registry();
    const refused = producer({ modelName: 'm', vllm: { url: 'http://127.0.0.1:1' }, tokenizer: { type: 'simulated' } }, registry);
    const timedOut = producer({ modelName: 'm', vllm: { url: slowUrl, timeout: '50ms' }, tokenizer: { type: 'simulated' } }, registry);
    const notFound = producer({ modelName: 'm', vllm: { url: `${simulator.url}/nowhere` }, tokenizer: { type: 'simulated' } }, registry);
    const expected = tokenizeChat([{ role: 'user', content: PROMPT }]).ids;
    for (const plugin of [refused, timedOut, notFound]) {
      const prompt = await produced(plugin);
      expect(prompt?.source).toBe('in-process');
      expect(Array.from(prompt!.tokenIds)).toEqual(expected);
      expect(plugin.fallbacks).toBe(1);
    }
    const metric = await registry.getSingleMetric('pd_router_token_producer_render_fallbacks_total')!.get();
    expect(Object.fromEntries(metric.values.map((v) => [v.labels.reason, v.value]))).toEqual({ unreachable: 1, timeout: 1, status: 1 });
  });

  it('is idempotent and publishes nothing when no backend can tokenize', async () => {
    const plugin = producer({ tokenizer: { type: 'simulated' } });
    const ctx = makeContext([]);
    ctx.state.set(TOKENIZED_PROMPT, { tokenIds: [7], source: 'in-process' });
    await plugin.produce(ctx, chatRequest(PROMPT));
    expect(Array.from(tokenizedPromptOf(ctx)!.tokenIds)).toEqual([7]);
    // The simulated tokenizer does not serve the responses API.
    expect(await produced(plugin, makeRequest({ model: 'm', input: PROMPT }))).toBeUndefined();
  });

  it('loads the in-process tokenizer of modelName (no vllm block) before it is ready; a missing one fails start-up', async () => {
    const local = producer({ modelName: TINY_MODEL, tokenizer: { modelTokenizerMap: { [TINY_MODEL]: TINY_MODEL_DIR } }, tokenizerPool: { workers: 1 } });
    await local.whenReady();
    expect(Array.from((await produced(local, makeRequest({ model: 'any-adapter', prompt: 'hello world' })))!.tokenIds)).toEqual([1, 3, 4]);
    await expect(producer({ modelName: 'org/not-here', tokenizer: { tokenizersDir: TINY_MODEL_DIR } }).whenReady()).rejects.toThrow(/no tokenizer\.json for model "org\/not-here" in .*tiny-model/);
    // With a render endpoint the in-process tokenizer is only a fallback: nothing to load.
    await producer({ modelName: 'org/not-here', vllm: { url: simulator.url } }).whenReady();
  });

  it('parses its parameters strictly', () => {
    expect(() => producer({ vllm: { url: 'http://x:8000' } })).toThrow(/modelName.*required/);
    expect(() => producer({ modelName: 'm', vllm: { url: 'https://x:8000' } })).toThrow(/http/);
    expect(() => producer({ modelName: 'm', vllm: { timeout: 'soon' } })).toThrow(/duration/);
    expect(() => producer({ modelName: 'm', vllm: { grpc: true } })).toThrow(/grpc/);
    expect(() => producer({ udsTokenizerConfig: { socketFile: '/tmp/s' } })).toThrow(/udsTokenizerConfig/);
    expect(() => producer({ estimate: {} })).toThrow(/estimate/);
  });
});

describe('precise-prefix-cache-producer', () => {
  it('looks up the token-producer ids and writes match info without scoring', async () => {
    const endpoint = makeEndpoint({ name: 'e', address: '127.0.0.1', port: simulator.port });
    const handle = makeHandle({ endpoints: [endpoint] });
    const plugin = precisePrefixCacheProducerFactory('precise-prefix-cache-producer', { tokenProcessorConfig: { blockSize: 4 }, tokenizer: { type: 'simulated' }, kvEventsConfig: { zmqEndpoint: 'tcp://127.0.0.1:0' } }, handle) as PrecisePrefixCacheProducer;
    try {
      await plugin.start();
      expect('score' in plugin).toBe(false);
      const ctx = makeContext([endpoint]);
      // 10 ids → 2 full blocks of 4; the request body itself is not tokenized.
      ctx.state.set(TOKENIZED_PROMPT, { tokenIds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], source: 'vllm-render' });
      await plugin.produce(ctx, chatRequest('x'), [endpoint]);
      expect(ctx.attributes.get(endpoint, PREFIX_CACHE_MATCH_INFO)).toMatchObject({ matchBlocks: 0, totalBlocks: 2, blockSizeTokens: 4 });
    } finally {
      await plugin.close();
    }
  });
});
