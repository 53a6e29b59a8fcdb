/**
 * `metrics-data-source` and `core-metrics-extractor`: llm-d Router's names for the vLLM /metrics
 * scrape. pd-router's scraper (scheduler/datalayer/scraper.ts) always runs and maps the vLLM
 * metrics itself; declaring these types configures it instead of adding a second poller.
 *
 * `metrics-data-source` parameters (llm-d Router's): `scheme` (`http` | `https`, default http),
 * `path` (default `/metrics`), `insecureSkipVerify` (default true), `interval` (Go duration,
 * rounded to the nearest multiple of `--refresh-metrics-interval`, at least one; default every
 * tick). `caCertPath` / `clientCertPath` / `clientKeyPath` are refused at start-up (no custom TLS
 * material for scrapes here). `core-metrics-extractor` takes no parameters (its custom-metric
 * mappings are not implemented: any key fails start-up).
 *
 * ```yaml
 * - type: metrics-data-source
 *   parameters: {scheme: http, path: /metrics, insecureSkipVerify: true, interval: 1s}
 * - type: core-metrics-extractor
 * ```
 */
import { z } from 'zod';
import type { Plugin } from '../../framework/plugins.js';
import { parseParameters, type PluginFactory } from '../../framework/registry.js';
import { pollIntervalMs } from './dcgm-data-source.js';

export const METRICS_DATA_SOURCE_TYPE = 'metrics-data-source';
export const CORE_METRICS_EXTRACTOR_TYPE = 'core-metrics-extractor';

const refused = (key: string) => z.undefined({ error: `${key} is not supported: pd-router scrapes /metrics without custom TLS material` }).optional();

const Parameters = z.strictObject({
  scheme: z.enum(['http', 'https'], { error: 'scheme must be "http" or "https"' }).default('http'),
  path: z.string().startsWith('/', 'path must start with "/"').default('/metrics'),
  insecureSkipVerify: z.boolean().default(true),
  interval: z.string().optional(),
  caCertPath: refused('caCertPath'),
  clientCertPath: refused('clientCertPath'),
  clientKeyPath: refused('clientKeyPath'),
});

export interface MetricsScrapeConfig {
  readonly scheme: 'http' | 'https';
  readonly path: string;
  readonly insecureSkipVerify: boolean;
  readonly intervalMs: number;
}

export class MetricsDataSource implements Plugin {
  readonly type = METRICS_DATA_SOURCE_TYPE;
  constructor(readonly name: string, readonly scrape: MetricsScrapeConfig) {}
}

export const isMetricsDataSource = (plugin: Plugin): plugin is MetricsDataSource => plugin instanceof MetricsDataSource;

export const metricsDataSourceFactory: PluginFactory = (name, parameters, handle) => {
  const p = parseParameters(Parameters, parameters);
  const tickMs = handle.scrape?.intervalMs ?? 50;
  return new MetricsDataSource(name, { scheme: p.scheme, path: p.path, insecureSkipVerify: p.insecureSkipVerify, intervalMs: pollIntervalMs(p.interval, tickMs) });
};

export const coreMetricsExtractorFactory: PluginFactory = (name) => ({ type: CORE_METRICS_EXTRACTOR_TYPE, name });
