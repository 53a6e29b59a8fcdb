/**
 * The simulator's configuration: one typed object, its defaults, and validation with upstream's
 * messages. Durations are milliseconds. Where the values come from (flags, env,
 * YAML) is config-sources.ts; what `/admin/config` may change at run time is admin-config.ts.
 */
import { asConfigError, ConfigError } from '../config-error.js';
import type { FakeMetricsConfig } from './fake-metrics.js';
import { LATENCY_CALCULATORS, type LatencySettings } from './latency.js';
import type { LoraModule } from './lora.js';
import { nowNanos } from './random.js';
import type { StepSettings } from './step/presets.js';
import { completeStep, validateStep } from './step/settings-check.js';
import { DEFAULT_KV_TRANSFER_BANDWIDTH_GBPS, DEFAULT_KV_TRANSFER_LATENCY_MS, DEFAULT_KV_TRANSFER_TIMEOUT_MS } from './step/transfer.js';
import { DEFAULT_FRONTEND_SETTINGS, type FrontendSettings } from './step/frontend.js';

export type SimMode = 'echo' | 'random';
export type SimRole = 'prefill' | 'decode' | 'both';
export type EngineModel = 'latency' | 'step';

export const FAILURE_TYPES = ['rate_limit', 'invalid_api_key', 'context_length', 'server_error', 'invalid_request', 'model_not_found'] as const;
export type FailureType = (typeof FAILURE_TYPES)[number];

export const BLOCK_SIZES = [8, 16, 32, 64, 128] as const;

export interface SimConfig extends LatencySettings, StepSettings, FrontendSettings {
  /** `latency`: independent per-request latencies (default); `step`: the step engine (docs/simulator.md). */
  engineModel: EngineModel;
  /** Step engine: token budget per step (resolved from the hardware when 0 is given). */
  maxNumBatchedTokens: number;
  /** Step engine, P/D: GB/s per GPU. */
  kvTransferBandwidth: number;
  /** Step engine, P/D: ms. */
  kvTransferLatency: number;
  /** Step engine, P/D: ms a prefill pod holds unpulled blocks. */
  kvTransferTimeout: number;
  /** Base model: `/v1/models` root, KV-event topic model. */
  model: string;
  /** Aliases; the first is the display name in responses and metric labels. Defaults to `[model]`. */
  servedModelNames: string[];
  host: string;
  port: number;
  /** Informational only (logs, `/admin/config`): the P/D role this instance plays. */
  role: SimRole;
  maxNumSeqs: number;
  maxWaitingQueueLength: number;
  maxModelLen: number;
  maxLoras: number;
  maxCpuLoras: number;
  loraModules: LoraModule[];
  mode: SimMode;
  seed: bigint;
  /**
   * Directory of a real tokenizer (tokenizer.json + tokenizer_config.json, or a Hugging Face
   * cache model dir) used instead of the simulated tokenizer; "" = simulated (real-tokenizer.ts).
   */
  tokenizer: string;
  /** Go parity: latency means/σ truncated to whole ms, samples whole ms. */
  latencyWholeMs: boolean;
  enableKvcache: boolean;
  kvCacheSize: number;
  blockSize: number;
  hashSeed: string;
  globalCacheHitThreshold: number;
  /** Percent of requests answered with an injected failure. */
  failureInjectionRate: number;
  /** Empty = all types. */
  failureTypes: FailureType[];
  startupDuration: number;
  enableRequestIdHeaders: boolean;
  enableSleepMode: boolean;
  fakeMetrics: FakeMetricsConfig | null;
  maxRequestBodySizeMb: number;
  /** Where KV events are published (ZeroMQ PUB); "" = not published. Only with enableKvcache. */
  zmqEndpoint: string;
  /** Bind the PUB socket (the EPP then connects to each pod, e.g. tcp://*:5557) instead of connecting. */
  kvEventsBind: boolean;
  eventBatchSize: number;
  /** vLLM's newer map-encoded events instead of the positional arrays. */
  useVllmMapEventFormat: boolean;
  /** Engines in this process (data parallel): rank r serves `port + r`. */
  dataParallelSize: number;
  /** This engine's data-parallel rank; -1 when not set (then ranks come from `dataParallelSize`). */
  dataParallelRank: number;
  /** From the environment (POD_IP, POD_NAME, POD_NAMESPACE). */
  podIp: string;
  podName: string;
  podNamespace: string;
}

/** What a caller must give; everything else has a default. */
export type SimConfigInput = Partial<SimConfig> & { model: string };

export function defaultConfig(): Omit<SimConfig, 'model'> {
  return {
    servedModelNames: [],
    host: '0.0.0.0',
    port: 8000,
    role: 'both',
    maxNumSeqs: 5,
    maxWaitingQueueLength: 1000,
    maxModelLen: 1024,
    maxLoras: 1,
    maxCpuLoras: 0,
    loraModules: [],
    mode: 'random',
    seed: nowNanos(),
    tokenizer: '',
    latencyWholeMs: true,
    timeToFirstToken: 0,
    timeToFirstTokenStdDev: 0,
    interTokenLatency: 0,
    interTokenLatencyStdDev: 0,
    kvCacheTransferLatency: 0,
    kvCacheTransferLatencyStdDev: 0,
    prefillOverhead: 0,
    prefillTimePerToken: 0,
    prefillTimeStdDev: 0,
    kvCacheTransferTimePerToken: 0,
    kvCacheTransferTimeStdDev: 0,
    latencyCalculator: '',
    timeFactorUnderLoad: 1,
    enableKvcache: false,
    kvCacheSize: 1024,
    blockSize: 16,
    hashSeed: '',
    globalCacheHitThreshold: 0,
    failureInjectionRate: 0,
    failureTypes: [],
    startupDuration: 0,
    enableRequestIdHeaders: false,
    enableSleepMode: false,
    fakeMetrics: null,
    maxRequestBodySizeMb: 4,
    zmqEndpoint: 'tcp://127.0.0.1:5557',
    kvEventsBind: false,
    eventBatchSize: 16,
    useVllmMapEventFormat: false,
    dataParallelSize: 1,
    dataParallelRank: -1,
    podIp: '',
    podName: '',
    podNamespace: '',
    engineModel: 'latency',
    hardware: 'h100-sxm',
    modelProfile: 'llama-3.1-8b',
    hbmBandwidth: 0,
    hbmCapacity: 0,
    peakFlops: 0,
    interconnectBandwidth: 0,
    computeEfficiency: 0.6,
    memoryEfficiency: 0.8,
    stepOverhead: 1,
    tensorParallelSize: 0,
    gpuMemoryUtilization: 0.9,
    maxNumBatchedTokens: 0,
    numLayers: 0,
    hiddenSize: 0,
    numAttentionHeads: 0,
    numKvHeads: 0,
    headDim: 0,
    intermediateSize: 0,
    vocabSize: 0,
    kvTransferBandwidth: DEFAULT_KV_TRANSFER_BANDWIDTH_GBPS,
    kvTransferLatency: DEFAULT_KV_TRANSFER_LATENCY_MS,
    kvTransferTimeout: DEFAULT_KV_TRANSFER_TIMEOUT_MS,
    ...DEFAULT_FRONTEND_SETTINGS,
  };
}

export { ConfigError };

/** Upstream's wording names the setting itself, so the error sits at the root of the path. */
function check(condition: boolean, message: string): void {
  if (!condition) throw new ConfigError([], message);
}

/** Throws ConfigError with upstream's wording for the first problem found. */
export function validateConfig(config: SimConfig): void {
  check(config.model !== '', 'model parameter is empty');
  check(config.mode === 'echo' || config.mode === 'random', `invalid mode '${config.mode}', valid values are 'random' and 'echo'`);
  check(['prefill', 'decode', 'both'].includes(config.role), `invalid role '${config.role}', valid values are 'prefill', 'decode' and 'both'`);
  check(Number.isInteger(config.port) && config.port >= 0 && config.port <= 65535, `invalid port '${config.port}'`);
  validateLatency(config);
  check(config.maxLoras >= 1, 'max LoRAs cannot be less than 1');
  check(config.maxCpuLoras >= config.maxLoras, 'max CPU LoRAs cannot be less than max LoRAs');
  check(config.maxModelLen >= 1, 'max model len cannot be less than 1');
  check(config.maxNumSeqs >= 1, 'max num seqs cannot be less than 1');
  check(config.maxWaitingQueueLength >= 0, 'max waiting queue size cannot be less than 0');
  for (const lora of config.loraModules) {
    check(lora.name !== '', 'empty LoRA name');
    if (lora.base_model_name) {
      check(lora.base_model_name === config.model || config.servedModelNames.includes(lora.base_model_name),
        `unknown base model '${lora.base_model_name}' for LoRA '${lora.name}'`);
    }
  }
  check((BLOCK_SIZES as readonly number[]).includes(config.blockSize), 'token block size should be one of the following: 8, 16, 32, 64, 128');
  check(config.kvCacheSize >= 0, 'KV cache size cannot be negative');
  check(config.eventBatchSize >= 1, 'event-batch-size must be at least 1');
  check(!config.enableKvcache || config.podIp !== '', 'IP should be defined in the environment (POD_IP) for KV cache to work');
  validateFailures(config);
  check(config.globalCacheHitThreshold >= 0 && config.globalCacheHitThreshold <= 1, 'global cache hit threshold must be between in range [0, 1]');
  check(config.startupDuration >= 0, 'startup duration cannot be negative');
  check(Number.isInteger(config.dataParallelSize) && config.dataParallelSize >= 1 && config.dataParallelSize <= 8, 'data parallel size must be between 1 and 8');
  check(Number.isInteger(config.dataParallelRank) && config.dataParallelRank >= -1 && config.dataParallelRank <= 7, 'data parallel rank must be between 0 and 7');
  check(config.maxRequestBodySizeMb >= 1 && config.maxRequestBodySizeMb <= 512,
    `max-request-body-size-mb must be between 1 MB and 512 MB, got ${config.maxRequestBodySizeMb}`);
  validateStep(config);
}

export function validateLatency(config: LatencySettings): void {
  const pairs: Array<[number, number, string, string, boolean]> = [
    [config.interTokenLatency, config.interTokenLatencyStdDev, 'inter token latency', 'inter token latency', true],
    [config.timeToFirstToken, config.timeToFirstTokenStdDev, 'time to first token', 'time to first token', true],
    [config.kvCacheTransferLatency, config.kvCacheTransferLatencyStdDev, 'kv-cache transfer time', 'kv-cache transfer', true],
    [config.prefillTimePerToken, config.prefillTimeStdDev, 'prefill time per token', 'prefill time', false],
    [config.kvCacheTransferTimePerToken, config.kvCacheTransferTimeStdDev, 'kv-cache transfer time per token', 'kv-cache transfer time', false],
  ];
  for (const [mean, stdDev, meanName, stdName, bounded] of pairs) {
    check(mean >= 0, `${meanName} cannot be negative`);
    check(stdDev >= 0, `${stdName} standard deviation cannot be negative`);
    if (bounded) check(stdDev <= 0.3 * mean, `${stdName} standard deviation cannot be more than 30% of ${stdName}`);
  }
  check(config.prefillOverhead >= 0, 'prefill overhead cannot be negative');
  check(config.timeFactorUnderLoad >= 1, 'time factor under load cannot be less than 1.0');
  check(LATENCY_CALCULATORS.includes(config.latencyCalculator),
    `unknown latency-calculator ${config.latencyCalculator}, supported calculators are: constant and per-token`);
}

function validateFailures(config: Pick<SimConfig, 'failureInjectionRate' | 'failureTypes'>): void {
  check(config.failureInjectionRate >= 0 && config.failureInjectionRate <= 100, 'failure injection rate should be between 0 and 100');
  for (const type of config.failureTypes) {
    check((FAILURE_TYPES as readonly string[]).includes(type), `invalid failure type '${type}', valid types are: ${FAILURE_TYPES.join(', ')}`);
  }
}

/** Defaults filled in, aliases defaulted to `[model]`, cpu LoRAs to max LoRAs, then validated. */
export function completeConfig(input: SimConfigInput): SimConfig {
  const defined = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as SimConfigInput;
  const config: SimConfig = { ...defaultConfig(), ...defined };
  if (config.servedModelNames.length === 0) config.servedModelNames = [config.model];
  if (!config.maxCpuLoras) config.maxCpuLoras = config.maxLoras;
  if (config.engineModel === 'step') {
    try {
      completeStep(config, defined);
    } catch (err) {
      throw asConfigError(err);
    }
  }
  validateConfig(config);
  return config;
}

/** The name every response and metric label shows. */
export function displayModelName(config: SimConfig): string {
  return config.servedModelNames[0] ?? config.model;
}
