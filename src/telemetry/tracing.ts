/**
 * Tracing helpers business code uses instead of juggling contexts: run work in a span, and carry
 * the current context across process boundaries in HTTP headers (W3C tracecontext + baggage).
 */
import {
  context, propagation, trace, SpanKind, SpanStatusCode,
  type Attributes, type Context, type Span, type Tracer,
} from '@opentelemetry/api';

export { SpanKind, SpanStatusCode };
export type { Attributes, Context, Span };

export function tracer(scope: string): Tracer {
  return trace.getTracer(scope);
}

/**
 * Runs `work` inside a new active span; ends it when the work settles, recording a thrown error.
 * The span is passed in for attributes; the caller does not end it.
 */
export async function withSpan<T>(
  scope: string,
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; parent?: Context },
  work: (span: Span) => Promise<T> | T,
): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = tracer(scope).startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => work(span));
  } catch (err) {
    markError(span, err);
    throw err;
  } finally {
    span.end();
  }
}

export function markError(span: Span, err: unknown, errorType?: string): void {
  const message = err instanceof Error ? err.message : String(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  if (errorType) span.setAttribute('error.type', errorType);
  if (err instanceof Error) span.recordException(err);
}

/** The context carried by incoming headers (no-op without a registered propagator). */
export function extractContext(headers: Record<string, string | string[] | undefined>, base: Context = context.active()): Context {
  return propagation.extract(base, headers, {
    keys: (carrier) => Object.keys(carrier),
    get: (carrier, key) => {
      const value = carrier[key.toLowerCase()];
      return Array.isArray(value) ? value[0] : value;
    },
  });
}

/**
 * Writes the given (default: active) context into outgoing headers, replacing any traceparent,
 * tracestate or baggage already there so downstream sees exactly one.
 */
export function injectContext(headers: Record<string, string | string[]>, ctx: Context = context.active()): void {
  delete headers.traceparent;
  delete headers.tracestate;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  if (carrier.baggage !== undefined) delete headers.baggage;
  Object.assign(headers, carrier);
}

/** Whole milliseconds as a float, the unit upstream's `*_ms` attributes use. */
export function wholeMs(ms: number): number {
  return Math.floor(ms);
}
