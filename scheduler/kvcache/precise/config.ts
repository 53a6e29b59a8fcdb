/**
 * Parameters of `precise-prefix-cache-scorer` → a validated config with
 * llm-d's defaults. Errors are ConfigErrors naming `parameters.<path>`; unknown keys are ignored
 * with a warning (llm-d decodes plugin parameters leniently).
 *
 *   tokenProcessorConfig: { blockSize: 16, hashSeed: "" }   also `blockSizeTokens` (ROUTER-HEAD),
 *                                                          `hashAlgorithm: cbor-fnv` (the only one)
 *   indexerConfig:
 *     kvBlockIndexConfig: { inMemoryConfig | redisConfig | valkeyConfig, … }   (index/config.ts)
 *     kvCacheBackendConfigs: [ {name: gpu, weight: 1.0}, {name: cpu, weight: 0.8} ]
 *     tokenizersPoolConfig: deprecated; `local.autoDiscoveryDir` and `modelTokenizerMap` are used, and
 *                           `modelName` (as llm-d's pool: every request is tokenized with that
 *                           model's tokenizer; loaded at start)
 *     tokenProcessorConfig: KVM-0.4's place for it (the top-level one wins)
 *   kvEventsConfig: { zmqEndpoint, topicFilter, concurrency, engineType, discoverPods, podDiscoveryConfig }
 *   speculativeIndexing: false
 *   speculativeTTL: "2s"
 *   speculativeTail: true           pd-router extension, with speculativeIndexing only: also guess on the
 *                                   keys the walk did not tokenize, after the pick (speculative-tail.ts)
 *   tokenizer:                      pd-router extension (llm-d calls vLLM's /render instead)
 *     type: local | simulated       local (default): the model's own tokenizer and chat template
 *     tokenizersDir: dir | [dirs]   searched for HF-cache `models--org--name` or `org/name`
 *                                   (default: $LOCAL_TOKENIZER_DIR, else /mnt/models)
 *     modelTokenizerMap: {model: dir}   explicit directories (a path to tokenizer.json also works)
 *     defaultDir: dir               used for any model not found otherwise
 *   tokenizerPool:                  pd-router extension
 *     workers: n                    tokenizer worker threads (default: the cores the process may use,
 *                                   cgroup-aware — src/tokenization/cores.ts)
 *     maxQueue: n                   encode calls outstanding before requests are scored without
 *                                   precise prefix (default 16 per worker)
 *     loadTimeout: "2m"             how long the tokenizers named in the config (modelTokenizerMap,
 *                                   modelName) may take to load in every worker at start; the EPP
 *                                   reports ready only after, and fails to start past it
 *   parity:                         pd-router extension (parity.ts)
 *     sampleEvery: 16               check one completed request in n (0 = off)
 *     delay: "2s"                   how long after the response the pod's events are checked
 *     threshold: 0.9                warn below this agreement
 *
 * Deliberate difference: giving only `hashSeed` keeps blockSize 16 (SCHED left it 0 and failed).
 */
import { dirname } from 'node:path';
import type { Logger } from '../../../src/log.js';
import { MAX_TIMER_MS, parseDuration } from '../../../src/duration.js';
import { ConfigError } from '../../framework/errors.js';
import { parametersChecked } from '../../framework/registry.js';
import { resolveKvEventsConfig, type KvEventsConfig } from '../events/config.js';
import { resolveIndexBackend } from '../index/config.js';
import { DEFAULT_PARITY, type ParityConfig } from './parity.js';
import { DEFAULT_TIER_WEIGHTS, tierWeightsFrom, type TierWeights } from '../index/longest-prefix.js';
import { TOKENIZER_FILE, type ModelLocations } from '../../../src/tokenization/model-files.js';

export const DEFAULT_BLOCK_SIZE = 16;
export const DEFAULT_SPECULATIVE_TTL_MS = 2000;
export const DEFAULT_TOKENIZERS_DIR = '/mnt/models';
export const DEFAULT_TOKENIZER_LOAD_TIMEOUT_MS = 120_000;

export type TokenizerConfig =
  | { type: 'simulated' }
  /** `modelName`: the one model whose tokenizer tokenizes every request (llm-d's pool), when given. */
  | { type: 'local'; locations: ModelLocations; modelName?: string };

/** `tokenizerPool`: worker threads (default: the cores available), outstanding encodes before back-pressure, start-up load bound. */
export interface TokenizerPoolConfig {
  workers?: number;
  maxQueue?: number;
  loadTimeoutMs?: number;
}

export interface PrecisePrefixConfig {
  blockSize: number;
  hashSeed: string;
  /** Raw `indexerConfig.kvBlockIndexConfig` (validated; built by createKvBlockIndex). */
  kvBlockIndexConfig: unknown;
  /** "memory" | "redis": the backend the index config selects (for logs). */
  indexKind: 'memory' | 'redis';
  tierWeights: TierWeights;
  kvEvents: KvEventsConfig;
  speculativeIndexing: boolean;
  speculativeTtlMs: number;
  speculativeTail: boolean;
  tokenizer: TokenizerConfig;
  tokenizerPool: TokenizerPoolConfig;
  parity: ParityConfig;
}

const TOP_LEVEL = new Set(['tokenProcessorConfig', 'indexerConfig', 'kvEventsConfig', 'speculativeIndexing', 'speculativeTTL', 'speculativeTail', 'tokenizer', 'tokenizerPool', 'parity', 'mode']);
const INDEXER = new Set(['kvBlockIndexConfig', 'kvCacheBackendConfigs', 'tokenizersPoolConfig', 'tokenProcessorConfig', 'prefixStoreConfig']);

type Fields = Record<string, unknown>;

function isRecord(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function record(value: unknown, path: string): Fields | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw new ConfigError(path === '' ? 'parameters' : `parameters.${path}`, 'must be a mapping');
  return value;
}

/** Re-throws a validator's "path message" error as a ConfigError under `parameters.`. */
function located<T>(build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    const match = /^([A-Za-z][\w.]*)(?::)? ([\s\S]*)$/.exec(message);
    throw match ? new ConfigError(`parameters.${match[1]!}`, match[2]!) : new ConfigError('parameters', message);
  }
}

function blockSizeOf(tokenProcessor: Fields | undefined, path: string): number {
  const given = ['blockSize', 'blockSizeTokens'].filter((key) => tokenProcessor?.[key] !== undefined && tokenProcessor[key] !== null);
  const values = given.map((key) => {
    const value = tokenProcessor![key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new ConfigError(`parameters.${path}.${key}`, `must be a positive integer, got ${JSON.stringify(value)}`);
    return value;
  });
  if (values.length === 2 && values[0] !== values[1]) throw new ConfigError(`parameters.${path}`, `blockSize (${values[0]}) and blockSizeTokens (${values[1]}) disagree`);
  return values[0] ?? DEFAULT_BLOCK_SIZE;
}

function tokenProcessorOf(tokenProcessor: Fields | undefined, path: string): { blockSize: number; hashSeed: string } {
  const hashSeed = tokenProcessor?.hashSeed ?? '';
  if (typeof hashSeed !== 'string') throw new ConfigError(`parameters.${path}.hashSeed`, 'must be a string');
  const algorithm = tokenProcessor?.hashAlgorithm;
  if (algorithm !== undefined && algorithm !== null && algorithm !== 'cbor-fnv') {
    throw new ConfigError(`parameters.${path}.hashAlgorithm`, `only "cbor-fnv" is supported, got ${JSON.stringify(algorithm)}`);
  }
  return { blockSize: blockSizeOf(tokenProcessor, path), hashSeed };
}

function tierWeightsOf(value: unknown): TierWeights {
  if (value === undefined || value === null) return DEFAULT_TIER_WEIGHTS;
  const path = 'parameters.indexerConfig.kvCacheBackendConfigs';
  if (!Array.isArray(value)) throw new ConfigError(path, 'must be a list of {name, weight}');
  return tierWeightsFrom(value.map((item: unknown, i) => {
    if (!isRecord(item) || typeof item.name !== 'string' || item.name === '') throw new ConfigError(`${path}.${i}.name`, 'must be a non-empty string');
    const weight = item.weight ?? 1.0;
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) throw new ConfigError(`${path}.${i}.weight`, 'must be a number ≥ 0');
    return { name: item.name, weight };
  }));
}

function ttlOf(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_SPECULATIVE_TTL_MS;
  if (typeof value === 'number') return ttlOf(`${value}ns`); // Go time.Duration in JSON: integer nanoseconds
  return durationMs(value, 'speculativeTTL')!;
}

function stringList(value: unknown, path: string): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((item) => typeof item === 'string' && item !== '')) {
    throw new ConfigError(`parameters.${path}`, 'must be a directory or a list of directories');
  }
  return list as string[];
}

/** model → directory; a value naming tokenizer.json itself (llm-d's modelTokenizerMap) means its directory. */
function modelDirsOf(value: unknown, path: string): Record<string, string> {
  const map = record(value, path) ?? {};
  const dirs: Record<string, string> = {};
  for (const [model, dir] of Object.entries(map)) {
    if (typeof dir !== 'string' || dir === '') throw new ConfigError(`parameters.${path}.${model}`, 'must be a path');
    dirs[model] = dir.endsWith(`/${TOKENIZER_FILE}`) || dir === TOKENIZER_FILE ? dirname(dir) : dir;
  }
  return dirs;
}

function tokenizerOf(raw: unknown, pool: Fields | undefined, env: NodeJS.ProcessEnv, logger?: Logger): TokenizerConfig {
  const tokenizer = record(raw, 'tokenizer') ?? {};
  for (const key of Object.keys(tokenizer)) {
    if (!['type', 'tokenizersDir', 'modelTokenizerMap', 'defaultDir'].includes(key)) logger?.warn({ key: `tokenizer.${key}` }, 'precise-prefix-cache-scorer: unknown parameter ignored');
  }
  const type = tokenizer.type ?? 'local';
  if (type === 'simulated') return { type };
  if (type !== 'local') throw new ConfigError('parameters.tokenizer.type', `must be "local" or "simulated", got ${JSON.stringify(type)}`);

  // Deprecated llm-d pool settings still say where tokenizers are.
  const local = isRecord(pool?.local) ? pool.local : undefined;
  const uds = isRecord(pool?.uds) ? pool.uds : undefined;
  if (pool !== undefined) logger?.warn('precise-prefix-cache-scorer: indexerConfig.tokenizersPoolConfig is deprecated; pd-router tokenizes in process (use the tokenizer parameter)');
  const searchDirs = tokenizer.tokenizersDir !== undefined
    ? stringList(tokenizer.tokenizersDir, 'tokenizer.tokenizersDir')
    : typeof local?.autoDiscoveryDir === 'string' ? [local.autoDiscoveryDir] : [env.LOCAL_TOKENIZER_DIR || DEFAULT_TOKENIZERS_DIR];
  const modelDirs = {
    ...modelDirsOf(uds?.modelTokenizerMap, 'indexerConfig.tokenizersPoolConfig.uds.modelTokenizerMap'),
    ...modelDirsOf(local?.modelTokenizerMap, 'indexerConfig.tokenizersPoolConfig.local.modelTokenizerMap'),
    ...modelDirsOf(tokenizer.modelTokenizerMap, 'tokenizer.modelTokenizerMap'),
  };
  const locations: ModelLocations = { searchDirs, modelDirs };
  if (tokenizer.defaultDir !== undefined) {
    if (typeof tokenizer.defaultDir !== 'string' || tokenizer.defaultDir === '') throw new ConfigError('parameters.tokenizer.defaultDir', 'must be a directory');
    locations.defaultDir = tokenizer.defaultDir;
  }
  const modelName = pool?.modelName;
  if (modelName === undefined || modelName === null) return { type: 'local', locations };
  if (typeof modelName !== 'string' || modelName === '') throw new ConfigError('parameters.indexerConfig.tokenizersPoolConfig.modelName', 'must be a non-empty model name');
  return { type: 'local', locations, modelName };
}

function positiveInt(value: unknown, path: string, min = 1): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new ConfigError(`parameters.${path}`, `must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  return value;
}

function durationMs(value: unknown, path: string, zeroAllowed = false): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ConfigError(`parameters.${path}`, 'must be a Go duration such as "2s"');
  let ms: number;
  try { ms = parseDuration(value); } catch (err) { throw new ConfigError(`parameters.${path}`, (err as Error).message); }
  if (!(ms > 0 || (zeroAllowed && ms === 0))) throw new ConfigError(`parameters.${path}`, zeroAllowed ? 'must not be negative' : 'must be positive');
  if (ms > MAX_TIMER_MS) throw new ConfigError(`parameters.${path}`, `must be at most ${MAX_TIMER_MS} ms (~24.8 days, a timer's limit)`);
  return ms;
}

function poolOf(raw: unknown): TokenizerPoolConfig {
  const pool = record(raw, 'tokenizerPool') ?? {};
  for (const key of Object.keys(pool)) {
    if (!['workers', 'maxQueue', 'loadTimeout'].includes(key)) throw new ConfigError(`parameters.tokenizerPool.${key}`, 'unknown parameter (known: workers, maxQueue, loadTimeout)');
  }
  const workers = positiveInt(pool.workers, 'tokenizerPool.workers');
  const maxQueue = positiveInt(pool.maxQueue, 'tokenizerPool.maxQueue');
  const loadTimeoutMs = durationMs(pool.loadTimeout, 'tokenizerPool.loadTimeout');
  return { ...(workers !== undefined ? { workers } : {}), ...(maxQueue !== undefined ? { maxQueue } : {}), ...(loadTimeoutMs !== undefined ? { loadTimeoutMs } : {}) };
}

function parityOf(raw: unknown): ParityConfig {
  const parity = record(raw, 'parity') ?? {};
  const sampleEvery = positiveInt(parity.sampleEvery, 'parity.sampleEvery', 0) ?? DEFAULT_PARITY.sampleEvery;
  const delayMs = durationMs(parity.delay, 'parity.delay', true) ?? DEFAULT_PARITY.delayMs;
  const threshold = parity.threshold ?? DEFAULT_PARITY.threshold;
  if (typeof threshold !== 'number' || !(threshold >= 0 && threshold <= 1)) throw new ConfigError('parameters.parity.threshold', 'must be a number in [0, 1]');
  return { sampleEvery, delayMs, threshold };
}

/** Validates the plugin parameters into a config; nothing is opened here. */
export function parsePrecisePrefixConfig(parameters: unknown, logger?: Logger, env: NodeJS.ProcessEnv = process.env): PrecisePrefixConfig {
  parametersChecked();
  const params = record(parameters, '') ?? {};
  for (const key of Object.keys(params)) {
    if (!TOP_LEVEL.has(key)) throw new ConfigError(`parameters.${key}`, `unknown parameter of precise-prefix-cache-scorer (known: ${[...TOP_LEVEL].join(', ')})`);
  }
  const indexer = record(params.indexerConfig, 'indexerConfig');
  for (const key of Object.keys(indexer ?? {})) {
    if (!INDEXER.has(key)) throw new ConfigError(`parameters.indexerConfig.${key}`, `unknown parameter of precise-prefix-cache-scorer (known: ${[...INDEXER].join(', ')})`);
  }
  if (indexer?.prefixStoreConfig !== undefined) logger?.info('precise-prefix-cache-scorer: indexerConfig.prefixStoreConfig (KVM-0.4) is not used: tokenization caches text pieces instead');

  const topProcessor = record(params.tokenProcessorConfig, 'tokenProcessorConfig');
  const nestedProcessor = record(indexer?.tokenProcessorConfig, 'indexerConfig.tokenProcessorConfig');
  const { blockSize, hashSeed } = topProcessor !== undefined || nestedProcessor === undefined
    ? tokenProcessorOf(topProcessor, 'tokenProcessorConfig')
    : tokenProcessorOf(nestedProcessor, 'indexerConfig.tokenProcessorConfig');

  const kvBlockIndexConfig = indexer?.kvBlockIndexConfig;
  const backend = located(() => resolveIndexBackend(kvBlockIndexConfig, 'indexerConfig.kvBlockIndexConfig'));
  const kvEvents = located(() => resolveKvEventsConfig(params.kvEventsConfig, 'kvEventsConfig'));

  const speculativeIndexing = params.speculativeIndexing ?? false;
  if (typeof speculativeIndexing !== 'boolean') throw new ConfigError('parameters.speculativeIndexing', 'must be a boolean');
  const speculativeTail = params.speculativeTail ?? speculativeIndexing;
  if (typeof speculativeTail !== 'boolean' || (speculativeTail && !speculativeIndexing)) throw new ConfigError('parameters.speculativeTail', 'must be a boolean, true only with speculativeIndexing: true');

  return {
    blockSize,
    hashSeed,
    kvBlockIndexConfig,
    indexKind: backend.kind,
    tierWeights: tierWeightsOf(indexer?.kvCacheBackendConfigs),
    kvEvents,
    speculativeIndexing,
    speculativeTtlMs: ttlOf(params.speculativeTTL),
    speculativeTail,
    tokenizer: tokenizerOf(params.tokenizer, record(indexer?.tokenizersPoolConfig, 'indexerConfig.tokenizersPoolConfig'), env, logger),
    tokenizerPool: poolOf(params.tokenizerPool),
    parity: parityOf(params.parity),
  };
}

/** The `tokenizer` / `tokenizerPool` keys alone (token-producer's in-process backend). */
export function parseTokenizerSection(tokenizer: unknown, tokenizerPool: unknown, logger?: Logger, env: NodeJS.ProcessEnv = process.env): { tokenizer: TokenizerConfig; tokenizerPool: TokenizerPoolConfig } {
  return { tokenizer: tokenizerOf(tokenizer, undefined, env, logger), tokenizerPool: poolOf(tokenizerPool) };
}
