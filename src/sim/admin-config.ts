/**
 * `GET|POST /admin/config`: the configuration as JSON with the flag names as
 * keys (durations as Go strings), and partial updates of the latency, failure-injection and
 * fake-metrics keys that apply to later requests. Any other key, or any invalid value, is a 400
 * and changes nothing.
 */
import { asConfigError, ConfigError } from '../config-error.js';
import { validateConfig, type SimConfig } from './config.js';
import { CONFIG_FIELDS, coerceField, type ConfigField } from './config-fields.js';
import { fakeMetricsToJSON, type FakeMetricsConfig } from './fake-metrics.js';
import { formatGoDuration } from './go-duration.js';

const LATENCY_FLAGS = new Set([
  'time-to-first-token', 'time-to-first-token-std-dev', 'inter-token-latency', 'inter-token-latency-std-dev',
  'kv-cache-transfer-latency', 'kv-cache-transfer-latency-std-dev', 'prefill-overhead', 'prefill-time-per-token',
  'prefill-time-std-dev', 'kv-cache-transfer-time-per-token', 'kv-cache-transfer-time-std-dev', 'latency-calculator',
  'time-factor-under-load',
]);
export const ADMIN_CONFIGURABLE = new Set([...LATENCY_FLAGS, 'failure-injection-rate', 'failure-types', 'fake-metrics']);

const FIELDS_BY_FLAG = new Map(CONFIG_FIELDS.map((field) => [field.flag, field]));

function showValue(field: ConfigField, value: unknown): unknown {
  if (value === undefined) return null;
  switch (field.kind) {
    case 'duration': return formatGoDuration(value as number);
    case 'bigint': {
      const big = value as bigint;
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big.toString();
    }
    case 'fake-metrics': return value === null ? null : fakeMetricsToJSON(value as FakeMetricsConfig);
    default: return value;
  }
}

/** The configuration as `GET /admin/config` shows it. */
export function configView(config: SimConfig): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  for (const field of CONFIG_FIELDS) {
    if (field.key !== null) view[field.flag] = showValue(field, config[field.key]);
  }
  return view;
}

/** The `code` of a ConfigError from a rejected admin update (the server answers 400). */
export const ADMIN_UPDATE = 'admin-update';

export function isAdminUpdateError(err: unknown): err is ConfigError {
  return err instanceof ConfigError && err.code === ADMIN_UPDATE;
}

function rejected(err: unknown): ConfigError {
  const cause = asConfigError(err);
  return new ConfigError(cause.path, cause.detail, { code: ADMIN_UPDATE });
}

/** The configuration after applying a partial update; throws a ConfigError (code ADMIN_UPDATE → 400) without side effects. */
export function applyAdminUpdate(current: SimConfig, update: Record<string, unknown>): SimConfig {
  const next: SimConfig = { ...current };
  for (const [flag, raw] of Object.entries(update)) {
    const field = FIELDS_BY_FLAG.get(flag);
    if (!field || field.key === null || !ADMIN_CONFIGURABLE.has(flag)) throw new ConfigError([], `field '${flag}' is not admin-configurable`, { code: ADMIN_UPDATE });
    let value: unknown;
    try {
      value = coerceField(field, raw);
    } catch (err) {
      throw rejected(err);
    }
    if (field.kind === 'fake-metrics') {
      if (current.fakeMetrics === null) throw new ConfigError([flag], 'the simulator is reporting real metrics; fake metrics cannot be updated', { code: ADMIN_UPDATE });
      value = { ...current.fakeMetrics, ...(value as FakeMetricsConfig) };
    }
    (next as unknown as Record<string, unknown>)[field.key] = value;
  }
  try {
    validateConfig(next);
  } catch (err) {
    throw rejected(err);
  }
  return next;
}
