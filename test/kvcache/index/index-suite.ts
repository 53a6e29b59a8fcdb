/**
 * One behavioural suite for every KvBlockIndex backend: run by
 * memory-index.test.ts and redis-index.test.ts. Backend-only behaviour (LRU caps, key schema,
 * sharing between processes) lives in those files.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { BlockKey, KvBlockIndex, PodEntry } from '../../../scheduler/kvcache/index/types.js';

export interface IndexFixture {
  /** A fresh, empty index (each test gets its own; the fixture closes them). */
  create(): Promise<KvBlockIndex>;
}

const A = '10.0.0.1:8000';
const B = '10.0.0.2:8000';
const gpu = (pod: string): PodEntry => ({ pod, tier: 'gpu' });
const cpu = (pod: string): PodEntry => ({ pod, tier: 'cpu' });
const speculative = (pod: string): PodEntry => ({ pod, tier: '', speculative: true });

/** A lookup's answer as [key, sorted "pod@tier" strings] per leading key found (entry order is not part of the contract). */
async function lookupView(index: KvBlockIndex, keys: readonly BlockKey[], podFilter?: ReadonlySet<string>): Promise<Array<[string, string[]]>> {
  const found = await index.lookup(keys, podFilter);
  return found.map((entries, i) => [
    keys[i]!.toString(),
    entries.map((e) => `${e.pod}@${e.tier}${e.speculative === true ? '[speculative]' : ''}`).sort(),
  ]);
}

export function describeIndexSuite(name: string, fixture: IndexFixture): void {
  describe(`KvBlockIndex contract: ${name}`, () => {
    let index: KvBlockIndex;
    beforeEach(async () => {
      index = await fixture.create();
    });

    it('adds and looks up keys in order; no keys → empty result', async () => {
      await index.add([101n, 102n], [1n, 2n], [gpu(A)]);
      expect((await lookupView(index, [1n, 2n]))).toEqual([['1', [`${A}@gpu`]], ['2', [`${A}@gpu`]]]);
      expect((await index.lookup([])).length).toBe(0);
      expect(await index.size()).toBe(2);
    });

    it('keeps one copy of a duplicate entry and several pods per key', async () => {
      await index.add([101n], [1n], [gpu(A)]);
      await index.add([101n], [1n], [gpu(A)]);
      await index.add([201n], [1n], [gpu(B)]);
      expect((await lookupView(index, [1n]))).toEqual([['1', [`${A}@gpu`, `${B}@gpu`]]]);
    });

    it('filters by pod (empty filter = all pods) and stops at the first key without (filtered) pods', async () => {
      await index.add([101n, 102n, 103n], [1n, 2n, 3n], [gpu(A)]);
      await index.add([201n], [1n], [gpu(B)]);
      expect((await lookupView(index, [1n, 2n, 3n], new Set([B])))).toEqual([['1', [`${B}@gpu`]]]);
      expect((await index.lookup([1n, 2n, 3n], new Set())).length).toBe(3);
      expect((await index.lookup([1n, 99n, 3n])).length).toBe(1);
      expect((await index.lookup([1n, 2n], new Set(['10.9.9.9:8000']))).length).toBe(0);
    });

    it('evicts by request key and deletes the emptied key', async () => {
      await index.add(null, [1n, 2n], [gpu(A), gpu(B)]);
      await index.evict(2n, 'request', [gpu(A)]);
      expect((await lookupView(index, [1n, 2n]))).toEqual([['1', [`${A}@gpu`, `${B}@gpu`]], ['2', [`${B}@gpu`]]]);
      await index.evict(2n, 'request', [gpu(B)]);
      expect((await index.lookup([1n, 2n])).length).toBe(1);
      expect(await index.size()).toBe(1);
      await index.evict(777n, 'request', [gpu(B)]); // unknown: no-op
    });

    it('maps engine keys 1:1, evicts through them and then forgets the mapping', async () => {
      await index.add([101n, 102n], [1n, 2n], [gpu(A)]);
      expect(await index.getRequestKeys(A, 102n)).toEqual([2n]);
      await index.evict(102n, 'engine', [gpu(A)]);
      expect((await index.lookup([1n, 2n])).length).toBe(1);
      expect(await index.getRequestKeys(A, 102n)).toEqual([]);
      await index.evict(999n, 'engine', [gpu(A)]); // unknown engine key: no-op
      expect((await index.lookup([1n])).length).toBe(1);
    });

    it('many:1 — four small engine blocks share one request key; evicting any of them removes it', async () => {
      await index.add([11n, 12n, 13n, 14n], [1n], [gpu(A)]);
      for (const engineKey of [11n, 12n, 13n, 14n]) expect(await index.getRequestKeys(A, engineKey)).toEqual([1n]);
      await index.evict(14n, 'engine', [gpu(A)]);
      expect((await index.lookup([1n])).length).toBe(0);
      await index.evict(11n, 'engine', [gpu(A)]); // already gone: harmless
      expect(await index.getRequestKeys(A, 11n)).toEqual([]);
    });

    it('1:many — one large engine block maps to two request keys in chain order', async () => {
      await index.add([50n, 51n], [1n, 2n, 3n, 4n], [gpu(A)]);
      expect(await index.getRequestKeys(A, 50n)).toEqual([1n, 2n]);
      expect(await index.getRequestKeys(A, 51n)).toEqual([3n, 4n]);
      await index.evict(51n, 'engine', [gpu(A)]);
      expect((await lookupView(index, [1n, 2n, 3n, 4n])).map(([key]) => key)).toEqual(['1', '2']);
    });

    it('keeps the engine mapping while the pod still holds the block on another tier', async () => {
      await index.add([101n], [1n], [gpu(A)]);
      await index.add(null, [1n], [cpu(A)]);
      await index.evict(101n, 'engine', [gpu(A)]);
      expect((await lookupView(index, [1n]))).toEqual([['1', [`${A}@cpu`]]]);
      expect(await index.getRequestKeys(A, 101n)).toEqual([1n]);
      await index.evict(101n, 'engine', [cpu(A)]);
      expect((await index.lookup([1n])).length).toBe(0);
      expect(await index.getRequestKeys(A, 101n)).toEqual([]);
    });

    it('keeps engine mappings per pod: one pod evicting a shared engine hash does not break the other', async () => {
      await index.add([101n], [1n], [gpu(A)]);
      await index.add([101n], [1n], [gpu(B)]);
      await index.evict(101n, 'engine', [gpu(A)]);
      expect(await index.getRequestKeys(A, 101n)).toEqual([]);
      expect(await index.getRequestKeys(B, 101n)).toEqual([1n]);
      expect((await lookupView(index, [1n]))).toEqual([['1', [`${B}@gpu`]]]);
      await index.evict(101n, 'engine', [gpu(B)]);
      expect((await index.lookup([1n])).length).toBe(0);
    });

    it('a re-stored engine key replaces its old mapping', async () => {
      await index.add([101n], [1n], [gpu(A)]);
      await index.add([101n], [5n], [gpu(A)]);
      expect(await index.getRequestKeys(A, 101n)).toEqual([5n]);
    });

    it('clear(pod) removes that pod everywhere (all tiers, speculative, engine mappings) and nobody else', async () => {
      await index.add([101n, 102n], [1n, 2n], [gpu(A)]);
      await index.add(null, [2n], [cpu(A)]);
      await index.add(null, [3n], [speculative(A)]);
      await index.add([201n], [1n], [gpu(B)]);
      await index.clear(A);
      expect((await lookupView(index, [1n, 2n]))).toEqual([['1', [`${B}@gpu`]]]);
      expect((await index.lookup([3n])).length).toBe(0);
      expect(await index.getRequestKeys(A, 101n)).toEqual([]);
      expect(await index.getRequestKeys(B, 201n)).toEqual([1n]);
      expect(await index.size()).toBe(1);
    });

    it('speculative and confirmed entries coexist; evicting one keeps the other', async () => {
      await index.add([101n], [1n], [gpu(A)]);
      await index.add(null, [1n], [speculative(A)]);
      expect((await lookupView(index, [1n]))).toEqual([['1', [`${A}@[speculative]`, `${A}@gpu`]]]);
      await index.evict(1n, 'request', [speculative(A)]);
      expect((await lookupView(index, [1n]))).toEqual([['1', [`${A}@gpu`]]]);
      await index.add(null, [1n], [speculative(A)]);
      await index.evict(101n, 'engine', [gpu(A)]);
      const left = await index.lookup([1n]);
      expect(left[0]).toEqual([{ pod: A, tier: '', speculative: true }]);
      expect(await index.getRequestKeys(A, 101n)).toEqual([]); // a guess does not keep the engine mapping
    });

    it('round-trips keys at and above 2^63', async () => {
      const big = (1n << 64n) - 1n;
      const half = 1n << 63n;
      await index.add([big], [half], [gpu(A)]);
      expect(await index.getRequestKeys(A, big)).toEqual([half]);
      expect(await lookupView(index, [half])).toEqual([[half.toString(), [`${A}@gpu`]]]);
    });

    it('rejects adds without keys or entries, and engine keys for several pods', async () => {
      await expect(index.add([1n], [], [gpu(A)])).rejects.toThrow(/no keys or entries/);
      await expect(index.add(null, [1n], [])).rejects.toThrow(/no keys or entries/);
      await expect(index.add([1n], [1n], [gpu(A), gpu(B)])).rejects.toThrow(/per pod/);
      await expect(index.evict(1n, 'engine', [])).rejects.toThrow(/no entries/);
    });

    it('handles a high-cardinality chain (2000 keys) in one add and one lookup', async () => {
      const requestKeys = Array.from({ length: 2000 }, (_, i) => BigInt(i + 1) * 1_000_003n);
      const engineKeys = requestKeys.map((key) => key + 7n);
      await index.add(engineKeys, requestKeys, [gpu(A)]);
      const found = await index.lookup(requestKeys);
      expect(found.length).toBe(2000);
      expect(await index.size()).toBe(2000);
    });

    it('interleaved concurrent adds, evicts and lookups leave a consistent state', async () => {
      const pods = [A, B];
      await Promise.all(
        pods.flatMap((pod, p) =>
          Array.from({ length: 50 }, async (_, i) => {
            const key = BigInt(i + 1);
            await index.add([BigInt(p * 1000 + i)], [key], [gpu(pod)]);
            if (i % 2 === 0) await index.evict(BigInt(p * 1000 + i), 'engine', [gpu(pod)]);
            await index.lookup([key]);
          }),
        ),
      );
      const found = await index.lookup(Array.from({ length: 50 }, (_, i) => BigInt(i + 1)).filter((k) => k % 2n === 0n));
      expect(found.length).toBe(25);
      for (const entries of found) expect(entries.map((e) => e.pod).sort()).toEqual([A, B]);
      expect(await index.size()).toBe(25);
    });
  });
}
