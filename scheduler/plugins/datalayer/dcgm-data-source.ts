/**
 * `dcgm-data-source`: polls NVIDIA's DCGM exporter (a Prometheus exporter) next to every endpoint
 * and hands each parsed scrape to the extractors paired with it under `dataLayer.sources`.
 *
 * For each endpoint in the pool, every `interval`: GET `<scheme>://<endpoint address>:<port><path>`,
 * bounded like the vLLM /metrics scrape (`--metrics-timeout` for the whole exchange,
 * `--metrics-max-body-bytes` for the body); the Prometheus text is parsed and each paired extractor
 * gets the samples. A failed scrape (refused, timeout, non-200, too large) leaves the extractors'
 * last values in place, is counted in `llm_d_inference_scheduler_datalayer_poll_errors_total{source_type="dcgm-data-source"}`
 * and logged at debug. At most one scrape per endpoint is in flight.
 *
 * Parameters (llm-d Router's): `scheme` (`http` | `https`, default http), `path` (default
 * `/metrics`), `port` (default 9400), `insecureSkipVerify` (default true), `interval` (Go duration;
 * rounded to the nearest multiple of `--refresh-metrics-interval`, at least one; default: every
 * tick), `useNodeAddress` (only `false`: endpoints here carry no node address, so the DaemonSet
 * form is refused at start-up; run the exporter as a sidecar or point `port` at it).
 *
 * ```yaml
 * - type: dcgm-data-source
 *   name: dcgm-source
 *   parameters: {port: 9400, interval: 1s}
 * dataLayer:
 *   sources:
 *   - pluginRef: dcgm-source
 *     extractors: [{pluginRef: dcgm-extractor}]
 * ```
 */
import { Agent } from 'undici';
import { z } from 'zod';
import { parseDuration } from '../../../src/duration.js';
import { joinHostPort } from '../../../src/wire/host-port.js';
import type { Logger } from '../../../src/log.js';
import { boundedGetText, ScrapeTooLarge } from '../../datalayer/bounded-get.js';
import type { PollingSource, PrometheusExtractor } from '../../datalayer/endpoint-attributes.js';
import { parsePrometheusText } from '../../datalayer/prometheus-text.js';
import type { Endpoint } from '../../framework/endpoint.js';
import { ConfigError } from '../../framework/errors.js';
import { parseParameters, type PluginFactory, type PluginHandle, type ScrapeSettings } from '../../framework/registry.js';

export const DCGM_DATA_SOURCE_TYPE = 'dcgm-data-source';

/** The /metrics scraper's defaults, used when the loader is given no scrape settings (tests). */
const DEFAULT_SCRAPE: ScrapeSettings = { intervalMs: 50, timeoutMs: 1000, maxBodyBytes: 4 * 1024 * 1024 };

const Parameters = z.strictObject({
  scheme: z.enum(['http', 'https'], { error: 'scheme must be "http" or "https"' }).default('http'),
  path: z.string().startsWith('/', 'path must start with "/"').default('/metrics'),
  port: z.number().int().min(1).max(65535, 'port must be 1–65535').default(9400),
  insecureSkipVerify: z.boolean().default(true),
  useNodeAddress: z.literal(false, { error: 'useNodeAddress: true is not supported: pd-router endpoints carry no node address (run the DCGM exporter as a sidecar and set port)' }).default(false),
  interval: z.string().optional(),
});

/** `interval` rounded to the nearest multiple of the base tick (at least one tick). */
export function pollIntervalMs(interval: string | undefined, tickMs: number): number {
  if (interval === undefined || interval === '') return tickMs;
  let ms: number;
  try {
    ms = parseDuration(interval);
  } catch (err) {
    throw new ConfigError(['parameters', 'interval'], (err as Error).message);
  }
  if (ms < 0) throw new ConfigError(['parameters', 'interval'], 'interval cannot be negative');
  return Math.max(1, Math.round(ms / tickMs)) * tickMs;
}

export class DcgmDataSource implements PollingSource {
  readonly type = DCGM_DATA_SOURCE_TYPE;
  readonly extractors: PrometheusExtractor[] = [];
  private readonly agent: Agent;
  private readonly inFlight = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly options: { scheme: 'http' | 'https'; path: string; port: number; insecureSkipVerify: boolean; intervalMs: number; timeoutMs: number; maxBodyBytes: number },
    private readonly handle: Pick<PluginHandle, 'endpoints' | 'metrics'> & { logger: Logger },
  ) {
    this.agent = new Agent({ connections: 2, keepAliveTimeout: 30_000, connect: { rejectUnauthorized: !options.insecureSkipVerify } });
  }

  get intervalMs(): number {
    return this.options.intervalMs;
  }

  attach(extractor: PrometheusExtractor): void {
    this.extractors.push(extractor);
  }

  start(): void {
    if (this.timer || this.closed) return;
    const tick = (): void => {
      void this.pollAll();
      if (this.closed) return;
      this.timer = setTimeout(tick, this.options.intervalMs);
      this.timer.unref();
    };
    tick();
  }

  /** One round over the pool; resolves when every scrape of the round settled. */
  async pollAll(): Promise<void> {
    const endpoints = this.handle.endpoints();
    const live = new Set(endpoints.map((e) => e.name));
    for (const extractor of this.extractors) extractor.retain(live);
    await Promise.all(endpoints.map((endpoint) => (this.inFlight.has(endpoint.name) ? undefined : this.poll(endpoint))));
  }

  private async poll(endpoint: Endpoint): Promise<void> {
    this.inFlight.add(endpoint.name);
    try {
      const text = await boundedGetText(this.agent, {
        origin: `${this.options.scheme}://${joinHostPort(endpoint.address, this.options.port)}`, path: this.options.path,
        timeoutMs: this.options.timeoutMs, maxBodyBytes: this.options.maxBodyBytes,
      });
      const samples = parsePrometheusText(text);
      for (const extractor of this.extractors) {
        try {
          extractor.extract(endpoint, samples);
        } catch (err) {
          this.handle.logger.debug({ endpoint: endpoint.name, extractor: extractor.name, err: (err as Error).message }, 'DCGM extractor found no value');
        }
      }
    } catch (err) {
      this.handle.metrics?.pollErrors.inc({ source_type: DCGM_DATA_SOURCE_TYPE });
      if (err instanceof ScrapeTooLarge) this.handle.metrics?.scrapeTooLarge.inc();
      this.handle.logger.debug({ endpoint: endpoint.name, err: (err as Error).message }, 'DCGM exporter scrape failed');
    } finally {
      this.inFlight.delete(endpoint.name);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.agent.close();
  }
}

export const dcgmDataSourceFactory: PluginFactory = (name, parameters, handle) => {
  const p = parseParameters(Parameters, parameters);
  const scrape = handle.scrape ?? DEFAULT_SCRAPE;
  return new DcgmDataSource(name, {
    scheme: p.scheme, path: p.path, port: p.port, insecureSkipVerify: p.insecureSkipVerify,
    intervalMs: pollIntervalMs(p.interval, scrape.intervalMs), timeoutMs: scrape.timeoutMs, maxBodyBytes: scrape.maxBodyBytes,
  }, handle);
};
