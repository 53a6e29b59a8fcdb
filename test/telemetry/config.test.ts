import { describe, expect, it } from 'vitest';
import { readTelemetryConfig } from '../../src/telemetry/config.js';

describe('readTelemetryConfig', () => {
  it('is off when nothing is configured, on when forced', () => {
    expect(readTelemetryConfig('svc', {}, {}).enabled).toBe(false);
    const forced = readTelemetryConfig('svc', { force: true }, {});
    expect(forced).toMatchObject({ enabled: true, exporter: 'otlp', protocol: 'grpc', endpoint: 'http://localhost:4317', sampler: 'parentbased_traceidratio', ratio: 0.1, serviceName: 'svc' });
  });

  it('turns on from an endpoint and builds per-protocol URLs', () => {
    expect(readTelemetryConfig('svc', {}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'jaeger:4317' })).toMatchObject({ enabled: true, endpoint: 'http://jaeger:4317' });
    expect(readTelemetryConfig('svc', {}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://j:4318/', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).endpoint).toBe('http://j:4318/v1/traces');
    expect(readTelemetryConfig('svc', {}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://c/x', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }).endpoint).toBe('https://c/x');
  });

  it('honours the service name, exporter and sampler variables', () => {
    const config = readTelemetryConfig('svc', {}, { OTEL_SERVICE_NAME: 'mine', OTEL_TRACES_EXPORTER: 'console', OTEL_TRACES_SAMPLER: 'always_on', OTEL_TRACES_SAMPLER_ARG: '1' });
    expect(config).toMatchObject({ enabled: true, serviceName: 'mine', exporter: 'console', sampler: 'always_on', ratio: 1 });
  });

  it('falls back with a warning on bad values, and none disables', () => {
    const config = readTelemetryConfig('svc', { force: true }, { OTEL_TRACES_SAMPLER: 'xray', OTEL_TRACES_SAMPLER_ARG: '7', OTEL_EXPORTER_OTLP_PROTOCOL: 'carrier-pigeon' });
    expect(config).toMatchObject({ sampler: 'parentbased_traceidratio', ratio: 0.1, protocol: 'grpc' });
    expect(config.warnings).toHaveLength(3);
    expect(readTelemetryConfig('svc', { force: true }, { OTEL_TRACES_EXPORTER: 'none' }).enabled).toBe(false);
  });
});
