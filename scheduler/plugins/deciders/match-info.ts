/** Reading the prefix-cache match info a data producer left on an endpoint (defensively), and the input length. */
import type { Endpoint } from '../../framework/endpoint.js';
import type { InferenceRequest } from '../../framework/request.js';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo, type SchedulingContext } from '../../framework/cycle-state.js';

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;

/**
 * The endpoint's `PrefixCacheMatchInfo`, or undefined (logged as a warning, like upstream's error
 * log, unless `warn` is false) when it is missing or not the expected shape.
 */
export function readPrefixMatchInfo(ctx: SchedulingContext, endpoint: Endpoint, plugin: string, warn = true): PrefixCacheMatchInfo | undefined {
  const raw = ctx.attributes.get<unknown>(endpoint, PREFIX_CACHE_MATCH_INFO);
  if (raw === undefined || raw === null) {
    if (warn) ctx.logger.warn({ plugin, endpoint: endpoint.name }, 'no prefix cache match info on the decode endpoint (is a prefix producer configured?)');
    return undefined;
  }
  const info = raw as Partial<PrefixCacheMatchInfo>;
  if (typeof raw !== 'object' || !isCount(info.matchBlocks) || !isCount(info.blockSizeTokens)) {
    if (warn) ctx.logger.warn({ plugin, endpoint: endpoint.name }, 'wrong type of prefix cache match info');
    return undefined;
  }
  return raw as PrefixCacheMatchInfo;
}

/** llm-d's estimate of characters (bytes) per token, used when no tokenizer counted the input. */
export const AVERAGE_BYTES_PER_TOKEN = 4;

/**
 * The request's input length in tokens: the count a tokenizing producer left in the endpoint's
 * match info, else `floor(userInputBytes / 4)` (the byte rule is in docs/configuration.md).
 */
export function inputTokensOf(ctx: SchedulingContext, request: InferenceRequest, endpoint: Endpoint): number {
  const known = ctx.attributes.get<PrefixCacheMatchInfo>(endpoint, PREFIX_CACHE_MATCH_INFO)?.inputTokens;
  return typeof known === 'number' && Number.isFinite(known) && known >= 0 ? known : Math.floor(request.userInputBytes() / AVERAGE_BYTES_PER_TOKEN);
}
