/** Profile handlers: which scheduling profiles run for a request, and which result is primary. */
import type { PluginRegistry } from '../../framework/registry.js';
import { DISAGG_PROFILE_HANDLER_TYPE, disaggProfileHandlerFactory } from './disagg-profile-handler.js';
import { PD_PROFILE_HANDLER_TYPE, pdProfileHandlerFactory } from './pd-profile-handler.js';
import { SINGLE_PROFILE_HANDLER_TYPE, singleProfileHandlerFactory } from './single-profile-handler.js';
import { DATA_PARALLEL_PROFILE_HANDLER_TYPE, dataParallelProfileHandlerFactory } from './data-parallel-profile-handler.js';

export function registerProfilePlugins(registry: PluginRegistry): PluginRegistry {
  return registry
    .register(SINGLE_PROFILE_HANDLER_TYPE, singleProfileHandlerFactory)
    .register(DISAGG_PROFILE_HANDLER_TYPE, disaggProfileHandlerFactory)
    .register(PD_PROFILE_HANDLER_TYPE, pdProfileHandlerFactory)
    .register(DATA_PARALLEL_PROFILE_HANDLER_TYPE, dataParallelProfileHandlerFactory);
}
