/**
 * The heavy half of telemetry: the OpenTelemetry Node SDK, the samplers and the OTLP exporters.
 * Imported by sdk.ts only when tracing is on — loading these packages costs ~45 MB of RSS, which
 * a process with tracing off should not pay (docs/benchmarks.md, "Soak").
 */
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  AlwaysOffSampler, AlwaysOnSampler, BatchSpanProcessor, ConsoleSpanExporter, ParentBasedSampler,
  TraceIdRatioBasedSampler, type Sampler, type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import type { TelemetryConfig } from './config.js';
import { UntracedRoutesSampler } from './sampler.js';

/** The configured sampler, wrapped so health/readiness/metrics requests are never traced. */
export function buildSampler(config: Pick<TelemetryConfig, 'sampler' | 'ratio'>): Sampler {
  return new UntracedRoutesSampler(configuredSampler(config));
}

function configuredSampler(config: Pick<TelemetryConfig, 'sampler' | 'ratio'>): Sampler {
  switch (config.sampler) {
    case 'always_on': return new AlwaysOnSampler();
    case 'always_off': return new AlwaysOffSampler();
    case 'traceidratio': return new TraceIdRatioBasedSampler(config.ratio);
    case 'parentbased_always_on': return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off': return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio': return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.ratio) });
  }
}

function buildExporter(config: TelemetryConfig): SpanExporter {
  if (config.exporter === 'console') return new ConsoleSpanExporter();
  switch (config.protocol) {
    case 'grpc': return new GrpcExporter({ url: config.endpoint });
    case 'http/protobuf': return new ProtoExporter({ url: config.endpoint });
    case 'http/json': return new JsonExporter({ url: config.endpoint });
  }
}

/** Builds and starts the SDK: traces only, batch export, `componentAttribute` on the resource. Throws on bad settings. */
export function startNodeSdk(config: TelemetryConfig, componentAttribute: Record<string, string>): { shutdown(): Promise<void> } {
  const sdk = new NodeSDK({
    serviceName: config.serviceName,
    resource: defaultResource().merge(resourceFromAttributes(componentAttribute)),
    sampler: buildSampler(config),
    spanProcessors: [new BatchSpanProcessor({ exporter: buildExporter(config), scheduledDelayMillis: 1000 })],
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  return sdk;
}
