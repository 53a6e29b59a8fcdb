/**
 * The sidecar's spans (llm-d's span names; the attributes are listed in docs/sidecar.md "Tracing"):
 *
 *   llm_d.pd_proxy.<METHOD> <path>   SERVER, parent = inbound traceparent
 *   └─ llm_d.pd_proxy.request        SERVER (P/D routes)
 *      ├─ POST                       CLIENT, one per encoder call (EPD)
 *      ├─ llm_d.pd_proxy.prefill     INTERNAL ─ POST (CLIENT, injected into the prefill leg)
 *      └─ llm_d.pd_proxy.decode      INTERNAL ─ POST (CLIENT, injected into the decode leg)
 *         or llm_d.pd_proxy.chunked_decode INTERNAL ─ POST per chunk (CLIENT)
 *
 * Prefill and decode are siblings (the recommended target shape; SCHED nested decode under
 * prefill). Contexts are passed explicitly, so nothing depends on an active-context manager, and
 * every helper takes `undefined` for "tracing off": the untraced hot path pays one branch.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extractContext, injectContext, markError, wholeMs } from '../src/telemetry/tracing.js';
import type { HeaderRecord } from '../src/http/headers.js';

/** Instrumentation scope, as upstream's `pkg/telemetry`. */
export const TRACER_SCOPE = 'llm-d-inference-scheduler';

export const SPAN = {
  request: 'llm_d.pd_proxy.request',
  prefill: 'llm_d.pd_proxy.prefill',
  decode: 'llm_d.pd_proxy.decode',
  chunkedDecode: 'llm_d.pd_proxy.chunked_decode',
} as const;

const P = 'llm_d.pd_proxy.';
export const ATTR = {
  connector: `${P}connector`,
  kvConnector: `${P}kv_connector`,
  ecConnector: `${P}ec_connector`,
  requestPath: `${P}request_path`,
  openaiApi: 'llm_d.openai.api',
  disaggregationUsed: `${P}disaggregation_used`,
  reason: `${P}reason`,
  prefillTarget: `${P}prefill_target`,
  prefillCandidates: `${P}prefill_candidates`,
  error: `${P}error`,
  deniedTarget: `${P}denied_target`,
  encodeDisaggregationUsed: 'llm_d.epd_proxy.encode_disaggregation_used',
  encoderAllowed: 'llm_d.epd_proxy.encoder_allowed',
  encoderCandidates: 'llm_d.epd_proxy.encoder_candidates',
  encoderCount: 'llm_d.epd_proxy.encoder_count',
  requestId: `${P}request_id`,
  prefillStatusCode: `${P}prefill.status_code`,
  prefillDurationMs: `${P}prefill.duration_ms`,
  prefillAsync: `${P}prefill.async`,
  prefillAttempts: `${P}prefill.attempts`,
  decodeStreaming: `${P}decode.streaming`,
  decodeDataParallel: `${P}decode.data_parallel`,
  decodeTarget: `${P}decode.target`,
  decodeDurationMs: `${P}decode.duration_ms`,
  decodeFallback: `${P}decode.fallback`,
  decodeConcurrentWithPrefill: `${P}decode.concurrent_with_prefill`,
  concurrentPd: `${P}concurrent_pd`,
  totalDurationMs: `${P}total_duration_ms`,
  trueTtftMs: `${P}true_ttft_ms`,
  prefillTotalMs: `${P}prefill_duration_ms`,
  decodeTotalMs: `${P}decode_duration_ms`,
  coordinatorOverheadMs: `${P}coordinator_overhead_ms`,
  chunkSize: `${P}chunked_decode.chunk_size`,
  chunkStreaming: `${P}chunked_decode.streaming`,
  chunkCount: `${P}chunked_decode.chunks`,
  chunkTotalTokens: `${P}chunked_decode.total_tokens`,
  chunkDurationMs: `${P}chunked_decode.duration_ms`,
} as const;

/** A span and the context that has it as parent, for starting children and injecting. */
export interface TraceScope {
  readonly span: Span;
  readonly ctx: Context;
}

function start(name: string, kind: SpanKind, parent: Context, attributes?: Attributes): TraceScope {
  const span = trace.getTracer(TRACER_SCOPE).startSpan(name, { kind, attributes }, parent);
  return { span, ctx: trace.setSpan(parent, span) };
}

/**
 * otelhttp-style SERVER span for one inbound request, continuing its `traceparent`; ends itself
 * when the response is done (or the client is gone).
 */
export function startServerSpan(req: IncomingMessage, res: ServerResponse, path: string, secure: boolean): TraceScope {
  const parent = extractContext(req.headers, ROOT_CONTEXT);
  const method = req.method ?? 'GET';
  const attributes: Attributes = {
    'http.request.method': method,
    'url.path': path,
    'url.scheme': secure ? 'https' : 'http',
    'network.protocol.version': req.httpVersion,
  };
  const host = req.headers.host;
  if (host) {
    const colon = host.lastIndexOf(':');
    const hasPort = colon > host.lastIndexOf(']');
    attributes['server.address'] = hasPort ? host.slice(0, colon) : host;
    if (hasPort) attributes['server.port'] = Number(host.slice(colon + 1));
  }
  if (req.headers['user-agent']) attributes['user_agent.original'] = req.headers['user-agent'];
  if (req.socket.remoteAddress) attributes['client.address'] = req.socket.remoteAddress;
  const scope = start(`llm_d.pd_proxy.${method} ${path}`, SpanKind.SERVER, parent, attributes);
  res.once('close', () => {
    scope.span.setAttribute('http.response.status_code', res.statusCode);
    if (!res.writableFinished) {
      scope.span.setAttribute('error.type', 'client_disconnect');
      scope.span.setStatus({ code: SpanStatusCode.ERROR, message: 'client disconnected' });
    } else if (res.statusCode >= 500) {
      scope.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    scope.span.end();
  });
  return scope;
}

/** The `llm_d.pd_proxy.request` span of one P/D route, under the SERVER span. */
export function startRequestSpan(server: TraceScope, config: { kvConnector: string; ecConnector: string }, path: string, api: string): TraceScope {
  return start(SPAN.request, SpanKind.SERVER, server.ctx, {
    [ATTR.connector]: config.kvConnector,
    [ATTR.kvConnector]: config.kvConnector,
    [ATTR.ecConnector]: config.ecConnector,
    [ATTR.requestPath]: path,
    // Upstream labels /v1/completions as chat_completions too.
    [ATTR.openaiApi]: api === 'responses' || api === 'messages' ? api : 'chat_completions',
  });
}

export function startSpan(parent: TraceScope | undefined, name: string, kind: SpanKind, attributes?: Attributes): TraceScope | undefined {
  return parent && start(name, kind, parent.ctx, attributes);
}

/** Where an upstream leg goes, for CLIENT span attributes. */
export interface UpstreamAddress {
  readonly address: string;
  readonly port: number;
}

/** CLIENT span for one outgoing request; its context is injected into `headers`. */
export function startClientSpan(parent: TraceScope | undefined, method: string, upstream: UpstreamAddress, headers: HeaderRecord): TraceScope | undefined {
  if (!parent) return undefined;
  const scope = start(method, SpanKind.CLIENT, parent.ctx, {
    'http.request.method': method,
    'server.address': upstream.address,
    'server.port': upstream.port,
  });
  injectContext(headers, scope.ctx);
  return scope;
}

export function endClientSpan(scope: TraceScope | undefined, status: number | undefined, error?: unknown, errorType?: string): void {
  if (!scope) return;
  if (status !== undefined) {
    scope.span.setAttribute('http.response.status_code', status);
    if (status >= 400) {
      scope.span.setAttribute('error.type', String(status));
      scope.span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  if (error !== undefined) markError(scope.span, error, errorType ?? (error as { code?: string }).code ?? 'upstream_error');
  scope.span.end();
}

export function setError(scope: TraceScope | undefined, message: string, errorType?: string): void {
  if (!scope) return;
  scope.span.setStatus({ code: SpanStatusCode.ERROR, message });
  if (errorType) scope.span.setAttribute('error.type', errorType);
}

export { SpanKind, wholeMs };
