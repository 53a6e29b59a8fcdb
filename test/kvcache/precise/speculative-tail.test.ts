/**
 * Speculative guesses for the untokenized tail (speculative-tail.ts): the prefix walk stops at the
 * first block no pod holds, so a long unseen document's keys are mostly never computed; with
 * `speculativeTail` the rest is hashed after the pick, in the background, and a second identical
 * request then scores the first one's pod with the whole document. Without it (or when the
 * tokenizer pool is busy, or too many tails run: skipped and counted) only the tokenized head is
 * guessed. `close()` with tail work pending leaves no guesses in the index. A 1M-id tail yields
 * exactly the whole prompt's keys, one slice of at most `maxBlocksPerSlice` blocks per event-loop
 * turn; a tail still running a TTL after the pick stops (`expired`); `speculate` takes the
 * match's continuation, so the stored match does not keep the prompt.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { blockKeys, rootKey, type BlockKey } from '../../../src/kvblock/keys.js';
import { IdsStream } from '../../../src/tokenization/token-stream.js';
import { parsePrecisePrefixConfig } from '../../../scheduler/kvcache/precise/config.js';
import { SimulatedRequestTokenizer } from '../../../scheduler/kvcache/precise/request-tokens.js';
import { PrecisePrefixCache } from '../../../scheduler/kvcache/precise/service.js';
import type { RequestMatch } from '../../../scheduler/kvcache/precise/service-types.js';
import { SpeculativeEntries } from '../../../scheduler/kvcache/precise/speculative.js';
import { walkPrefix } from '../../../scheduler/kvcache/precise/read-path.js';
import { DEFAULT_TIER_WEIGHTS } from '../../../scheduler/kvcache/index/longest-prefix.js';
import { SpeculativeTails, type TailOutcome } from '../../../scheduler/kvcache/precise/speculative-tail.js';
import { MemoryKvBlockIndex } from '../../../scheduler/kvcache/index/memory-index.js';
import { EppMetrics } from '../../../scheduler/metrics.js';
import { PrecisePrefixCacheScorer, precisePrefixCacheScorerFactory } from '../../../scheduler/plugins/scorers/precise-prefix-cache-scorer.js';
import { ConfigError } from '../../../scheduler/framework/errors.js';
import { poll } from '../../helpers/poll.js';
import { makeContext, makeEndpoint, makeHandle, makeRequest, makeResult, silentLogger } from '../../scheduler/helpers.js';
import { metricValue } from '../events/helpers.js';
import { ensureModels, QWEN3 } from '../../helpers/models.js';

const MODEL = 'test-model';
const BLOCK = 4;
const BASE = { tokenProcessorConfig: { blockSize: BLOCK }, kvEventsConfig: { discoverPods: false }, tokenizer: { type: 'simulated' } };
const TAILS = 'pd_router_precise_prefix_speculative_tails_total';
/** A ~3000-token document nobody holds: the walk stops after its first batch (256 ids). */
const DOC = Array.from({ length: 3000 }, (_, i) => `w${i % 97}x${i % 13}`).join(' ');
const A = makeEndpoint({ name: 'a', address: '10.2.0.1', port: 8000 });
const B = makeEndpoint({ name: 'b', address: '10.2.0.2', port: 8000 });

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function build(parameters: Record<string, unknown>): Promise<{ plugin: PrecisePrefixCacheScorer; metrics: EppMetrics }> {
  const metrics = new EppMetrics();
  const plugin = precisePrefixCacheScorerFactory('precise', { ...BASE, ...parameters }, { ...makeHandle(), metrics }) as PrecisePrefixCacheScorer;
  closers.push(() => plugin.close());
  await plugin.start();
  return { plugin, metrics };
}

/** The first request: matched, then picked onto A (PreRequest writes the guesses). */
async function routeFirstToA(plugin: PrecisePrefixCacheScorer): Promise<RequestMatch> {
  const request = makeRequest({ model: MODEL, prompt: DOC });
  const ctx = makeContext([A, B]);
  await plugin.produce(ctx, request, [A, B]);
  plugin.preRequest(ctx, request, makeResult({ default: [A] }));
  return plugin.cache.match(MODEL, request.body, [A.hostPort, B.hostPort]);
}

const second = (plugin: PrecisePrefixCacheScorer): Promise<RequestMatch> =>
  plugin.cache.match(MODEL, makeRequest({ model: MODEL, prompt: DOC }).body, [A.hostPort, B.hostPort]);

describe('speculative tail', () => {
  it('a second identical request scores the first one\'s pod with the whole document once the tail is guessed', async () => {
    const { plugin, metrics } = await build({ speculativeIndexing: true, speculativeTTL: '60s' });
    const first = await plugin.cache.match(MODEL, makeRequest({ model: MODEL, prompt: DOC }).body, [A.hostPort, B.hostPort]);
    const totalBlocks = first.keys.length + Math.floor((first.tokenCount! - first.keys.length * BLOCK) / BLOCK);
    expect(first.tail).toBeDefined();
    expect(first.keys.length).toBeLessThan(totalBlocks / 4);
    await routeFirstToA(plugin);
    const full = await poll(async () => {
      const match = await second(plugin);
      return match.scores.get(A.hostPort) === 1 ? match : undefined;
    }, { what: 'A scored with the whole document' });
    expect(full.keys.length).toBe(totalBlocks);
    expect(full.scores.get(B.hostPort) ?? 0).toBe(0);
    // Guesses are not confirmed blocks: the P/D decider still sees nothing cached.
    expect(full.cachedBlocks.get(A.hostPort) ?? 0).toBe(0);
    expect(await poll(async () => await metricValue(metrics.registry, TAILS, { outcome: 'completed' }) >= 1, { what: 'a completed tail' })).toBe(true);
  });

  it('reads the tail through the tokenizer pool (Qwen3, one worker)', async () => {
    const models = await ensureModels();
    const { plugin, metrics } = await build({ speculativeIndexing: true, speculativeTTL: '60s', tokenizer: { tokenizersDir: models }, tokenizerPool: { workers: 1 } });
    // ~25 KB of prose nobody holds: the walk stops after its first batch.
    const prompt = Array.from({ length: 600 }, (_, i) => `Clause ${i} says the tenant shall keep the premises in good repair.`).join('\n');
    const body = makeRequest({ model: QWEN3, prompt }).body;
    const first = await plugin.cache.match(QWEN3, body, [A.hostPort, B.hostPort]);
    expect(first.tail).toBeDefined();
    plugin.cache.speculate(first, [A.hostPort]);
    // Nothing else uses the pool meanwhile, so the tail is not skipped as busy.
    await poll(async () => await metricValue(metrics.registry, TAILS, { outcome: 'completed' }) === 1, { what: 'the tail completed' });
    const full = await plugin.cache.match(QWEN3, body, [A.hostPort, B.hostPort]);
    expect(full.scores.get(A.hostPort)).toBe(1);
    expect(full.keys.length).toBeGreaterThan(first.keys.length * 4);
    expect(full.tokenCount).toBe(full.keys.length * BLOCK + (full.tokenCount! % BLOCK));
  });

  it('with speculativeTail: false only the tokenized head is guessed', async () => {
    const { plugin, metrics } = await build({ speculativeIndexing: true, speculativeTTL: '60s', speculativeTail: false });
    const first = await routeFirstToA(plugin);
    expect(first.tail).toBeUndefined();
    const score = await poll(async () => (await second(plugin)).scores.get(A.hostPort) || undefined, { what: 'A scored with the head guesses' });
    expect(score).toBeLessThan(0.25);
    expect(await metricValue(metrics.registry, TAILS, { outcome: 'completed' })).toBe(0);
  });

  it('is skipped and counted when the tokenizer has no idle worker, leaving the head guesses', async () => {
    class BusyTokenizer extends SimulatedRequestTokenizer {
      override busy(): boolean {
        return true;
      }
    }
    const metrics = new EppMetrics();
    const config = parsePrecisePrefixConfig({ ...BASE, speculativeIndexing: true, speculativeTTL: '60s' }, silentLogger, {});
    const cache = new PrecisePrefixCache(config, { logger: silentLogger, tokenizer: new BusyTokenizer(), registry: metrics.registry });
    closers.push(() => cache.close());
    await cache.start();
    const body = makeRequest({ model: MODEL, prompt: DOC }).body;
    const match = await cache.match(MODEL, body, [A.hostPort]);
    expect(match.tail).toBeDefined();
    cache.speculate(match, [A.hostPort]);
    // The stored match no longer holds the prompt's stream, and a second speculate starts no tail.
    expect(match.tail!.take()).toBeUndefined();
    cache.speculate(match, [A.hostPort]);
    await poll(async () => await metricValue(metrics.registry, TAILS, { outcome: 'skipped_busy' }) === 1, { what: 'skipped_busy counted' });
    const score = (await cache.match(MODEL, body, [A.hostPort, B.hostPort])).scores.get(A.hostPort) ?? 0;
    expect(score).toBeGreaterThan(0);
    expect(score).toBeLessThan(0.25);
  });

  it('speculativeTail needs speculativeIndexing, and must be a boolean', () => {
    expect(() => parsePrecisePrefixConfig({ speculativeTail: true }, silentLogger, {})).toThrow(ConfigError);
    expect(() => parsePrecisePrefixConfig({ speculativeTail: true }, silentLogger, {})).toThrow('parameters.speculativeTail');
    expect(() => parsePrecisePrefixConfig({ speculativeIndexing: true, speculativeTail: 'yes' }, silentLogger, {})).toThrow('parameters.speculativeTail');
    expect(parsePrecisePrefixConfig({ speculativeIndexing: true }, silentLogger, {}).speculativeTail).toBe(true);
    expect(parsePrecisePrefixConfig({}, silentLogger, {}).speculativeTail).toBe(false);
  });
});

describe('SpeculativeTails.close', () => {
  it('stops tails mid-way; with the entries closed after it, the index holds no guess', async () => {
    const index = new MemoryKvBlockIndex();
    closers.push(() => index.close());
    const entries = new SpeculativeEntries(index, 60_000);
    const outcomes: TailOutcome[] = [];
    // One block per slice: the tail yields to the event loop after every key.
    const tails = new SpeculativeTails({ entries, blockSize: BLOCK, busy: () => false, count: (outcome) => outcomes.push(outcome), maxBlocksPerSlice: 1 });
    const ids = Array.from({ length: 40_000 }, (_, i) => i % 50_000);
    tails.start({ stream: new IdsStream(ids), parent: rootKey('', MODEL), pending: new Uint32Array(0) }, ['10.2.0.1:8000']);
    await poll(async () => await index.size() > 0, { what: 'some tail guesses in the index' });
    expect(tails.pending).toBe(1);
    await tails.close();
    await entries.close();
    expect(outcomes).toEqual(['cancelled']);
    expect(await index.size()).toBe(0);
    // Closed: a new tail is not started.
    tails.start({ stream: new IdsStream(ids), parent: rootKey('', MODEL), pending: new Uint32Array(0) }, ['10.2.0.1:8000']);
    expect(tails.pending).toBe(0);
  });

  it('skips, and counts, a tail beyond maxInFlight', async () => {
    const index = new MemoryKvBlockIndex();
    closers.push(() => index.close());
    const entries = new SpeculativeEntries(index, 60_000);
    closers.push(() => entries.close());
    const outcomes: TailOutcome[] = [];
    const tails = new SpeculativeTails({ entries, blockSize: BLOCK, busy: () => false, count: (outcome) => outcomes.push(outcome), maxInFlight: 1 });
    closers.push(() => tails.close());
    const tail = () => ({ stream: new IdsStream(Array.from({ length: 400 }, (_, i) => i)), parent: rootKey('', MODEL), pending: new Uint32Array(0) });
    tails.start(tail(), ['10.2.0.1:8000']);
    tails.start(tail(), ['10.2.0.2:8000']);
    expect(outcomes).toEqual(['skipped_busy']);
    await tails.idle();
    expect(outcomes).toEqual(['skipped_busy', 'completed']);
    expect(await index.size()).toBe(100);
  });
});

/** Real entries that also record each slice's keys and the event-loop turn it was added in. */
class RecordingEntries extends SpeculativeEntries {
  readonly slices: Array<{ keys: readonly BlockKey[]; turn: number }> = [];
  turn = 0;
  override add(keys: readonly BlockKey[], pods: readonly string[]): void {
    this.slices.push({ keys, turn: this.turn });
    super.add(keys, pods);
  }
}

describe('SpeculativeTails on long prompts', () => {
  it('a 1M-id tail: the walk\'s keys + the tail\'s equal the whole prompt\'s, hashed at most maxBlocksPerSlice blocks per event-loop turn', async () => {
    const index = new MemoryKvBlockIndex();
    closers.push(() => index.close());
    const entries = new RecordingEntries(index, 60_000);
    closers.push(() => entries.close());
    const outcomes: TailOutcome[] = [];
    // Chunks of 256K ids (16K blocks of 16): each must still be hashed 64 blocks at a time.
    const tails = new SpeculativeTails({ entries, blockSize: 16, busy: () => false, count: (outcome) => outcomes.push(outcome), maxBatchChars: 1 << 20, maxBlocksPerSlice: 64 });
    closers.push(() => tails.close());
    const ids = Uint32Array.from({ length: 1_000_003 }, (_, i) => (i * 2654435761) % 151_000);
    const root = rootKey('', MODEL);
    const walk = await walkPrefix(index, MODEL, new IdsStream(ids), {
      blockSize: 16, root, endpointKeys: ['10.2.0.1:8000'], weights: DEFAULT_TIER_WEIGHTS, estimateRest: (rest) => rest.knownTokens,
    });
    expect(walk.continuation).toBeDefined();
    let ticking = true;
    const tick = (): void => {
      entries.turn++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    tails.start(walk.continuation!, ['10.2.0.1:8000']);
    await tails.idle();
    ticking = false;
    expect(outcomes).toEqual(['completed']);
    const tailKeys = entries.slices.flatMap((slice) => [...slice.keys]);
    const whole = blockKeys(ids, 16, root);
    expect(walk.keys.length + tailKeys.length).toBe(whole.length);
    expect([...walk.keys, ...tailKeys]).toEqual(whole);
    expect(Math.max(...entries.slices.map((slice) => slice.keys.length))).toBeLessThanOrEqual(64);
    // One slice per event-loop turn: decisions run between any two.
    expect(new Set(entries.slices.map((slice) => slice.turn)).size).toBe(entries.slices.length);
  });

  it('stops, counted as expired, once the guesses\' TTL has passed since the pick', async () => {
    const index = new MemoryKvBlockIndex();
    closers.push(() => index.close());
    const entries = new SpeculativeEntries(index, 60_000);
    closers.push(() => entries.close());
    const outcomes: TailOutcome[] = [];
    let clock = 1_000;
    const tails = new SpeculativeTails({ entries, blockSize: BLOCK, busy: () => false, count: (outcome) => outcomes.push(outcome), maxBlocksPerSlice: 1, now: () => clock });
    closers.push(() => tails.close());
    tails.start({ stream: new IdsStream(Array.from({ length: 40_000 }, (_, i) => i)), parent: rootKey('', MODEL), pending: new Uint32Array(0) }, ['10.2.0.1:8000']);
    await poll(async () => entries.pending > 0, { what: 'some tail guesses' });
    clock += 60_000;
    await tails.idle();
    expect(outcomes).toEqual(['expired']);
    expect(entries.pending).toBeLessThan(10_000);
  });
});
