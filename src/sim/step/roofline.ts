/**
 * The step-time roofline of the step engine (docs/simulator.md "Step engine"). One engine step
 * runs the model once over every scheduled token; per GPU (tensor parallelism divides weights,
 * KV heads and FLOPs):
 *
 *   memory  = (weight bytes + KV bytes the attention reads) / (HBM bandwidth × memory efficiency)
 *   compute = (dense FLOPs + attention FLOPs) / (peak FLOP/s × compute efficiency)
 *   comm    = layers × 2 all-reduces × (latency + 2(tp−1)/tp × tokens × hidden × 2 B / link bw)  (tp > 1)
 *   step    = max(memory, compute) + comm + overhead
 *
 *   dense FLOPs     = 2 × (layer params) × tokens + 2 × (lm-head params) × sampled sequences
 *   attention FLOPs = 4 × heads × head dim × layers × Σ_seq (n × p + n²/2)
 *                     (n new tokens attending p cached ones plus, causally, each other)
 *   KV bytes read   = Σ_seq (p + n) × KV bytes per token
 */
import type { EngineSpec, ModelShape } from './presets.js';

/** One sequence in a step: `newTokens` computed on top of `contextTokens` already in the KV cache. */
export interface ScheduledSeq {
  newTokens: number;
  contextTokens: number;
  /** Whether this step samples a token for it (its last known token is computed). */
  samples: boolean;
}

/** Per-all-reduce latency of a small tensor-parallel all-reduce (custom all-reduce / NCCL LL), ms. */
export const ALL_REDUCE_LATENCY_MS = 0.006;

/** Weights of the transformer layers (attention projections + SwiGLU MLP), all GPUs together. */
export function layerParams(shape: ModelShape): number {
  const { hiddenSize: h, numAttentionHeads: q, numKvHeads: kv, headDim: d, intermediateSize: ff, numLayers } = shape;
  const attention = h * (q + 2 * kv) * d + q * d * h;
  const mlp = 3 * h * ff;
  return numLayers * (attention + mlp);
}

/** Embedding + LM head (untied). */
export function vocabParams(shape: ModelShape): number {
  return 2 * shape.vocabSize * shape.hiddenSize;
}

export function totalParams(shape: ModelShape): number {
  return layerParams(shape) + vocabParams(shape);
}

/** Weight bytes resident on one GPU. */
export function weightBytesPerGpu(spec: EngineSpec): number {
  return (totalParams(spec.shape) * spec.dtypeBytes) / spec.tensorParallelSize;
}

/** KV heads held by one GPU (replicated when there are fewer KV heads than GPUs). */
function kvHeadsPerGpu(spec: EngineSpec): number {
  return Math.max(1, spec.shape.numKvHeads / spec.tensorParallelSize);
}

/** K and V of one token, all layers, on one GPU. */
export function kvBytesPerTokenPerGpu(spec: EngineSpec): number {
  const { numLayers, headDim } = spec.shape;
  return 2 * numLayers * kvHeadsPerGpu(spec) * headDim * spec.dtypeBytes;
}

/** K and V of one token on all GPUs together: what a P/D transfer moves (each GPU sends its shard). */
export function kvBytesPerToken(spec: EngineSpec): number {
  return kvBytesPerTokenPerGpu(spec) * spec.tensorParallelSize;
}

/** KV-cache blocks that fit: HBM × utilization − weights, per GPU (vLLM's profile, without activations). */
export function kvCapacityBlocks(spec: EngineSpec, blockSize: number): number {
  const free = spec.hardware.hbmBytes * spec.gpuMemoryUtilization - weightBytesPerGpu(spec);
  return Math.max(0, Math.floor(free / (kvBytesPerTokenPerGpu(spec) * blockSize)));
}

export interface StepCost {
  ms: number;
  memoryMs: number;
  computeMs: number;
  commMs: number;
  tokens: number;
}

/** The time of one step over `seqs`. */
export function stepTime(spec: EngineSpec, seqs: readonly ScheduledSeq[]): StepCost {
  const { shape, hardware, tensorParallelSize: tp } = spec;
  let tokens = 0;
  let sampled = 0;
  let attended = 0;
  let kvTokensRead = 0;
  for (const seq of seqs) {
    tokens += seq.newTokens;
    if (seq.samples) sampled++;
    attended += seq.newTokens * seq.contextTokens + (seq.newTokens * seq.newTokens) / 2;
    kvTokensRead += seq.contextTokens + seq.newTokens;
  }
  const denseFlops = 2 * layerParams(shape) * tokens + 2 * shape.vocabSize * shape.hiddenSize * sampled;
  const attentionFlops = 4 * shape.numAttentionHeads * shape.headDim * shape.numLayers * attended;
  const computeMs = ((denseFlops + attentionFlops) / tp / (hardware.peakFlops * spec.computeEfficiency)) * 1000;
  const bytes = weightBytesPerGpu(spec) + kvTokensRead * kvBytesPerTokenPerGpu(spec);
  const memoryMs = (bytes / (hardware.hbmBandwidth * spec.memoryEfficiency)) * 1000;
  let commMs = 0;
  if (tp > 1) {
    const volume = ((2 * (tp - 1)) / tp) * tokens * shape.hiddenSize * spec.dtypeBytes;
    commMs = shape.numLayers * 2 * (ALL_REDUCE_LATENCY_MS + (volume / hardware.interconnectBandwidth) * 1000);
  }
  return { ms: Math.max(memoryMs, computeMs) + commMs + spec.stepOverheadMs, memoryMs, computeMs, commMs, tokens };
}
