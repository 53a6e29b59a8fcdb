/**
 * `--fake-metrics`: fixed or generated values that replace the real ones on
 * `/metrics` (never mixed) — handy for scorer tests. Gauges take a number or
 * `oscillate|ramp|rampreset|squarewave:start:end:period`; `loras` lists `lora_requests_info`
 * series; counters take seeds. Histogram bucket-count keys are accepted and ignored.
 */
import { parseDuration } from '../duration.js';
import { formatGoDuration } from './go-duration.js';

export type FakeFunctionName = 'oscillate' | 'ramp' | 'rampreset' | 'squarewave';

export type FakeValue =
  | { kind: 'fixed'; value: number }
  | { kind: 'function'; name: FakeFunctionName; start: number; end: number; periodMs: number };

export interface FakeLoraSeries {
  running: string;
  waiting: string;
  timestamp: number;
}

export interface FakeMetricsConfig {
  runningRequests?: FakeValue;
  waitingRequests?: FakeValue;
  kvCacheUsage?: FakeValue;
  loras?: FakeLoraSeries[];
  prefixCacheHits?: number;
  prefixCacheQueries?: number;
  totalPromptTokens?: number;
  totalGenerationTokens?: number;
  /** finish_reason → count. */
  requestSuccessTotal?: Record<string, number>;
}

const FUNCTIONS: readonly FakeFunctionName[] = ['oscillate', 'ramp', 'rampreset', 'squarewave'];
const GAUGES = { 'running-requests': 'runningRequests', 'waiting-requests': 'waitingRequests', 'kv-cache-usage': 'kvCacheUsage' } as const;
const COUNTERS = {
  'prefix-cache-hits': 'prefixCacheHits',
  'prefix-cache-queries': 'prefixCacheQueries',
  'total-prompt-tokens': 'totalPromptTokens',
  'total-generation-tokens': 'totalGenerationTokens',
} as const;
/** Upstream keys for seeded histogram buckets: accepted, not simulated. */
const IGNORED = new Set([
  'ttft-buckets-values', 'tpot-buckets-values', 'request-prompt-tokens', 'request-generation-tokens',
  'request-params-max-tokens', 'request-max-generation-tokens', 'e2erl-buckets-values', 'queue-time-buckets-values',
  'inf-time-buckets-values', 'prefill-time-buckets-values', 'decode-time-buckets-values', 'request-tpot-buckets-values',
]);

function fakeValue(raw: unknown, key: string): FakeValue {
  if (typeof raw === 'number' && Number.isFinite(raw)) return { kind: 'fixed', value: raw };
  if (typeof raw === 'string') {
    const asNumber = Number(raw);
    if (raw.trim() !== '' && Number.isFinite(asNumber)) return { kind: 'fixed', value: asNumber };
    const parts = raw.split(':');
    const [name, start, end, period] = parts;
    if (parts.length === 4 && FUNCTIONS.includes(name as FakeFunctionName) && Number.isFinite(Number(start)) && Number.isFinite(Number(end))) {
      const periodMs = parseDuration(period!);
      if (periodMs <= 0) throw new Error(`fake-metrics ${key}: the period must be positive`);
      return { kind: 'function', name: name as FakeFunctionName, start: Number(start), end: Number(end), periodMs };
    }
  }
  throw new Error(`fake-metrics ${key}: expected a number or func:start:end:period (func = ${FUNCTIONS.join('|')}), got ${JSON.stringify(raw)}`);
}

function count(raw: unknown, key: string): number {
  if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) return raw;
  throw new Error(`fake-metrics ${key}: expected a non-negative number`);
}

function loraSeries(raw: unknown): FakeLoraSeries {
  const value = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
  if (value === null || typeof value !== 'object') throw new Error('fake-metrics loras: each entry must be an object {running, waiting, timestamp}');
  const entry = value as Record<string, unknown>;
  return { running: String(entry.running ?? ''), waiting: String(entry.waiting ?? ''), timestamp: Number(entry.timestamp ?? 0) };
}

/** Parses the JSON/YAML form (a JSON string or an object with upstream's kebab keys). */
export function parseFakeMetrics(raw: unknown): FakeMetricsConfig {
  const value = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('fake-metrics must be a JSON object');
  const config: FakeMetricsConfig = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (item === null || item === undefined) continue;
    if (key in GAUGES) config[GAUGES[key as keyof typeof GAUGES]] = fakeValue(item, key);
    else if (key in COUNTERS) config[COUNTERS[key as keyof typeof COUNTERS]] = count(item, key);
    else if (key === 'loras') {
      if (!Array.isArray(item)) throw new Error('fake-metrics loras: expected an array');
      config.loras = item.map(loraSeries);
    } else if (key === 'request-success-total') {
      if (typeof item !== 'object' || Array.isArray(item)) throw new Error('fake-metrics request-success-total: expected an object');
      config.requestSuccessTotal = Object.fromEntries(Object.entries(item).map(([reason, n]) => [reason, count(n, `request-success-total.${reason}`)]));
    } else if (!IGNORED.has(key)) {
      throw new Error(`fake-metrics: unknown key '${key}'`);
    }
  }
  for (const key of ['runningRequests', 'waitingRequests'] as const) {
    const gauge = config[key];
    if (gauge?.kind === 'fixed' && gauge.value < 0) throw new Error('fake metrics request counters cannot be negative');
  }
  const usage = config.kvCacheUsage;
  if (usage && (usage.kind === 'fixed' ? usage.value < 0 || usage.value > 1 : usage.start < 0 || usage.end > 1 || usage.end < 0 || usage.start > 1)) {
    throw new Error('fake metrics KV cache usage must be between 0 and 1');
  }
  return config;
}

/** The value of a fake gauge `elapsedMs` after start. */
export function fakeValueAt(value: FakeValue, elapsedMs: number): number {
  if (value.kind === 'fixed') return value.value;
  const { start, end, periodMs } = value;
  switch (value.name) {
    case 'oscillate':
      return (start + end) / 2 + ((end - start) / 2) * Math.sin((2 * Math.PI * elapsedMs) / periodMs);
    case 'ramp':
      return elapsedMs >= periodMs ? end : start + (elapsedMs / periodMs) * (end - start);
    case 'rampreset':
      return start + ((elapsedMs % periodMs) / periodMs) * (end - start);
    case 'squarewave':
      return elapsedMs % periodMs < periodMs / 2 ? start : end;
  }
}

function showValue(value: FakeValue): number | string {
  return value.kind === 'fixed' ? value.value : `${value.name}:${value.start}:${value.end}:${formatGoDuration(value.periodMs)}`;
}

/** The JSON form shown by `GET /admin/config`. */
export function fakeMetricsToJSON(config: FakeMetricsConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries(GAUGES)) {
    const value = config[prop];
    if (value) out[key] = showValue(value);
  }
  for (const [key, prop] of Object.entries(COUNTERS)) {
    if (config[prop] !== undefined) out[key] = config[prop];
  }
  if (config.loras) out.loras = config.loras;
  if (config.requestSuccessTotal) out['request-success-total'] = config.requestSuccessTotal;
  return out;
}
