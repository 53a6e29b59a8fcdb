/**
 * precise-prefix-cache-scorer: parameters, the scoring formula over a real index fed through the
 * real event processor, the match info the P/D decider reads, speculative entries, the
 * `cache_tracking` mapping, per-endpoint event sockets over real ZeroMQ, the real-tokenizer path
 * (tiny fixture model), spans, metrics and lifecycle.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { blockKeys, rootKey } from '../../../../src/kvblock/keys.js';
import { ZmqKvEventPublisher, kvEventsTopic } from '../../../../src/sim/kv-events-publisher.js';
import { PromptTokenizer } from '../../../../src/tokenization/prompt-tokens.js';
import { loadEndpointPickerConfig } from '../../../../scheduler/config/loader.js';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo } from '../../../../scheduler/framework/cycle-state.js';
import { Director } from '../../../../scheduler/framework/director.js';
import type { Endpoint } from '../../../../scheduler/framework/endpoint.js';
import { ConfigError } from '../../../../scheduler/framework/errors.js';
import type { PluginHandle } from '../../../../scheduler/framework/registry.js';
import type { InferenceRequest } from '../../../../scheduler/framework/request.js';
import { DEFAULT_TIER_WEIGHTS } from '../../../../scheduler/kvcache/index/longest-prefix.js';
import { parsePrecisePrefixConfig } from '../../../../scheduler/kvcache/precise/config.js';
import { EppMetrics } from '../../../../scheduler/metrics.js';
import { PrefixBasedPdDecider } from '../../../../scheduler/plugins/deciders/prefix-based-pd-decider.js';
import { createDefaultRegistry } from '../../../../scheduler/plugins/index.js';
import {
  PRECISE_PREFIX_CACHE_SCORER_TYPE, PrecisePrefixCacheScorer, precisePrefixCacheScorerFactory,
} from '../../../../scheduler/plugins/scorers/precise-prefix-cache-scorer.js';
import { PrefixCacheScorer, prefixCacheScorerFactory } from '../../../../scheduler/plugins/scorers/prefix-cache-scorer.js';
import { TINY_MODEL, TINY_MODEL_DIR } from '../../../fixtures/tiny-model/build.js';
import { message, metricValue, range, stored, waitFor } from '../../../kvcache/events/helpers.js';
import { captureLogger, makeContext, makeEndpoint, makeHandle, makeRequest, makeResult, scoresByName, silentLogger, WARN_LEVEL } from '../../helpers.js';
import { captureSpans } from '../profiles/spans.js';
import { poll } from '../../../helpers/poll.js';
import { freePort } from '../../../../src/http/free-port.js';

const MODEL = 'test-model';
const BLOCK = 4;
const TOKENS = range(1, 16); // 4 blocks of 4
const KEYS = blockKeys(TOKENS, BLOCK, rootKey('', MODEL));
/** Simulated tokenizer + token-id prompt: the request's tokens are exactly TOKENS. */
const request = (tokens: number[] = TOKENS, model = MODEL): InferenceRequest => makeRequest({ model, prompt: tokens, max_tokens: 1 });
const BASE = { tokenProcessorConfig: { blockSize: BLOCK }, kvEventsConfig: { discoverPods: false }, tokenizer: { type: 'simulated' } };

const plugins: PrecisePrefixCacheScorer[] = [];
afterEach(async () => {
  await Promise.all(plugins.splice(0).map((plugin) => plugin.close()));
});

async function build(parameters: Record<string, unknown> = {}, handle: PluginHandle = makeHandle()): Promise<PrecisePrefixCacheScorer> {
  const plugin = precisePrefixCacheScorerFactory('precise', { ...BASE, ...parameters }, handle) as PrecisePrefixCacheScorer;
  plugins.push(plugin);
  await plugin.start();
  return plugin;
}

let engineHash = 1n;
/** Pod stores `tokens` (from block 0) through the real processor, one engine hash per block, on `medium`. */
async function store(plugin: PrecisePrefixCacheScorer, pod: string, tokens: number[], medium = 'GPU', model = MODEL, blockSize = BLOCK): Promise<void> {
  const hashes = Array.from({ length: Math.floor(tokens.length / blockSize) }, () => engineHash++);
  plugin.processor!.submit(message(pod, [stored(hashes, null, tokens, blockSize, medium)], model));
  await plugin.processor!.drain();
}

function endpoints(count: number): Endpoint[] {
  return Array.from({ length: count }, (_, i) => makeEndpoint({ name: `e${i}`, address: `10.9.0.${i + 1}`, port: 8000 }));
}

async function scoreAll(plugin: PrecisePrefixCacheScorer, eps: Endpoint[], req = request()): Promise<Record<string, number>> {
  const ctx = makeContext(eps);
  await plugin.produce(ctx, req, eps);
  return scoresByName(await plugin.score(ctx, req, eps));
}

describe('parameters', () => {
  it('fills llm-d defaults', () => {
    const config = parsePrecisePrefixConfig(undefined, silentLogger, {});
    expect(config).toMatchObject({
      blockSize: 16, hashSeed: '', indexKind: 'memory', speculativeIndexing: false, speculativeTtlMs: 2000,
      kvEvents: { zmqEndpoint: '', topicFilter: 'kv@', concurrency: 4, discoverPods: true, podDiscoveryConfig: { socketPort: 5557 } },
      tokenizer: { type: 'local', locations: { searchDirs: ['/mnt/models'], modelDirs: {} } },
    });
    expect(config.tierWeights).toEqual(DEFAULT_TIER_WEIGHTS);
    expect(parsePrecisePrefixConfig({}, silentLogger, { LOCAL_TOKENIZER_DIR: '/models' }).tokenizer).toEqual({ type: 'local', locations: { searchDirs: ['/models'], modelDirs: {} } });
  });

  it('reads every group, including older spellings', () => {
    const config = parsePrecisePrefixConfig({
      tokenProcessorConfig: { blockSizeTokens: 64, hashSeed: '42', hashAlgorithm: 'cbor-fnv' },
      indexerConfig: {
        kvBlockIndexConfig: { inMemoryConfig: null, redisConfig: { address: 'redis://r:6379' } },
        kvCacheBackendConfigs: [{ name: 'GPU', weight: 1 }, { name: 'cpu', weight: 0.5 }],
        tokenizersPoolConfig: { local: { autoDiscoveryDir: '/pool' }, uds: { modelTokenizerMap: { a: '/x/tokenizer.json' } } },
      },
      kvEventsConfig: { zmqEndpoint: 'tcp://*:5557', concurrency: 2 },
      speculativeIndexing: true,
      speculativeTTL: '1.5s',
      tokenizer: { modelTokenizerMap: { b: '/y' }, defaultDir: '/z' },
    }, silentLogger, {});
    expect(config).toMatchObject({
      blockSize: 64, hashSeed: '42', indexKind: 'redis', speculativeIndexing: true, speculativeTtlMs: 1500,
      kvEvents: { zmqEndpoint: 'tcp://*:5557', concurrency: 2 },
      tokenizer: { type: 'local', locations: { searchDirs: ['/pool'], modelDirs: { a: '/x', b: '/y' }, defaultDir: '/z' } },
    });
    expect(config.tierWeights).toEqual(new Map([['gpu', 1], ['cpu', 0.5]]));
    // KVM-0.4 nested the token processor in indexerConfig; a hashSeed alone keeps blockSize 16 (SCHED left 0 and failed).
    expect(parsePrecisePrefixConfig({ indexerConfig: { tokenProcessorConfig: { blockSize: 32 } } }, silentLogger, {}).blockSize).toBe(32);
    expect(parsePrecisePrefixConfig({ tokenProcessorConfig: { hashSeed: 'x' } }, silentLogger, {}).blockSize).toBe(16);
    expect(parsePrecisePrefixConfig({ speculativeTTL: 3_000_000_000 }, silentLogger, {}).speculativeTtlMs).toBe(3000);
    expect(parsePrecisePrefixConfig({ tokenizer: { type: 'simulated' } }, silentLogger, {}).tokenizer).toEqual({ type: 'simulated' });
  });

  it.each([
    [{ tokenProcessorConfig: { blockSize: 0 } }, 'parameters.tokenProcessorConfig.blockSize'],
    [{ tokenProcessorConfig: { blockSize: 16, blockSizeTokens: 64 } }, 'disagree'],
    [{ tokenProcessorConfig: { hashAlgorithm: 'xxh64' } }, 'parameters.tokenProcessorConfig.hashAlgorithm'],
    [{ indexerConfig: { kvBlockIndexConfig: { costAwareMemoryConfig: { size: '2GiB' } } } }, 'parameters.indexerConfig.kvBlockIndexConfig.costAwareMemoryConfig'],
    [{ indexerConfig: { kvBlockIndexConfig: { inMemoryConfig: { size: -1 } } } }, 'parameters.indexerConfig.kvBlockIndexConfig.inMemoryConfig.size'],
    [{ indexerConfig: { kvCacheBackendConfigs: [{ weight: 1 }] } }, 'parameters.indexerConfig.kvCacheBackendConfigs[0].name'],
    [{ kvEventsConfig: { concurrency: 0 } }, 'parameters.kvEventsConfig.concurrency'],
    [{ kvEventsConfig: { engineType: 'sglang' } }, 'parameters.kvEventsConfig.engineType'],
    [{ speculativeIndexing: 'yes' }, 'parameters.speculativeIndexing'],
    [{ speculativeTTL: 'soon' }, 'parameters.speculativeTTL'],
    [{ tokenizer: { type: 'remote' } }, 'parameters.tokenizer.type'],
    [{ tokenizer: { tokenizersDir: 3 } }, 'parameters.tokenizer.tokenizersDir'],
    [{ indexerConfig: { tokenizersPoolConfig: { modelName: 7 } } }, 'parameters.indexerConfig.tokenizersPoolConfig.modelName'],
    [{ tokenizerPool: { loadTimeout: 'soon' } }, 'parameters.tokenizerPool.loadTimeout'],
    [{ tokenizerPool: { loadTimeout: '0s' } }, 'parameters.tokenizerPool.loadTimeout: must be positive'],
    [{ tokenizerPool: { loadTimeout: '1000h' } }, 'parameters.tokenizerPool.loadTimeout: must be at most 2147483647 ms'],
    [{ speculativeIndexing: true, speculativeTTL: '600h' }, 'parameters.speculativeTTL: must be at most'],
    [{ tokenizerPool: { workerCount: 2 } }, 'parameters.tokenizerPool.workerCount: unknown parameter'],
  ])('rejects %j naming %s', (parameters, where) => {
    expect(() => parsePrecisePrefixConfig(parameters, silentLogger, {})).toThrow(ConfigError);
    expect(() => parsePrecisePrefixConfig(parameters, silentLogger, {})).toThrow(where);
  });

  it('refuses unknown keys, naming their path (a misspelling must not pass silently)', () => {
    expect(() => parsePrecisePrefixConfig({ prefixStoreConfig: {} }, undefined, {})).toThrow(/parameters\.prefixStoreConfig: unknown parameter of precise-prefix-cache-scorer/);
    expect(() => parsePrecisePrefixConfig({ indexerConfig: { bogus: 1 } }, undefined, {})).toThrow(/parameters\.indexerConfig\.bogus: unknown parameter/);
    // Positive control: the known keys, including indexerConfig.prefixStoreConfig (accepted, not used), parse.
    expect(parsePrecisePrefixConfig({ indexerConfig: { prefixStoreConfig: {} }, speculativeIndexing: true }, undefined, {}).speculativeIndexing).toBe(true);
  });

  it('a bad parameter in a config file names its YAML path', () => {
    const yaml = `apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\nplugins:\n- type: precise-prefix-cache-scorer\n  parameters:\n    kvEventsConfig: {concurrency: -2}\n`;
    expect(() => loadEndpointPickerConfig(yaml, { registry: createDefaultRegistry(), logger: silentLogger })).toThrow('plugins[0].parameters.kvEventsConfig.concurrency: must be a positive integer');
  });
});

describe('scoring (upstream scorer cases)', () => {
  it('pods with 3, 2 and 1 leading blocks score 3/N, 2/N, 1/N; absent 0', async () => {
    const plugin = await build();
    const eps = endpoints(4);
    await store(plugin, eps[0]!.hostPort, TOKENS.slice(0, 12));
    await store(plugin, eps[1]!.hostPort, TOKENS.slice(0, 8));
    await store(plugin, eps[2]!.hostPort, TOKENS.slice(0, 4));
    expect(await scoreAll(plugin, eps)).toEqual({ e0: 0.75, e1: 0.5, e2: 0.25, e3: 0 });
  });

  it('a gap stops the prefix; a pod first seen after block 0 scores nothing', async () => {
    const plugin = await build();
    const eps = endpoints(2);
    await store(plugin, eps[0]!.hostPort, TOKENS.slice(0, 8)); // blocks 0, 1
    const index = plugin.index!;
    // e0 also holds block 3 (but not 2); e1 holds 1–3 but not block 0.
    await index.add(null, [KEYS[3]!], [{ pod: eps[0]!.hostPort, tier: 'gpu' }]);
    await index.add(null, KEYS.slice(1), [{ pod: eps[1]!.hostPort, tier: 'gpu' }]);
    expect(await scoreAll(plugin, eps)).toEqual({ e0: 0.5, e1: 0 });
  });

  it('a single endpoint scores its share, not 1.0; fully cached clamps at 1', async () => {
    const plugin = await build();
    const [only] = endpoints(1);
    await store(plugin, only!.hostPort, TOKENS.slice(0, 8));
    expect(await scoreAll(plugin, [only!])).toEqual({ e0: 0.5 });
    await store(plugin, only!.hostPort, TOKENS);
    expect(await scoreAll(plugin, [only!])).toEqual({ e0: 1 });
  });

  it('empty index → all 0 (a cold cluster is not 1.0 everywhere)', async () => {
    const plugin = await build();
    expect(await scoreAll(plugin, endpoints(3))).toEqual({ e0: 0, e1: 0, e2: 0 });
  });

  it('tier weights: gpu,gpu,cpu scores 2.8/N; the match info still counts 3 cached blocks', async () => {
    const plugin = await build();
    const [ep] = endpoints(1);
    await store(plugin, ep!.hostPort, TOKENS.slice(0, 8));
    await plugin.index!.add(null, [KEYS[2]!], [{ pod: ep!.hostPort, tier: 'cpu' }]);
    const ctx = makeContext([ep!]);
    await plugin.produce(ctx, request(), [ep!]);
    expect(scoresByName(await plugin.score(ctx, request(), [ep!])).e0).toBeCloseTo(2.8 / 4);
    expect(ctx.attributes.get<PrefixCacheMatchInfo>(ep!, PREFIX_CACHE_MATCH_INFO)).toEqual({ matchBlocks: 3, totalBlocks: 4, blockSizeTokens: BLOCK, inputTokens: 4 * BLOCK });
  });

  it('no full block, another model, or an untokenizable request → 0 for everyone', async () => {
    const plugin = await build();
    const eps = endpoints(2);
    await store(plugin, eps[0]!.hostPort, TOKENS);
    expect(await scoreAll(plugin, eps, request([1, 2, 3]))).toEqual({ e0: 0, e1: 0 });
    expect(await scoreAll(plugin, eps, request(TOKENS, 'other-model'))).toEqual({ e0: 0, e1: 0 });
    const responses = makeRequest({ model: MODEL, input: 'hello' });
    expect(await scoreAll(plugin, eps, responses)).toEqual({ e0: 0, e1: 0 });
  });

  it('uses the simulated tokenizer like pd-router sim (chat flattened as "### role: text")', async () => {
    const plugin = await build();
    const eps = endpoints(2);
    const messages = [{ role: 'user', content: 'one two three four five six seven eight nine ten' }];
    // Hand-computed: "### user: one … ten\n" splits into "#" "#" "# " "user" ": " "one " … "nine " "ten\n",
    // each id FNV-1a-32 of the token's bytes (computed outside this code base).
    const ids = [
      638357778, 638357778, 399020470, 1618501362, 2382766391, 3666714845, 1552033323, 3455589977,
      684556383, 3133576687, 3566985169, 474554746, 2522761712, 1400993071, 3893604346,
    ];
    await store(plugin, eps[1]!.hostPort, ids);
    await store(plugin, eps[0]!.hostPort, ids.slice(0, 8));
    const scores = await scoreAll(plugin, eps, makeRequest({ model: MODEL, messages }));
    expect(scores.e1).toBe(1); // 3 full blocks of 4 (the 15th token is a partial block)
    expect(scores.e0).toBeCloseTo(2 / 3);
  });

  it('scores without a produce step too (computes on first use), once per request', async () => {
    const metrics = new EppMetrics();
    const plugin = await build({}, { ...makeHandle(), metrics });
    const eps = endpoints(2);
    await store(plugin, eps[0]!.hostPort, TOKENS);
    const ctx = makeContext(eps);
    const req = request();
    expect(scoresByName(await plugin.score(ctx, req, eps))).toEqual({ e0: 1, e1: 0 });
    expect(scoresByName(await plugin.score(ctx, req, [eps[1]!]))).toEqual({ e1: 0 });
    expect(await metricValue(metrics.registry, 'llm_d_kv_cache_index_lookups_total')).toBe(1);
  });
});

describe('match info for the P/D decider (real cached block count, llm-d/llm-d#1466)', () => {
  it('writes the real cached block count of every candidate; the decider decides on it', async () => {
    const plugin = await build();
    const [cached, cold] = endpoints(2);
    await store(plugin, cached!.hostPort, TOKENS.slice(0, 12));
    const ctx = makeContext([cached!, cold!]);
    const req = request(); // 16 token ids → the decider counts 16 input tokens
    await plugin.produce(ctx, req, [cached!, cold!]);
    expect(ctx.attributes.get(cached!, PREFIX_CACHE_MATCH_INFO)).toEqual({ matchBlocks: 3, totalBlocks: 4, blockSizeTokens: BLOCK, inputTokens: 4 * BLOCK });
    expect(ctx.attributes.get(cold!, PREFIX_CACHE_MATCH_INFO)).toEqual({ matchBlocks: 0, totalBlocks: 4, blockSizeTokens: BLOCK, inputTokens: 4 * BLOCK });
    const decider = new PrefixBasedPdDecider('decider', 8);
    expect(decider.decide(ctx, req, cached).disaggregate).toBe(false); // 16 − 12 = 4 < 8
    expect(decider.decide(ctx, req, cold).disaggregate).toBe(true); // 16 − 0 ≥ 8
  });

  it('in a loaded P/D config the decider sees the precise match of the chosen decode pod (no approximate producer injected)', async () => {
    const yaml = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: precise-prefix-cache-scorer
  parameters: {tokenProcessorConfig: {blockSize: ${BLOCK}}, kvEventsConfig: {discoverPods: false}, tokenizer: {type: simulated}}
- type: decode-filter
- type: prefill-filter
- type: max-score-picker
- type: prefix-based-pd-decider
  parameters: {nonCachedTokens: 8}
- type: disagg-profile-handler
  parameters: {deciders: {prefill: prefix-based-pd-decider}}
schedulingProfiles:
- name: prefill
  plugins: [{pluginRef: prefill-filter}, {pluginRef: precise-prefix-cache-scorer, weight: 2}]
- name: decode
  plugins: [{pluginRef: decode-filter}, {pluginRef: precise-prefix-cache-scorer, weight: 2}]
`;
    const decodeCached = makeEndpoint({ name: 'decode-cached', address: '10.8.0.1', role: 'decode' });
    const decodeCold = makeEndpoint({ name: 'decode-cold', address: '10.8.0.2', role: 'decode' });
    const prefill = makeEndpoint({ name: 'prefill', address: '10.8.0.3', role: 'prefill' });
    const all = [decodeCold, decodeCached, prefill];
    const loaded = loadEndpointPickerConfig(yaml, { registry: createDefaultRegistry(), logger: silentLogger, endpoints: () => all });
    try {
      expect(loaded.producers.map((p) => p.type)).toEqual([PRECISE_PREFIX_CACHE_SCORER_TYPE]);
      const plugin = loaded.plugins.get(PRECISE_PREFIX_CACHE_SCORER_TYPE) as PrecisePrefixCacheScorer;
      await plugin.start();
      const director = new Director({ scheduler: loaded.scheduler, endpoints: () => all, producers: loaded.producers, preRequests: loaded.preRequests, logger: silentLogger });

      // Cached prefix of 12 of 16 tokens → decode-only, on the pod that holds it.
      await store(plugin, decodeCached.hostPort, TOKENS.slice(0, 12));
      const warm = await director.handleRequest(request());
      expect(warm.destination).toBe(decodeCached.hostPort);
      expect(warm.request.headers.has('x-prefiller-host-port')).toBe(false);

      // A different prompt nobody holds → P/D.
      const cold = await director.handleRequest(request(range(100, 16)));
      expect(cold.request.headers.get('x-prefiller-host-port')).toBe(prefill.hostPort);
    } finally {
      await loaded.close();
    }
  });
});

describe('prefix-cache-scorer mode: cache_tracking', () => {
  it('maps to the precise scorer with the remaining parameters; approximate stays the default', async () => {
    const { logger, records } = captureLogger();
    const plugin = prefixCacheScorerFactory('prefix', { mode: 'cache_tracking', ...BASE, tokenProcessorConfig: { blockSize: 32 } }, makeHandle({ logger }));
    plugins.push(plugin as PrecisePrefixCacheScorer);
    expect(plugin).toBeInstanceOf(PrecisePrefixCacheScorer);
    expect(plugin.name).toBe('prefix');
    expect((plugin as PrecisePrefixCacheScorer).config.blockSize).toBe(32);
    expect(records.filter((r) => r.level === WARN_LEVEL)).toEqual([]);
    expect(prefixCacheScorerFactory('p', {}, makeHandle())).toBeInstanceOf(PrefixCacheScorer);
    expect(prefixCacheScorerFactory('p', { mode: 'approximate' }, makeHandle())).toBeInstanceOf(PrefixCacheScorer);
  });
});

describe('speculative indexing', () => {
  it('records the picked decode and prefill pods as guesses until the TTL; the decider ignores guesses', async () => {
    const plugin = await build({ speculativeIndexing: true, speculativeTTL: '100ms' });
    const [decode, prefill, other] = endpoints(3);
    const ctx = makeContext([decode!, prefill!, other!]);
    await plugin.produce(ctx, request(), [decode!, prefill!, other!]);
    plugin.preRequest(ctx, request(), makeResult({ decode: [decode!], prefill: [prefill!] }, 'decode'));
    await waitFor(async () => (await plugin.index!.lookup(KEYS)).length === 4, 'the guesses to be added');
    const next = makeContext([decode!, prefill!, other!]);
    await plugin.produce(next, request(), [decode!, prefill!, other!]);
    expect(scoresByName(await plugin.score(next, request(), [decode!, prefill!, other!]))).toEqual({ e0: 1, e1: 1, e2: 0 });
    expect(next.attributes.get<PrefixCacheMatchInfo>(decode!, PREFIX_CACHE_MATCH_INFO)?.matchBlocks).toBe(0);
    await waitFor(async () => (await plugin.index!.size()) === 0, 'the guesses to expire');
  });
});

describe('KV events in per-endpoint mode (real ZeroMQ)', () => {
  let port: number;
  beforeAll(async () => {
    port = await freePort();
  });

  it('connects to tcp://<address>:<socketPort> of each endpoint and follows the endpoint set', async () => {
    const a = makeEndpoint({ name: 'pod-a', address: '127.0.0.2', port: 8000 });
    const b = makeEndpoint({ name: 'pod-b', address: '127.0.0.3', port: 8000 });
    let current: readonly Endpoint[] = [a];
    const plugin = await build(
      { kvEventsConfig: { podDiscoveryConfig: { socketPort: port } } },
      makeHandle({ endpoints: () => current }),
    );
    const publishers = await Promise.all([a, b].map((ep) => ZmqKvEventPublisher.open({
      endpoint: `tcp://${ep.address}:${port}`, bind: true, topic: kvEventsTopic(ep.address, ep.port, MODEL), flushIntervalMs: 10,
    })));
    try {
      const publish = (i: number, tokens: number[]) => {
        publishers[i]!.blockStored({ type: 'BlockStored', blockHashes: blockKeys(tokens, BLOCK, rootKey('', MODEL)), parentBlockHash: null, tokenIds: tokens, blockSize: BLOCK, loraId: null, loraName: null, medium: 'GPU' });
        publishers[i]!.flush();
      };
      // PUB drops messages until the SUB has connected: republish (idempotent) until indexed.
      await waitFor(async () => {
        publish(0, TOKENS.slice(0, 8));
        await new Promise((resolve) => setTimeout(resolve, 20));
        return (await scoreAll(plugin, [a, b]))['pod-a'] === 0.5;
      }, 'pod a\'s events');
      expect((await scoreAll(plugin, [a, b]))['pod-b']).toBe(0);

      current = [a, b]; // a new endpoint: picked up on the next request
      await waitFor(async () => {
        publish(1, TOKENS);
        await new Promise((resolve) => setTimeout(resolve, 20));
        return (await scoreAll(plugin, [a, b]))['pod-b'] === 1;
      }, 'pod b\'s events');

      current = [b]; // pod a left: its socket closes
      await scoreAll(plugin, [b]);
      expect([...plugin.subscriber!.endpoints()]).toEqual([['127.0.0.3', `tcp://127.0.0.3:${port}`]]);
    } finally {
      await Promise.all(publishers.map((p) => p.close()));
    }
  });
});

describe('local tokenizer (tiny fixture model: template + tokenizer in process)', () => {
  it('renders and tokenizes chat like vLLM, so its keys equal the events\' keys', async () => {
    const plugin = await build({ tokenProcessorConfig: { blockSize: 2 }, tokenizer: { modelTokenizerMap: { [TINY_MODEL]: TINY_MODEL_DIR } } });
    const body = { model: TINY_MODEL, messages: [{ role: 'user', content: 'hello world how are you' }] };
    const prompts = new PromptTokenizer({ modelDirs: { [TINY_MODEL]: TINY_MODEL_DIR } });
    const tokens = [...(await prompts.tokenizeRequest(TINY_MODEL, { api: 'chat_completions', body } as never)).tokens];
    await prompts.close();
    expect(tokens).toHaveLength(10); // <s> user : hello world how are you assistant :
    const [pod] = endpoints(1);
    await store(plugin, pod!.hostPort, tokens.slice(0, 8), 'GPU', TINY_MODEL, 2);
    expect(await scoreAll(plugin, [pod!], makeRequest(body))).toEqual({ e0: 0.8 });
  });

  it('tokenizersPoolConfig.modelName: its tokenizer, loaded in every worker before whenReady, serves requests naming any model', async () => {
    const { logger, records } = captureLogger('info');
    const plugin = await build({
      tokenProcessorConfig: { blockSize: 2 }, indexerConfig: { tokenizersPoolConfig: { modelName: TINY_MODEL } },
      tokenizer: { modelTokenizerMap: { [TINY_MODEL]: TINY_MODEL_DIR } }, tokenizerPool: { workers: 2, loadTimeout: '30s' },
    }, makeHandle({ logger }));
    await plugin.whenReady();
    expect(records.find((r) => r.msg === 'tokenizers loaded in every worker')).toMatchObject({ plugin: 'precise', models: [TINY_MODEL], workers: 2 });
    // A LoRA adapter of the base model: no tokenizer of its own; keys still carry the request's model.
    const adapter = 'tiny-adapter';
    const body = { model: adapter, messages: [{ role: 'user', content: 'hello world how are you' }] };
    const prompts = new PromptTokenizer({ modelDirs: { [TINY_MODEL]: TINY_MODEL_DIR } });
    const tokens = [...(await prompts.tokenizeRequest(TINY_MODEL, { api: 'chat_completions', body } as never)).tokens];
    await prompts.close();
    const [pod] = endpoints(1);
    await store(plugin, pod!.hostPort, tokens.slice(0, 8), 'GPU', adapter, 2);
    expect(await scoreAll(plugin, [pod!], makeRequest(body))).toEqual({ e0: 0.8 });
  });

  it('whenReady rejects past tokenizerPool.loadTimeout, naming the models', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'precise-slow-'));
    execFileSync('mkfifo', [join(dir, 'tokenizer.json')]); // read by the worker, never written: the load never ends
    const plugin = await build({ tokenizer: { modelTokenizerMap: { slow: dir } }, tokenizerPool: { workers: 1, loadTimeout: '50ms' } });
    await expect(plugin.whenReady()).rejects.toThrow(/"slow" did not load in every worker within 50 ms \(tokenizerPool\.loadTimeout\)/);
    // Let the worker's read end (end-of-file) so that closing it does not wait on the pipe.
    const writer = await poll(() => { try { return openSync(join(dir, 'tokenizer.json'), constants.O_WRONLY | constants.O_NONBLOCK); } catch { return undefined; } }, { what: 'the worker reading the pipe' });
    closeSync(writer);
  });

  it('a model without a tokenizer scores 0 and warns once', async () => {
    const { logger, records } = captureLogger();
    const plugin = await build({ tokenizer: { tokenizersDir: TINY_MODEL_DIR } }, makeHandle({ logger }));
    const eps = endpoints(1);
    for (let i = 0; i < 2; i++) expect(await scoreAll(plugin, eps, makeRequest({ model: 'nobody/has-this', prompt: 'hello' }))).toEqual({ e0: 0 });
    expect(records.filter((r) => r.level === WARN_LEVEL && String(r.msg).includes('not tokenized'))).toHaveLength(1);
  });
});

describe('observability', () => {
  it('traces templating + tokenize + lookup under llm_d.epp.scorer.prefix_cache', async () => {
    const capture = captureSpans();
    const contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
    try {
      const plugin = await build();
      const eps = endpoints(2);
      await store(plugin, eps[0]!.hostPort, TOKENS.slice(0, 8));
      await scoreAll(plugin, eps);
      const [scorer] = capture.spans('llm_d.epp.scorer.prefix_cache');
      expect(scorer?.attributes).toMatchObject({
        'llm_d.scorer.candidate_endpoints': 2, 'gen_ai.request.model': MODEL, 'llm_d.scorer.result': 'scored',
        'llm_d.scorer.scores_computed': true, 'llm_d.scorer.score.max': 0.5, 'llm_d.scorer.score.avg': 0.25, 'llm_d.scorer.endpoints_scored': 1,
      });
      const child = (name: string) => capture.spans(name)[0]!;
      const parentOf = (name: string) => child(name).parentSpanContext?.spanId;
      expect(parentOf('llm_d.kv_cache.tokenize')).toBe(scorer!.spanContext().spanId);
      expect(parentOf('llm_d.kv_cache.score_tokens')).toBe(scorer!.spanContext().spanId);
      expect(parentOf('llm_d.kv_cache.index')).toBe(child('llm_d.kv_cache.score_tokens').spanContext().spanId);
      expect(parentOf('llm_d.kv_cache.scorer.compute')).toBe(child('llm_d.kv_cache.score_tokens').spanContext().spanId);
      expect(child('llm_d.kv_cache.score_tokens').attributes).toMatchObject({ 'llm_d.kv_cache.token_count': 16, 'llm_d.kv_cache.block_keys.count': 4, 'llm_d.kv_cache.blocks_found': 2, 'llm_d.kv_cache.block_hit_ratio': 0.5 });
      expect(child('llm_d.kv_cache.index').attributes).toMatchObject({ 'llm_d.kv_cache.lookup.cache_hit': true, 'llm_d.kv_cache.lookup.blocks_found': 2 });
    } finally {
      context.disable();
      await capture.stop();
    }
  });

  it('registers index size, lookups, hits and event counters on the EPP registry', async () => {
    const metrics = new EppMetrics();
    const plugin = await build({}, { ...makeHandle(), metrics });
    const eps = endpoints(1);
    await store(plugin, eps[0]!.hostPort, TOKENS);
    plugin.processor!.submit({ topic: 'kv@bad', seq: 1n, payload: new Uint8Array(), source: 'test' });
    await scoreAll(plugin, eps);
    await scoreAll(plugin, eps, request(range(500, 8)));
    const value = (name: string, labels?: Record<string, string>) => metricValue(metrics.registry, name, labels);
    expect(await value('llm_d_kv_cache_index_size')).toBe(4);
    expect(await value('llm_d_kv_cache_index_lookups_total')).toBe(2);
    expect(await value('llm_d_kv_cache_index_lookup_hits_total')).toBe(1);
    expect(await value('llm_d_kv_cache_events_processed_total', { type: 'BlockStored' })).toBe(1);
    expect(await value('llm_d_kv_cache_events_dropped_total', { reason: 'bad_topic' })).toBe(1);
  });
});

describe('lifecycle', () => {
  it('is ready once the index\'s first start attempt failed (not held unready), scores 0, retries, and closes promptly', async () => {
    const { logger, records } = captureLogger();
    const plugin = precisePrefixCacheScorerFactory('precise', { ...BASE, indexerConfig: { kvBlockIndexConfig: { redisConfig: { address: 'redis://127.0.0.1:1' } } } }, makeHandle({ logger })) as PrecisePrefixCacheScorer;
    try {
      await plugin.whenReady(); // would not resolve while the index is down if readiness waited for it
      expect(records.some((r) => String(r.msg).includes('failed to start'))).toBe(true);
      expect(plugin.index).toBeUndefined();
      expect(await scoreAll(plugin, endpoints(2))).toEqual({ e0: 0, e1: 0 });
    } finally {
      await plugin.close();
    }
    expect(plugin.index).toBeUndefined();
  });

  it('global mode binds the SUB and reports the address; close releases it', async () => {
    const plugin = await build({ kvEventsConfig: { zmqEndpoint: 'tcp://127.0.0.1:*' } });
    expect(plugin.boundAddress).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    await plugin.close();
    // The port is free again: a second bind to it succeeds.
    const again = await build({ kvEventsConfig: { zmqEndpoint: plugin.boundAddress } });
    expect(again.boundAddress).toBe(plugin.boundAddress);
  });
});
