/**
 * What a request handler and the connectors share: the long-lived runtime (config, pools,
 * allowlist, logger) and the per-request P/D exchange (client request/response, buffered body,
 * chosen prefill target, liveness signal, request span), plus the header rules every leg follows.
 */
import { setMaxListeners } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { appendForwardedFor, forwardRequestHeaders, type HeaderRecord } from '../src/http/headers.js';
import { normalizeOrigin, type UpstreamPools } from '../src/http/upstream.js';
import type { Logger } from '../src/log.js';
import type { ApiKind } from '../src/openai/types.js';
import type { SidecarConfig } from './config.js';
import type { TargetAllowlist } from './allowlist.js';
import { DATA_PARALLEL_HEADER, DISAGGREGATION_HEADERS, type RandomSource } from './prefill-target.js';
import { upstream, type Upstream } from './proxy.js';
import type { PrefillPolicy } from './prefill.js';
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

  constructor(
    readonly config: SidecarConfig,
    readonly logger: Logger,
    readonly allowlist: TargetAllowlist,
    readonly random: RandomSource,
    private readonly prefillPools: UpstreamPools,
    /** Encoder pods (EPD) have their own pools: their own TLS stage, and no LRU churn against prefill pods. */
    private readonly encoderPools: UpstreamPools,
  ) {
    this.prefillPolicy = { timeoutMs: config.prefillTimeoutMs, maxRetries: config.prefillMaxRetries, backoffMs: config.prefillRetryBackoffMs };
    // Every concurrent detached prefill listens on this one signal.
    setMaxListeners(0, this.detached.signal);
  }

  get tracing(): boolean {
    return this.config.tracing;
  }

  /** The pooled upstream for a prefill target; `http://h:p`, `h:p` and case variants share one. Throws on an unusable target. */
  prefillUpstream(target: string): Upstream {
    return pooledUpstream(this.prefillTargets, this.prefillPools, normalizeOrigin(target, this.config.useTls.prefiller));
  }

  /** The pooled upstream for an encoder `host:port` (EPD); same normalisation as prefill targets. */
  encoderUpstream(target: string): Upstream {
    return pooledUpstream(this.encoderTargets, this.encoderPools, normalizeOrigin(target, this.config.useTls.encoder));
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

/** Go's net.JoinHostPort. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** One listener's view: its decoder and whether it is the primary (data-parallel routing). */
export interface ListenerRole {
  readonly decoder: Upstream;
  readonly primary: boolean;
}

export interface PdExchange {
  readonly rt: SidecarRuntime;
  readonly role: ListenerRole;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly api: ApiKind;
  /** Path and query as received; every leg uses it. */
  readonly url: string;
  /** The chosen prefill `host:port`; '' when there is none (decode-only chunked decode, EPD without prefill). */
  readonly target: string;
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
 * A leg's copy of the headers. `x-request-id` is *added* (a client value stays first, and vLLM
 * reads the first); the prefill asks for an uncompressed answer because the sidecar parses it.
 */
export function legHeaders(base: HeaderRecord, requestId: string | undefined, prefill: boolean): HeaderRecord {
  const headers = { ...base };
  if (requestId !== undefined) {
    const prior = headers['x-request-id'];
    headers['x-request-id'] = prior === undefined ? requestId : [...(Array.isArray(prior) ? prior : [prior]), requestId];
  }
  if (prefill) headers['accept-encoding'] = 'identity';
  return headers;
}

/**
 * The deprecated data-parallel routing: on the primary listener, `x-data-parallel-host-port`
 * names a rank. undefined → no DP (use the listener's decoder); null → unknown rank (400).
 */
export function dataParallelDecoder(rt: SidecarRuntime, role: ListenerRole, req: IncomingMessage): Upstream | null | undefined {
  if (!role.primary) return undefined;
  const header = req.headers[DATA_PARALLEL_HEADER];
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === '') return undefined;
  rt.logger.info('The use of the x-data-parallel-host-port is deprecated. Use Istio >= 1.28.1.');
  return rt.dataParallel.get(value.trim()) ?? null;
}
