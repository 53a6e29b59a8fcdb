/**
 * Starts the OpenTelemetry Node SDK for one process: traces only (no metrics/logs exporters), W3C
 * tracecontext + baggage, AsyncLocalStorage context, batch export. Health, readiness and metrics
 * requests are never traced (sampler.ts). Every process names itself in the resource attribute
 * `pd_router.component` (epp, sidecar, vllm-sim), so processes stay apart even when
 * OTEL_SERVICE_NAME gives them all one service name. Tracing never fails start-up: problems are
 * logged and the process runs untraced.
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
import type { Logger } from '../log.js';
import { readTelemetryConfig, type TelemetryConfig } from './config.js';
import { UntracedRoutesSampler } from './sampler.js';

/** Resource attribute naming the pd-router component a process is. */
export const COMPONENT_ATTRIBUTE = 'pd_router.component';

export interface Telemetry {
  readonly config: TelemetryConfig;
  /** Flushes pending spans and stops the SDK. Safe to call more than once. */
  shutdown(): Promise<void>;
}

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

/**
 * The component name of a process: `options.component`, else derived from its default service
 * name (`llm-d-router/epp` → `epp`, `llm-d-pd-sidecar` → `sidecar`, others unchanged).
 */
export function componentOf(defaultServiceName: string, component?: string): string {
  if (component) return component;
  if (defaultServiceName.endsWith('/epp')) return 'epp';
  if (defaultServiceName.endsWith('sidecar')) return 'sidecar';
  return defaultServiceName;
}

export function startTelemetry(defaultServiceName: string, options: { force?: boolean; logger?: Logger; component?: string } = {}): Telemetry {
  const config = readTelemetryConfig(defaultServiceName, options);
  for (const warning of config.warnings) options.logger?.warn(warning);
  if (!config.enabled) return { config, shutdown: async () => undefined };
  let sdk: NodeSDK | undefined;
  try {
    sdk = new NodeSDK({
      serviceName: config.serviceName,
      resource: defaultResource().merge(resourceFromAttributes({ [COMPONENT_ATTRIBUTE]: componentOf(defaultServiceName, options.component) })),
      sampler: buildSampler(config),
      spanProcessors: [new BatchSpanProcessor({ exporter: buildExporter(config), scheduledDelayMillis: 1000 })],
      metricReaders: [],
      logRecordProcessors: [],
      instrumentations: [],
    });
    sdk.start();
    options.logger?.info({ exporter: config.exporter, protocol: config.protocol, endpoint: config.endpoint, sampler: config.sampler, ratio: config.ratio }, 'tracing enabled');
  } catch (err) {
    options.logger?.error({ err }, 'tracing could not start; continuing without it');
    sdk = undefined;
  }
  let stopped: Promise<void> | undefined;
  return {
    config,
    shutdown() {
      stopped ??= (sdk?.shutdown() ?? Promise.resolve()).catch((err: unknown) => {
        options.logger?.warn({ err }, 'tracing shutdown failed');
      });
      return stopped;
    },
  };
}
