/**
 * Published vLLM serving measurements that bench/sim-validate.ts replays on the step engine
 * (docs/simulator.md "Validation" cites each one). Every point states the load as the source ran
 * it: closed loop of `concurrency` clients (as many as `requests` when the source sent them all at
 * once), input/output lengths (uniform within ± `lengthSpread` when the source drew them at
 * random), and which per-token figure it published (`itl`: median
 * gap between streamed tokens, as `vllm bench serve`'s ITL; `tpot`: median per request of
 * (end − first token) / (tokens − 1)).
 */
import type { SimConfigInput } from '../src/sim/config.js';
import type { ClosedLoopLoad } from '../src/sim/step/closed-loop.js';

export interface Point extends ClosedLoopLoad {
  source: string;
  setup: string;
  config: Partial<SimConfigInput>;
  ttftMs?: number;
  /** Published per-token latency (with `perToken`), when the source gives one. */
  perTokenMs?: number;
  perToken?: 'itl' | 'tpot';
  /** Published end-to-end latency (all requests arrive together), when that is what the source gives. */
  e2eMs?: number;
}

export const VLLM_FP8_BLOG = 'https://blog.vllm.ai/2026/04/22/fp8-kvcache.html';
export const INFERENCEBENCH = 'https://yobitelcomm.github.io/bench/recipes/concurrency-sweep/';
export const MUSGRAVE = 'https://johnmusgrave.com/p/vllm-throughput-latency-sweep-on';
export const WMX = 'https://ai.wmx.dev/benchmarks';
export const VLLM_CI = 'https://buildkite.com/vllm/performance-benchmark/builds/9515';
export const GPUSTACK_A100 = 'https://docs.gpustack.ai/latest/performance-lab/qwen3-14b/a100';
const GPUSTACK_H100 = 'https://docs.gpustack.ai/latest/performance-lab/qwen3-14b/h100';
const GPUSTACK_32B_A100 = 'https://docs.gpustack.ai/latest/performance-lab/qwen3-32b/a100';

const H100_8B: Partial<SimConfigInput> = { hardware: 'h100-sxm', modelProfile: 'llama-3.1-8b' };
// Qwen2.5-0.5B-Instruct shape on an NVIDIA L4 (24 GB, 300 GB/s, 121 TFLOP/s dense BF16).
const L4_QWEN05: Partial<SimConfigInput> = { hardware: 'l40s', hbmCapacity: 24, hbmBandwidth: 300, peakFlops: 121, gpuMemoryUtilization: 0.6, maxModelLen: 8192,
  numLayers: 24, hiddenSize: 896, numAttentionHeads: 14, numKvHeads: 2, headDim: 64, intermediateSize: 4864, vocabSize: 151936, tensorParallelSize: 1 };

// Qwen3-14B's config.json (40 layers, 5120 hidden, 40 / 8 heads, MLP 17408, 40960 context), on one GPU; Qwen3-32B's profile at TP1.
const QWEN3_14B: Partial<SimConfigInput> = { modelProfile: 'qwen3-32b', numLayers: 40, hiddenSize: 5120, numAttentionHeads: 40, numKvHeads: 8, headDim: 128,
  intermediateSize: 17408, vocabSize: 151936, tensorParallelSize: 1 };
const QWEN3_32B_TP1: Partial<SimConfigInput> = { modelProfile: 'qwen3-32b', tensorParallelSize: 1 };

/** Offline runs (`benchmark_latency`, the LLM class): no API server in front of the engine. */
const OFFLINE: Partial<SimConfigInput> = { frontendOverhead: 0, frontendPromptTokenOverhead: 0, frontendTokenOverhead: 0 };

/** vLLM's single-request H100 fit for Llama-3.1-8B, BF16 KV cache (v0.19.1): ITL = 4.37e-5 ms × input + 6.44 ms. */
const fitItl = (inputTokens: number): number => 4.37e-5 * inputTokens + 6.44;

export const POINTS: Point[] = [
  // vLLM blog, "Throughput under Load", Table 4 (BF16 row): one H100, 150 requests at concurrency 8, ~20k in / ~2k out ±15 %.
  { source: VLLM_FP8_BLOG, setup: 'Llama-3.1-8B, H100, ~20k/~2k ±15 %, C=8', config: H100_8B, concurrency: 8, requests: 150, inputTokens: 20_000, outputTokens: 2_000,
    lengthSpread: 0.15, ttftMs: 763.6, perTokenMs: 15.18, perToken: 'itl' },
  // Same post, "Single Request Benchmarking": concurrency 1, 128 output tokens, inputs 256…125k; the ITL fit above (TTFT only as a figure).
  ...[1024, 16_384, 65_536, 120_000].map((inputTokens): Point => ({ source: VLLM_FP8_BLOG, setup: `Llama-3.1-8B, H100, ${inputTokens}/128, C=1 (fit)`, config: H100_8B,
    concurrency: 1, requests: 2, inputTokens, outputTokens: 128, lengthSpread: 0, perTokenMs: fitItl(inputTokens), perToken: 'itl' })),
  // InferenceBench concurrency sweep: one H100 80GB HBM3, vLLM 0.21.0, fp16 weights; five one-sentence chat prompts (~40–50 tokens with
  // Llama 3.1's chat template; 48 here), max_tokens 128; p50 TTFT and p50 per-request TPOT.
  ...([[1, 13.98, 6.48], [4, 22.75, 6.59], [16, 41.69, 10.94], [64, 86.92, 46.91]] as const).map(([concurrency, ttftMs, perTokenMs]): Point => (
    { source: INFERENCEBENCH, setup: `Llama-3.1-8B, H100, ~48/128 chat, C=${concurrency}`, config: H100_8B, concurrency, requests: Math.max(20, concurrency * 5),
      inputTokens: 48, outputTokens: 128, lengthSpread: 0, ttftMs, perTokenMs, perToken: 'tpot' })),
  { source: MUSGRAVE, setup: 'Llama-3.1-8B, A100 40GB, 1024/128, C=1', config: { hardware: 'a100-80gb', hbmCapacity: 40, hbmBandwidth: 1555, modelProfile: 'llama-3.1-8b' },
    concurrency: 1, requests: 20, inputTokens: 1024, outputTokens: 128, lengthSpread: 0, perTokenMs: 1000 / 75, perToken: 'itl' },
  ...([[1, 27.0, 5.1], [4, 50.1, 5.3], [8, 60.9, 5.5], [16, 103.8, 6.0], [32, 135.3, 7.1]] as const).map(([concurrency, ttftMs, perTokenMs]): Point => (
    { source: WMX, setup: `Qwen2.5-0.5B, L4, 256/128, C=${concurrency}`, config: L4_QWEN05, concurrency, requests: concurrency * 20, inputTokens: 256, outputTokens: 128,
      lengthSpread: 0, ttftMs, perTokenMs, perToken: 'itl' })),
  // vLLM's own CI, "Latency tests" (offline `benchmark_latency`): one batch of 8 prompts, 32 tokens in, 128 out, median
  // end-to-end latency of the batch; H200, Llama 3.1 8B at TP1 and Llama 3 70B (same shape as 3.1) at TP4.
  { source: VLLM_CI, setup: 'Llama-3.1-8B, H200, 8 × 32/128 (E2E)', config: { hardware: 'h200', modelProfile: 'llama-3.1-8b', ...OFFLINE }, concurrency: 8, requests: 8,
    inputTokens: 32, outputTokens: 128, lengthSpread: 0, e2eMs: 833.53 },
  { source: VLLM_CI, setup: 'Llama-3-70B TP4, H200, 8 × 32/128 (E2E)', config: { hardware: 'h200', modelProfile: 'llama-3.1-70b', ...OFFLINE }, concurrency: 8, requests: 8,
    inputTokens: 32, outputTokens: 128, lengthSpread: 0, e2eMs: 2077.56 },
  // GPUStack performance lab, "Other Benchmark Cases" → "Baseline benchmark results" (`vllm serve Qwen/Qwen3-14B`, vLLM v0.11.0, defaults;
  // one A100 SXM 80GB or one H100 SXM): `vllm bench serve --backend openai-chat --dataset-name random --seed 42`, fixed lengths, no
  // --request-rate (all requests at once: a closed loop with as many clients as requests); medians of TTFT and ITL.
  ...([
    [GPUSTACK_A100, 'a100-80gb', 'A100', 100, 32_000, 100, 359_424.54, 448.05],
    [GPUSTACK_A100, 'a100-80gb', 'A100', 500, 4000, 200, 196_621.85, 369.0],
    [GPUSTACK_A100, 'a100-80gb', 'A100', 500, 2000, 100, 86_575.09, 333.99],
    [GPUSTACK_H100, 'h100-sxm', 'H100', 100, 32_000, 100, 191_051.49, 43.48],
    [GPUSTACK_H100, 'h100-sxm', 'H100', 500, 4000, 200, 110_734.54, 43.93],
    [GPUSTACK_H100, 'h100-sxm', 'H100', 500, 2000, 100, 49_138.28, 46.01],
  ] as const).map(([source, hardware, gpu, requests, inputTokens, outputTokens, ttftMs, perTokenMs]): Point => (
    { source, setup: `Qwen3-14B, ${gpu}, ${inputTokens}/${outputTokens} × ${requests} at once`, config: { hardware, ...QWEN3_14B }, concurrency: requests, requests,
      inputTokens, outputTokens, lengthSpread: 0, ttftMs, perTokenMs, perToken: 'itl' })),
  // Same lab, Qwen3-32B on one A100 SXM 80GB (TP1), same commands (its 32K case needs more KV than the preset's 80 GB leave).
  ...([[500, 4000, 200, 564_705.97, 51.55], [500, 2000, 100, 209_108.79, 51.49]] as const).map(([requests, inputTokens, outputTokens, ttftMs, perTokenMs]): Point => (
    { source: GPUSTACK_32B_A100, setup: `Qwen3-32B TP1, A100, ${inputTokens}/${outputTokens} × ${requests} at once`, config: { hardware: 'a100-80gb', ...QWEN3_32B_TP1 },
      concurrency: requests, requests, inputTokens, outputTokens, lengthSpread: 0, ttftMs, perTokenMs, perToken: 'itl' })),
];
