/** burst-prefix-cache-producer: joint placement of a window (burst-assign.ts) and the produced match info. */
import { describe, expect, it } from 'vitest';
import { PREFIX_CACHE_MATCH_INFO, type PrefixCacheMatchInfo } from '../../../scheduler/framework/cycle-state.js';
import { assignBurst } from '../../../scheduler/plugins/producers/burst-assign.js';
import { burstPrefixCacheProducerFactory, type BurstPrefixCacheProducer } from '../../../scheduler/plugins/producers/burst-prefix-cache-producer.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle } from '../helpers.js';

const all = new Set(['a', 'b', 'c']);
const entry = (...hashes: number[]) => ({ hashes: hashes.map(BigInt), candidates: all });

describe('assignBurst', () => {
  it('keeps an identical group whole with maxPerReplica -1, and spills k per replica otherwise', () => {
    const group = [entry(1, 2), entry(1, 2), entry(1, 2), entry(1, 2)];
    expect(new Set(assignBurst(group, ['a', 'b', 'c'], { maxPerReplica: -1, minColocateBlocks: 0 })).size).toBe(1);
    const spilled = assignBurst(group, ['a', 'b', 'c'], { maxPerReplica: 2, minColocateBlocks: 0 });
    expect(spilled).toEqual(['a', 'a', 'b', 'b']);
  });

  it('balances distinct groups and gives no affinity to lone or empty prompts', () => {
    const out = assignBurst([entry(1), entry(1), entry(2), entry(2), entry(3), entry()], ['a', 'b', 'c'], { maxPerReplica: -1, minColocateBlocks: 0 });
    expect(out[0]).toBe(out[1]);
    expect(out[2]).toBe(out[3]);
    expect(out[0]).not.toBe(out[2]);
    expect(out[4]).toBeUndefined();
    expect(out[5]).toBeUndefined();
  });

  it('co-locates prefix-sharing requests when minColocateBlocks > 0, bounded by the fair share', () => {
    const batch = [entry(1, 2, 3), entry(1, 2, 4), entry(1, 2, 5), entry(1, 2, 6), entry(9, 9)];
    expect(assignBurst(batch, ['a', 'b'], { maxPerReplica: -1, minColocateBlocks: 0 })).toEqual([undefined, undefined, undefined, undefined, undefined]);
    // Fair share ⌈4 / 2⌉ = 2: two join each replica instead of all four stampeding onto one.
    expect(assignBurst(batch, ['a', 'b'], { maxPerReplica: -1, minColocateBlocks: 2 })).toEqual(['a', 'a', 'b', 'b', undefined]);
    expect(assignBurst(batch, ['a', 'b'], { maxPerReplica: -1, minColocateBlocks: 3 })).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });

  it('never assigns a replica outside a request\'s candidates', () => {
    const only = (name: string) => ({ hashes: [1n], candidates: new Set([name]) });
    expect(assignBurst([only('b'), only('b')], ['a', 'b'], { maxPerReplica: -1, minColocateBlocks: 0 })).toEqual(['b', 'b']);
  });
});

describe('burst-prefix-cache-producer', () => {
  it('holds requests for the window, then gives a full match on one endpoint and 0 elsewhere', async () => {
    const plugin = burstPrefixCacheProducerFactory('burst', { windowDurationMs: 20, blockSizeTokens: 4 }, makeHandle()) as BurstPrefixCacheProducer;
    expect(plugin.produceTimeoutMs).toBe(320);
    const endpoints = ['a', 'b'].map((name) => makeEndpoint({ name }));
    const prompt = 'a shared prompt long enough for a few blocks of sixteen bytes each';
    const contexts = [makeContext(endpoints), makeContext(endpoints)];
    await Promise.all(contexts.map((ctx) => plugin.produce(ctx, chatRequest(prompt), endpoints)));
    const infos = contexts.map((ctx) => endpoints.map((e) => ctx.attributes.get<PrefixCacheMatchInfo>(e, PREFIX_CACHE_MATCH_INFO)!));
    const total = infos[0]![0]!.totalBlocks;
    expect(total).toBeGreaterThan(0);
    const winner = infos[0]!.findIndex((info) => info.matchBlocks === total);
    expect(winner).toBeGreaterThanOrEqual(0);
    for (const info of infos) expect(info.map((i) => i.matchBlocks)).toEqual(endpoints.map((_, k) => (k === winner ? total : 0)));
    plugin.close();
  });

  it('parses its parameters strictly', () => {
    const make = (parameters: unknown) => burstPrefixCacheProducerFactory('b', parameters, makeHandle());
    expect(() => make({ windowDurationMs: 0 })).toThrow(/windowDurationMs/);
    expect(() => make({ windowDurationMs: 10_001 })).toThrow(/windowDurationMs/);
    expect(() => make({ maxPerReplica: 0 })).toThrow(/maxPerReplica/);
    expect(() => make({ balanceBy: 'tokens' })).toThrow(/not implemented/);
    expect(() => make({ maxPrefixTokensToMatch: 10, blockSizeTokens: 64 })).toThrow(/maxPrefixTokensToMatch/);
    expect(() => make({ windowMs: 5 })).toThrow(/windowMs/);
  });
});
