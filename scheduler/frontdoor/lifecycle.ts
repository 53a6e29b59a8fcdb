/**
 * One request's bookkeeping inside the EPP, the same for both front doors (the HTTP gateway and
 * Envoy ext_proc). The front door only speaks its protocol; this object owns everything else:
 *
 *   begin ──parsed()──▶ parsed ──route(): admit → schedule──▶ routed ──complete()──▶ completed
 *     └─────────────┴──────────────────fail() / abandon()──────────────────▶ failed / completed
 *
 * - admission (flow control, docs/flow-control.md): `route()` first waits for the admission
 *   step; a rejection (queue full, TTL, shed) throws the OpenAIError the front door answers with
 *   (429/503); `abandon()`/`fail()`/`clientGone()` while queued take the request out of the queue.
 *   The admission ticket is released exactly once, when the request ends;
 * - the `gateway.request` SERVER span (parent: the caller's trace context), ended exactly once;
 * - the request metrics: request total (on parse), running-requests gauge (routed → end), errors,
 *   duration and token usage (on a normal completion);
 * - scheduling: `route()` hands the parsed request to the Director (→ Scheduler → plugins);
 * - the ResponseComplete plugins, run exactly once per routed request — also when the client
 *   aborts or the upstream fails (then with `completed: false`);
 * - one log line per request (see docs/architecture.md, "The request log line").
 */
import { performance } from 'node:perf_hooks';
import { context, SpanKind, trace, type Context, type Span } from '@opentelemetry/api';
import type { Logger } from '../../src/log.js';
import { DROPPED_REASON_HEADER, PREFILL_HEADER } from '../../src/wire/headers.js';
import { OpenAIError, toOpenAIError } from '../../src/openai/errors.js';
import { markError, tracer } from '../../src/telemetry/tracing.js';
import type { Director, RoutingDecision } from '../framework/director.js';
import type { ResponseInfo } from '../framework/plugins.js';
import type { FlowControlAdmission } from '../flowcontrol/admission.js';
import type { FlowTicket } from '../flowcontrol/types.js';
import type { InferenceRequest } from '../framework/request.js';
import type { EppMetrics } from '../metrics.js';

export type FrontDoor = 'gateway' | 'extproc';
export type LifecycleState = 'begun' | 'parsed' | 'routed' | 'completed' | 'failed';

/** What every lifecycle of one front door shares. */
export interface LifecycleDeps {
  readonly director: Director;
  readonly logger: Logger;
  readonly metrics?: EppMetrics;
  /** Flow control: the step between parsed and routed (absent: requests are scheduled at once). */
  readonly admission?: FlowControlAdmission;
  /** Instrumentation scope of the `gateway.request` span. */
  readonly tracerScope: string;
}

export interface LifecycleInit {
  readonly frontDoor: FrontDoor;
  readonly id: string;
  /** Trace context the request arrived with (W3C headers, gRPC metadata). */
  readonly parent: Context;
  readonly path?: string;
  readonly method?: string;
}

export class RequestLifecycle {
  readonly id: string;
  readonly frontDoor: FrontDoor;
  /** Context with the request span active: scheduling runs in it, upstream legs inject it. */
  readonly traceContext: Context;
  private readonly deps: LifecycleDeps;
  private readonly span: Span;
  private readonly path: string | undefined;
  private readonly started = performance.now();
  private stateValue: LifecycleState = 'begun';
  private request: InferenceRequest | undefined;
  private decision: RoutingDecision | undefined;
  private destination: string | undefined;
  private schedulingMs: number | undefined;
  private labels = { model_name: 'unknown', target_model_name: 'unknown' };
  private running = false;
  private ticket: FlowTicket | undefined;
  /** Aborts the admission wait when the request ends while queued. */
  private readonly waiting = new AbortController();

  constructor(deps: LifecycleDeps, init: LifecycleInit) {
    this.deps = deps;
    this.id = init.id;
    this.frontDoor = init.frontDoor;
    this.path = init.path;
    const attributes: Record<string, string> = { 'gen_ai.request.id': init.id };
    if (init.method) attributes['http.request.method'] = init.method;
    if (init.path) attributes['url.path'] = init.path;
    this.span = tracer(deps.tracerScope).startSpan('gateway.request', { kind: SpanKind.SERVER, attributes }, init.parent);
    this.traceContext = trace.setSpan(init.parent, this.span);
  }

  get state(): LifecycleState {
    return this.stateValue;
  }

  /** True once the request reached an end (completed or failed): nothing more is recorded. */
  get ended(): boolean {
    return this.stateValue === 'completed' || this.stateValue === 'failed';
  }

  /** The body is parsed: the request is counted under its model. */
  parsed(request: InferenceRequest): void {
    if (this.stateValue !== 'begun') return;
    this.stateValue = 'parsed';
    this.request = request;
    this.labels = { model_name: request.model, target_model_name: request.targetModel };
    this.span.setAttribute('gen_ai.request.model', request.targetModel);
    this.deps.metrics?.requestTotal.inc({ ...this.labels, priority: String(this.deps.admission?.priorityOf(request) ?? 0) });
  }

  /**
   * Schedules the parsed request (Director → Scheduler → plugins) inside the request span. The
   * request is then in flight (running gauge) until complete(), fail() or abandon().
   */
  async route(subset?: readonly string[]): Promise<RoutingDecision> {
    const request = this.request;
    if (!request || this.stateValue !== 'parsed') throw new Error(`route() in state ${this.stateValue}`);
    const admission = this.deps.admission;
    if (admission) {
      const result = await admission.admit(request, this.waiting.signal);
      if (!result.admitted) {
        this.span.setAttribute('llm_d.flow_control.outcome', result.outcome);
        throw new OpenAIError(result.status, result.message, { headers: { [DROPPED_REASON_HEADER]: result.droppedReason } });
      }
      this.ticket = result.ticket;
      if (this.ended) {
        this.releaseTicket();
        throw new OpenAIError(503, 'client disconnected while queued');
      }
    }
    const t0 = performance.now();
    const decision = await context.with(this.traceContext, () => this.deps.director.handleRequest(request, subset));
    this.schedulingMs = performance.now() - t0;
    this.labels.target_model_name = request.targetModel;
    if (this.ended) {
      // The client or Envoy gave up while we were scheduling: release what PreRequest booked.
      this.deps.director.handleResponseComplete(decision, { status: 0, headers: new Map(), completed: false });
      return decision;
    }
    this.stateValue = 'routed';
    this.decision = decision;
    this.routedTo(decision.destination);
    this.running = true;
    this.deps.metrics?.runningRequests.inc({ model_name: this.labels.model_name });
    return decision;
  }

  /** A request that is passed through unscheduled (no body, or an API the EPP does not parse). */
  passThrough(destination: string): void {
    if (this.ended) return;
    this.routedTo(destination);
  }

  /** The client connection closed: a request still waiting for admission leaves the queue. */
  clientGone(): void {
    if (this.stateValue === 'parsed') this.waiting.abort();
  }

  /** The response ended (normally when `info.completed`, else cut short). */
  complete(info: ResponseInfo): void {
    if (this.ended) return;
    this.stateValue = 'completed';
    this.release(info);
    const metrics = this.deps.metrics;
    if (info.completed && this.decision) {
      if (info.usage?.promptTokens !== undefined) metrics?.inputTokens.observe(this.labels, info.usage.promptTokens);
      if (info.usage?.completionTokens !== undefined) metrics?.outputTokens.observe(this.labels, info.usage.completionTokens);
      metrics?.requestDuration.observe(this.labels, (performance.now() - this.started) / 1000);
    }
    if (info.status > 0) this.span.setAttribute('http.response.status_code', info.status);
    if (!info.completed) this.span.setAttribute('error.type', 'response_incomplete');
    this.log(info.status, info, undefined);
    this.span.end();
  }

  /** The client or Envoy went away before the response ended. */
  abandon(info: Partial<ResponseInfo> = {}): void {
    this.complete({ status: info.status ?? 0, headers: info.headers ?? new Map(), usage: info.usage, completed: false });
  }

  /** The EPP answers with an error instead of a response; returns the error to send. */
  fail(err: unknown): OpenAIError {
    const error = toOpenAIError(err);
    if (this.ended) return error;
    this.stateValue = 'failed';
    this.release({ status: error.status, headers: new Map(), completed: false });
    this.deps.metrics?.requestErrorTotal.inc({ ...this.labels, error_code: String(error.status) });
    markError(this.span, err);
    this.span.setAttribute('http.response.status_code', error.status);
    this.log(error.status, undefined, error);
    this.span.end();
    return error;
  }

  private routedTo(destination: string): void {
    this.destination = destination;
    this.span.setAttribute('llm_d.epp.destination', destination);
  }

  /** Gauge down and ResponseComplete plugins — once, for a routed request only. */
  private release(info: ResponseInfo): void {
    this.waiting.abort();
    this.releaseTicket(info);
    if (this.running) {
      this.running = false;
      this.deps.metrics?.runningRequests.dec({ model_name: this.labels.model_name });
    }
    if (this.decision) this.deps.director.handleResponseComplete(this.decision, info);
  }

  private releaseTicket(info?: ResponseInfo): void {
    const ticket = this.ticket;
    this.ticket = undefined;
    ticket?.release(info?.usage ? { promptTokens: info.usage.promptTokens, completionTokens: info.usage.completionTokens } : undefined);
  }

  private log(status: number, info: ResponseInfo | undefined, error: OpenAIError | undefined): void {
    const request = this.request;
    const line: Record<string, unknown> = {
      requestId: this.id,
      frontDoor: this.frontDoor,
      path: request?.path ?? this.path,
      model: request?.model,
      targetModel: request && request.targetModel !== request.model ? request.targetModel : undefined,
      decode: this.destination ?? null,
      prefill: request?.headers.get(PREFILL_HEADER) ?? null,
      pdReason: this.decision?.result.pdDecision?.reason,
      status,
      completed: info?.completed,
      schedulingMs: this.schedulingMs === undefined ? undefined : round(this.schedulingMs),
      totalMs: round(performance.now() - this.started),
      promptTokens: info?.usage?.promptTokens,
      completionTokens: info?.usage?.completionTokens,
      cachedTokens: info?.usage?.cachedTokens,
    };
    if (error) {
      line.error = error.message;
      if (error.status >= 500) {
        line.err = error.cause ?? error;
        this.deps.logger.warn(line, 'request failed');
        return;
      }
      this.deps.logger.info(line, 'request rejected');
      return;
    }
    this.deps.logger.info(line, 'request');
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
