/**
 * The step engine's settings in the simulator's configuration: their validation (whatever the
 * engine, so a typo never waits for a switch), vLLM's defaults for what was not given, and the
 * refusal of step-only settings under the latency engine (a setting either acts or fails at
 * start-up). The settings themselves are described in docs/simulator.md "Step engine".
 */
import { ConfigError } from '../../config-error.js';
import type { LatencySettings } from '../latency.js';
import { frontendSettingsError, type FrontendSettings } from './frontend.js';
import { HARDWARE_PRESETS, MODEL_PROFILES, resolveSpec, type StepSettings } from './presets.js';
import { kvCapacityBlocks, weightBytesPerGpu } from './roofline.js';

/** The part of the simulator's configuration this file reads. */
export interface StepEngineConfig extends LatencySettings, StepSettings, FrontendSettings {
  engineModel: string;
  blockSize: number;
  kvCacheSize: number;
  maxNumSeqs: number;
  maxModelLen: number;
  maxNumBatchedTokens: number;
  kvTransferBandwidth: number;
  kvTransferLatency: number;
  kvTransferTimeout: number;
}

/**
 * Settings only the step engine reads. vLLM's own flags among its settings (tensor-parallel-size,
 * gpu-memory-utilization, max-num-batched-tokens) are not here: a vLLM manifest passes them, and
 * the latency engine takes them without effect as llm-d's simulator does.
 */
const STEP_ONLY_KEYS = [
  'hardware', 'modelProfile', 'hbmBandwidth', 'hbmCapacity', 'peakFlops', 'interconnectBandwidth', 'computeEfficiency', 'memoryEfficiency',
  'stepOverhead', 'numLayers', 'hiddenSize', 'numAttentionHeads', 'numKvHeads', 'headDim', 'intermediateSize', 'vocabSize',
  'kvTransferBandwidth', 'kvTransferLatency', 'kvTransferTimeout', 'frontendOverhead', 'frontendPromptTokenOverhead', 'frontendTokenOverhead',
] as const satisfies ReadonlyArray<keyof StepEngineConfig>;

const flagName = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function check(condition: boolean, message: string): void {
  if (!condition) throw new ConfigError([], message);
}

/** Under the latency engine, a step-only setting the user gave (flag, env or YAML) is an error, not a no-op. */
export function rejectStepOnly(engineModel: string, given: Partial<StepEngineConfig>): void {
  const names = STEP_ONLY_KEYS.filter((key) => given[key] !== undefined).map(flagName);
  check(names.length === 0, `${names.join(', ')}: only the step engine reads ${names.length === 1 ? 'this setting' : 'these settings'} ` +
    `and the engine model is '${engineModel}': add --engine-model step, or remove ${names.length === 1 ? 'it' : 'them'}`);
}

const LATENCY_KEYS = ['timeToFirstToken', 'timeToFirstTokenStdDev', 'interTokenLatency', 'interTokenLatencyStdDev', 'kvCacheTransferLatency',
  'kvCacheTransferLatencyStdDev', 'prefillOverhead', 'prefillTimePerToken', 'prefillTimeStdDev', 'kvCacheTransferTimePerToken', 'kvCacheTransferTimeStdDev'] as const;

/** The step engine's settings (checked whatever the engine, so a typo never waits for a switch). */
export function validateStep(config: StepEngineConfig): void {
  check(config.engineModel === 'latency' || config.engineModel === 'step', `invalid engine-model '${config.engineModel}', valid values are 'latency' and 'step'`);
  check(Object.hasOwn(HARDWARE_PRESETS, config.hardware), `unknown hardware '${config.hardware}', valid values are: ${Object.keys(HARDWARE_PRESETS).join(', ')}`);
  check(Object.hasOwn(MODEL_PROFILES, config.modelProfile), `unknown model profile '${config.modelProfile}', valid values are: ${Object.keys(MODEL_PROFILES).join(', ')}`);
  for (const [name, value] of [['hbm-bandwidth', config.hbmBandwidth], ['hbm-capacity', config.hbmCapacity], ['peak-flops', config.peakFlops], ['interconnect-bandwidth', config.interconnectBandwidth]] as const) {
    check(Number.isFinite(value) && value >= 0, `${name} cannot be negative (0 = the --hardware preset)`);
  }
  const shape = { 'num-layers': config.numLayers, 'hidden-size': config.hiddenSize, 'num-attention-heads': config.numAttentionHeads, 'num-kv-heads': config.numKvHeads,
    'head-dim': config.headDim, 'intermediate-size': config.intermediateSize, 'vocab-size': config.vocabSize, 'tensor-parallel-size': config.tensorParallelSize, 'max-num-batched-tokens': config.maxNumBatchedTokens };
  for (const [name, value] of Object.entries(shape)) check(Number.isInteger(value) && value >= 0, `${name} must be a non-negative integer (0 = the preset)`);
  check(config.computeEfficiency > 0 && config.computeEfficiency <= 1, `compute-efficiency must be in (0, 1], got ${config.computeEfficiency}`);
  check(config.memoryEfficiency > 0 && config.memoryEfficiency <= 1, `memory-efficiency must be in (0, 1], got ${config.memoryEfficiency}`);
  check(config.gpuMemoryUtilization > 0 && config.gpuMemoryUtilization <= 1, `gpu-memory-utilization must be in (0, 1], got ${config.gpuMemoryUtilization}`);
  check(config.stepOverhead >= 0, 'step-overhead cannot be negative');
  check(config.kvTransferBandwidth > 0, `kv-transfer-bandwidth must be positive, got ${config.kvTransferBandwidth}`);
  check(config.kvTransferLatency >= 0, 'kv-transfer-latency cannot be negative');
  check(config.kvTransferTimeout > 0, 'kv-transfer-timeout must be positive');
  check(frontendSettingsError(config) === undefined, frontendSettingsError(config) ?? '');
  if (config.engineModel !== 'step') return;
  for (const key of LATENCY_KEYS) {
    check(config[key] === 0, `${flagName(key)} has no effect with --engine-model step (latencies come from the step model): remove it`);
  }
  const spec = resolveSpec(config);
  check(spec.shape.numAttentionHeads % spec.tensorParallelSize === 0,
    `tensor-parallel-size ${spec.tensorParallelSize} must divide the ${spec.shape.numAttentionHeads} attention heads`);
  check(kvCapacityBlocks(spec, config.blockSize) >= 1 || config.kvCacheSize >= 1,
    `the model does not fit: ${(weightBytesPerGpu(spec) / 1e9).toFixed(1)} GB of weights per GPU, ${(spec.hardware.hbmBytes * spec.gpuMemoryUtilization / 1e9).toFixed(1)} GB usable (HBM × gpu-memory-utilization)`);
  check(config.kvCacheSize >= 1, 'kv-cache-size must be at least 1 block with --engine-model step');
}

/** Step engine: vLLM's defaults for what was not given (batch limits, context window, KV capacity). */
export function completeStep(config: StepEngineConfig, input: Partial<StepEngineConfig>): void {
  const spec = resolveSpec(config);
  if (config.tensorParallelSize === 0) config.tensorParallelSize = spec.tensorParallelSize;
  if (config.maxNumBatchedTokens === 0) config.maxNumBatchedTokens = spec.hardware.maxNumBatchedTokens;
  if (input.maxNumSeqs === undefined) config.maxNumSeqs = spec.hardware.maxNumSeqs;
  if (input.maxModelLen === undefined) config.maxModelLen = spec.shape.maxModelLen;
  if (input.kvCacheSize === undefined) config.kvCacheSize = kvCapacityBlocks(spec, config.blockSize);
}

