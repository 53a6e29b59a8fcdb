/**
 * Reading the standard OTEL_* environment into one plain config (docs/tracing.md). Pure, so it
 * is tested without starting an SDK.
 */

export type TraceExporterKind = 'otlp' | 'console' | 'none';
export type OtlpProtocol = 'grpc' | 'http/protobuf' | 'http/json';
export type SamplerKind = 'parentbased_traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'always_on' | 'always_off' | 'traceidratio';

export interface TelemetryConfig {
  enabled: boolean;
  serviceName: string;
  exporter: TraceExporterKind;
  protocol: OtlpProtocol;
  /** Full URL the exporter posts/dials to. */
  endpoint: string;
  sampler: SamplerKind;
  ratio: number;
  warnings: string[];
}

type Env = Record<string, string | undefined>;

const SAMPLERS: readonly SamplerKind[] = ['parentbased_traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'always_on', 'always_off', 'traceidratio'];

/** Tracing is on when forced, or when the environment names an exporter or an endpoint. */
export function tracingRequested(env: Env): boolean {
  const exporter = env.OTEL_TRACES_EXPORTER?.trim();
  if (exporter === 'none' || env.OTEL_SDK_DISABLED === 'true') return false;
  return Boolean(exporter || env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

function withScheme(endpoint: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`;
}

export function readTelemetryConfig(defaultServiceName: string, options: { force?: boolean } = {}, env: Env = process.env): TelemetryConfig {
  const warnings: string[] = [];
  const exporterName = (env.OTEL_TRACES_EXPORTER?.trim() || 'otlp').split(',')[0]!.trim();
  let exporter: TraceExporterKind = 'otlp';
  if (exporterName === 'console' || exporterName === 'none' || exporterName === 'otlp') exporter = exporterName;
  else warnings.push(`OTEL_TRACES_EXPORTER=${exporterName} is not supported; using otlp`);
  const enabled = exporter !== 'none' && env.OTEL_SDK_DISABLED !== 'true' && (options.force === true || tracingRequested(env));

  const protocolName = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'grpc').trim();
  let protocol: OtlpProtocol = 'grpc';
  if (protocolName === 'grpc' || protocolName === 'http/protobuf' || protocolName === 'http/json') protocol = protocolName;
  else warnings.push(`OTLP protocol ${protocolName} is not supported; using grpc`);

  let endpoint: string;
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) endpoint = withScheme(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.trim());
  else {
    const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
    const root = withScheme(base || (protocol === 'grpc' ? 'localhost:4317' : 'localhost:4318')).replace(/\/+$/, '');
    endpoint = protocol === 'grpc' ? root : `${root}/v1/traces`;
  }

  const samplerName = (env.OTEL_TRACES_SAMPLER?.trim() || 'parentbased_traceidratio') as SamplerKind;
  let sampler: SamplerKind = 'parentbased_traceidratio';
  if (SAMPLERS.includes(samplerName)) sampler = samplerName;
  else warnings.push(`OTEL_TRACES_SAMPLER=${samplerName} is not supported; using parentbased_traceidratio`);
  let ratio = 0.1;
  if (env.OTEL_TRACES_SAMPLER_ARG !== undefined && env.OTEL_TRACES_SAMPLER_ARG !== '') {
    const parsed = Number(env.OTEL_TRACES_SAMPLER_ARG);
    if (Number.isFinite(parsed) && parsed >= 0 && parsed <= 1) ratio = parsed;
    else warnings.push(`OTEL_TRACES_SAMPLER_ARG=${env.OTEL_TRACES_SAMPLER_ARG} is not a ratio in [0,1]; using 0.1`);
  }

  return { enabled, serviceName: env.OTEL_SERVICE_NAME?.trim() || defaultServiceName, exporter, protocol, endpoint, sampler, ratio, warnings };
}
