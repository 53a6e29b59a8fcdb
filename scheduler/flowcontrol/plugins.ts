/**
 * The flow-control plugin types an EndpointPickerConfig declares under `plugins:` and references
 * from its `flowControl:` section (and `probabilistic-admitter`, which gates admission without the
 * flowControl feature gate). Each factory validates its parameters strictly: an unknown key, or a
 * feature pd-router does not implement, fails at start-up. `registerFlowControlPlugins` adds them
 * to a plugin registry; config.ts resolves the references.
 */
import { z } from 'zod';
import { parseDuration } from '../../src/duration.js';
import { ConfigError } from '../framework/errors.js';
import { parseParameters, type PluginFactory, type PluginRegistry } from '../framework/registry.js';
import { PROBABILISTIC_ADMITTER_DEFAULTS, PROBABILISTIC_ADMITTER_TYPE, ProbabilisticAdmitter } from './admitter.js';
import { GLOBAL_STRICT_FAIRNESS_POLICY_TYPE, GlobalStrictFairness, ROUND_ROBIN_FAIRNESS_POLICY_TYPE, RoundRobinFairness } from './fairness.js';
import { PROGRAM_AWARE_DEFAULTS, PROGRAM_AWARE_FAIRNESS_TYPE, ProgramAwareFairness } from './program-aware.js';
import { EDF_ORDERING_POLICY_TYPE, EdfOrdering, FCFS_ORDERING_POLICY_TYPE, FcfsOrdering } from './queue.js';
import { CONCURRENCY_DETECTOR_TYPE, ConcurrencyDetector, UTILIZATION_DEFAULTS, UTILIZATION_DETECTOR_TYPE, UtilizationDetector } from './saturation.js';
import { SOFT_REFLECTIVE_CEILING_POLICY_TYPE, SoftReflectiveCeilingPolicy, STATIC_USAGE_LIMIT_POLICY_TYPE, StaticUsageLimitPolicy } from './usage-limits.js';

const none = z.strictObject({});
const headroom = z.number().refine((v) => v === 0, 'a non-zero headroom needs the detector\'s endpoint-filter role, which pd-router does not implement').nullish();

const UtilizationParameters = z.strictObject({
  queueDepthThreshold: z.number().int().positive('must be > 0').nullish(),
  kvCacheUtilThreshold: z.number().gt(0, 'must be in (0, 1]').max(1, 'must be in (0, 1]').nullish(),
  metricsStalenessThreshold: z.string().nullish(),
  headroom,
});

const ConcurrencyParameters = z.strictObject({
  concurrencyMode: z.literal('requests', { error: 'only "requests" is implemented (tokens and hybrid are not)' }).nullish(),
  maxConcurrency: z.number().int().positive('must be > 0').nullish(),
  maxTokenConcurrency: z.number().int().positive('must be > 0').nullish(),
  headroom,
});

const ProgramAwareParameters = z.strictObject({
  strategy: z.literal('las', { error: 'only "las" is supported' }).nullish(),
  lasWeightService: z.number().min(0, 'must be >= 0').nullish(),
  lasWeightHeadWait: z.number().min(0, 'must be >= 0').nullish(),
  lasHalfLifeSeconds: z.number().min(0, 'must be >= 0').nullish(),
  evictionTtlSeconds: z.number().positive('must be > 0').nullish(),
  evictionSweepSeconds: z.number().positive('must be > 0').nullish(),
});

const StaticParameters = z.strictObject({ threshold: z.number().gt(0, 'must be in (0, 1]').max(1, 'must be in (0, 1]').nullish() });

const AdmitterParameters = z.strictObject({
  queueDepthThreshold: z.number().int().positive('must be > 0').nullish(),
  kvCacheUtilThreshold: z.number().gt(0, 'must be in (0, 1]').max(1, 'must be in (0, 1]').nullish(),
  power: z.number().positive('must be > 0').nullish(),
  k: z.number().positive('must be > 0').nullish(),
});

function staleness(value: string | null | undefined): number {
  if (value == null) return UTILIZATION_DEFAULTS.metricsStalenessMs;
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (err) {
    throw new ConfigError('parameters.metricsStalenessThreshold', (err as Error).message);
  }
  if (ms <= 0) throw new ConfigError('parameters.metricsStalenessThreshold', 'must be > 0');
  return ms;
}

export const FLOW_CONTROL_FACTORIES: ReadonlyMap<string, PluginFactory> = new Map<string, PluginFactory>([
  [UTILIZATION_DETECTOR_TYPE, (name, parameters) => {
    const p = parseParameters(UtilizationParameters, parameters);
    return new UtilizationDetector(name, {
      queueDepthThreshold: p.queueDepthThreshold ?? UTILIZATION_DEFAULTS.queueDepthThreshold,
      kvCacheUtilThreshold: p.kvCacheUtilThreshold ?? UTILIZATION_DEFAULTS.kvCacheUtilThreshold,
      metricsStalenessMs: staleness(p.metricsStalenessThreshold),
    });
  }],
  [CONCURRENCY_DETECTOR_TYPE, (name, parameters) => {
    const p = parseParameters(ConcurrencyParameters, parameters);
    if (p.maxTokenConcurrency != null) throw new ConfigError('parameters.maxTokenConcurrency', 'token concurrency is not implemented (requests mode only)');
    return new ConcurrencyDetector(name, p.maxConcurrency ?? 100);
  }],
  [GLOBAL_STRICT_FAIRNESS_POLICY_TYPE, (name, parameters) => (parseParameters(none, parameters), new GlobalStrictFairness(name))],
  [ROUND_ROBIN_FAIRNESS_POLICY_TYPE, (name, parameters) => (parseParameters(none, parameters), new RoundRobinFairness(name))],
  [PROGRAM_AWARE_FAIRNESS_TYPE, (name, parameters, handle) => {
    const p = parseParameters(ProgramAwareParameters, parameters);
    const d = PROGRAM_AWARE_DEFAULTS;
    return new ProgramAwareFairness(name, {
      weightService: p.lasWeightService ?? d.weightService,
      weightHeadWait: p.lasWeightHeadWait ?? d.weightHeadWait,
      halfLifeSeconds: p.lasHalfLifeSeconds ?? d.halfLifeSeconds,
      evictionTtlSeconds: p.evictionTtlSeconds ?? d.evictionTtlSeconds,
      evictionSweepSeconds: p.evictionSweepSeconds ?? d.evictionSweepSeconds,
    }, handle.metrics?.registry);
  }],
  [FCFS_ORDERING_POLICY_TYPE, (name, parameters) => (parseParameters(none, parameters), new FcfsOrdering(name))],
  [EDF_ORDERING_POLICY_TYPE, (name, parameters) => (parseParameters(none, parameters), new EdfOrdering(name))],
  [STATIC_USAGE_LIMIT_POLICY_TYPE, (name, parameters) => new StaticUsageLimitPolicy(name, parseParameters(StaticParameters, parameters).threshold ?? 1)],
  [SOFT_REFLECTIVE_CEILING_POLICY_TYPE, (name, parameters) => (parseParameters(none, parameters), new SoftReflectiveCeilingPolicy(name))],
  [PROBABILISTIC_ADMITTER_TYPE, (name, parameters) => {
    const p = parseParameters(AdmitterParameters, parameters);
    const d = PROBABILISTIC_ADMITTER_DEFAULTS;
    return new ProbabilisticAdmitter(name, {
      queueDepthThreshold: p.queueDepthThreshold ?? d.queueDepthThreshold,
      kvCacheUtilThreshold: p.kvCacheUtilThreshold ?? d.kvCacheUtilThreshold,
      power: p.power ?? d.power,
      k: p.k ?? d.k,
    });
  }],
]);

/** Adds every flow-control plugin type to a registry (the lead calls this when wiring flow control). */
export function registerFlowControlPlugins(registry: PluginRegistry): PluginRegistry {
  for (const [type, factory] of FLOW_CONTROL_FACTORIES) registry.register(type, factory);
  return registry;
}
