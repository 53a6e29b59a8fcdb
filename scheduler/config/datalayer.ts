/**
 * Wires `dataLayer.sources[].extractors`: each polling source (e.g. `dcgm-data-source`) gets the
 * Prometheus extractors listed under it, and each `endpoint-notification-source` the endpoint
 * extractors listed under it; all start once the whole config has loaded. A source or an extractor
 * that is declared but not wired would never produce anything, so it fails start-up with the YAML
 * path, as does pairing an extractor with a source whose payload it cannot read.
 * The native `metrics-data-source` / `core-metrics-extractor` pair is pd-router's always-on
 * /metrics scraper and needs no wiring; `mock-metrics-source` is listed without extractors and
 * replaces that scraper (the EPP runs it with its endpoint store).
 */
import { isPollingSource, isPrometheusExtractor } from '../datalayer/endpoint-attributes.js';
import { isEndpointExtractor } from '../datalayer/endpoint-events.js';
import type { Plugin } from '../framework/plugins.js';
import { isEndpointNotificationSource } from '../plugins/datalayer/endpoint-notification-source.js';
import { isMetricsDataSource } from '../plugins/datalayer/metrics-data-source.js';
import { isMockMetricsSource } from '../plugins/datalayer/mock-metrics-source.js';
import type { Declared } from './loaded.js';
import type { EndpointPickerConfig } from './schema.js';
import type { ConfigSource } from './source.js';

/** A wired source: started after the config loaded (closed with the other plugins). */
export interface StartableSource {
  start(): void;
}

/** Pairs sources with extractors; returns the sources to start. `built` maps plugin name → plugin. */
export function wireDataLayer(config: EndpointPickerConfig, source: ConfigSource, declared: readonly Declared[], built: ReadonlyMap<string, Plugin>): StartableSource[] {
  const sources: StartableSource[] = [];
  const wired = new Set<string>();
  (config.dataLayer?.sources ?? []).forEach((spec, i) => {
    const plugin = built.get(spec.pluginRef);
    const extractors = spec.extractors ?? [];
    const at = (j: number) => ['dataLayer', 'sources', i, 'extractors', j, 'pluginRef'] as const;
    if (plugin && isMockMetricsSource(plugin)) {
      // Started by the EPP with its endpoint store, in place of the /metrics scraper.
      if (extractors.length > 0) throw source.error(at(0), `${plugin.type} writes endpoint metrics itself and takes no extractors`);
      wired.add(plugin.name);
      return;
    }
    if (plugin && isEndpointNotificationSource(plugin)) {
      if (extractors.length === 0) throw source.error(['dataLayer', 'sources', i], `${plugin.type} "${plugin.name}" lists no extractors: it would notify nobody`);
      wired.add(plugin.name);
      sources.push(plugin);
      extractors.forEach((extractorSpec, j) => {
        const extractor = built.get(extractorSpec.pluginRef);
        if (!extractor || !isEndpointExtractor(extractor)) {
          throw source.error(at(j), `"${extractorSpec.pluginRef}" does not handle endpoint events of ${plugin.type} (use precise-prefix-cache-producer, mm-embeddings-cache-producer or inflight-load-producer)`);
        }
        plugin.attachEndpointExtractor(extractor);
      });
      return;
    }
    if (!plugin || !isPollingSource(plugin)) {
      extractors.forEach((extractorSpec, j) => {
        const extractor = built.get(extractorSpec.pluginRef);
        if (extractor && isPrometheusExtractor(extractor)) {
          throw source.error(at(j), `extractor "${extractor.name}" (type ${extractor.type}) reads a Prometheus scrape: pair it with a source such as dcgm-data-source, not "${spec.pluginRef}"`);
        }
      });
      return;
    }
    wired.add(plugin.name);
    sources.push(plugin);
    extractors.forEach((extractorSpec, j) => {
      const extractor = built.get(extractorSpec.pluginRef);
      if (!extractor || !isPrometheusExtractor(extractor)) {
        throw source.error(at(j), `"${extractorSpec.pluginRef}" cannot read the scrape of ${plugin.type} (use an extractor such as dcgm-extractor)`);
      }
      plugin.attach(extractor);
      wired.add(extractor.name);
    });
  });
  const mock = declared.find((spec) => { const p = built.get(spec.name); return p !== undefined && isMockMetricsSource(p); });
  const scrape = declared.find((spec) => { const p = built.get(spec.name); return p !== undefined && isMetricsDataSource(p); });
  if (mock && scrape) throw source.error(['plugins', scrape.index], `metrics-data-source and mock-metrics-source "${mock.name}" both set the endpoints' metrics: declare one`);
  for (const spec of declared) {
    const plugin = built.get(spec.name);
    if (!plugin || wired.has(plugin.name)) continue;
    if (isPollingSource(plugin) || isPrometheusExtractor(plugin) || isEndpointNotificationSource(plugin) || isMockMetricsSource(plugin)) {
      throw source.error(['plugins', spec.index], `${plugin.type} "${plugin.name}" is not wired under dataLayer.sources (a source lists its extractors there)`);
    }
  }
  return sources;
}
