/**
 * How `endpoint-attribute-filter` / `-scorer` find the attribute they read: `producer` names the
 * plugin that publishes it (llm-d Router keys attributes by producer type; its samples declare the
 * extractor with name = type, e.g. `dcgm-extractor`, and pd-router looks the name up).
 */
import type { Endpoint } from '../../framework/endpoint.js';
import { isAttributeProducer } from '../../datalayer/endpoint-attributes.js';
import { ConfigError } from '../../framework/errors.js';
import type { PluginHandle } from '../../framework/registry.js';

export type AttributeReader = (endpoint: Endpoint) => number | undefined;

export function resolveAttribute(handle: PluginHandle, attribute: string, attributeKey: string, producer: string | undefined): AttributeReader {
  if (producer === undefined) {
    throw new ConfigError(['parameters', 'producer'], `required: pd-router has no custom metrics from core-metrics-extractor, so the attribute "${attribute}" must come from a declared extractor (e.g. producer: dcgm-extractor)`);
  }
  const plugin = handle.plugin(producer);
  if (!plugin) throw new ConfigError(['parameters', 'producer'], `no plugin named "${producer}" is declared`);
  if (!isAttributeProducer(plugin)) throw new ConfigError(['parameters', 'producer'], `plugin "${producer}" (type ${plugin.type}) publishes no endpoint attributes`);
  if (!plugin.attributes.includes(attribute)) {
    throw new ConfigError(['parameters', attributeKey], `"${producer}" does not publish "${attribute}" (it publishes: ${plugin.attributes.join(', ')})`);
  }
  return (endpoint) => plugin.readAttribute(endpoint, attribute);
}
