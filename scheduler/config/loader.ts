/**
 * EndpointPickerConfig loader (llm-d `pkg/epp/config/loader`): YAML text → plugins
 * → defaults → a ready Scheduler and the plugin lists the Director runs.
 *
 * Differences from upstream, on purpose:
 * - plugins may refer to plugins declared later (a decider after its handler): references are
 *   built on first use; a cycle is an error;
 * - every list keeps config order (upstream iterates a Go map: random PreRequest order);
 *   injected defaults come last;
 * - a producer is injected only for attributes some plugin actually reads;
 * - a handler's profile names are checked at start (a missing decode profile fails loading instead
 *   of failing every request).
 */
import type { Logger } from '../../src/log.js';
import { ConfigError } from '../framework/errors.js';
import {
  isDataProducer, isFilter, isPicker, isPreRequest, isProfileHandler, isResponseComplete, isResponseReporter, isScorer,
  type Filter, type Picker, type Plugin, type ProfileHandler, type SchedulerProfile, type WeightedScorer,
} from '../framework/plugins.js';
import type { PluginHandle } from '../framework/registry.js';
import { Scheduler, type PluginTimer } from '../framework/scheduler.js';
import {
  DEFAULT_PICKER, DEFAULT_PRODUCERS, DEFAULT_PROFILE, DEFAULT_PROFILE_HANDLER, DEFAULT_SCORER_WEIGHT,
  orderProducers, unproducedAttributes,
} from './defaults.js';
import { DEPRECATED_API_VERSION, defaultConfig, type EndpointPickerConfig, type SchedulingProfileSpec } from './schema.js';
import { ConfigSource, parseConfigText, type ConfigPath } from './source.js';
import { buildParsers } from './parsers.js';
import { checkReferences, validateFeatureGates } from './validate.js';
import { wireDataLayer } from './datalayer.js';
import { buildAdmission } from './flow-control.js';

import { isClosable, validatesProfiles, type Declared, type LoadedConfig, type LoadOptions } from './loaded.js';

export type { LoadOptions, LoadedConfig };

/**
 * Loads an EndpointPickerConfig. Empty text (or only comments) gives the built-in default:
 * queue-scorer (2) + kv-cache-utilization-scorer (2) + prefix-cache-scorer (3). Throws ConfigError
 * naming the YAML path (and line) of the first problem; nothing is left open on failure.
 */
export function loadEndpointPickerConfig(yamlText: string, options: LoadOptions): LoadedConfig {
  const parsed = parseConfigText(yamlText, options.file);
  const logger = options.logger;
  let config: EndpointPickerConfig;
  let source: ConfigSource;
  if (parsed.config) {
    config = parsed.config;
    source = parsed.source;
    if (config.apiVersion === DEPRECATED_API_VERSION) logger.warn({ apiVersion: config.apiVersion }, `apiVersion ${DEPRECATED_API_VERSION} is deprecated; use llm-d.ai/v1alpha1`);
  } else {
    logger.info('no EndpointPickerConfig given: using the default (queue 2, kv-cache-utilization 2, prefix-cache 3)');
    config = defaultConfig();
    source = new ConfigSource();
  }
  const builder = new ConfigBuilder(config, source, options);
  try {
    return builder.build();
  } catch (err) {
    void builder.closeAll();
    throw err;
  }
}

class ConfigBuilder {
  private readonly declared: Declared[];
  private readonly byName = new Map<string, Declared>();
  /** Built plugins by name, in build order. */
  private readonly built = new Map<string, Plugin>();
  private readonly building: string[] = [];
  private readonly injected: Plugin[] = [];
  private readonly logger: Logger;

  constructor(private readonly config: EndpointPickerConfig, private readonly source: ConfigSource, private readonly options: LoadOptions) {
    this.logger = options.logger;
    this.declared = (config.plugins ?? []).map((spec, index) => ({ index, name: spec.name || spec.type, type: spec.type, parameters: spec.parameters }));
  }

  build(): LoadedConfig {
    const featureGates = validateFeatureGates(this.config, this.source, this.logger);
    for (const spec of this.declared) {
      if (this.byName.has(spec.name)) throw this.source.error(['plugins', spec.index, spec.name === spec.type ? 'type' : 'name'], `duplicate plugin name "${spec.name}"`);
      this.byName.set(spec.name, spec);
    }
    for (const spec of this.declared) this.buildDeclared(spec);
    const declaredPlugins = this.declared.map((spec) => this.built.get(spec.name)!);

    const profileSpecs = this.profileSpecs(declaredPlugins);
    const profiles = this.profiles(profileSpecs);
    const handler = this.profileHandler(declaredPlugins, profileSpecs.length);
    this.validateHandler(handler, [...profiles.keys()]);
    checkReferences(this.config, this.source, new Map(this.declared.map((d) => [d.name, d.type])), this.logger);
    this.injectProducers();
    const pollingSources = wireDataLayer(this.config, this.source, this.declared, this.built);
    const parsers = buildParsers(this.config, this.source, (name) => this.lookup(name), this.logger);

    const all = [...declaredPlugins, ...this.injected];
    const admission = buildAdmission(this.config, this.source, {
      gates: featureGates, plugins: all, lookup: (name) => this.lookup(name), endpoints: this.options.endpoints ?? (() => []),
      ...(this.options.objectives ? { objectives: this.options.objectives } : {}),
      ...(this.options.metrics ? { registry: this.options.metrics.registry } : {}),
      ...(this.options.pool ? { pool: this.options.pool } : {}),
    });
    const preRequests = all.filter(isPreRequest);
    if (!isPreRequest(handler) && handler.type === 'pd-profile-handler' && !preRequests.some((p) => p.type === 'prefill-header-handler' || p.type === 'disagg-headers-handler')) {
      this.logger.warn({ plugin: handler.name }, 'pd-profile-handler sets no headers itself and no prefill-header-handler/disagg-headers-handler is declared: x-prefiller-host-port is never sent');
    }
    const metrics = this.options.metrics;
    // Bound, not wrapped: at request time the scheduler calls straight into the metrics.
    const timer: PluginTimer | undefined = metrics?.observePlugin.bind(metrics);
    const effective: EndpointPickerConfig = {
      ...this.config,
      plugins: all.map((plugin) => ({ name: plugin.name, type: plugin.type, parameters: this.byName.get(plugin.name)?.parameters })),
      schedulingProfiles: profileSpecs,
    };
    this.logger.info({ profiles: [...profiles.keys()], handler: handler.name, plugins: all.map((p) => `${p.name}:${p.type}`) }, 'EndpointPickerConfig loaded');
    for (const polling of pollingSources) polling.start();
    return {
      scheduler: new Scheduler(handler, profiles, timer),
      profiles,
      handler,
      producers: orderProducers(all.filter(isDataProducer)),
      preRequests,
      responseCompletes: all.filter(isResponseComplete),
      reporters: all.filter(isResponseReporter),
      plugins: new Map(all.map((plugin) => [plugin.name, plugin])),
      featureGates,
      parsers,
      admission,
      config: effective,
      close: () => {
        admission.close();
        return this.closeAll();
      },
    };
  }

  async closeAll(): Promise<void> {
    for (const plugin of [...this.built.values(), ...this.injected]) {
      if (!isClosable(plugin)) continue;
      try {
        await plugin.close();
      } catch (err) {
        this.logger.warn({ err, plugin: plugin.name }, 'plugin close failed');
      }
    }
  }

  private handle(name: string): PluginHandle {
    return {
      logger: this.logger.child({ plugin: name }),
      plugin: (ref) => this.lookup(ref),
      endpoints: this.options.endpoints ?? (() => []),
      ...(this.options.endpointChanges ? { endpointChanges: this.options.endpointChanges } : {}),
      metrics: this.options.metrics,
      scrape: this.options.scrape,
    };
  }

  /** A plugin by name; a declared one not built yet is built now (forward references). */
  private lookup(name: string): Plugin | undefined {
    const plugin = this.built.get(name) ?? this.injected.find((p) => p.name === name);
    if (plugin) return plugin;
    const spec = this.byName.get(name);
    return spec ? this.buildDeclared(spec) : undefined;
  }

  private buildDeclared(spec: Declared): Plugin {
    const existing = this.built.get(spec.name);
    if (existing) return existing;
    if (this.building.includes(spec.name)) {
      throw this.source.error(['plugins', spec.index], `plugins refer to each other in a cycle: ${[...this.building, spec.name].join(' → ')}`);
    }
    this.building.push(spec.name);
    try {
      const plugin = this.instantiate(spec);
      this.built.set(spec.name, plugin);
      return plugin;
    } finally {
      this.building.pop();
    }
  }

  private instantiate(spec: Declared): Plugin {
    const { registry } = this.options;
    const at = ['plugins', spec.index] as const;
    if (!registry.has(spec.type)) {
      throw this.source.error([...at, 'type'], `unknown plugin type "${spec.type}" (known: ${registry.types().join(', ')})`);
    }
    try {
      return registry.create(spec.type, spec.name, spec.parameters, this.handle(spec.name));
    } catch (err) {
      if (this.source.isLocated(err)) throw err;
      if (err instanceof ConfigError) throw this.source.place(at, err);
      throw this.source.error(at, `cannot create plugin "${spec.name}" (type ${spec.type}): ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Creates a default plugin the config did not declare (name = type). */
  private inject(type: string, why: string): Plugin | undefined {
    const existing = this.lookup(type);
    if (existing) return existing.type === type ? existing : undefined;
    if (!this.options.registry.has(type)) return undefined;
    const plugin = this.options.registry.create(type, type, undefined, this.handle(type));
    this.injected.push(plugin);
    this.logger.info({ plugin: type }, `added default plugin ${type}: ${why}`);
    return plugin;
  }

  private profileSpecs(declared: readonly Plugin[]): SchedulingProfileSpec[] {
    const specs = this.config.schedulingProfiles ?? [];
    if (specs.length > 0) return specs;
    const plugins = declared.filter((p) => isFilter(p) || isScorer(p) || isPicker(p)).map((p) => ({ pluginRef: p.name }));
    this.logger.info({ plugins: plugins.map((p) => p.pluginRef) }, 'no schedulingProfiles: one "default" profile with every filter, scorer and picker');
    return [{ name: DEFAULT_PROFILE, plugins }];
  }

  private profileHandler(declared: readonly Plugin[], profileCount: number): ProfileHandler {
    const handlers = declared.filter(isProfileHandler);
    if (handlers.length > 1) {
      const second = this.byName.get(handlers[1]!.name)!;
      throw this.source.error(['plugins', second.index], `only one profile handler is allowed; "${handlers[0]!.name}" and "${handlers[1]!.name}" are both profile handlers`);
    }
    if (handlers[0]) return handlers[0];
    if (profileCount === 1) {
      const handler = this.inject(DEFAULT_PROFILE_HANDLER, 'one scheduling profile and no profile handler');
      if (handler && isProfileHandler(handler)) return handler;
    }
    throw this.source.error(['plugins'], `no profile handler configured for ${profileCount} scheduling profiles: declare one (disagg-profile-handler for P/D)`);
  }

  private profiles(specs: readonly SchedulingProfileSpec[]): Map<string, SchedulerProfile> {
    const profiles = new Map<string, SchedulerProfile>();
    specs.forEach((spec, i) => {
      const at: ConfigPath = ['schedulingProfiles', i];
      if (!spec.name) throw this.source.error([...at, 'name'], 'scheduling profile is missing a name');
      if (profiles.has(spec.name)) throw this.source.error([...at, 'name'], `duplicate scheduling profile name "${spec.name}"`);
      const filters: Filter[] = [];
      const scorers: WeightedScorer[] = [];
      let picker: Picker | undefined;
      (spec.plugins ?? []).forEach((ref, j) => {
        const refAt: ConfigPath = [...at, 'plugins', j, 'pluginRef'];
        if (!ref.pluginRef) throw this.source.error(refAt, 'missing pluginRef');
        const plugin = this.lookup(ref.pluginRef);
        if (!plugin) throw this.source.error(refAt, `unknown plugin "${ref.pluginRef}" (declared: ${this.declared.map((d) => d.name).join(', ') || 'none'})`);
        if (isFilter(plugin)) filters.push(plugin);
        if (isScorer(plugin)) scorers.push({ scorer: plugin, weight: ref.weight ?? DEFAULT_SCORER_WEIGHT });
        else if (ref.weight !== undefined) this.logger.warn({ profile: spec.name, plugin: plugin.name }, 'weight is ignored: the plugin is not a scorer');
        if (isPicker(plugin)) {
          if (picker) throw this.source.error(refAt, `scheduling profile "${spec.name}" already has picker "${picker.name}"; one picker per profile`);
          picker = plugin;
        }
        if (!isFilter(plugin) && !isScorer(plugin) && !isPicker(plugin)) {
          this.logger.warn({ profile: spec.name, plugin: plugin.name, type: plugin.type }, 'plugin in a scheduling profile is not a filter, scorer or picker: ignored there');
        }
      });
      picker ??= this.defaultPicker(at);
      profiles.set(spec.name, { name: spec.name, filters, scorers, picker });
    });
    return profiles;
  }

  private defaultPicker(at: ConfigPath): Picker {
    const existing = [...this.built.values(), ...this.injected].find(isPicker);
    if (existing) return existing;
    const picker = this.inject(DEFAULT_PICKER, 'a scheduling profile has no picker');
    if (picker && isPicker(picker)) return picker;
    throw this.source.error(at, `scheduling profile has no picker and "${DEFAULT_PICKER}" is not available`);
  }

  private validateHandler(handler: ProfileHandler, profileNames: readonly string[]): void {
    if (!validatesProfiles(handler)) return;
    const spec = this.byName.get(handler.name);
    try {
      handler.validateProfiles(profileNames, this.logger.child({ plugin: handler.name }));
    } catch (err) {
      const detail = err instanceof ConfigError ? err.detail : err instanceof Error ? err.message : String(err);
      if (!spec) throw this.source.error(['schedulingProfiles'], detail);
      if (!(err instanceof ConfigError)) throw this.source.error(['plugins', spec.index], detail);
      throw this.source.place(['plugins', spec.index], err);
    }
  }

  private injectProducers(): void {
    for (const [key, readers] of unproducedAttributes([...this.built.values(), ...this.injected])) {
      const type = DEFAULT_PRODUCERS.get(key);
      const producer = type ? this.inject(type, `${readers.join(', ')} read ${key} and nothing produces it`) : undefined;
      if (!producer || !isDataProducer(producer) || !producer.produces.includes(key)) {
        this.logger.warn({ attribute: key, readers }, `nothing produces ${key}: the plugins reading it see no data`);
      }
    }
  }
}
