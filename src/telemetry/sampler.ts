/**
 * The sampler wrapper every pd-router process uses: health, readiness and metrics requests are
 * never traced — a Prometheus or EPP scrape every 50 ms would otherwise bury the real traces
 * (with `always_on`, nearly every span the collector saw was a `/metrics` scrape).
 *
 * A span is such a request when its `url.path` (or `http.target` / `http.route`) attribute, or the
 * path at the end of its name (`GET /metrics`), is one of UNTRACED_PATHS. It is not recorded and
 * its context carries the tracestate entry `pdr=untraced`, so every span under it — in this process
 * or, through the propagated `tracestate`, in the next one — is dropped too, whatever the inner
 * sampler would say. Everything else is decided by the configured sampler.
 */
import { trace, type Attributes, type Context, type Link, type SpanKind } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace';

/** Paths of health, readiness and metrics endpoints (query strings are ignored). */
export const UNTRACED_PATHS: ReadonlySet<string> = new Set([
  '/health', '/healthz', '/ready', '/readyz', '/livez', '/metrics',
]);

export const UNTRACED_STATE_KEY = 'pdr';
export const UNTRACED_STATE_VALUE = 'untraced';

const PATH_ATTRIBUTES = ['url.path', 'http.target', 'http.route'] as const;

function bare(path: string): string {
  const query = path.indexOf('?');
  return query < 0 ? path : path.slice(0, query);
}

/** True for a span describing a health/readiness/metrics request. */
export function isUntracedRequest(name: string, attributes: Attributes | undefined): boolean {
  for (const key of PATH_ATTRIBUTES) {
    const value = attributes?.[key];
    if (typeof value === 'string' && UNTRACED_PATHS.has(bare(value))) return true;
  }
  const space = name.lastIndexOf(' ');
  return space >= 0 && UNTRACED_PATHS.has(bare(name.slice(space + 1)));
}

export class UntracedRoutesSampler implements Sampler {
  private readonly inner: Sampler;

  constructor(inner: Sampler) {
    this.inner = inner;
  }

  shouldSample(ctx: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    const parentState = trace.getSpanContext(ctx)?.traceState;
    if (parentState?.get(UNTRACED_STATE_KEY) === UNTRACED_STATE_VALUE || isUntracedRequest(name, attributes)) {
      return { decision: SamplingDecision.NOT_RECORD, traceState: (parentState ?? new TraceState()).set(UNTRACED_STATE_KEY, UNTRACED_STATE_VALUE) };
    }
    return this.inner.shouldSample(ctx, traceId, name, kind, attributes, links);
  }

  toString(): string {
    return `UntracedRoutesSampler{${this.inner.toString()}}`;
  }
}
