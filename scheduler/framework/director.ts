/**
 * The Director: one request's way through the EPP, the same for both front doors.
 * candidates → data producers → scheduler → PreRequest plugins → routing decision; and, when
 * the response is done, the ResponseComplete plugins.
 */
import { performance } from 'node:perf_hooks';
import { SpanKind } from '@opentelemetry/api';
import { settleWithin } from '../../src/deadline.js';
import type { Logger } from '../../src/log.js';
import { withSpan } from '../../src/telemetry/tracing.js';
import { canonicalHost, parseHostPort } from '../../src/wire/host-port.js';
import { PREFILL_HEADER, ROUTING_HEADERS } from '../../src/wire/headers.js';
import { isConditionalDecode, PREFER_HEADER } from '../../src/wire/prefer.js';
import type { Endpoint } from './endpoint.js';
import type { InferenceRequest } from './request.js';
import { PREFIX_CACHE_MATCH_INFO, SchedulingContext, type PrefixCacheMatchInfo } from './cycle-state.js';
import { SchedulingError } from './errors.js';
import type { DataProducer, PreRequest, ResponseComplete, ResponseInfo, SchedulingResult } from './plugins.js';
import type { Scheduler } from './scheduler.js';
import type { EppMetrics } from '../metrics.js';

// The routing header names live in src/wire/headers.ts; re-exported for the plugins.
export { PREFILL_HEADER, ENCODER_HEADER as ENCODERS_HEADER, DATA_PARALLEL_HEADER } from '../../src/wire/headers.js';
export const DESTINATION_HEADER = 'x-gateway-destination-endpoint';
export const EPP_TRACER = 'llm-d-inference-scheduler';

/** Data producers get this long; a slow one is abandoned, not awaited (upstream: 400 ms). */
const PRODUCER_TIMEOUT_MS = 400;

export interface RoutingDecision {
  readonly request: InferenceRequest;
  readonly result: SchedulingResult;
  /** The primary profile's endpoints (the decode pod for P/D). */
  readonly targets: readonly Endpoint[];
  /** `ip:port[,ip:port…]` for x-gateway-destination-endpoint. */
  readonly destination: string;
  readonly ctx: SchedulingContext;
}

export interface DirectorOptions {
  scheduler: Scheduler;
  endpoints: () => readonly Endpoint[];
  /** False while the endpoint source has not synced: requests get 503. */
  synced?: () => boolean;
  producers?: readonly DataProducer[];
  preRequests?: readonly PreRequest[];
  responseCompletes?: readonly ResponseComplete[];
  logger: Logger;
  metrics?: EppMetrics;
}

export class Director {
  private readonly options: DirectorOptions;

  constructor(options: DirectorOptions) {
    this.options = options;
  }

  /**
   * Schedules one request. `subset` is Envoy's endpoint subset hint (list of `ip:port`; only the
   * IP is matched); undefined means all endpoints. Throws OpenAIError-compatible errors.
   */
  async handleRequest(request: InferenceRequest, subset?: readonly string[]): Promise<RoutingDecision> {
    return withSpan(EPP_TRACER, 'gateway.request_orchestration', {
      kind: SpanKind.SERVER,
      attributes: { target_model: request.targetModel, request_prio: 0, 'gen_ai.request.model': request.targetModel, 'gen_ai.request.id': request.id },
    }, async () => {
      const started = performance.now();
      // Routing headers are the EPP's to set: a client-supplied value never reaches a sidecar.
      for (const name of ROUTING_HEADERS) request.headers.delete(name);
      const ctx = new SchedulingContext(this.candidates(subset), this.options.logger.child({ requestId: request.id }));
      await this.runProducers(ctx, request);
      const result = await this.options.scheduler.schedule(ctx, request);
      const targets = result.profileResults.get(result.primaryProfileName)?.targets ?? [];
      if (targets.length === 0) throw new SchedulingError(503, `no endpoint available for profile ${result.primaryProfileName}`);
      // Conditional decode (`Prefer: if-available`), as llm-d Router: forward only when the chosen
      // pod has a cached prefix of this prompt, else 412 so the caller runs the full pipeline.
      if (isConditionalDecode(request.headers.get(PREFER_HEADER)) && !hasCachedPrefix(ctx, targets[0]!)) {
        ctx.logger.debug({ endpoint: targets[0]!.name }, 'conditional decode: the chosen pod has no cached prefix; 412');
        throw new SchedulingError(412, 'no decode worker has the requested KV cache');
      }
      for (const plugin of this.options.preRequests ?? []) {
        const t0 = performance.now();
        await plugin.preRequest(ctx, request, result);
        this.options.metrics?.observePlugin('PreRequest', plugin, (performance.now() - t0) / 1000);
      }
      const destination = targets.map((endpoint) => endpoint.hostPort).join(',');
      // Guarded: userInputBytes() serialises the whole chat (milliseconds at 200 KB), wasted when debug is off.
      if (ctx.logger.isLevelEnabled('debug')) {
        ctx.logger.debug({ model: request.targetModel, destination, prefill: request.headers.get(PREFILL_HEADER) ?? null, inputBytes: request.userInputBytes() }, 'scheduled');
      }
      this.options.metrics?.schedulerE2e.observe((performance.now() - started) / 1000);
      return { request, result, targets, destination, ctx };
    });
  }

  /** Runs the ResponseComplete plugins once; their failures are logged, never thrown. */
  handleResponseComplete(decision: RoutingDecision, response: ResponseInfo): void {
    for (const plugin of this.options.responseCompletes ?? []) {
      try {
        plugin.responseComplete(decision.request, response, decision.targets);
      } catch (err) {
        this.options.logger.warn({ err, plugin: plugin.name, requestId: decision.request.id }, 'response plugin failed');
      }
    }
  }

  private candidates(subset: readonly string[] | undefined): readonly Endpoint[] {
    if (this.options.synced && !this.options.synced()) throw new SchedulingError(503, 'the endpoint set has not been discovered yet; try again shortly');
    let endpoints = this.options.endpoints();
    if (subset !== undefined) {
      // Only the address of each `ip:port` (or bare address) is matched; anything else matches nothing.
      const ips = new Set(subset.flatMap((entry) => parseHostPort(entry.trim())?.host ?? canonicalHost(entry.trim()) ?? []));
      endpoints = endpoints.filter((endpoint) => ips.has(endpoint.address));
    }
    if (endpoints.length === 0) {
      throw new SchedulingError(503, subset !== undefined ? 'no endpoint of the subset hint is in the pool' : 'no model-server endpoints are available');
    }
    return endpoints;
  }

  private async runProducers(ctx: SchedulingContext, request: InferenceRequest): Promise<void> {
    for (const producer of this.options.producers ?? []) {
      const t0 = performance.now();
      try {
        const pending = producer.produce(ctx, request, ctx.candidates);
        // A producer may ask for a longer budget (burst-prefix-cache-producer: its window + margin).
        const budget = (producer as { produceTimeoutMs?: number }).produceTimeoutMs ?? PRODUCER_TIMEOUT_MS;
        if (pending instanceof Promise) await settleWithin(pending, budget, () => new Error(`timed out after ${budget} ms`));
      } catch (err) {
        ctx.logger.warn({ err, producer: producer.name }, 'data producer failed; scheduling without its data');
      }
      this.options.metrics?.observePlugin('DataProducer', producer, (performance.now() - t0) / 1000);
    }
  }
}

/** True when the prefix producer found at least one cached block of this prompt on the endpoint. */
function hasCachedPrefix(ctx: SchedulingContext, endpoint: Endpoint): boolean {
  const matchBlocks = ctx.attributes.get<Partial<PrefixCacheMatchInfo>>(endpoint, PREFIX_CACHE_MATCH_INFO)?.matchBlocks;
  return typeof matchBlocks === 'number' && matchBlocks > 0;
}
