/**
 * `adaptive-pd-decider`: disaggregate when prefilling on a prefill pod and moving the KV cache is
 * better for this request than prefilling on the chosen decode pod — judged from the pods' load
 * and a throughput model of each pod learned online from its own vLLM metrics (engine-learner.ts).
 *
 * With U_d = input tokens the decode pod has not cached (prefix match info; input = the
 * tokenizer's count, else userInputBytes/4), checked in order (reason in brackets):
 * 1. input < minInputTokens → local [`short_input`]; U_d < minInputTokens → local [`cached`].
 * 2. prefill candidates = the request's candidates labelled `llm-d.ai/role` ∈ prefill roles
 *    (prefill, prefill-decode, both, …), minus the decode pod and stale pods; none → local
 *    [`no_prefill_pod`]. All of them saturated (waiting > maxPrefillWaiting or KV usage >
 *    maxPrefillKvUsage) → local [`prefill_saturated`], counted in
 *    `pd_router_prefill_unavailable_total{reason="prefill_saturated"}`.
 * 3. local (pd-cost.ts): ttft_local = queue_d + U_d/rate_d + ceil(U_d/chunk)·step_d(n), and
 *    itl_local = step_d(n) + min(U_d, chunk)/rate_d for the n requests decoding there;
 *    remote: ttft_remote = min over open prefill pods of queue_p + U_p/rate_p + KV transfer of U_d
 *    (U_d·kvBytesPerToken/bandwidth + latency) + step_d(n+1).
 * 4. n > 0 and itl_local > tpotSloMs and ttft_remote ≤ max(ttftSloMs, ttft_local) → remote
 *    [`protect_tpot`]: the local prefill would push running requests over the TPOT SLO.
 * 5. ttft_remote < ttft_local → remote [`remote_cheaper`], else local [`local_cheaper`].
 * Estimates (ms, tokens): input_tokens, uncached_tokens, ttft_local_ms, itl_local_ms, ttft_remote_ms.
 * The prefill profile then picks the prefill pod with its own scorers.
 *
 * Parameters (defaults: an 8B model on H100/H200-class GPUs; the engine ones are priors the
 * learner replaces per pod): `minInputTokens` 256, `ttftSloMs` 1000, `tpotSloMs` 50,
 * `chunkTokens` 2048 (vLLM's max_num_batched_tokens), `maxPrefillWaiting` 8,
 * `maxPrefillKvUsage` 0.9, `prefillTokensPerSec` 20000, `decodeStepBaseMs` 8,
 * `decodeStepPerRequestMs` 0.08, `meanPromptTokens` 1024, `kvBytesPerToken` 131072,
 * `transferGBps` 25, `transferLatencyMs` 2, `learn` true, `learnAlpha` 0.2. Unknown keys are errors.
 *
 * ```yaml
 * - type: adaptive-pd-decider
 *   parameters: {tpotSloMs: 50, ttftSloMs: 1000, kvBytesPerToken: 131072, transferGBps: 25}
 * - type: disagg-profile-handler
 *   parameters: {deciders: {prefill: adaptive-pd-decider}}
 * ```
 */
import { z } from 'zod';
import { roleOf, type Endpoint } from '../../framework/endpoint.js';
import type { InferenceRequest } from '../../framework/request.js';
import { PREFIX_CACHE_MATCH_INFO, type SchedulingContext } from '../../framework/cycle-state.js';
import type { ConsumesAttributes, Decider, PdDecision } from '../../framework/plugins.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import type { EppMetrics } from '../../metrics.js';
import { PREFILL_ROLES } from '../filters/roles.js';
import { EngineLearner } from './engine-learner.js';
import { inputTokensOf, readPrefixMatchInfo } from './match-info.js';
import { localEstimate, remoteTtftMs, type PodLoad, type TransferModel } from './pd-cost.js';

export const ADAPTIVE_PD_DECIDER_TYPE = 'adaptive-pd-decider';

const positive = (name: string) => z.number().positive(`${name} must be > 0`);
const Parameters = z.strictObject({
  minInputTokens: z.number().int().min(1, 'minInputTokens must be ≥ 1').default(256),
  ttftSloMs: positive('ttftSloMs').default(1000),
  tpotSloMs: positive('tpotSloMs').default(50),
  chunkTokens: z.number().int().positive('chunkTokens must be > 0').default(2048),
  maxPrefillWaiting: z.number().min(0, 'maxPrefillWaiting cannot be negative').default(8),
  maxPrefillKvUsage: z.number().gt(0, 'maxPrefillKvUsage must be in (0, 1]').max(1, 'maxPrefillKvUsage must be in (0, 1]').default(0.9),
  prefillTokensPerSec: positive('prefillTokensPerSec').default(20_000),
  decodeStepBaseMs: positive('decodeStepBaseMs').default(8),
  decodeStepPerRequestMs: z.number().min(0, 'decodeStepPerRequestMs cannot be negative').default(0.08),
  meanPromptTokens: positive('meanPromptTokens').default(1024),
  kvBytesPerToken: positive('kvBytesPerToken').default(131_072),
  transferGBps: positive('transferGBps').default(25),
  transferLatencyMs: z.number().min(0, 'transferLatencyMs cannot be negative').default(2),
  learn: z.boolean().default(true),
  learnAlpha: z.number().gt(0, 'learnAlpha must be in (0, 1]').max(1, 'learnAlpha must be in (0, 1]').default(0.2),
});
export type AdaptivePdParameters = z.infer<typeof Parameters>;

const round = (ms: number): number => Math.round(ms * 10) / 10;
const NO_DECODE_POD: PdDecision = Object.freeze({ disaggregate: false, reason: 'no_decode_pod' });

export class AdaptivePdDecider implements Decider, ConsumesAttributes {
  readonly type = ADAPTIVE_PD_DECIDER_TYPE;
  readonly consumes = [PREFIX_CACHE_MATCH_INFO] as const;
  readonly learner: EngineLearner;
  private readonly transfer: TransferModel;

  constructor(readonly name: string, readonly parameters: AdaptivePdParameters, private readonly metrics?: EppMetrics) {
    const p = parameters;
    this.learner = new EngineLearner({
      prefillTokensPerSec: p.prefillTokensPerSec, decodeStepBaseMs: p.decodeStepBaseMs,
      decodeStepPerRequestMs: p.decodeStepPerRequestMs, meanPromptTokens: p.meanPromptTokens,
    }, p.learnAlpha);
    this.transfer = { kvBytesPerToken: p.kvBytesPerToken, bandwidthGBps: p.transferGBps, latencyMs: p.transferLatencyMs };
  }

  decide(ctx: SchedulingContext, request: InferenceRequest, decode: Endpoint | undefined): PdDecision {
    const p = this.parameters;
    if (!decode) return NO_DECODE_POD;
    const inputTokens = inputTokensOf(ctx, request, decode);
    if (inputTokens < p.minInputTokens) return { disaggregate: false, reason: 'short_input', estimates: { input_tokens: inputTokens } };
    const uncached = this.uncached(ctx, decode, inputTokens);
    const counts = { input_tokens: inputTokens, uncached_tokens: uncached };
    if (uncached < p.minInputTokens) return { disaggregate: false, reason: 'cached', estimates: counts };

    const prefills = ctx.candidates.filter((e) => e.name !== decode.name && !e.metrics.stale && PREFILL_ROLES.includes(roleOf(e) ?? ''));
    if (prefills.length === 0) return { disaggregate: false, reason: 'no_prefill_pod', estimates: counts };
    const open = prefills.filter((e) => e.metrics.waitingQueueSize <= p.maxPrefillWaiting && e.metrics.kvCacheUsagePercent <= p.maxPrefillKvUsage);
    if (open.length === 0) {
      this.metrics?.prefillFallback.inc({ model_name: request.targetModel || 'unknown', reason: 'prefill_saturated' });
      ctx.logger.debug({ decider: this.name, prefillPods: prefills.length }, 'every prefill pod is saturated: prefilling locally');
      return { disaggregate: false, reason: 'prefill_saturated', estimates: counts };
    }

    const decodeLoad = this.load(decode);
    const local = localEstimate(decodeLoad, uncached, p.chunkTokens);
    let remote = Number.POSITIVE_INFINITY;
    for (const pod of open) {
      const podUncached = this.uncached(ctx, pod, inputTokens, false);
      remote = Math.min(remote, remoteTtftMs(this.load(pod), podUncached, decodeLoad, uncached, p.chunkTokens, this.transfer));
    }
    const estimates = { ...counts, ttft_local_ms: round(local.ttftMs), itl_local_ms: round(local.itlMs), ttft_remote_ms: round(remote) };
    if (decodeLoad.running > 0 && local.itlMs > p.tpotSloMs && remote <= Math.max(p.ttftSloMs, local.ttftMs)) {
      return { disaggregate: true, reason: 'protect_tpot', estimates };
    }
    return remote < local.ttftMs ? { disaggregate: true, reason: 'remote_cheaper', estimates } : { disaggregate: false, reason: 'local_cheaper', estimates };
  }

  /** Input tokens `endpoint` has not cached; missing match info counts as nothing cached. */
  private uncached(ctx: SchedulingContext, endpoint: Endpoint, inputTokens: number, warn = true): number {
    const info = readPrefixMatchInfo(ctx, endpoint, this.name, warn);
    return Math.max(0, inputTokens - (info ? info.matchBlocks * info.blockSizeTokens : 0));
  }

  private load(endpoint: Endpoint): PodLoad {
    if (this.parameters.learn) this.learner.observe(endpoint);
    const { runningRequestsSize: running, waitingQueueSize: waiting } = endpoint.metrics;
    return { model: this.learner.model(endpoint), running, waiting };
  }
}

export const adaptivePdDeciderFactory: PluginFactory = (name, parameters, handle) =>
  new AdaptivePdDecider(name, parseParameters(Parameters, parameters), handle.metrics);
