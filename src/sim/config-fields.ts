/**
 * Every simulator setting in one table: flag name (= YAML key), config property, value kind, env
 * var and help. The CLI (options.ts) and the YAML loader (config-sources.ts) are both generated
 * from it, so a setting cannot exist in one and be missing from the other. Light on purpose: the
 * CLI imports it before deciding which subcommand runs.
 */
import { ConfigError } from '../config-error.js';
import { parseDuration } from '../duration.js';
import type { SimConfig } from './config.js';
import { parseFakeMetrics } from './fake-metrics.js';
import { durationValue } from './go-duration.js';
import type { LoraModule } from './lora.js';
import { HARDWARE_NAMES, MODEL_PROFILE_NAMES } from './step/presets.js';

export type FieldKind = 'string' | 'int' | 'number' | 'bigint' | 'duration' | 'bool' | 'list' | 'json-list' | 'fake-metrics';

export interface ConfigField {
  /** Flag name without dashes; also the YAML key. */
  flag: string;
  /** The SimConfig property, or null for accepted-and-ignored upstream flags. */
  key: keyof SimConfig | null;
  kind: FieldKind;
  description: string;
  /** Placeholder in --help (`<n>`, `<duration>` …). */
  placeholder?: string;
  /** Env var; default `SIM_<FLAG_IN_UPPER_SNAKE>`. */
  env?: string;
  choices?: readonly string[];
  /** Default as shown by --help. */
  defaultText?: string;
  /** Also accept `--no-<flag>` (upstream toggles). */
  negatable?: boolean;
}

export function envName(field: ConfigField): string {
  return field.env ?? `SIM_${field.flag.toUpperCase().replaceAll('-', '_')}`;
}

/** commander's attribute name for a flag. */
export function attributeName(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, char: string) => char.toUpperCase());
}

const step = (flag: string, key: keyof SimConfig, description: string, placeholder: string, kind: FieldKind = 'number'): ConfigField =>
  ({ flag, key, kind, description: `step engine: ${description} (0 = preset)`, placeholder, defaultText: '0' });

const latency = (flag: string, key: keyof SimConfig, description: string): ConfigField =>
  ({ flag, key, kind: 'duration', description, placeholder: '<duration>', defaultText: '0' });

export const CONFIG_FIELDS: readonly ConfigField[] = [
  { flag: 'model', key: 'model', kind: 'string', description: 'base model name (required)', placeholder: '<name>', env: 'SIM_MODEL' },
  { flag: 'served-model-name', key: 'servedModelNames', kind: 'list', description: 'model aliases, space- or comma-separated; the first is the display name', placeholder: '<names...>', defaultText: '[model]' },
  { flag: 'host', key: 'host', kind: 'string', description: 'address to listen on', placeholder: '<addr>', defaultText: '0.0.0.0' },
  { flag: 'port', key: 'port', kind: 'int', description: 'HTTP port (0 = any free port)', placeholder: '<port>', defaultText: '8000' },
  { flag: 'role', key: 'role', kind: 'string', description: 'P/D role label (informational)', placeholder: '<role>', choices: ['prefill', 'decode', 'both'], defaultText: 'both' },
  { flag: 'max-num-seqs', key: 'maxNumSeqs', kind: 'int', description: 'requests processed at once (workers)', placeholder: '<n>', defaultText: '5' },
  { flag: 'max-waiting-queue-length', key: 'maxWaitingQueueLength', kind: 'int', description: 'waiting queue size; overflow → 429', placeholder: '<n>', defaultText: '1000' },
  { flag: 'max-model-len', key: 'maxModelLen', kind: 'int', description: 'context window: prompt + max tokens must fit', placeholder: '<n>', defaultText: '1024' },
  { flag: 'max-loras', key: 'maxLoras', kind: 'int', description: 'distinct LoRAs running at once', placeholder: '<n>', defaultText: '1' },
  { flag: 'max-cpu-loras', key: 'maxCpuLoras', kind: 'int', description: 'LoRAs kept in CPU memory (≥ max-loras)', placeholder: '<n>', defaultText: 'max-loras' },
  { flag: 'lora-modules', key: 'loraModules', kind: 'json-list', description: 'LoRA adapters as JSON strings {"name","path","base_model_name"}', placeholder: '<json...>' },
  { flag: 'mode', key: 'mode', kind: 'string', description: 'echo (repeat the prompt) or random (canned sentences)', placeholder: '<mode>', choices: ['echo', 'random'], defaultText: 'random' },
  { flag: 'tokenizer', key: 'tokenizer', kind: 'string', description: "tokenize with a real model's tokenizer and chat template from this directory (tokenizer.json + tokenizer_config.json, or a Hugging Face cache model directory) instead of the simulated tokenizer", placeholder: '<dir>', defaultText: '"" (simulated)' },
  { flag: 'seed', key: 'seed', kind: 'bigint', description: 'PRNG seed', placeholder: '<int>', defaultText: 'now in ns' },
  latency('time-to-first-token', 'timeToFirstToken', 'time to first token'),
  latency('time-to-first-token-std-dev', 'timeToFirstTokenStdDev', 'std-dev of time to first token (≤ 30 % of it)'),
  latency('inter-token-latency', 'interTokenLatency', 'time between tokens'),
  latency('inter-token-latency-std-dev', 'interTokenLatencyStdDev', 'std-dev of inter-token latency (≤ 30 % of it)'),
  latency('kv-cache-transfer-latency', 'kvCacheTransferLatency', 'KV transfer time of a remote prefill (decode TTFT)'),
  latency('kv-cache-transfer-latency-std-dev', 'kvCacheTransferLatencyStdDev', 'std-dev of the KV transfer time (≤ 30 % of it)'),
  latency('prefill-overhead', 'prefillOverhead', 'fixed prefill cost (per-token calculator)'),
  latency('prefill-time-per-token', 'prefillTimePerToken', 'prefill cost per uncached prompt token'),
  latency('prefill-time-std-dev', 'prefillTimeStdDev', 'std-dev of the prefill time'),
  latency('kv-cache-transfer-time-per-token', 'kvCacheTransferTimePerToken', 'KV transfer cost per prompt token'),
  latency('kv-cache-transfer-time-std-dev', 'kvCacheTransferTimeStdDev', 'std-dev of the per-token KV transfer time'),
  { flag: 'latency-calculator', key: 'latencyCalculator', kind: 'string', description: 'constant, per-token, or "" (auto: per-token when the constant latency and its std-dev are 0)', placeholder: '<name>', choices: ['', 'constant', 'per-token'], defaultText: '""' },
  { flag: 'time-factor-under-load', key: 'timeFactorUnderLoad', kind: 'number', description: 'latency multiplier at max-num-seqs running (≥ 1)', placeholder: '<factor>', defaultText: '1' },
  { flag: 'latency-whole-ms', key: 'latencyWholeMs', kind: 'bool', description: 'Go parity: truncate latencies to whole milliseconds', defaultText: 'true' },
  { flag: 'enable-kvcache', key: 'enableKvcache', kind: 'bool', description: 'simulate the prefix cache (needs POD_IP)', defaultText: 'false' },
  { flag: 'kv-cache-size', key: 'kvCacheSize', kind: 'int', description: 'KV cache capacity in blocks', placeholder: '<blocks>', defaultText: '1024' },
  { flag: 'block-size', key: 'blockSize', kind: 'int', description: 'tokens per block: 8, 16, 32, 64 or 128', placeholder: '<n>', defaultText: '16' },
  { flag: 'hash-seed', key: 'hashSeed', kind: 'string', description: 'block-key hash seed', placeholder: '<seed>', env: 'PYTHONHASHSEED', defaultText: '""' },
  { flag: 'global-cache-hit-threshold', key: 'globalCacheHitThreshold', kind: 'number', description: 'answer cache_threshold below this hit rate, 0 = off', placeholder: '<0..1>', defaultText: '0' },
  { flag: 'failure-injection-rate', key: 'failureInjectionRate', kind: 'number', description: 'percent of requests answered with an injected failure', placeholder: '<percent>', defaultText: '0' },
  { flag: 'failure-types', key: 'failureTypes', kind: 'list', description: 'injected failure types, space- or comma-separated (default all): rate_limit invalid_api_key context_length server_error invalid_request model_not_found', placeholder: '<types...>' },
  { flag: 'startup-duration', key: 'startupDuration', kind: 'duration', description: '/health/ready answers 503 until this has elapsed', placeholder: '<duration>', defaultText: '0' },
  { flag: 'enable-request-id-headers', key: 'enableRequestIdHeaders', kind: 'bool', description: 'use and echo the X-Request-Id header', defaultText: 'false' },
  { flag: 'enable-sleep-mode', key: 'enableSleepMode', kind: 'bool', description: 'allow /sleep (also needs VLLM_SERVER_DEV_MODE=1)', defaultText: 'false' },
  { flag: 'fake-metrics', key: 'fakeMetrics', kind: 'fake-metrics', description: 'JSON: fixed/generated metric values replacing the real ones', placeholder: '<json>' },
  { flag: 'data-parallel-size', key: 'dataParallelSize', kind: 'int', description: 'engines in this process; rank r serves port + r (1–8)', placeholder: '<n>', defaultText: '1' },
  { flag: 'data-parallel-rank', key: 'dataParallelRank', kind: 'int', description: 'run only this rank (0–7) on --port', placeholder: '<rank>', defaultText: 'unset' },
  { flag: 'max-request-body-size-mb', key: 'maxRequestBodySizeMb', kind: 'int', description: 'largest request body (413 past it), 1–512', placeholder: '<mb>', defaultText: '4' },
  // The step engine (docs/simulator.md "Step engine"): 0 = from the --hardware / --model-profile preset.
  { flag: 'engine-model', key: 'engineModel', kind: 'string', description: 'latency: independent per-request TTFT/ITL (the settings above); step: vLLM-style continuous batching with a roofline step time', placeholder: '<model>', choices: ['latency', 'step'], defaultText: 'latency' },
  { flag: 'hardware', key: 'hardware', kind: 'string', description: 'step engine: GPU preset', placeholder: '<gpu>', choices: HARDWARE_NAMES, defaultText: 'h100-sxm' },
  { flag: 'model-profile', key: 'modelProfile', kind: 'string', description: 'step engine: model shape preset', placeholder: '<profile>', choices: MODEL_PROFILE_NAMES, defaultText: 'llama-3.1-8b' },
  step('hbm-bandwidth', 'hbmBandwidth', 'HBM bandwidth per GPU, GB/s', '<GB/s>'),
  step('hbm-capacity', 'hbmCapacity', 'HBM per GPU, GB', '<GB>'),
  step('peak-flops', 'peakFlops', 'dense BF16 peak per GPU, TFLOP/s', '<TFLOP/s>'),
  step('interconnect-bandwidth', 'interconnectBandwidth', 'GPU-to-GPU bandwidth per direction (tensor-parallel all-reduce), GB/s', '<GB/s>'),
  { flag: 'compute-efficiency', key: 'computeEfficiency', kind: 'number', description: 'step engine: achievable fraction of the peak FLOP/s, (0, 1]', placeholder: '<0..1>', defaultText: '0.6' },
  { flag: 'memory-efficiency', key: 'memoryEfficiency', kind: 'number', description: 'step engine: achievable fraction of the HBM bandwidth, (0, 1]', placeholder: '<0..1>', defaultText: '0.8' },
  { flag: 'step-overhead', key: 'stepOverhead', kind: 'duration', description: 'step engine: fixed time per step (scheduling, sampling, launches)', placeholder: '<duration>', defaultText: '1ms' },
  { flag: 'tensor-parallel-size', key: 'tensorParallelSize', kind: 'int', description: 'step engine: GPUs the model is sharded over (weights, KV heads, FLOPs; adds all-reduces); 0 = the profile\'s', placeholder: '<n>', defaultText: 'profile (8b: 1, qwen3-32b: 2, 70b: 4)' },
  { flag: 'gpu-memory-utilization', key: 'gpuMemoryUtilization', kind: 'number', description: 'step engine: fraction of HBM for weights + KV cache (KV blocks = HBM × this − weights, unless --kv-cache-size)', placeholder: '<0..1>', defaultText: '0.9' },
  { flag: 'max-num-batched-tokens', key: 'maxNumBatchedTokens', kind: 'int', description: 'step engine: token budget of one step (chunked prefill); 0 = vLLM\'s default for the GPU (8192 on H100/H200, 2048 on A100/L40S)', placeholder: '<n>', defaultText: '0' },
  step('num-layers', 'numLayers', 'transformer layers', '<n>', 'int'),
  step('hidden-size', 'hiddenSize', 'hidden size', '<n>', 'int'),
  step('num-attention-heads', 'numAttentionHeads', 'query heads', '<n>', 'int'),
  step('num-kv-heads', 'numKvHeads', 'KV heads', '<n>', 'int'),
  step('head-dim', 'headDim', 'head dimension', '<n>', 'int'),
  step('intermediate-size', 'intermediateSize', 'MLP intermediate size', '<n>', 'int'),
  step('vocab-size', 'vocabSize', 'vocabulary size', '<n>', 'int'),
  { flag: 'kv-transfer-bandwidth', key: 'kvTransferBandwidth', kind: 'number', description: 'step engine, P/D: KV transfer bandwidth per GPU, GB/s', placeholder: '<GB/s>', defaultText: '40' },
  { flag: 'kv-transfer-latency', key: 'kvTransferLatency', kind: 'duration', description: 'step engine, P/D: fixed cost of one KV transfer', placeholder: '<duration>', defaultText: '2ms' },
  { flag: 'kv-transfer-timeout', key: 'kvTransferTimeout', kind: 'duration', description: 'step engine, P/D: a prefill pod frees a finished prompt\'s blocks after this when no decode pod pulled them', placeholder: '<duration>', defaultText: '60s' },
  { flag: 'frontend-overhead', key: 'frontendOverhead', kind: 'duration', description: 'step engine: vLLM API server time per request before the engine sees it (HTTP, chat template, engine-core IPC); one loop, so it queues under load', placeholder: '<duration>', defaultText: '1ms' },
  { flag: 'frontend-prompt-token-overhead', key: 'frontendPromptTokenOverhead', kind: 'duration', description: 'step engine: vLLM API server tokenization time per prompt token', placeholder: '<duration>', defaultText: '1µs' },
  { flag: 'frontend-token-overhead', key: 'frontendTokenOverhead', kind: 'duration', description: 'step engine: vLLM API server time per streamed token (detokenize, SSE) before the client sees it', placeholder: '<duration>', defaultText: '7.7µs' },
  // Upstream vLLM flags that deployments pass; accepted and ignored.
  { flag: 'enforce-eager', key: null, kind: 'bool', description: 'ignored (vLLM compatibility)', negatable: true },
  { flag: 'enable-prefix-caching', key: null, kind: 'bool', description: 'ignored (vLLM compatibility)', negatable: true },
  // KV events over ZeroMQ, published only with --enable-kvcache.
  { flag: 'zmq-endpoint', key: 'zmqEndpoint', kind: 'string', description: 'ZeroMQ endpoint KV events are published to ("" = off); the EPP binds it in global mode', placeholder: '<endpoint>', defaultText: 'tcp://127.0.0.1:5557' },
  { flag: 'kv-events-endpoint', key: 'zmqEndpoint', kind: 'string', description: 'alias of --zmq-endpoint', placeholder: '<endpoint>', env: 'SIM_KV_EVENTS_ENDPOINT' },
  { flag: 'kv-events-bind', key: 'kvEventsBind', kind: 'bool', description: 'bind the publisher (e.g. tcp://*:5557) so the EPP connects to each pod', defaultText: 'false' },
  { flag: 'event-batch-size', key: 'eventBatchSize', kind: 'int', description: 'events per published batch (also flushed every second)', placeholder: '<n>', defaultText: '16' },
  { flag: 'use-vllm-map-event-format', key: 'useVllmMapEventFormat', kind: 'bool', description: 'map-encoded events (newer vLLM) instead of positional arrays', defaultText: 'false' },
];

/** Splits list values given as one string: space- and/or comma-separated. */
export function splitList(value: string): string[] {
  return value.split(/[\s,]+/).filter(Boolean);
}

function loraModule(raw: unknown): LoraModule {
  const value = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
  if (value === null || typeof value !== 'object' || typeof (value as LoraModule).name !== 'string') {
    throw new ConfigError(['lora-modules'], `expected {"name","path","base_model_name"}, got ${JSON.stringify(raw)}`);
  }
  const module = value as LoraModule;
  return { name: module.name, path: module.path ?? '', base_model_name: module.base_model_name ?? '' };
}

function bool(value: unknown, flag: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const lowered = value.toLowerCase();
    if (['true', '1', 't', 'yes'].includes(lowered)) return true;
    if (['false', '0', 'f', 'no'].includes(lowered)) return false;
  }
  throw new ConfigError([flag], `"${String(value)}" is not a boolean`);
}

function numeric(value: unknown, flag: string, integer: boolean): number {
  const parsed = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof parsed !== 'number' || !Number.isFinite(parsed) || (integer && !Number.isInteger(parsed))) {
    throw new ConfigError([flag], `"${String(value)}" is not ${integer ? 'an integer' : 'a number'}`);
  }
  return parsed;
}

/**
 * A field's value from any source: CLI/env strings, or YAML scalars/sequences. Durations given
 * as strings use Go syntax; YAML numbers for durations are nanoseconds (Go's encoding).
 */
export function coerceField(field: ConfigField, value: unknown, fromText = false): unknown {
  const { flag } = field;
  switch (field.kind) {
    case 'string': {
      if (typeof value !== 'string' && typeof value !== 'number') throw new ConfigError([flag], `expected a string`);
      const text = String(value);
      if (field.choices && !field.choices.includes(text)) {
        throw new ConfigError([flag], `"${text}" is not one of ${field.choices.map((choice) => JSON.stringify(choice)).join(', ')}`);
      }
      return text;
    }
    case 'int': return numeric(value, flag, true);
    case 'number': return numeric(value, flag, false);
    case 'bigint':
      if (typeof value === 'bigint') return value;
      if ((typeof value === 'string' && /^-?\d+$/.test(value.trim())) || (typeof value === 'number' && Number.isInteger(value))) return BigInt(value);
      throw new ConfigError([flag], `"${String(value)}" is not an integer`);
    case 'duration':
      if (fromText && typeof value === 'string') {
        try {
          return parseDuration(value);
        } catch (err) {
          throw new ConfigError([flag], `${(err as Error).message}`);
        }
      }
      return durationValue(value, flag);
    case 'bool': return bool(value, flag);
    case 'list': {
      const items = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? [value] : null;
      if (items === null) throw new ConfigError([flag], `expected a list`);
      return items.flatMap(splitList);
    }
    case 'json-list': {
      const items = Array.isArray(value) ? value : [value];
      return items.map(loraModule);
    }
    case 'fake-metrics':
      try {
        return parseFakeMetrics(value);
      } catch (err) {
        throw new ConfigError([flag], `${(err as Error).message}`);
      }
  }
}
