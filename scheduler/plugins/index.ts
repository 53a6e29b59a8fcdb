/**
 * The registry of every plugin type pd-router ships, keyed by llm-d's type strings. The config
 * loader builds plugins from it; tests may build smaller registries from the group functions.
 */
import { PluginRegistry } from '../framework/registry.js';
import { registerDatalayerPlugins } from './datalayer/index.js';
import { registerFlowControlPlugins } from '../flowcontrol/plugins.js';
import { registerDeciderPlugins } from './deciders/index.js';
import { registerFilterPlugins } from './filters/index.js';
import { registerParserPlugins } from './parsers/index.js';
import { registerPickerPlugins } from './pickers/index.js';
import { registerPreRequestPlugins } from './prerequest/index.js';
import { registerProducerPlugins } from './producers/index.js';
import { registerProfilePlugins } from './profiles/index.js';
import { registerScorerPlugins } from './scorers/index.js';
import { REQUEST_ATTRIBUTE_REPORTER_TYPE, requestAttributeReporterFactory } from './reporters/request-attribute-reporter.js';

export function createDefaultRegistry(): PluginRegistry {
  const registry = new PluginRegistry();
  registerFilterPlugins(registry);
  registerScorerPlugins(registry);
  registerPickerPlugins(registry);
  registerProducerPlugins(registry);
  registerDeciderPlugins(registry);
  registerProfilePlugins(registry);
  registerPreRequestPlugins(registry);
  registerDatalayerPlugins(registry);
  registerParserPlugins(registry);
  registerFlowControlPlugins(registry);
  registry.register(REQUEST_ATTRIBUTE_REPORTER_TYPE, requestAttributeReporterFactory);
  return registry;
}
