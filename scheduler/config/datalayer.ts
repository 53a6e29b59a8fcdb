/**
 * Wires `dataLayer.sources[].extractors`: each polling source (e.g. `dcgm-data-source`) gets the
 * extractors listed under it, then starts once the whole config has loaded. A polling source or
 * an extractor that is declared but not wired would never produce anything, so it fails start-up
 * with the YAML path, as does pairing an extractor with a source whose payload it cannot read.
 * The native `metrics-data-source` / `core-metrics-extractor` pair is pd-router's always-on
 * /metrics scraper and needs no wiring.
 */
import { isPollingSource, isPrometheusExtractor, type PollingSource } from '../datalayer/endpoint-attributes.js';
import type { Plugin } from '../framework/plugins.js';
import type { Declared } from './loaded.js';
import type { EndpointPickerConfig } from './schema.js';
import type { ConfigSource } from './source.js';

/** Pairs sources with extractors; returns the sources to start. `built` maps plugin name → plugin. */
export function wireDataLayer(config: EndpointPickerConfig, source: ConfigSource, declared: readonly Declared[], built: ReadonlyMap<string, Plugin>): PollingSource[] {
  const sources: PollingSource[] = [];
  const wired = new Set<string>();
  (config.dataLayer?.sources ?? []).forEach((spec, i) => {
    const plugin = built.get(spec.pluginRef);
    if (!plugin || !isPollingSource(plugin)) {
      (spec.extractors ?? []).forEach((extractorSpec, j) => {
        const extractor = built.get(extractorSpec.pluginRef);
        if (extractor && isPrometheusExtractor(extractor)) {
          throw source.error(['dataLayer', 'sources', i, 'extractors', j, 'pluginRef'], `extractor "${extractor.name}" (type ${extractor.type}) reads a Prometheus scrape: pair it with a source such as dcgm-data-source, not "${spec.pluginRef}"`);
        }
      });
      return;
    }
    wired.add(plugin.name);
    sources.push(plugin);
    (spec.extractors ?? []).forEach((extractorSpec, j) => {
      const extractor = built.get(extractorSpec.pluginRef);
      if (!extractor || !isPrometheusExtractor(extractor)) {
        throw source.error(['dataLayer', 'sources', i, 'extractors', j, 'pluginRef'], `"${extractorSpec.pluginRef}" cannot read the scrape of ${plugin.type} (use an extractor such as dcgm-extractor)`);
      }
      plugin.attach(extractor);
      wired.add(extractor.name);
    });
  });
  for (const spec of declared) {
    const plugin = built.get(spec.name);
    if (!plugin || wired.has(plugin.name)) continue;
    if (isPollingSource(plugin) || isPrometheusExtractor(plugin)) {
      throw source.error(['plugins', spec.index], `${plugin.type} "${plugin.name}" is not wired under dataLayer.sources (a source lists its extractors there)`);
    }
  }
  return sources;
}
