/**
 * What a request handler and the connectors share: the long-lived runtime (config, pools,
 * allowlist, logger) and the per-request P/D exchange (client request/response, buffered body,
 * chosen prefill target, liveness signal, request span), plus the header rules every leg follows.
 */
import { setMaxListeners } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { appendForwardedFor, forwardRequestHeaders, type HeaderRecord } from '../src/http/headers.js';
import type { UpstreamPools } from '../src/http/upstream.js';
import type { Logger } from '../src/log.js';
import type { InferenceApi } from '../src/openai/apis.js';
import type { SidecarConfig } from './config.js';
import type { TargetAllowlist } from './allowlist.js';
import { DATA_PARALLEL_HEADER, DISAGGREGATION_HEADERS, REQUEST_ID_HEADER } from '../src/wire/headers.js';
import { joinHostPort, originOf, type HostPort } from '../src/wire/host-port.js';
import type { RandomSource } from './prefill-target.js';
import { upstream, type Upstream } from './proxy.js';
import type { PrefillPolicy } from './prefill.js';
import { SidecarMetrics } from './metrics.js';
import type { RequestRecord } from './request-log.js';
import type { TraceScope } from './tracing.js';

export class SidecarRuntime {
  readonly prefillPolicy: PrefillPolicy;
  /** `POD_IP:port` of each data-parallel rank → its decoder; filled once the listeners are bound. */
  readonly dataParallel = new Map<string, Upstream>();
  /** Detached work (sglang prefills) that shutdown waits for. */
  readonly background = new Set<Promise<unknown>>();
  /** Aborts detached work that outlives the shutdown grace period. */
  private readonly detached = new AbortController();
  private readonly prefillTargets = new Map<string, Upstream>();
  private readonly encoderTargets = new Map<string, Upstream>();
  readonly metrics = new SidecarMetrics();

  constructor(
    readonly config: SidecarConfig,
    readonly logger: Logger,
    readonly allowlist: TargetAllowlist,
    readonly random: RandomSource,
    private readonly prefillPools: UpstreamPools,
    /** Encoder pods (EPD) have their own pools: their own TLS stage, and no LRU churn against prefill pods. */
    private readonly encoderPools: UpstreamPools,
  ) {
    this.prefillPolicy = {
      timeoutMs: config.prefillTimeoutMs,
      maxAnswerBytes: config.maxPrefillAnswerBytes,
      maxRetries: config.prefillMaxRetries,
      backoffMs: config.prefillRetryBackoffMs,
    };
    // Every concurrent detached prefill listens on this one signal.
    setMaxListeners(0, this.detached.signal);
  }

  get tracing(): boolean {
    return this.config.tracing;
  }

  /** The pooled upstream for a parsed prefill target: the origin is built from the checked value only. */
  prefillUpstream(target: HostPort): Upstream {
    return pooledUpstream(this.prefillTargets, this.prefillPools, originOf(target, this.config.useTls.prefiller ? 'https' : 'http'));
  }

  /** The pooled upstream for a parsed encoder target (EPD). */
  encoderUpstream(target: HostPort): Upstream {
    return pooledUpstream(this.encoderTargets, this.encoderPools, originOf(target, this.config.useTls.encoder ? 'https' : 'http'));
  }

  /** Signal for work detached from any client: aborted only by a shutdown that ran out of time. */
  get detachedSignal(): AbortSignal {
    return this.detached.signal;
  }

  /** Tracks detached work so shutdown can wait for it. */
  track(work: Promise<unknown>): void {
    this.background.add(work);
    void work.finally(() => this.background.delete(work));
  }

  /** Waits for detached work up to `graceMs`, then aborts what is left. */
  async drainBackground(graceMs: number): Promise<void> {
    if (this.background.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.allSettled([...this.background]), deadline]);
    clearTimeout(timer);
    this.detached.abort(new Error('sidecar shutting down'));
    await Promise.allSettled([...this.background]);
  }
}

function pooledUpstream(cache: Map<string, Upstream>, pools: UpstreamPools, origin: string): Upstream {
  const dispatcher = pools.get(origin);
  let cached = cache.get(origin);
  if (!cached || cached.dispatcher !== dispatcher) {
    cached = upstream(dispatcher, origin);
    // Bounded like the pools themselves; evicted pools just get a fresh entry.
    if (cache.size >= 4096) cache.clear();
    cache.set(origin, cached);
  }
  return cached;
}

/** `host:port` of a parsed target, for logs, span attributes and error messages. */
export function targetLabel(target: HostPort): string {
  return joinHostPort(target.host, target.port);
}

/** One listener's view: its decoder and whether it is the primary (data-parallel routing). */
export interface ListenerRole {
  readonly decoder: Upstream;
  readonly primary: boolean;
}

/** An exchange with a prefill target: what the KV connectors work on. */
export type PrefillExchange = PdExchange & { readonly target: HostPort };

export function hasPrefillTarget(ex: PdExchange): ex is PrefillExchange {
  return ex.target !== undefined;
}

export interface PdExchange {
  readonly rt: SidecarRuntime;
  readonly role: ListenerRole;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly api: InferenceApi;
  /** Path and query as received; every leg uses it. */
  readonly url: string;
  /** The chosen prefill target, parsed and SSRF-checked; undefined when there is none (decode-only, EPD without prefill). */
  readonly target: HostPort | undefined;
  readonly body: Buffer;
  readonly text: string;
  readonly json: Record<string, unknown>;
  /** Client headers minus hop-by-hop and disaggregation headers, plus Host and X-Forwarded-For. */
  readonly headers: HeaderRecord;
  /** Aborted when the client disconnects. */
  readonly signal: AbortSignal;
  /** The `llm_d.pd_proxy.request` span. */
  readonly span: TraceScope | undefined;
  /** performance.now() when the request arrived. */
  readonly startedAt: number;
  /** The request id every leg carries (`x-request-id`) and every log line names. */
  readonly requestId: string;
  /** The per-request log line, filled in as the legs run. */
  readonly record: RequestRecord;
  /**
   * The EPD encoder stage already ran for this body. shared-storage then skips decode-first:
   * upstream sets `cache_hit_threshold:0` precisely to skip it, but tests for the key's presence,
   * so a threshold of 0 would let the decoder answer without any prefill.
   */
  readonly afterEncoderStage?: boolean;
}

/**
 * Headers for an upstream leg (Go ReverseProxy semantics): everything but hop-by-hop and the
 * disaggregation headers, the client's Host kept, the client address appended to X-Forwarded-For.
 */
export function upstreamHeaders(req: IncomingMessage): HeaderRecord {
  const headers = forwardRequestHeaders(req.headers, DISAGGREGATION_HEADERS);
  const host = req.headers.host;
  if (host !== undefined) headers.host = host;
  appendForwardedFor(headers, req.socket.remoteAddress);
  return headers;
}

/**
 * A leg's copy of the headers: `x-request-id` set to the request's id (the client's own when it
 * was well-formed, see src/wire/request-id.ts); the prefill asks for an uncompressed answer
 * because the sidecar parses it.
 */
export function legHeaders(base: HeaderRecord, requestId: string, prefill: boolean): HeaderRecord {
  const headers: HeaderRecord = { ...base, [REQUEST_ID_HEADER]: requestId };
  if (prefill) headers['accept-encoding'] = 'identity';
  return headers;
}

/** The deprecated data-parallel routing (primary listener only): which decoder `x-data-parallel-host-port` names. */
export type DataParallelChoice =
  | { kind: 'none' }
  | { kind: 'rank'; decoder: Upstream }
  /** A rank this sidecar does not serve: upstream answers 400 with an empty body. */
  | { kind: 'unknown' };

export function dataParallelDecoder(rt: SidecarRuntime, role: ListenerRole, req: IncomingMessage): DataParallelChoice {
  if (!role.primary) return { kind: 'none' };
  const header = req.headers[DATA_PARALLEL_HEADER];
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === '') return { kind: 'none' };
  rt.logger.info('The use of the x-data-parallel-host-port is deprecated. Use Istio >= 1.28.1.');
  const decoder = rt.dataParallel.get(value.trim());
  return decoder === undefined ? { kind: 'unknown' } : { kind: 'rank', decoder };
}
