/**
 * The KV-block index contract: which pods hold which request key, plus the
 * mapping from a pod's engine keys (vLLM's own block hashes) to request keys (llm-d's cbor-fnv
 * chain). Implemented in memory (`memory-index.ts`) and over Redis/Valkey (`redis-index.ts`).
 *
 * Deviation from upstream, on purpose: the engine→request map is kept **per pod**.
 * Two pods running the same model with the same hash seed emit identical engine hashes; a
 * global map let one pod's eviction delete the mapping the other pod still needed.
 */
import type { BlockKey } from '../../../src/kvblock/keys.js';

export type { BlockKey };

/** One holder of a block: a pod (`ip:port`), the device tier ("gpu", "cpu"; "" for speculative), and whether it is a guess. */
export interface PodEntry {
  readonly pod: string;
  readonly tier: string;
  readonly speculative?: boolean;
}

/** How `evict` interprets its key. */
export type KeyType = 'engine' | 'request';

export interface KvBlockIndex {
  /**
   * The leading run of `requestKeys` some (filtered) pod holds: scanning in order, stopping at the
   * first key with no pods — a prefix cannot continue past a gap. `result[i]` is the non-empty list
   * of pod entries of `requestKeys[i]`; `result.length` is the number of leading keys found.
   * `podFilter` keeps only those pod ids; absent or empty = all pods. (llm-d answers a map keyed by
   * block key; an array in key order spares every caller a BigInt-keyed map per block.)
   */
  lookup(requestKeys: readonly BlockKey[], podFilter?: ReadonlySet<string>): Promise<PodEntry[][]>;
  /**
   * Records `entries` on every request key. With `engineKeys`, also maps the pod's engine keys to
   * request keys by ratio (`ratioPairs`), replacing earlier mappings of those engine keys; all
   * entries must then belong to one pod. `engineKeys = null` adds entries only (speculative
   * entries, tier updates).
   */
  add(engineKeys: readonly BlockKey[] | null, requestKeys: readonly BlockKey[], entries: readonly PodEntry[]): Promise<void>;
  /**
   * Removes `entries` from a request key, or from every request key a pod's engine key maps to
   * (all entries must then belong to one pod). Emptied request keys are deleted; the pod's engine
   * mapping is deleted once none of its request keys holds a confirmed entry of that pod (any
   * tier) — so evicting the GPU copy keeps the mapping while a CPU copy remains. Unknown keys: no-op.
   */
  evict(key: BlockKey, keyType: KeyType, entries: readonly PodEntry[]): Promise<void>;
  /** Request keys a pod's engine key maps to, in chain order (empty when unknown). The last one continues a chain. */
  getRequestKeys(pod: string, engineKey: BlockKey): Promise<BlockKey[]>;
  /** Removes every entry of `pod` (all tiers, speculative too) and its engine mappings (AllBlocksCleared). */
  clear(pod: string): Promise<void>;
  /** Number of request keys held. Memory: O(1); Redis: a SCAN over the keyspace. */
  size(): Promise<number>;
  /** Releases connections; the index is unusable afterwards. */
  close(): Promise<void>;
}

/** llm-d's field form of an entry: `<pod>@<tier>`, plus `[speculative]` for guesses (Redis hash field, memory map key). */
export function podEntryField(entry: PodEntry): string {
  return `${entry.pod}@${entry.tier}${entry.speculative === true ? '[speculative]' : ''}`;
}

/** Inverse of `podEntryField`; undefined for a field without `@`. The pod is everything before the first `@`. */
export function parsePodEntryField(field: string): PodEntry | undefined {
  const at = field.indexOf('@');
  if (at < 0) return undefined;
  const pod = field.slice(0, at);
  let tier = field.slice(at + 1);
  const bracket = tier.indexOf('[');
  if (bracket >= 0) {
    const speculative = tier.includes('speculative', bracket);
    tier = tier.slice(0, bracket);
    if (speculative) return { pod, tier, speculative: true };
  }
  return { pod, tier };
}

/**
 * Pairs engine blocks with request blocks when their sizes differ: with
 * n = max(E, R), engine[⌊i·E/n⌋] ↔ request[⌊i·R/n⌋] for i < n. 1:1 when equal; many:1 when engine
 * blocks are smaller (several engine keys share one request key); 1:many when larger.
 * Returns [engineIndex, requestIndex] pairs in chain order.
 */
export function ratioPairs(engineCount: number, requestCount: number): Array<[number, number]> {
  const n = Math.max(engineCount, requestCount);
  if (engineCount === 0 || requestCount === 0) return [];
  const pairs: Array<[number, number]> = new Array(n);
  for (let i = 0; i < n; i++) pairs[i] = [Math.floor((i * engineCount) / n), Math.floor((i * requestCount) / n)];
  return pairs;
}

/** Groups ratio pairs by engine key: engine key → its request keys in chain order. */
export function engineMapping(engineKeys: readonly BlockKey[], requestKeys: readonly BlockKey[]): Map<BlockKey, BlockKey[]> {
  const mapping = new Map<BlockKey, BlockKey[]>();
  for (const [e, r] of ratioPairs(engineKeys.length, requestKeys.length)) {
    const engineKey = engineKeys[e]!;
    const requestKey = requestKeys[r]!;
    const mapped = mapping.get(engineKey);
    if (mapped === undefined) mapping.set(engineKey, [requestKey]);
    else if (mapped[mapped.length - 1] !== requestKey) mapped.push(requestKey);
  }
  return mapping;
}

/** The one pod all `entries` belong to; throws when they span pods (engine keys are per pod). */
export function singlePod(entries: readonly PodEntry[], operation: string): string {
  const pod = entries[0]?.pod;
  if (pod === undefined) throw new Error(`${operation}: no entries`);
  for (const entry of entries) {
    if (entry.pod !== pod) throw new Error(`${operation}: engine keys are per pod, but entries name ${pod} and ${entry.pod}`);
  }
  return pod;
}

export function validateAdd(engineKeys: readonly BlockKey[] | null, requestKeys: readonly BlockKey[], entries: readonly PodEntry[]): void {
  if (requestKeys.length === 0 || entries.length === 0) throw new Error('add: no keys or entries provided');
  if (engineKeys !== null) {
    if (engineKeys.length === 0) throw new Error('add: engineKeys is empty (pass null to add without an engine mapping)');
    singlePod(entries, 'add');
  }
}
