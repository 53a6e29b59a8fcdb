/**
 * Polls every endpoint's vLLM /metrics. A failed scrape keeps the last values; an endpoint with no
 * good scrape for `stalenessMs` is marked stale, and profiles prefer fresh endpoints over stale
 * ones (upstream keeps routing to them as if nothing happened).
 *
 * Every scrape is bounded: `timeoutMs` for the whole exchange and `maxBodyBytes` for the body
 * (default 4 MiB; a vLLM /metrics page is tens of KiB). A body past the cap is cut off at once and
 * the scrape fails like any other (counted in `pd_router_metrics_scrape_too_large_total`), so one
 * pod streaming an endless body cannot grow the EPP's memory.
 */
import { Agent } from 'undici';
import type { Logger } from '../../src/log.js';
import type { Endpoint } from '../framework/endpoint.js';
import type { EppMetrics } from '../metrics.js';
import type { EndpointStore } from './store.js';
import { boundedGetText, ScrapeTooLarge } from './bounded-get.js';
import { metricsFromScrape } from './vllm-metrics.js';

export interface ScraperOptions {
  intervalMs: number;
  timeoutMs: number;
  stalenessMs: number;
  scheme?: 'http' | 'https';
  path?: string;
  insecureSkipVerify?: boolean;
  /** Largest /metrics body read (default DEFAULT_SCRAPE_MAX_BYTES); larger scrapes fail. */
  maxBodyBytes?: number;
}

export const DEFAULT_SCRAPE_MAX_BYTES = 4 * 1024 * 1024;

export class MetricsScraper {
  private readonly agent: Agent;
  private readonly inFlight = new Set<string>();
  private readonly firstSeen = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly store: EndpointStore;
  private readonly options: Required<ScraperOptions>;
  private readonly logger: Logger;
  private readonly metrics: EppMetrics | undefined;

  constructor(store: EndpointStore, options: ScraperOptions, logger: Logger, metrics?: EppMetrics) {
    this.store = store;
    this.options = {
      ...options, scheme: options.scheme ?? 'http', path: options.path ?? '/metrics',
      insecureSkipVerify: options.insecureSkipVerify ?? true, maxBodyBytes: options.maxBodyBytes ?? DEFAULT_SCRAPE_MAX_BYTES,
    };
    this.logger = logger;
    this.metrics = metrics;
    this.agent = new Agent({ connections: 2, keepAliveTimeout: 30_000, connect: { rejectUnauthorized: !this.options.insecureSkipVerify } });
  }

  start(): void {
    if (this.timer) return;
    const tick = (): void => {
      this.scrapeAll();
      this.timer = setTimeout(tick, this.options.intervalMs);
      this.timer.unref();
    };
    tick();
  }

  /** One round over all endpoints; resolves when every scrape of this round settled. */
  async scrapeAll(): Promise<void> {
    const now = Date.now();
    const endpoints = this.store.list();
    const live = new Set(endpoints.map((e) => e.name));
    for (const name of this.firstSeen.keys()) if (!live.has(name)) this.firstSeen.delete(name);
    await Promise.all(endpoints.map((endpoint) => {
      if (!this.firstSeen.has(endpoint.name)) this.firstSeen.set(endpoint.name, now);
      return this.inFlight.has(endpoint.name) ? undefined : this.scrape(endpoint);
    }));
  }

  private async scrape(endpoint: Endpoint): Promise<void> {
    this.inFlight.add(endpoint.name);
    try {
      const text = await boundedGetText(this.agent, {
        origin: `${this.options.scheme}://${endpoint.metricsHost}`, path: this.options.path,
        timeoutMs: this.options.timeoutMs, maxBodyBytes: this.options.maxBodyBytes,
      });
      this.store.updateMetrics(endpoint.name, metricsFromScrape(text, endpoint.metrics, Date.now()));
    } catch (err) {
      this.metrics?.pollErrors.inc({ source_type: 'metrics-data-source' });
      if (err instanceof ScrapeTooLarge) {
        this.metrics?.scrapeTooLarge.inc();
        this.logger.debug({ endpoint: endpoint.name, limit: this.options.maxBodyBytes }, 'metrics scrape over the size cap');
      }
      const lastGood = endpoint.metrics.updatedAt || this.firstSeen.get(endpoint.name) || Date.now();
      if (!endpoint.metrics.stale && Date.now() - lastGood > this.options.stalenessMs) {
        this.logger.warn({ endpoint: endpoint.name, err: (err as Error).message }, 'endpoint metrics are stale; preferring other endpoints');
        this.store.updateMetrics(endpoint.name, { ...endpoint.metrics, stale: true });
      }
    } finally {
      this.inFlight.delete(endpoint.name);
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.agent.close();
  }
}
