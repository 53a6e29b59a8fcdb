/**
 * Contracts of the configurable data layer (`dataLayer.sources[].extractors` in an
 * EndpointPickerConfig): a polling source fetches one payload per endpoint and hands it to the
 * extractors paired with it; an extractor turns the payload into numeric endpoint attributes that
 * `endpoint-attribute-filter` / `-scorer` read by (attribute, producer).
 *
 * pd-router's own vLLM `/metrics` scraper (scraper.ts) is not one of these: it is always on and
 * writes `Endpoint.metrics`; `metrics-data-source` / `core-metrics-extractor` name it.
 */
import type { Endpoint } from '../framework/endpoint.js';
import type { Plugin } from '../framework/plugins.js';
import type { Sample } from './prometheus-text.js';

/** What a source hands its extractors: the parsed Prometheus samples of one endpoint's scrape. */
export type PrometheusPayload = readonly Sample[];

/** Reads numeric per-endpoint attributes (upstream's `ScalarMetricValue` attributes). */
export interface AttributeProducer extends Plugin {
  /** Attribute names this producer publishes, e.g. `GPUUtilization`. */
  readonly attributes: readonly string[];
  /** The latest value for the endpoint, or undefined when it has none (never scraped, or gone). */
  readAttribute(endpoint: Endpoint, attribute: string): number | undefined;
}

/** An extractor paired with a source in `dataLayer.sources[].extractors`. */
export interface PrometheusExtractor extends AttributeProducer {
  /** Throws when the payload lacks what the extractor needs; the source logs it and keeps going. */
  extract(endpoint: Endpoint, payload: PrometheusPayload): void;
  /** Drops values of endpoints that left the pool. */
  retain(live: ReadonlySet<string>): void;
}

/** A source that polls every endpoint and feeds its paired extractors. */
export interface PollingSource extends Plugin {
  attach(extractor: PrometheusExtractor): void;
  /** Starts polling (after the config loaded); close() stops it. */
  start(): void;
  close(): Promise<void>;
}

const has = (p: Plugin, method: string): boolean => typeof (p as unknown as Record<string, unknown>)[method] === 'function';

export const isAttributeProducer = (p: Plugin): p is AttributeProducer => has(p, 'readAttribute') && Array.isArray((p as AttributeProducer).attributes);
export const isPrometheusExtractor = (p: Plugin): p is PrometheusExtractor => isAttributeProducer(p) && has(p, 'extract') && has(p, 'retain');
export const isPollingSource = (p: Plugin): p is PollingSource => has(p, 'attach') && has(p, 'start');
