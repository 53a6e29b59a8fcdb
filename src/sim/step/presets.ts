/**
 * Hardware and model presets of the step engine (`--engine-model step`, docs/simulator.md "Step
 * engine"), and their resolution with the per-value overrides into one `EngineSpec`.
 *
 * Hardware numbers are the vendors' datasheet values per GPU: HBM capacity (decimal GB), HBM
 * bandwidth, dense BF16 tensor throughput (without sparsity), GPU-to-GPU bandwidth per direction.
 * Model shapes are the models' published `config.json` values. Light on purpose: config.ts imports
 * it to derive defaults (KV capacity, batch limits) before anything runs.
 */

export interface HardwarePreset {
  /** HBM per GPU, bytes. */
  hbmBytes: number;
  /** HBM bandwidth, bytes/s. */
  hbmBandwidth: number;
  /** Dense BF16 tensor FLOP/s. */
  peakFlops: number;
  /** GPU↔GPU bandwidth per direction (NVLink, or PCIe when there is none), bytes/s. */
  interconnectBandwidth: number;
  /**
   * vLLM's default max_num_batched_tokens / max_num_seqs for the OpenAI server on this GPU
   * (vLLM: ≥ 70 GiB and not an A100 → 8192 / 1024, else 2048 / 256).
   */
  maxNumBatchedTokens: number;
  maxNumSeqs: number;
}

const GB = 1e9;
const TB = 1e12;

export const HARDWARE_PRESETS = {
  'h100-sxm': { hbmBytes: 80 * GB, hbmBandwidth: 3.35 * TB, peakFlops: 989e12, interconnectBandwidth: 450 * GB, maxNumBatchedTokens: 8192, maxNumSeqs: 1024 },
  h200: { hbmBytes: 141 * GB, hbmBandwidth: 4.8 * TB, peakFlops: 989e12, interconnectBandwidth: 450 * GB, maxNumBatchedTokens: 8192, maxNumSeqs: 1024 },
  'a100-80gb': { hbmBytes: 80 * GB, hbmBandwidth: 2.039 * TB, peakFlops: 312e12, interconnectBandwidth: 300 * GB, maxNumBatchedTokens: 2048, maxNumSeqs: 256 },
  l40s: { hbmBytes: 48 * GB, hbmBandwidth: 0.864 * TB, peakFlops: 362e12, interconnectBandwidth: 32 * GB, maxNumBatchedTokens: 2048, maxNumSeqs: 256 },
} as const satisfies Record<string, HardwarePreset>;

export type HardwareName = keyof typeof HARDWARE_PRESETS;
export const HARDWARE_NAMES = Object.keys(HARDWARE_PRESETS) as HardwareName[];

export interface ModelShape {
  numLayers: number;
  hiddenSize: number;
  numAttentionHeads: number;
  numKvHeads: number;
  headDim: number;
  /** MLP (SwiGLU) intermediate size: gate, up and down projections. */
  intermediateSize: number;
  vocabSize: number;
  /** Context window (`max_position_embeddings`): the default --max-model-len of the step engine. */
  maxModelLen: number;
  /** The tensor-parallel size the profile is usually served at. */
  tensorParallelSize: number;
}

export const MODEL_PROFILES = {
  'llama-3.1-8b': { numLayers: 32, hiddenSize: 4096, numAttentionHeads: 32, numKvHeads: 8, headDim: 128, intermediateSize: 14336, vocabSize: 128256, maxModelLen: 131072, tensorParallelSize: 1 },
  'qwen3-32b': { numLayers: 64, hiddenSize: 5120, numAttentionHeads: 64, numKvHeads: 8, headDim: 128, intermediateSize: 25600, vocabSize: 151936, maxModelLen: 40960, tensorParallelSize: 2 },
  'llama-3.1-70b': { numLayers: 80, hiddenSize: 8192, numAttentionHeads: 64, numKvHeads: 8, headDim: 128, intermediateSize: 28672, vocabSize: 128256, maxModelLen: 131072, tensorParallelSize: 4 },
} as const satisfies Record<string, ModelShape>;

export type ModelProfileName = keyof typeof MODEL_PROFILES;
export const MODEL_PROFILE_NAMES = Object.keys(MODEL_PROFILES) as ModelProfileName[];

/** The configuration values the spec is resolved from; 0 means "from the preset". */
export interface StepSettings {
  hardware: string;
  modelProfile: string;
  hbmBandwidth: number;
  hbmCapacity: number;
  peakFlops: number;
  interconnectBandwidth: number;
  computeEfficiency: number;
  memoryEfficiency: number;
  /** Fixed time per step (scheduling, sampling, launch), ms. */
  stepOverhead: number;
  tensorParallelSize: number;
  gpuMemoryUtilization: number;
  numLayers: number;
  hiddenSize: number;
  numAttentionHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
}

/** Everything the roofline needs, per GPU where it matters. */
export interface EngineSpec {
  hardware: HardwarePreset;
  shape: ModelShape;
  tensorParallelSize: number;
  computeEfficiency: number;
  memoryEfficiency: number;
  stepOverheadMs: number;
  gpuMemoryUtilization: number;
  /** Bytes per element of weights and KV cache (BF16). */
  dtypeBytes: number;
}

/** bf16 */
export const DTYPE_BYTES = 2;

const pick = (override: number, preset: number): number => (override > 0 ? override : preset);

export function hardwarePreset(name: string): HardwarePreset {
  const preset = (HARDWARE_PRESETS as Record<string, HardwarePreset>)[name];
  if (!preset) throw new Error(`unknown hardware '${name}', valid values are: ${HARDWARE_NAMES.join(', ')}`);
  return preset;
}

export function modelProfile(name: string): ModelShape {
  const profile = (MODEL_PROFILES as Record<string, ModelShape>)[name];
  if (!profile) throw new Error(`unknown model profile '${name}', valid values are: ${MODEL_PROFILE_NAMES.join(', ')}`);
  return profile;
}

/** Presets with the overrides applied (bandwidths in GB/s, FLOP/s in TFLOP/s, capacity in GB). */
export function resolveSpec(settings: StepSettings): EngineSpec {
  const hw = hardwarePreset(settings.hardware);
  const profile = modelProfile(settings.modelProfile);
  const hardware: HardwarePreset = {
    ...hw,
    hbmBytes: settings.hbmCapacity > 0 ? settings.hbmCapacity * GB : hw.hbmBytes,
    hbmBandwidth: settings.hbmBandwidth > 0 ? settings.hbmBandwidth * GB : hw.hbmBandwidth,
    peakFlops: settings.peakFlops > 0 ? settings.peakFlops * 1e12 : hw.peakFlops,
    interconnectBandwidth: settings.interconnectBandwidth > 0 ? settings.interconnectBandwidth * GB : hw.interconnectBandwidth,
  };
  const shape: ModelShape = {
    numLayers: pick(settings.numLayers, profile.numLayers),
    hiddenSize: pick(settings.hiddenSize, profile.hiddenSize),
    numAttentionHeads: pick(settings.numAttentionHeads, profile.numAttentionHeads),
    numKvHeads: pick(settings.numKvHeads, profile.numKvHeads),
    headDim: pick(settings.headDim, profile.headDim),
    intermediateSize: pick(settings.intermediateSize, profile.intermediateSize),
    vocabSize: pick(settings.vocabSize, profile.vocabSize),
    maxModelLen: profile.maxModelLen,
    tensorParallelSize: profile.tensorParallelSize,
  };
  return {
    hardware,
    shape,
    tensorParallelSize: pick(settings.tensorParallelSize, profile.tensorParallelSize),
    computeEfficiency: settings.computeEfficiency,
    memoryEfficiency: settings.memoryEfficiency,
    stepOverheadMs: settings.stepOverhead,
    gpuMemoryUtilization: settings.gpuMemoryUtilization,
    dtypeBytes: DTYPE_BYTES,
  };
}
