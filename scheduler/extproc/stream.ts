/**
 * One ext_proc `Process` stream = one HTTP request through Envoy: a thin protocol adapter over the
 * request lifecycle (scheduler/frontdoor/lifecycle.ts), which owns the span, the metrics, the log
 * line and the ResponseComplete-once promise. Messages are handled strictly in arrival order (a
 * queue of promises), the request phase first, then the response phase; Envoy cancelling the
 * stream abandons the request.
 */
import type { FlowControlAdmission } from '../flowcontrol/admission.js';
import type { ResponseReporter } from '../framework/plugins.js';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import type { Logger } from '../../src/log.js';
import { OpenAIError, toOpenAIError } from '../../src/openai/errors.js';
import { extractContext } from '../../src/telemetry/tracing.js';
import type { Director } from '../framework/director.js';
import { RequestLifecycle } from '../frontdoor/lifecycle.js';
import type { EppMetrics } from '../metrics.js';
import { immediateResponse } from './messages.js';
import { FULL_DUPLEX_STREAMED, type ProcessingRequest, type ProcessingResponse } from './proto.js';
import { RequestPhase, requestPath, type RequestPhaseOptions, type RoutedRequest } from './request-phase.js';
import { ResponsePhase } from './response-phase.js';
import { attachReports } from './reports.js';

export const EXTPROC_TRACER = 'llm-d-inference-scheduler/epp/extproc';

export interface StreamOptions extends RequestPhaseOptions {
  director: Director;
  logger: Logger;
  metrics?: EppMetrics;
  admission?: FlowControlAdmission;
  /** Evaluated when the response completes; their values ride on the last response message. */
  reporters?: readonly ResponseReporter[];
}

export type ProcessCall = ServerDuplexStream<ProcessingRequest, ProcessingResponse>;

export class ExtProcStream {
  private readonly call: ProcessCall;
  private readonly options: StreamOptions;
  private queue: Promise<void> = Promise.resolve();
  private request: RequestPhase | undefined;
  private lifecycle: RequestLifecycle | undefined;
  private routing = false;
  private response: ResponsePhase | undefined;
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
    warnOnBodyMode(message, this.options.logger);
    const request = new RequestPhase(this.options, message.request_headers ?? {}, message.metadata_context);
    this.request = request;
    // Parent: the gateway's context from gRPC metadata, overridden by the HTTP request's headers.
    const fromMetadata = extractContext(metadataRecord(this.call), ROOT_CONTEXT);
    this.lifecycle = new RequestLifecycle(
      { director: this.options.director, logger: this.options.logger, metrics: this.options.metrics, admission: this.options.admission, tracerScope: EXTPROC_TRACER },
      {
        frontDoor: 'extproc',
        id: request.id,
        parent: extractContext(Object.fromEntries(request.headers), fromMetadata),
        path: requestPath(request.headers).split('?', 1)[0],
        method: request.headers.get(':method'),
      },
    );
    if (request.bodyless) {
      this.routing = true;
      this.accept(request.routeBodyless(this.lifecycle));
    }
  }

  private async route(bodyEndOfStream = true): Promise<void> {
    this.routing = true;
    this.accept(await this.request!.route(this.lifecycle!, bodyEndOfStream));
  }

  /** The request is routed: tell Envoy, and get ready for the response. */
  private accept(routed: RoutedRequest): void {
    if (this.closed) return; // Envoy gave up while we were scheduling; the lifecycle released it.
    // An unparsed body had no model: the answer's model is left as the server wrote it.
    const request = routed.decision?.request.unparsed ? undefined : routed.decision?.request;
    this.response = new ResponsePhase({
      streamingRequest: routed.streaming,
      model: request?.model,
      targetModel: request?.targetModel,
      requestId: this.request?.id,
    });
    this.send(routed.responses);
  }

  /** A response message before routing (e.g. Envoy's own local reply) is passed through untouched. */
  private responsePhase(): ResponsePhase {
    this.response ??= new ResponsePhase({ streamingRequest: false, requestId: this.request?.id });
    return this.response;
  }

  private respond(step: { responses: ProcessingResponse[]; done: boolean }): void {
    if (!step.done) {
      this.send(step.responses);
      return;
    }
    const info = this.response!.info(true);
    // Once per response: trailers after an end-of-stream body end it a second time.
    if (this.lifecycle && !this.lifecycle.ended) attachReports(step.responses, this.options.reporters ?? [], info, this.options.logger);
    this.send(step.responses);
    this.lifecycle?.complete(info);
  }

  /** A failure answers Envoy with an ImmediateResponse (the client sees the status) and ends the stream. */
  private fail(err: unknown): void {
    const error = this.lifecycle ? this.lifecycle.fail(err) : toOpenAIError(err);
    if (!this.lifecycle) this.options.logger.warn({ err, status: error.status }, 'ext_proc stream failed before the request headers');
    this.send([immediateResponse(error, this.request?.id)]);
    this.close();
  }

  private send(responses: readonly ProcessingResponse[]): void {
    if (this.closed || this.call.cancelled) return;
    for (const response of responses) this.call.write(response);
  }

  /** Ends the stream (idempotent): an unfinished request is abandoned, then our half of the call ends. */
  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.lifecycle?.abandon(this.response?.info(false));
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

/** Envoy says how it sends bodies on the first message; anything but FULL_DUPLEX_STREAMED deadlocks. */
function warnOnBodyMode(message: ProcessingRequest, logger: Logger): void {
  const mode = message.protocol_config?.request_body_mode;
  if (bodyModeWarned || mode === undefined || mode === FULL_DUPLEX_STREAMED) return;
  bodyModeWarned = true;
  logger.warn({ requestBodyMode: mode }, 'Envoy ext_proc request_body_mode is not FULL_DUPLEX_STREAMED (4); the EPP answers only after the whole body and other modes stall');
}
