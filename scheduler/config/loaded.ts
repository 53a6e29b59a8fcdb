/** What the EndpointPickerConfig loader takes and returns, and the plugin capabilities it probes for. */
import type { Logger } from '../../src/log.js';
import type { Endpoint } from '../framework/endpoint.js';
import type { DataProducer, Plugin, PreRequest, ProfileHandler, ResponseComplete, ResponseReporter, SchedulerProfile } from '../framework/plugins.js';
import type { EndpointChanges, PluginRegistry, ScrapeSettings } from '../framework/registry.js';
import type { Scheduler } from '../framework/scheduler.js';
import type { FlowControlAdmission } from '../flowcontrol/admission.js';
import type { ObjectivePriorities } from '../flowcontrol/flow-key.js';
import type { EppMetrics } from '../metrics.js';
import type { RequestParser } from '../plugins/parsers/request-parser.js';
import type { EndpointPickerConfig } from './schema.js';

export interface LoadOptions {
  registry: PluginRegistry;
  logger: Logger;
  metrics?: EppMetrics;
  /** The live endpoint set, handed to plugins that keep per-endpoint state. */
  endpoints?: () => readonly Endpoint[];
  /** Membership changes of the endpoint set (the store's onChange), for endpoint-notification-source. */
  endpointChanges?: EndpointChanges;
  /** Scrape settings for data-layer sources (defaults: 50ms, 1s, 4 MiB, as the /metrics scraper). */
  scrape?: ScrapeSettings;
  /** InferenceObjective priorities by name (flow control); none: every request has priority 0. */
  objectives?: ObjectivePriorities;
  /** The pool name, labelling flow-control metrics. */
  pool?: string;
  /** The config file's name, for error messages. */
  file?: string;
}

export interface LoadedConfig {
  readonly scheduler: Scheduler;
  /** Scheduling profiles in config order. */
  readonly profiles: ReadonlyMap<string, SchedulerProfile>;
  readonly handler: ProfileHandler;
  /** DataProducers in dependency order (then config order). */
  readonly producers: readonly DataProducer[];
  /** PreRequest plugins in config order; injected defaults last. */
  readonly preRequests: readonly PreRequest[];
  readonly responseCompletes: readonly ResponseComplete[];
  /** Plugins whose values ext_proc returns as dynamic metadata when a response completes. */
  readonly reporters: readonly ResponseReporter[];
  /** Every plugin by name: declared ones in config order, then injected defaults. */
  readonly plugins: ReadonlyMap<string, Plugin>;
  readonly featureGates: ReadonlySet<string>;
  /** `requestHandler.parsers` in order (default: openai, anthropic, passthrough); the front doors pick one per path with `resolveParser`. */
  readonly parsers: readonly RequestParser[];
  /** The admission step both front doors run between parsing and scheduling (flow control). */
  readonly admission: FlowControlAdmission;
  /** The effective configuration after defaulting (plugins and profiles as the loader built them). */
  readonly config: EndpointPickerConfig;
  /** Closes every plugin that has a `close()`; errors are logged, not thrown. */
  close(): Promise<void>;
}

export interface Declared {
  readonly index: number;
  readonly name: string;
  readonly type: string;
  readonly parameters: unknown;
}

export type Closable = Plugin & { close(): unknown };
export const isClosable = (plugin: Plugin): plugin is Closable => typeof (plugin as Partial<Closable>).close === 'function';
export type ProfileValidator = Plugin & { validateProfiles(names: readonly string[], logger: Logger): void };
export const validatesProfiles = (plugin: Plugin): plugin is ProfileValidator => typeof (plugin as Partial<ProfileValidator>).validateProfiles === 'function';
