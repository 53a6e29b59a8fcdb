/** Shared helpers for the KV-event tests: payload builders, metric reads, bounded polling. */
import { encode } from '@msgpack/msgpack';
import type { Registry } from 'prom-client';
import type { RawKvMessage } from '../../../scheduler/kvcache/events/types.js';
import { poll } from '../../helpers/poll.js';

export const MODEL = 'test-model';

export function payload(events: unknown[], rank = 0): Uint8Array {
  return encode([Date.now() / 1000, events, rank], { useBigInt64: true });
}

let seq = 0n;
export function message(pod: string, events: unknown[], model = MODEL): RawKvMessage {
  seq += 1n;
  return { topic: `kv@${pod}@${model}`, seq, payload: payload(events), source: 'test' };
}

export const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

/** BlockStored in the legacy positional form. */
export function stored(hashes: bigint[], parent: bigint | null, tokens: number[], blockSize: number, medium = 'GPU', loraName: string | null = null): unknown[] {
  return ['BlockStored', hashes, parent, tokens, blockSize, null, medium, loraName];
}

export function removed(hashes: bigint[], medium = 'GPU'): unknown[] {
  return ['BlockRemoved', hashes, medium];
}

/** Sum of a counter's samples matching `labels` (0 when absent). */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`metric ${name} is not registered`);
  const { values } = await metric.get();
  return values
    .filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

/** Polls `condition` until it holds (bounded); no fixed sleeps in tests. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  await poll(condition, { what, timeoutMs, intervalMs: 10 });
}
