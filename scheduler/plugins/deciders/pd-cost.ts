/**
 * The cost estimates `adaptive-pd-decider` compares: a request's TTFT when its uncached tokens are
 * prefilled on the decode pod itself (and the ITL that adds to the requests decoding there), or on
 * a prefill pod with the KV cache then transferred to the decode pod. All times in ms; the pods'
 * speeds come from an `EngineModel` (learned or prior). The formulas are in docs/configuration.md.
 */
import { stepMs, type EngineModel } from './engine-learner.js';

/** A pod's state as the estimates need it. */
export interface PodLoad {
  readonly model: EngineModel;
  readonly running: number;
  readonly waiting: number;
}

export interface TransferModel {
  readonly kvBytesPerToken: number;
  /** GB/s (10⁹ bytes per second). */
  readonly bandwidthGBps: number;
  readonly latencyMs: number;
}

const prefillMs = (model: EngineModel, tokens: number): number => (tokens / model.prefillTokensPerSec) * 1000;

/** Steps a chunked prefill of `tokens` takes with at most `chunkTokens` prompt tokens per step. */
const chunks = (tokens: number, chunkTokens: number): number => Math.max(1, Math.ceil(tokens / chunkTokens));

export interface LocalEstimate {
  /** Queue wait + chunked prefill of the uncached tokens, interleaved with the running decodes. */
  readonly ttftMs: number;
  /** ITL of the requests already decoding there, while the chunks are computed. */
  readonly itlMs: number;
}

/**
 * Local prefill on the decode pod:
 *     queue = waiting · meanPromptTokens / rate
 *     ttft  = queue + U / rate + ceil(U / chunk) · step(n)
 *     itl   = step(n) + min(U, chunk) / rate
 */
export function localEstimate(pod: PodLoad, uncachedTokens: number, chunkTokens: number): LocalEstimate {
  const { model } = pod;
  const queue = pod.waiting * prefillMs(model, model.meanPromptTokens);
  const step = stepMs(model, pod.running);
  return {
    ttftMs: queue + prefillMs(model, uncachedTokens) + chunks(uncachedTokens, chunkTokens) * step,
    itlMs: step + prefillMs(model, Math.min(uncachedTokens, chunkTokens)),
  };
}

/** KV transfer of `tokens` to the decode pod: bytes / bandwidth + latency. */
export function transferMs(transfer: TransferModel, tokens: number): number {
  return (tokens * transfer.kvBytesPerToken) / (transfer.bandwidthGBps * 1e9) * 1000 + transfer.latencyMs;
}

/**
 * Remote prefill on prefill pod p, then the decode pod's first step:
 *     queue = (waiting_p + running_p) · meanPromptTokens_p / rate_p
 *     ttft  = queue + U_p / rate_p + ceil(U_p / chunk) · stepBase_p + transfer(U_d) + step_d(n + 1)
 * where U_p is what p has not cached and U_d what the decode pod has not (only that is pulled).
 */
export function remoteTtftMs(
  prefill: PodLoad, prefillUncached: number, decode: PodLoad, decodeUncached: number, chunkTokens: number, transfer: TransferModel,
): number {
  const { model } = prefill;
  const queue = (prefill.waiting + prefill.running) * prefillMs(model, model.meanPromptTokens);
  const compute = prefillMs(model, prefillUncached) + chunks(prefillUncached, chunkTokens) * model.decodeStepBaseMs;
  return queue + compute + transferMs(transfer, decodeUncached) + stepMs(decode.model, decode.running + 1);
}
