/**
 * The `flowControl:` section of an EndpointPickerConfig → typed controller settings. Plugin
 * references are resolved with `lookup` (the plugins the loader built); every problem throws a
 * ConfigError whose message starts with the YAML path (`flowControl.priorityBands[1].maxRequests: …`).
 *
 * Keys (llm-d's; defaults as llm-d):
 * - `maxRequests`, `maxBytes`: global limits over all queued requests (quantities; 0/omitted = none)
 * - `defaultRequestTTL` (duration, default 60s; "0s" = no limit), `noEndpointRequestTTL` (duration,
 *   default = defaultRequestTTL)
 * - `defaultPriorityBand`, `defaultNegativePriorityBand` (template for priorities < 0, default =
 *   defaultPriorityBand), `priorityBands[]` (with a unique integer `priority`): each with `maxRequests`
 *   (default 5000), `maxBytes` (default 1G), `fairnessPolicyRef` (default global-strict),
 *   `orderingPolicyRef` (default fcfs); "0" means the default
 * - `usageLimitPolicyPluginRef` (default: static, threshold 1.0)
 * - `saturationDetector: {pluginRef}` (default: utilization-detector with its defaults)
 * - `enableEviction`: in-flight eviction is not implemented; `true` is rejected
 */
import { parseDuration } from '../../src/duration.js';
import { ConfigError } from '../framework/errors.js';
import type { Plugin } from '../framework/plugins.js';
import type { BandPolicy } from './controller.js';
import { GlobalStrictFairness, type FairnessPolicy } from './fairness.js';
import { parseQuantity } from './quantity.js';
import { FcfsOrdering, type OrderingPolicy } from './queue.js';
import { UtilizationDetector, type SaturationDetector } from './saturation.js';
import { StaticUsageLimitPolicy, type UsageLimitPolicy } from './usage-limits.js';

export const FLOW_CONTROL_FEATURE_GATE = 'flowControl';
export const DEFAULT_BAND_MAX_REQUESTS = 5000;
export const DEFAULT_BAND_MAX_BYTES = 1_000_000_000;
const DEFAULT_TTL_MS = 60_000;

export interface FlowControlSettings {
  readonly detector: SaturationDetector;
  readonly usageLimit: UsageLimitPolicy;
  readonly maxRequests: number;
  readonly maxBytes: number;
  readonly defaultRequestTtlMs: number;
  readonly noEndpointRequestTtlMs: number;
  /** Explicit bands by priority. */
  readonly bands: ReadonlyMap<number, BandPolicy>;
  readonly defaultBand: BandPolicy;
  readonly defaultNegativeBand: BandPolicy;
  /** The band policy of any priority. */
  bandFor(priority: number): BandPolicy;
}

type Lookup = (name: string) => Plugin | undefined;
type Raw = Record<string, unknown>;

const SECTION_KEYS = ['maxRequests', 'maxBytes', 'defaultRequestTTL', 'noEndpointRequestTTL', 'defaultPriorityBand', 'defaultNegativePriorityBand', 'priorityBands', 'usageLimitPolicyPluginRef', 'saturationDetector', 'enableEviction'];
const BAND_KEYS = ['priority', 'maxRequests', 'maxBytes', 'fairnessPolicyRef', 'orderingPolicyRef'];

const isRecord = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFairness = (p: Plugin): p is FairnessPolicy & Plugin => typeof (p as Partial<FairnessPolicy>).pick === 'function';
const isOrdering = (p: Plugin): p is OrderingPolicy & Plugin => typeof (p as Partial<OrderingPolicy>).compare === 'function';
const isDetector = (p: Plugin): p is SaturationDetector & Plugin => typeof (p as Partial<SaturationDetector>).saturation === 'function';
const isUsageLimit = (p: Plugin): p is UsageLimitPolicy & Plugin => typeof (p as Partial<UsageLimitPolicy>).ceilings === 'function';

function object(value: unknown, path: string, keys: readonly string[]): Raw {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw new ConfigError(path, 'must be a mapping');
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) throw new ConfigError(`${path}.${key}`, `unknown field (known: ${keys.join(', ')})`);
  }
  return value;
}

function quantity(value: unknown, path: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  const parsed = parseQuantity(value);
  if (typeof parsed === 'string') throw new ConfigError(path, parsed);
  return parsed;
}

function duration(value: unknown, path: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ConfigError(path, 'must be a duration such as 30s');
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (err) {
    throw new ConfigError(path, (err as Error).message);
  }
  if (ms < 0) throw new ConfigError(path, 'must not be negative');
  return ms;
}

function reference<T>(value: unknown, path: string, lookup: Lookup, is: (p: Plugin) => p is Plugin & T, kind: string): T | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new ConfigError(path, 'must be a plugin name');
  const plugin = lookup(value);
  if (!plugin) throw new ConfigError(path, `no plugin named "${value}" is declared`);
  if (!is(plugin)) throw new ConfigError(path, `"${value}" (type ${plugin.type}) is not a ${kind}`);
  return plugin;
}

export function parseFlowControlConfig(section: unknown, lookup: Lookup, at = 'flowControl'): FlowControlSettings {
  const raw = object(section, at, SECTION_KEYS);
  if (raw.enableEviction !== undefined && typeof raw.enableEviction !== 'boolean') throw new ConfigError(`${at}.enableEviction`, 'must be a boolean');
  if (raw.enableEviction === true) throw new ConfigError(`${at}.enableEviction`, 'in-flight eviction is not implemented in pd-router');

  const defaults = { fairness: new GlobalStrictFairness(), ordering: new FcfsOrdering() };
  const band = (value: unknown, path: string, base?: BandPolicy): BandPolicy => {
    const b = object(value, path, BAND_KEYS);
    const maxRequests = quantity(b.maxRequests, `${path}.maxRequests`, 0);
    const maxBytes = quantity(b.maxBytes, `${path}.maxBytes`, 0);
    return {
      maxRequests: maxRequests || base?.maxRequests || DEFAULT_BAND_MAX_REQUESTS,
      maxBytes: maxBytes || base?.maxBytes || DEFAULT_BAND_MAX_BYTES,
      fairness: reference(b.fairnessPolicyRef, `${path}.fairnessPolicyRef`, lookup, isFairness, 'fairness policy') ?? base?.fairness ?? defaults.fairness,
      ordering: reference(b.orderingPolicyRef, `${path}.orderingPolicyRef`, lookup, isOrdering, 'ordering policy') ?? base?.ordering ?? defaults.ordering,
    };
  };
  if (raw.defaultPriorityBand !== undefined && isRecord(raw.defaultPriorityBand) && 'priority' in raw.defaultPriorityBand) {
    throw new ConfigError(`${at}.defaultPriorityBand.priority`, 'a template band has no priority');
  }
  const defaultBand = band(raw.defaultPriorityBand, `${at}.defaultPriorityBand`);
  const defaultNegativeBand = raw.defaultNegativePriorityBand == null ? defaultBand : band(raw.defaultNegativePriorityBand, `${at}.defaultNegativePriorityBand`);

  const bands = new Map<number, BandPolicy>();
  if (raw.priorityBands != null) {
    if (!Array.isArray(raw.priorityBands)) throw new ConfigError(`${at}.priorityBands`, 'must be a list');
    raw.priorityBands.forEach((value: unknown, i) => {
      const path = `${at}.priorityBands[${i}]`;
      const priority = isRecord(value) ? value.priority : undefined;
      if (typeof priority !== 'number' || !Number.isInteger(priority)) throw new ConfigError(`${path}.priority`, 'must be an integer');
      if (bands.has(priority)) throw new ConfigError(`${path}.priority`, `priority ${priority} is configured twice`);
      // Explicit bands take system defaults, not the templates, for what they leave out.
      bands.set(priority, band(value, path));
    });
  }

  const defaultTtl = duration(raw.defaultRequestTTL, `${at}.defaultRequestTTL`) ?? DEFAULT_TTL_MS;
  const noEndpointTtl = duration(raw.noEndpointRequestTTL, `${at}.noEndpointRequestTTL`) ?? defaultTtl;
  const detectorSection = object(raw.saturationDetector, `${at}.saturationDetector`, ['pluginRef']);
  const detector = reference(detectorSection.pluginRef, `${at}.saturationDetector.pluginRef`, lookup, isDetector, 'saturation detector')
    ?? new UtilizationDetector('utilization-detector');
  const usageLimit = reference(raw.usageLimitPolicyPluginRef, `${at}.usageLimitPolicyPluginRef`, lookup, isUsageLimit, 'usage limit policy')
    ?? new StaticUsageLimitPolicy('static-usage-limit-policy', 1);

  return {
    detector,
    usageLimit,
    maxRequests: quantity(raw.maxRequests, `${at}.maxRequests`, 0),
    maxBytes: quantity(raw.maxBytes, `${at}.maxBytes`, 0),
    defaultRequestTtlMs: defaultTtl,
    noEndpointRequestTtlMs: noEndpointTtl,
    bands,
    defaultBand,
    defaultNegativeBand,
    bandFor: (priority) => bands.get(priority) ?? (priority < 0 ? defaultNegativeBand : defaultBand),
  };
}
