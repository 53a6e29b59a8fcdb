/**
 * `prefix-based-pd-decider`: disaggregate (run a prefill pod) when the part of the input the chosen
 * decode pod has **not** cached is at least `nonCachedTokens` tokens.
 *
 * Formula, with N = `nonCachedTokens`, checked in order (reason in brackets):
 * 1. N == 0 → no [`disabled`] (0 **disables** P/D; use `always-disagg-pd-decider` to always disaggregate).
 * 2. no decode endpoint → no [`no_decode_pod`].
 * 3. inputTokens = the tokenizer's count from the match info when present, else
 *    floor(request.userInputBytes() / 4). See docs/configuration.md for the byte rule
 *    (completions: prompt UTF-8 bytes, string arrays summed, token ids 4 bytes each — upstream
 *    counts arrays as 0, llm-d#860; chat: Go encoding/json of the messages).
 * 4. P = `promptTokens` > 0 and inputTokens < P → no [`short_prompt`] (a floor on the whole prompt,
 *    cached or not: short prompts stay on the decode pod even when nothing is cached);
 *    inputTokens < N → no [`short_input`].
 * 5. read the decode endpoint's `PrefixCacheMatchInfo` (written by approx-prefix-cache-producer,
 *    which the loader injects when missing); absent or malformed → no [`no_match_info`] (logged).
 * 6. nonCached = inputTokens − matchBlocks·blockSizeTokens (may be negative: a partial block
 *    counts as a full one) → nonCached ≥ N [`threshold_met`], else no [`cached`].
 * Estimates: `input_tokens`, `non_cached_tokens` (steps 4–6).
 *
 * Parameters: `nonCachedTokens` (integer ≥ 0, default 0); `promptTokens` (integer ≥ 0, default 0
 * = no prompt-length floor), as llm-d Router.
 *
 * ```yaml
 * - type: prefix-based-pd-decider
 *   parameters: {nonCachedTokens: 16, promptTokens: 256}
 * ```
 */
import { z } from 'zod';
import type { Endpoint } from '../../framework/endpoint.js';
import type { InferenceRequest } from '../../framework/request.js';
import { PREFIX_CACHE_MATCH_INFO, type SchedulingContext } from '../../framework/cycle-state.js';
import type { ConsumesAttributes, Decider, PdDecision } from '../../framework/plugins.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import { inputTokensOf, readPrefixMatchInfo } from './match-info.js';

export { AVERAGE_BYTES_PER_TOKEN } from './match-info.js';

export const PREFIX_BASED_PD_DECIDER_TYPE = 'prefix-based-pd-decider';

const Parameters = z.looseObject({
  nonCachedTokens: z.number().int().min(0, 'nonCachedTokens cannot be negative').default(0),
  promptTokens: z.number().int().min(0, 'promptTokens cannot be negative').default(0),
});

const DISABLED: PdDecision = Object.freeze({ disaggregate: false, reason: 'disabled' });
const NO_DECODE_POD: PdDecision = Object.freeze({ disaggregate: false, reason: 'no_decode_pod' });

export class PrefixBasedPdDecider implements Decider, ConsumesAttributes {
  readonly type = PREFIX_BASED_PD_DECIDER_TYPE;
  readonly consumes = [PREFIX_CACHE_MATCH_INFO] as const;

  constructor(readonly name: string, readonly nonCachedTokens: number, readonly promptTokens = 0) {}

  decide(ctx: SchedulingContext, request: InferenceRequest, decodeEndpoint: Endpoint | undefined): PdDecision {
    const threshold = this.nonCachedTokens;
    if (threshold === 0) return DISABLED;
    if (!decodeEndpoint) {
      ctx.logger.warn({ decider: this.name }, 'prefix decider: no decode endpoint');
      return NO_DECODE_POD;
    }
    const inputTokens = inputTokensOf(ctx, request, decodeEndpoint);
    if (this.promptTokens > 0 && inputTokens < this.promptTokens) {
      ctx.logger.debug({ decider: this.name, inputTokens, promptTokens: this.promptTokens }, 'prompt shorter than promptTokens: no P/D');
      return { disaggregate: false, reason: 'short_prompt', estimates: { input_tokens: inputTokens } };
    }
    if (inputTokens < threshold) {
      ctx.logger.debug({ decider: this.name, inputTokens, nonCachedTokens: threshold }, 'input shorter than nonCachedTokens: no P/D');
      return { disaggregate: false, reason: 'short_input', estimates: { input_tokens: inputTokens } };
    }
    const info = readPrefixMatchInfo(ctx, decodeEndpoint, this.name);
    if (!info) return { disaggregate: false, reason: 'no_match_info', estimates: { input_tokens: inputTokens } };
    const cachedTokens = info.matchBlocks * info.blockSizeTokens;
    const nonCached = inputTokens - cachedTokens;
    ctx.logger.debug({ decider: this.name, inputTokens, cachedTokens, nonCached, nonCachedTokens: threshold }, 'prefix decider');
    const estimates = { input_tokens: inputTokens, non_cached_tokens: nonCached };
    return nonCached >= threshold ? { disaggregate: true, reason: 'threshold_met', estimates } : { disaggregate: false, reason: 'cached', estimates };
  }
}

export const prefixBasedPdDeciderFactory: PluginFactory = (name, parameters, handle) => {
  const { nonCachedTokens, promptTokens } = parseParameters(Parameters, parameters);
  if (nonCachedTokens === 0) handle.logger.info({ plugin: name }, 'prefix-based P/D disabled (nonCachedTokens=0); use always-disagg-pd-decider to always disaggregate');
  return new PrefixBasedPdDecider(name, nonCachedTokens, promptTokens);
};
