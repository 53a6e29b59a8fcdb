/** Captures finished spans in memory for attribute assertions (registers a global provider). */
import { trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { inMemoryProvider } from '../../../helpers/in-memory-tracing.js';

export interface SpanCapture {
  spans(name?: string): ReadableSpan[];
  reset(): void;
  stop(): Promise<void>;
}

export function captureSpans(): SpanCapture {
  const { exporter, provider } = inMemoryProvider();
  trace.setGlobalTracerProvider(provider);
  return {
    spans: (name) => exporter.getFinishedSpans().filter((span) => name === undefined || span.name === name),
    reset: () => exporter.reset(),
    stop: async () => {
      trace.disable();
      await provider.shutdown();
    },
  };
}
