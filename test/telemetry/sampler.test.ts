/**
 * Health, readiness and metrics requests are never traced, whatever the configured sampler says;
 * spans under such a request are dropped too, also in the next process (through `tracestate`).
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { describe, expect, it } from 'vitest';
import { componentOf } from '../../src/telemetry/sdk.js';
import { buildSampler } from '../../src/telemetry/node-sdk.js';
import { isUntracedRequest } from '../../src/telemetry/sampler.js';
import { useInMemoryTracing } from '../helpers/in-memory-tracing.js';

const exporter = useInMemoryTracing({ sampler: buildSampler({ sampler: 'always_on', ratio: 1 }) });
const names = (): string[] => exporter.getFinishedSpans().map((s) => s.name);

describe('never tracing health and metrics requests', () => {
  it('drops /metrics and /health SERVER spans and everything under them; traces the rest', () => {
    exporter.reset();
    const tracer = trace.getTracer('test');
    const scrape = tracer.startSpan('llm_d.pd_proxy.GET /metrics', { kind: SpanKind.SERVER, attributes: { 'url.path': '/metrics' } }, ROOT_CONTEXT);
    const forward = tracer.startSpan('GET', { kind: SpanKind.CLIENT }, trace.setSpan(ROOT_CONTEXT, scrape));
    forward.end();
    scrape.end();
    tracer.startSpan('GET /health?verbose=1', { kind: SpanKind.SERVER }, ROOT_CONTEXT).end();
    tracer.startSpan('probe', { kind: SpanKind.SERVER, attributes: { 'http.target': '/readyz' } }, ROOT_CONTEXT).end();
    const real = tracer.startSpan('gateway.request', { kind: SpanKind.SERVER, attributes: { 'url.path': '/v1/chat/completions' } }, ROOT_CONTEXT);
    tracer.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, real)).end();
    real.end();
    expect(names()).toEqual(['child', 'gateway.request']);
  });

  it('drops the next process\'s spans for a scrape too (propagated tracestate)', () => {
    exporter.reset();
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const tracer = trace.getTracer('test');
    const scrape = tracer.startSpan('GET /metrics', { kind: SpanKind.CLIENT }, ROOT_CONTEXT);
    const headers: Record<string, string> = {};
    propagation.inject(trace.setSpan(ROOT_CONTEXT, scrape), headers);
    scrape.end();
    expect(headers.tracestate).toBe('pdr=untraced');
    // The receiving process: its SERVER span (on a path it would otherwise trace) continues the context.
    const incoming = propagation.extract(ROOT_CONTEXT, headers);
    context.with(incoming, () => tracer.startSpan('llm_request', { kind: SpanKind.SERVER, attributes: { 'url.path': '/v1/completions' } }).end());
    expect(names()).toEqual([]);
  });

  it('matches paths, not look-alikes', () => {
    expect(isUntracedRequest('x', { 'url.path': '/metrics' })).toBe(true);
    expect(isUntracedRequest('GET /metrics', {})).toBe(true);
    expect(isUntracedRequest('x', { 'url.path': '/v1/metrics' })).toBe(false);
    expect(isUntracedRequest('gateway.request', { 'url.path': '/v1/chat/completions' })).toBe(false);
  });

  it('names each component even under one user-given service name', () => {
    expect(componentOf('llm-d-router/epp')).toBe('epp');
    expect(componentOf('llm-d-pd-sidecar')).toBe('sidecar');
    expect(componentOf('vllm-sim')).toBe('vllm-sim');
  });
});
