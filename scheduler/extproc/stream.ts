/**
 * One ext_proc `Process` stream = one HTTP request through Envoy. Messages are handled strictly in
 * arrival order (a queue of promises), the request phase first, then the response phase. The
 * stream owns the `gateway.request` span, the running-requests gauge and the promise that the
 * ResponseComplete plugins run exactly once — also when Envoy cancels the stream mid-way.
 */
import { performance } from 'node:perf_hooks';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { ROOT_CONTEXT, SpanKind, trace, type Context, type Span } from '@opentelemetry/api';
import type { Logger } from '../../src/log.js';
import { OpenAIError, toOpenAIError } from '../../src/openai/errors.js';
import { extractContext, markError, tracer } from '../../src/telemetry/tracing.js';
import type { InferenceRequest } from '../framework/request.js';
import type { EppMetrics } from '../metrics.js';
import { immediateResponse } from './messages.js';
import { FULL_DUPLEX_STREAMED, type ProcessingRequest, type ProcessingResponse } from './proto.js';
import { RequestPhase, type RequestPhaseOptions, type RoutedRequest } from './request-phase.js';
import { ResponsePhase } from './response-phase.js';

export const EXTPROC_TRACER = 'llm-d-inference-scheduler/epp/extproc';

export interface StreamOptions extends RequestPhaseOptions {
  logger: Logger;
  metrics?: EppMetrics;
}

export type ProcessCall = ServerDuplexStream<ProcessingRequest, ProcessingResponse>;

export class ExtProcStream {
  private readonly call: ProcessCall;
  private readonly options: StreamOptions;
  private readonly started = performance.now();
  private queue: Promise<void> = Promise.resolve();
  private request: RequestPhase | undefined;
  private routing = false;
  private routed: RoutedRequest | undefined;
  private response: ResponsePhase | undefined;
  private span: Span | undefined;
  private spanContext: Context = ROOT_CONTEXT;
  private labels = { model_name: 'unknown', target_model_name: 'unknown' };
  private running = false;
  private completed = false;
  private closed = false;

  constructor(call: ProcessCall, options: StreamOptions) {
    this.call = call;
    this.options = options;
  }

  start(): void {
    this.call.on('data', (message: ProcessingRequest) => {
      this.queue = this.queue.then(() => this.handle(message)).catch((err: unknown) => this.fail(err));
    });
    // Envoy half-closes when the HTTP stream is done: finish what is queued, then end our side.
    this.call.on('end', () => {
      this.queue = this.queue.then(() => this.close());
    });
    this.call.on('cancelled', () => this.close());
    this.call.on('error', (err: Error) => {
      this.options.logger.debug({ err }, 'ext_proc stream error');
      this.close();
    });
  }

  private async handle(message: ProcessingRequest): Promise<void> {
    if (this.closed) return;
    switch (message.request) {
      case 'request_headers': return this.onRequestHeaders(message);
      case 'request_body': {
        if (!this.request || this.routing) return;
        if (this.request.addBody(message.request_body ?? {})) await this.route();
        return;
      }
      case 'request_trailers':
        // Rare (HTTP requests with trailers), but FULL_DUPLEX_STREAMED needs trailer mode SEND: the
        // trailers end the body, the body goes out without end-of-stream, and the trailers are
        // answered unchanged so Envoy can finish the request (upstream never answers them).
        if (!this.request) return;
        if (!this.routing) await this.route(false);
        this.send([{ request_trailers: {} }]);
        return;
      case 'response_headers': return this.respond(this.responsePhase().onHeaders(message.response_headers ?? {}));
      case 'response_body': return this.respond(this.responsePhase().onBody(message.response_body ?? {}));
      case 'response_trailers': return this.respond(this.responsePhase().onTrailers());
      default:
        this.options.logger.debug({ kind: message.request }, 'ignoring an empty ext_proc message');
    }
  }

  private onRequestHeaders(message: ProcessingRequest): void {
    if (this.request) throw new OpenAIError(400, 'request headers received twice on one ext_proc stream');
    const headers = message.request_headers ?? {};
    warnOnBodyMode(message, this.options.logger);
    this.request = new RequestPhase(this.options, headers, message.metadata_context);
    // Parent: the gateway's context from gRPC metadata, overridden by the HTTP request's headers.
    const fromMetadata = extractContext(metadataRecord(this.call), ROOT_CONTEXT);
    const parent = extractContext(Object.fromEntries(this.request.headers), fromMetadata);
    this.span = tracer(EXTPROC_TRACER).startSpan('gateway.request', { kind: SpanKind.SERVER, attributes: { 'gen_ai.request.id': this.request.id } }, parent);
    this.spanContext = trace.setSpan(parent, this.span);
    if (this.request.bodyless) {
      this.routing = true;
      this.accept(this.request.routeBodyless(this.spanContext));
    }
  }

  private async route(bodyEndOfStream = true): Promise<void> {
    const request = this.request!;
    this.routing = true;
    const routed = await request.route(this.spanContext, (parsed) => this.onParsed(parsed), bodyEndOfStream);
    this.accept(routed);
  }

  private onParsed(request: InferenceRequest): void {
    this.labels = { model_name: request.model, target_model_name: request.targetModel };
    this.span?.setAttribute('gen_ai.request.model', request.targetModel);
    this.options.metrics?.requestTotal.inc({ ...this.labels, priority: '0' });
  }

  /** The request is routed: tell Envoy, and get ready for the response. */
  private accept(routed: RoutedRequest): void {
    this.routed = routed;
    if (routed.decision) this.labels.target_model_name = routed.decision.request.targetModel;
    if (this.closed) {
      // Envoy gave up while we were scheduling: release what PreRequest plugins booked.
      this.complete(false);
      return;
    }
    this.span?.setAttribute('llm_d.epp.destination', routed.destination);
    this.response = new ResponsePhase({
      streamingRequest: routed.streaming,
      model: routed.decision?.request.model,
      targetModel: routed.decision?.request.targetModel,
    });
    if (routed.decision) {
      this.running = true;
      this.options.metrics?.runningRequests.inc({ model_name: this.labels.model_name });
    }
    this.send(routed.responses);
  }

  /** A response message before routing (e.g. Envoy's own local reply) is passed through untouched. */
  private responsePhase(): ResponsePhase {
    this.response ??= new ResponsePhase({ streamingRequest: false });
    return this.response;
  }

  private respond(step: { responses: ProcessingResponse[]; done: boolean }): void {
    this.send(step.responses);
    if (step.done) this.complete(true);
  }

  /** Runs the ResponseComplete plugins (once) and records the request's metrics. */
  private complete(normally: boolean): void {
    if (this.completed) return;
    this.completed = true;
    const info = this.response?.info(normally) ?? { status: 0, headers: new Map<string, string>(), completed: false };
    if (this.running) {
      this.running = false;
      this.options.metrics?.runningRequests.dec({ model_name: this.labels.model_name });
    }
    if (info.status > 0) this.span?.setAttribute('http.response.status_code', info.status);
    const decision = this.routed?.decision;
    if (!decision) return;
    this.options.director.handleResponseComplete(decision, info);
    if (!normally) return;
    const metrics = this.options.metrics;
    if (info.usage?.promptTokens !== undefined) metrics?.inputTokens.observe(this.labels, info.usage.promptTokens);
    if (info.usage?.completionTokens !== undefined) metrics?.outputTokens.observe(this.labels, info.usage.completionTokens);
    metrics?.requestDuration.observe(this.labels, (performance.now() - this.started) / 1000);
  }

  /** A failure answers Envoy with an ImmediateResponse (the client sees the status) and ends the stream. */
  private fail(err: unknown): void {
    const error = toOpenAIError(err);
    if (error.status >= 500) this.options.logger.warn({ err, status: error.status, requestId: this.request?.id }, 'ext_proc request failed');
    else this.options.logger.debug({ err: error.message, status: error.status, requestId: this.request?.id }, 'ext_proc request rejected');
    this.options.metrics?.requestErrorTotal.inc({ ...this.labels, error_code: String(error.status) });
    if (this.span) {
      markError(this.span, err);
      this.span.setAttribute('http.response.status_code', error.status);
    }
    this.send([immediateResponse(error)]);
    this.close();
  }

  private send(responses: readonly ProcessingResponse[]): void {
    if (this.closed || this.call.cancelled) return;
    for (const response of responses) this.call.write(response);
  }

  /** Ends the stream (idempotent): response plugins, gauge, span, and our half of the call. */
  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.routed) this.complete(false);
    this.span?.end();
    if (!this.call.cancelled) {
      try {
        this.call.end();
      } catch {
        // Already ended by the transport.
      }
    }
  }
}

/** gRPC metadata as a header record (binary entries skipped). */
function metadataRecord(call: ProcessCall): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(call.metadata.getMap())) if (typeof value === 'string') out[key] = value;
  return out;
}

let bodyModeWarned = false;

/** Envoy says how it sends bodies on the first message; anything but FULL_DUPLEX_STREAMED deadlocks (§6.1). */
function warnOnBodyMode(message: ProcessingRequest, logger: Logger): void {
  const mode = message.protocol_config?.request_body_mode;
  if (bodyModeWarned || mode === undefined || mode === FULL_DUPLEX_STREAMED) return;
  bodyModeWarned = true;
  logger.warn({ requestBodyMode: mode }, 'Envoy ext_proc request_body_mode is not FULL_DUPLEX_STREAMED (4); the EPP answers only after the whole body and other modes stall');
}
