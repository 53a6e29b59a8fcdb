/**
 * `indexerConfig.kvBlockIndexConfig` → a KvBlockIndex. Backend precedence
 * as in KVC-0.8: cost-aware → valkey → redis → in-memory (the default). `null` disables a backend,
 * so `{inMemoryConfig: null, redisConfig: {...}}` and `{redisConfig: {...}}` both pick Redis.
 *
 *   inMemoryConfig: { size: 100000000, podCacheSize: 10 }
 *   redisConfig | valkeyConfig: { address: "redis://127.0.0.1:6379", backendType, enableRDMA }
 *   costAwareMemoryConfig: not implemented → a start-up error naming the alternative
 *   enableMetrics, metricsLoggingInterval: accepted (metrics are always on in pd-router's registry)
 */
import type { Logger } from '../../../src/log.js';
import { MemoryKvBlockIndex, type MemoryIndexConfig } from './memory-index.js';
import { RedisKvBlockIndex, type RedisIndexConfig } from './redis-index.js';
import type { KvBlockIndex } from './types.js';

export type IndexBackend =
  | { kind: 'memory'; config: MemoryIndexConfig }
  | { kind: 'redis'; config: RedisIndexConfig };

const TOP_LEVEL = new Set(['inMemoryConfig', 'costAwareMemoryConfig', 'redisConfig', 'valkeyConfig', 'enableMetrics', 'metricsLoggingInterval']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positiveInteger(value: unknown, path: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new Error(`${path} must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

function redisConfig(value: Record<string, unknown>, path: string, defaultBackend: string): RedisIndexConfig {
  for (const key of Object.keys(value)) {
    if (!['address', 'backendType', 'enableRDMA'].includes(key)) throw new Error(`${path}.${key} is not a known field`);
  }
  const address = value.address ?? (defaultBackend === 'valkey' ? 'valkey://127.0.0.1:6379' : 'redis://127.0.0.1:6379');
  if (typeof address !== 'string' || address.trim() === '') throw new Error(`${path}.address must be a non-empty string`);
  const backendType = value.backendType ?? defaultBackend;
  if (typeof backendType !== 'string') throw new Error(`${path}.backendType must be a string`);
  if (value.enableRDMA !== undefined && typeof value.enableRDMA !== 'boolean') throw new Error(`${path}.enableRDMA must be a boolean`);
  return { address, backendType, enableRDMA: value.enableRDMA === true };
}

/** Validates the config and picks the backend; `path` prefixes error messages (the YAML path). */
export function resolveIndexBackend(raw: unknown, path = 'indexerConfig.kvBlockIndexConfig'): IndexBackend {
  if (raw === undefined || raw === null) return { kind: 'memory', config: {} };
  if (!isRecord(raw)) throw new Error(`${path} must be a mapping`);
  for (const key of Object.keys(raw)) if (!TOP_LEVEL.has(key)) throw new Error(`${path}.${key} is not a known field`);

  if (raw.costAwareMemoryConfig !== undefined && raw.costAwareMemoryConfig !== null) {
    throw new Error(`${path}.costAwareMemoryConfig is not supported by pd-router; use inMemoryConfig {size, podCacheSize} or redisConfig`);
  }
  for (const [field, backend] of [['valkeyConfig', 'valkey'], ['redisConfig', 'redis']] as const) {
    const value = raw[field];
    if (value === undefined || value === null) continue;
    if (!isRecord(value)) throw new Error(`${path}.${field} must be a mapping`);
    return { kind: 'redis', config: redisConfig(value, `${path}.${field}`, backend) };
  }
  const memory = raw.inMemoryConfig;
  if (memory === undefined || memory === null) return { kind: 'memory', config: {} };
  if (!isRecord(memory)) throw new Error(`${path}.inMemoryConfig must be a mapping`);
  for (const key of Object.keys(memory)) if (key !== 'size' && key !== 'podCacheSize') throw new Error(`${path}.inMemoryConfig.${key} is not a known field`);
  const config: MemoryIndexConfig = {};
  const size = positiveInteger(memory.size, `${path}.inMemoryConfig.size`);
  const podCacheSize = positiveInteger(memory.podCacheSize, `${path}.inMemoryConfig.podCacheSize`);
  if (size !== undefined) config.size = size;
  if (podCacheSize !== undefined) config.podCacheSize = podCacheSize;
  return { kind: 'memory', config };
}

/** Builds (and for Redis, connects) the configured index. The caller owns it and must `close()` it. */
export async function createKvBlockIndex(raw: unknown, options: { logger?: Logger; path?: string } = {}): Promise<KvBlockIndex> {
  const backend = resolveIndexBackend(raw, options.path);
  if (backend.kind === 'memory') return new MemoryKvBlockIndex(backend.config);
  return RedisKvBlockIndex.connect(backend.config, options.logger);
}
