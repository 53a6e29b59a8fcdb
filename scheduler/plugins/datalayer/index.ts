/** Registers the data-layer sources and extractors (`dataLayer.sources[].extractors`). */
import type { PluginRegistry } from '../../framework/registry.js';
import { DCGM_DATA_SOURCE_TYPE, dcgmDataSourceFactory } from './dcgm-data-source.js';
import { DCGM_EXTRACTOR_TYPE, dcgmExtractorFactory } from './dcgm-extractor.js';
import { ENDPOINT_NOTIFICATION_SOURCE_TYPE, endpointNotificationSourceFactory } from './endpoint-notification-source.js';
import { MOCK_METRICS_SOURCE_TYPE, mockMetricsSourceFactory } from './mock-metrics-source.js';
import { CORE_METRICS_EXTRACTOR_TYPE, coreMetricsExtractorFactory, METRICS_DATA_SOURCE_TYPE, metricsDataSourceFactory } from './metrics-data-source.js';

export function registerDatalayerPlugins(registry: PluginRegistry): PluginRegistry {
  return registry
    .register(DCGM_DATA_SOURCE_TYPE, dcgmDataSourceFactory)
    .register(DCGM_EXTRACTOR_TYPE, dcgmExtractorFactory)
    .register(METRICS_DATA_SOURCE_TYPE, metricsDataSourceFactory)
    .register(CORE_METRICS_EXTRACTOR_TYPE, coreMetricsExtractorFactory)
    .register(ENDPOINT_NOTIFICATION_SOURCE_TYPE, endpointNotificationSourceFactory)
    .register(MOCK_METRICS_SOURCE_TYPE, mockMetricsSourceFactory);
}
