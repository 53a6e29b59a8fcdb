import { describe, expect, it } from 'vitest';
import { coreMetricsExtractorFactory, isMetricsDataSource, metricsDataSourceFactory, type MetricsDataSource } from '../../../../scheduler/plugins/datalayer/metrics-data-source.js';
import { createDefaultRegistry } from '../../../../scheduler/plugins/index.js';
import { makeHandle } from '../../helpers.js';

describe('metrics-data-source / core-metrics-extractor (configure the /metrics scraper)', () => {
  const handle = { ...makeHandle(), scrape: { intervalMs: 50, timeoutMs: 1000, maxBodyBytes: 1 << 20 } };

  it('defaults are llm-d Router\'s; interval rounds to the refresh tick', () => {
    const source = metricsDataSourceFactory('m', undefined, handle) as MetricsDataSource;
    expect(isMetricsDataSource(source)).toBe(true);
    expect(source.scrape).toEqual({ scheme: 'http', path: '/metrics', insecureSkipVerify: true, intervalMs: 50 });
    expect((metricsDataSourceFactory('m', { scheme: 'https', path: '/vllm/metrics', insecureSkipVerify: false, interval: '1s' }, handle) as MetricsDataSource).scrape)
      .toEqual({ scheme: 'https', path: '/vllm/metrics', insecureSkipVerify: false, intervalMs: 1000 });
    expect((metricsDataSourceFactory('m', { interval: '70ms' }, handle) as MetricsDataSource).scrape.intervalMs).toBe(50);
  });

  it('TLS material, bad values and unknown keys fail naming the parameter', () => {
    expect(() => metricsDataSourceFactory('m', { caCertPath: '/etc/ca.pem' }, handle)).toThrow(/parameters\.caCertPath: caCertPath is not supported/);
    expect(() => metricsDataSourceFactory('m', { path: 'metrics' }, handle)).toThrow(/parameters\.path/);
    expect(() => metricsDataSourceFactory('m', { interval: 'often' }, handle)).toThrow(/parameters\.interval/);
    expect(() => metricsDataSourceFactory('m', { sheme: 'http' }, handle)).toThrow(/parameters\.sheme: unknown parameter/);
  });

  it('core-metrics-extractor takes no parameters', () => {
    const registry = createDefaultRegistry();
    expect(coreMetricsExtractorFactory('c', undefined, handle).type).toBe('core-metrics-extractor');
    expect(() => registry.create('core-metrics-extractor', 'c', { engineLabelKey: 'engine' }, handle)).toThrow(/parameters\.engineLabelKey: unknown parameter of core-metrics-extractor/);
  });
});
