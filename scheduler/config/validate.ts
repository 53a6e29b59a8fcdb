/** Checks of the config sections that only name plugins or switches: feature gates and references. */
import type { Logger } from '../../src/log.js';
import { DEFAULT_METRICS_EXTRACTOR, DEFAULT_METRICS_SOURCE, DEFAULT_PARSER, DEFAULT_SATURATION_DETECTOR } from './defaults.js';
import { KNOWN_FEATURE_GATES, type EndpointPickerConfig } from './schema.js';
import type { ConfigSource } from './source.js';

/**
 * The enabled feature gates; an unknown gate is an error (upstream: only registered gates).
 * `flowControl` turns on queueing (flow-control.ts builds it from the `flowControl` section).
 */
export function validateFeatureGates(config: EndpointPickerConfig, source: ConfigSource, logger: Logger): Set<string> {
  const gates = new Set<string>();
  (config.featureGates ?? []).forEach((gate, index) => {
    if (!(KNOWN_FEATURE_GATES as readonly string[]).includes(gate)) {
      throw source.error(['featureGates', index], `unknown feature gate "${gate}" (known: ${KNOWN_FEATURE_GATES.join(', ')})`);
    }
    gates.add(gate);
  });
  return gates;
}

/**
 * saturationDetector, parser and dataLayer refer to plugins by name: each must be declared, or be
 * the upstream default that pd-router provides natively. `declared` maps plugin name → type.
 */
export function checkReferences(config: EndpointPickerConfig, source: ConfigSource, declared: ReadonlyMap<string, string>, logger: Logger): void {
  const known = (ref: string, fallback: string): boolean => ref === fallback || declared.has(ref);
  const detector = config.saturationDetector?.pluginRef;
  if (detector && !known(detector, DEFAULT_SATURATION_DETECTOR)) throw source.error(['saturationDetector', 'pluginRef'], `unknown plugin "${detector}"`);
  const parser = config.parser?.pluginRef;
  if (parser !== undefined) {
    if (!known(parser, DEFAULT_PARSER)) throw source.error(['parser', 'pluginRef'], `unknown plugin "${parser}"`);
    const type = declared.get(parser) ?? DEFAULT_PARSER;
    if (type !== DEFAULT_PARSER) throw source.error(['parser', 'pluginRef'], `parser type "${type}" is not supported (pd-router parses with ${DEFAULT_PARSER})`);
  }
  (config.dataLayer?.sources ?? []).forEach((sourceSpec, i) => {
    if (!known(sourceSpec.pluginRef, DEFAULT_METRICS_SOURCE)) throw source.error(['dataLayer', 'sources', i, 'pluginRef'], `unknown plugin "${sourceSpec.pluginRef}"`);
    (sourceSpec.extractors ?? []).forEach((extractor, j) => {
      if (!known(extractor.pluginRef, DEFAULT_METRICS_EXTRACTOR)) throw source.error(['dataLayer', 'sources', i, 'extractors', j, 'pluginRef'], `unknown plugin "${extractor.pluginRef}"`);
    });
  });
  if (config.dataLayer?.discovery) logger.warn('dataLayer.discovery is ignored: pd-router discovers endpoints from --endpoints');
}
