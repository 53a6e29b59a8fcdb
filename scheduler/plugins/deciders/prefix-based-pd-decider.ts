/**
 * `prefix-based-pd-decider`: disaggregate (run a prefill pod) when the part of the input the chosen
 * decode pod has **not** cached is at least `nonCachedTokens` tokens (spec epp.md §2.3).
 *
 * Formula, with N = `nonCachedTokens`, checked in order:
 * 1. N == 0 → false (0 **disables** P/D; use `always-disagg-pd-decider` to always disaggregate).
 * 2. no decode endpoint → false.
 * 3. inputTokens = floor(request.userInputBytes() / 4). See docs/configuration.md for the byte rule
 *    (completions: prompt UTF-8 bytes, string arrays summed, token ids 4 bytes each — upstream
 *    counts arrays as 0, llm-d#860; chat: Go encoding/json of the messages).
 * 4. inputTokens < N → false.
 * 5. read the decode endpoint's `PrefixCacheMatchInfo` (written by approx-prefix-cache-producer,
 *    which the loader injects when missing); absent or malformed → false (logged).
 * 6. nonCached = inputTokens − matchBlocks·blockSizeTokens (may be negative: a partial block
 *    counts as a full one) → return nonCached ≥ N.
 *
 * Parameters: `nonCachedTokens` (integer ≥ 0, default 0).
 *
 * ```yaml
 * - type: prefix-based-pd-decider
 *   parameters: {nonCachedTokens: 16}
 * ```
 */
import { z } from 'zod';
import type { Endpoint } from '../../framework/endpoint.js';
import type { InferenceRequest } from '../../framework/request.js';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo, type SchedulingContext } from '../../framework/cycle-state.js';
import type { ConsumesAttributes, Decider } from '../../framework/plugins.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import { readPrefixMatchInfo } from './match-info.js';

export const PREFIX_BASED_PD_DECIDER_TYPE = 'prefix-based-pd-decider';

/** llm-d's estimate of characters (bytes) per token, used because the EPP does not tokenize. */
export const AVERAGE_BYTES_PER_TOKEN = 4;

const Parameters = z.looseObject({
  nonCachedTokens: z.number().int().min(0, 'nonCachedTokens cannot be negative').default(0),
});

export class PrefixBasedPdDecider implements Decider, ConsumesAttributes {
  readonly type = PREFIX_BASED_PD_DECIDER_TYPE;
  readonly consumes = [PREFIX_CACHE_MATCH_INFO] as const;

  constructor(readonly name: string, readonly nonCachedTokens: number) {}

  disaggregate(ctx: SchedulingContext, request: InferenceRequest, decodeEndpoint: Endpoint | undefined): boolean {
    const threshold = this.nonCachedTokens;
    if (threshold === 0) return false;
    if (!decodeEndpoint) {
      ctx.logger.warn({ decider: this.name }, 'prefix decider: no decode endpoint');
      return false;
    }
    // A tokenizing producer (precise prefix cache) knows the real count; otherwise llm-d's estimate.
    const known = ctx.attributes.get<PrefixCacheMatchInfo>(decodeEndpoint, PREFIX_CACHE_MATCH_INFO)?.inputTokens;
    const inputTokens = typeof known === 'number' ? known : Math.floor(request.userInputBytes() / AVERAGE_BYTES_PER_TOKEN);
    if (inputTokens < threshold) {
      ctx.logger.debug({ decider: this.name, inputTokens, nonCachedTokens: threshold }, 'input shorter than nonCachedTokens: no P/D');
      return false;
    }
    const info = readPrefixMatchInfo(ctx, decodeEndpoint, this.name);
    if (!info) return false;
    const cachedTokens = info.matchBlocks * info.blockSizeTokens;
    const nonCached = inputTokens - cachedTokens;
    ctx.logger.debug({ decider: this.name, inputTokens, cachedTokens, nonCached, nonCachedTokens: threshold }, 'prefix decider');
    return nonCached >= threshold;
  }
}

export const prefixBasedPdDeciderFactory: PluginFactory = (name, parameters, handle) => {
  const { nonCachedTokens } = parseParameters(Parameters, parameters);
  if (nonCachedTokens === 0) handle.logger.info({ plugin: name }, 'prefix-based P/D disabled (nonCachedTokens=0); use always-disagg-pd-decider to always disaggregate');
  return new PrefixBasedPdDecider(name, nonCachedTokens);
};
