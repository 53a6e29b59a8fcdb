/** PreRequest plugins owned by the P/D group: the standalone disaggregation header setters. */
import type { PluginRegistry } from '../../framework/registry.js';
import {
  DISAGG_HEADERS_HANDLER_TYPE, PREFILL_HEADER_HANDLER_TYPE, disaggHeadersHandlerFactory, prefillHeaderHandlerFactory,
} from './disagg-headers-handler.js';

export function registerPreRequestPlugins(registry: PluginRegistry): PluginRegistry {
  return registry
    .register(DISAGG_HEADERS_HANDLER_TYPE, disaggHeadersHandlerFactory)
    .register(PREFILL_HEADER_HANDLER_TYPE, prefillHeaderHandlerFactory);
}
