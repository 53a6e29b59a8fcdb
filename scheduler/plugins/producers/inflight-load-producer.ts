/**
 * `inflight-load-producer`: tracks, per endpoint, the requests and prompt tokens this EPP has
 * dispatched and not yet seen complete, and publishes them before scheduling as the `InFlightLoad`
 * attribute; it also publishes `UncachedRequestTokens`, what the request being scheduled would add
 * to each endpoint. Read by `token-load-scorer` and the TTFT gate of `prefix-cache-affinity-filter`;
 * the loader adds it when one of them is declared without it (as llm-d does).
 *
 * Token estimate of a request on endpoint e:
 *   input    = the producer-tokenized input count when the prefix producer has one, else
 *              floor(userInputBytes / 4) (the same estimate the P/D deciders use);
 *   cached_e = matchBlocks_e · blockSizeTokens from `PrefixCacheMatchInfo` (0 when absent);
 *   uncached_e = max(0, input − cached_e);
 *   with `addEstimatedOutputTokens`: + min(round(input · outputRatio), max_tokens?, maxEstimatedOutputTokens?).
 * On dispatch (PreRequest) every profile's first target gets +1 request and +uncached_e tokens; at
 * completion (ResponseComplete) they are released. Difference from llm-d: the prompt tokens of a
 * streamed request are released at completion, not at the first chunk (there is no first-chunk
 * hook here), so a long generation keeps its prompt counted as load. Endpoints that left the pool
 * are dropped at the next dispatch, or at once when listed under an `endpoint-notification-source`.
 *
 * Parameters:
 * - `addEstimatedOutputTokens` (bool, default false)
 * - `outputRatio` (number ≥ 0, default 1.5)
 * - `maxEstimatedOutputTokens` (int ≥ 0, default none)
 *
 * ```yaml
 * - type: inflight-load-producer
 *   parameters: {addEstimatedOutputTokens: true, outputRatio: 1.5}
 * ```
 */
import { z } from 'zod';
import type { InferenceBody } from '../../../src/openai/types.js';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo, type SchedulingContext } from '../../framework/cycle-state.js';
import type { EndpointEvent, EndpointExtractor } from '../../datalayer/endpoint-events.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { DataProducer, PreRequest, ResponseComplete, ResponseInfo, SchedulingResult } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import { parseParameters, type PluginHandle } from '../../framework/registry.js';
import { AVERAGE_BYTES_PER_TOKEN } from '../deciders/prefix-based-pd-decider.js';

export const INFLIGHT_LOAD_PRODUCER_TYPE = 'inflight-load-producer';
/** Attribute: `InFlightLoad` of an endpoint. */
export const IN_FLIGHT_LOAD = 'InFlightLoad';
/** Attribute: tokens the request being scheduled would add to an endpoint. */
export const UNCACHED_REQUEST_TOKENS = 'UncachedRequestTokens';
export const DEFAULT_OUTPUT_RATIO = 1.5;
/** A completion lost for this long is assumed (safety net, as for active-request-scorer). */
const MAX_AGE_MS = 60 * 60_000;

export interface InFlightLoad {
  readonly requests: number;
  readonly tokens: number;
}

const Parameters = z.strictObject({
  addEstimatedOutputTokens: z.boolean().nullish(),
  outputRatio: z.number().min(0, 'must be non-negative').nullish(),
  maxEstimatedOutputTokens: z.number().int().min(0, 'must be non-negative').nullish(),
});

export interface InFlightLoadOptions {
  addEstimatedOutputTokens?: boolean;
  outputRatio?: number;
  maxEstimatedOutputTokens?: number;
  now?: () => number;
}

interface Tracked {
  readonly charges: ReadonlyArray<readonly [string, number]>;
  readonly since: number;
}

/** The client's own output limit (`max_completion_tokens` / `max_tokens` / `max_output_tokens`). */
export function clientMaxOutputTokens(body: InferenceBody): number | undefined {
  switch (body.api) {
    case 'chat_completions': return body.body.max_completion_tokens ?? body.body.max_tokens ?? undefined;
    case 'completions': return body.body.max_tokens ?? undefined;
    case 'responses': return body.body.max_output_tokens ?? undefined;
  }
}

/** Tokens a request adds to an endpoint (formula in the header). */
export function requestTokens(request: InferenceRequest, info: PrefixCacheMatchInfo | undefined, options: InFlightLoadOptions = {}): number {
  const input = info?.inputTokens ?? Math.floor(request.userInputBytes() / AVERAGE_BYTES_PER_TOKEN);
  const cached = info ? info.matchBlocks * info.blockSizeTokens : 0;
  let tokens = Math.max(0, input - cached);
  if (options.addEstimatedOutputTokens && input > 0) {
    let output = Math.round(input * (options.outputRatio ?? DEFAULT_OUTPUT_RATIO));
    const clientMax = clientMaxOutputTokens(request.body);
    if (clientMax !== undefined && clientMax >= 0) output = Math.min(output, clientMax);
    if (options.maxEstimatedOutputTokens !== undefined) output = Math.min(output, options.maxEstimatedOutputTokens);
    tokens += output;
  }
  return tokens;
}

export class InFlightLoadProducer implements DataProducer, PreRequest, ResponseComplete, EndpointExtractor {
  readonly type = INFLIGHT_LOAD_PRODUCER_TYPE;
  readonly produces = [IN_FLIGHT_LOAD, UNCACHED_REQUEST_TOKENS] as const;
  /** Read when present (discount of cached tokens); listed so this runs after the prefix producer. */
  readonly consumes = [PREFIX_CACHE_MATCH_INFO] as const;
  private readonly load = new Map<string, { requests: number; tokens: number }>();
  private readonly inFlight = new Map<InferenceRequest, Tracked>();
  private readonly now: () => number;

  constructor(readonly name: string, private readonly options: InFlightLoadOptions = {}, private readonly endpoints: () => readonly Endpoint[] = () => []) {
    this.now = options.now ?? Date.now;
  }

  /** Current load of an endpoint (zero when unknown). */
  get(endpointName: string): InFlightLoad {
    return this.load.get(endpointName) ?? { requests: 0, tokens: 0 };
  }

  produce(ctx: SchedulingContext, request: InferenceRequest, endpoints: readonly Endpoint[]): void {
    for (const endpoint of endpoints) {
      ctx.attributes.set<InFlightLoad>(endpoint, IN_FLIGHT_LOAD, this.get(endpoint.name));
      const info = ctx.attributes.get<PrefixCacheMatchInfo>(endpoint, PREFIX_CACHE_MATCH_INFO);
      ctx.attributes.set<number>(endpoint, UNCACHED_REQUEST_TOKENS, requestTokens(request, info, this.options));
    }
  }

  preRequest(ctx: SchedulingContext, request: InferenceRequest, result: SchedulingResult): void {
    this.maintain();
    this.release(request);
    const charges: Array<readonly [string, number]> = [];
    for (const run of result.profileResults.values()) {
      const target = run?.targets[0];
      if (!target) continue;
      const tokens = ctx.attributes.get<number>(target, UNCACHED_REQUEST_TOKENS)
        ?? requestTokens(request, ctx.attributes.get<PrefixCacheMatchInfo>(target, PREFIX_CACHE_MATCH_INFO), this.options);
      charges.push([target.name, tokens]);
      this.add(target.name, 1, tokens);
    }
    if (charges.length > 0) this.inFlight.set(request, { charges, since: this.now() });
  }

  responseComplete(request: InferenceRequest, _response: ResponseInfo, _targets: readonly Endpoint[]): void {
    this.release(request);
  }

  private release(request: InferenceRequest): void {
    const tracked = this.inFlight.get(request);
    if (!tracked) return;
    this.inFlight.delete(request);
    for (const [name, tokens] of tracked.charges) this.add(name, -1, -tokens);
  }

  private add(name: string, requests: number, tokens: number): void {
    const current = this.get(name);
    const next = { requests: current.requests + requests, tokens: current.tokens + tokens };
    if (next.requests <= 0) this.load.delete(name);
    else this.load.set(name, next);
  }

  /** Under an endpoint-notification-source: a removed endpoint's counters are dropped at once (as upstream). */
  extractEndpoint(event: EndpointEvent): void {
    if (event.type === 'delete') this.load.delete(event.endpoint.name);
  }

  /** Drops requests older than the safety-net age and endpoints that left the pool. */
  private maintain(): void {
    const cutoff = this.now() - MAX_AGE_MS;
    for (const [request, tracked] of this.inFlight) if (tracked.since <= cutoff) this.release(request);
    const active = this.endpoints();
    if (active.length === 0) return;
    const names = new Set(active.map((e) => e.name));
    for (const name of this.load.keys()) if (!names.has(name)) this.load.delete(name);
  }
}

export const inflightLoadProducerFactory = (name: string, parameters: unknown, handle: PluginHandle): InFlightLoadProducer => {
  const params = parseParameters(Parameters, parameters);
  return new InFlightLoadProducer(name, {
    addEstimatedOutputTokens: params.addEstimatedOutputTokens ?? false,
    outputRatio: params.outputRatio ?? DEFAULT_OUTPUT_RATIO,
    ...(params.maxEstimatedOutputTokens != null ? { maxEstimatedOutputTokens: params.maxEstimatedOutputTokens } : {}),
  }, () => handle.endpoints());
};
