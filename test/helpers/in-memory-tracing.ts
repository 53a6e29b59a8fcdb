/**
 * Real OpenTelemetry SDK pieces for a test suite: a global tracer provider (ParentBased(AlwaysOn))
 * exporting to memory, the AsyncLocalStorage context manager and the W3C propagator — registered in
 * beforeAll, removed in afterAll.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AlwaysOnSampler, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor, TracerProvider, type Sampler } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll } from 'vitest';

/** The one in-memory provider the tests use: ParentBased(AlwaysOn) unless `sampler` is given. */
export function inMemoryProvider(sampler?: Sampler): { exporter: InMemorySpanExporter; provider: TracerProvider } {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    sampler: sampler ?? new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  return { exporter, provider };
}

/** `sampler` replaces the default ParentBased(AlwaysOn), e.g. to test pd-router's own sampler. */
export function useInMemoryTracing(options: { sampler?: Sampler } = {}): InMemorySpanExporter {
  const { exporter, provider } = inMemoryProvider(options.sampler);
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  });
  return exporter;
}
