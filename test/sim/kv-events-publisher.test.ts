/** The simulator's KV-event publisher: wire encoding, batching, sequence, sockets. */
import { afterEach, describe, expect, it } from 'vitest';
import { decode } from '@msgpack/msgpack';
import { Subscriber } from 'zeromq';
import { ZmqKvEventPublisher, encodeEventBatch, kvEventsTopic } from '../../src/sim/kv-events-publisher.js';
import type { BlockStoredEvent, KvEvent } from '../../src/sim/kv-events.js';
import { decodeEventBatch } from '../../scheduler/kvcache/events/decode.js';
import { poll } from '../helpers/poll.js';

const HIGH = (1n << 64n) - 1n; // ≥ 2^63: must be msgpack uint64
const stored = (overrides: Partial<BlockStoredEvent> = {}): BlockStoredEvent => ({
  type: 'BlockStored', blockHashes: [HIGH, 5n], parentBlockHash: null, tokenIds: [1, 2, 3, 4], blockSize: 2,
  loraId: null, loraName: null, medium: 'GPU', ...overrides,
});
const unpack = (bytes: Uint8Array): unknown => decode(bytes, { useBigInt64: true });

describe('encodeEventBatch', () => {
  it('legacy positional: [ts float64, events, rank] with nil placeholders and parent 0 when none', () => {
    const events: KvEvent[] = [stored(), { type: 'BlockRemoved', blockHashes: [7n], medium: 'GPU' }, { type: 'AllBlocksCleared' }];
    const bytes = encodeEventBatch(1700000000, events, 2, 'positional');
    expect([...bytes.subarray(0, 2)]).toEqual([0x93, 0xcb]); // ts stays float64 even when whole
    expect(unpack(bytes)).toEqual([
      1700000000,
      [
        ['BlockStored', [HIGH, 5n], 0n, [1, 2, 3, 4], 2, null, 'GPU', null],
        ['BlockRemoved', [7n], 'GPU'],
        ['AllBlocksCleared'],
      ],
      2,
    ]);
  });

  it('map form: tag under "type", parent nil, absent optional keys omitted, LoRA kept when set', () => {
    const bytes = encodeEventBatch(1.5, [stored(), stored({ parentBlockHash: 9n, loraId: 3, loraName: 'lora-a' })], 0, 'map');
    const [, events] = unpack(bytes) as [number, Array<Record<string, unknown>>];
    expect(events[0]).toEqual({ type: 'BlockStored', block_hashes: [HIGH, 5n], parent_block_hash: null, token_ids: [1, 2, 3, 4], block_size: 2, medium: 'GPU' });
    expect(events[1]).toMatchObject({ parent_block_hash: 9n, lora_id: 3, lora_name: 'lora-a' });
  });

  it('writes hashes ≥ 2^63 as uint64 (0xcf) so they stay unsigned', () => {
    const bytes = Buffer.from(encodeEventBatch(0, [{ type: 'BlockRemoved', blockHashes: [HIGH, 1n << 63n], medium: 'GPU' }], 0, 'positional'));
    expect(bytes.includes(Buffer.from('cfffffffffffffffff', 'hex'))).toBe(true);
    expect(bytes.includes(Buffer.from('cf8000000000000000', 'hex'))).toBe(true);
    expect(bytes.includes(0xd3)).toBe(false); // never int64
  });

  it('is what the EPP decoder reads, in both encodings', () => {
    for (const encoding of ['positional', 'map'] as const) {
      const batch = decodeEventBatch(encodeEventBatch(3.25, [stored({ parentBlockHash: 4n, loraName: 'l' })], 1, encoding));
      expect(batch).toMatchObject({ ts: 3.25, dataParallelRank: 1, skipped: [] });
      expect(batch.events[0]).toMatchObject({ type: 'BlockStored', blockHashes: [HIGH, 5n], parentBlockHash: 4n, tokenIds: Uint32Array.from([1, 2, 3, 4]), medium: 'GPU', loraName: 'l' });
    }
  });
});

describe('kvEventsTopic', () => {
  it('is kv@<ip>:<port>@<model>, IPv6 bracketed', () => {
    expect(kvEventsTopic('10.0.0.7', 8000, 'Qwen/Qwen2.5-0.5B-Instruct')).toBe('kv@10.0.0.7:8000@Qwen/Qwen2.5-0.5B-Instruct');
    expect(kvEventsTopic('fd00::7', 8000, 'm')).toBe('kv@[fd00::7]:8000@m');
  });
});

describe('ZmqKvEventPublisher on real sockets', () => {
  const owned: Array<{ close(): unknown }> = [];
  afterEach(async () => {
    for (const resource of owned.splice(0).reverse()) await resource.close();
  });

  interface Received {
    frames: Buffer[][];
  }

  /** A raw SUB collecting every message; its loop ends when the socket closes. */
  function collect(sub: Subscriber): Received {
    const received: Received = { frames: [] };
    void (async () => {
      for await (const frames of sub) received.frames.push(frames);
    })();
    return received;
  }

  async function waitFor(condition: () => boolean, what: string): Promise<void> {
    await poll(condition, { what, intervalMs: 10 });
  }

  /**
   * Sends one-event warm-up batches until one arrives (PUB drops everything before the subscription
   * reaches it). From then on every batch is delivered, so waiting for the last one sent leaves no
   * warm-up batch in flight.
   */
  async function warmUp(publisher: ZmqKvEventPublisher, received: Received): Promise<void> {
    await waitFor(() => {
      if (received.frames.length > 0) return true;
      publisher.blockRemoved({ type: 'BlockRemoved', blockHashes: [publisher.lastSequence + 1n], medium: 'GPU' });
      publisher.flush();
      return false;
    }, 'the subscription to reach the publisher');
    await waitFor(() => received.frames.at(-1)![1]!.readBigUInt64BE(0) === publisher.lastSequence, 'the last warm-up batch');
  }

  async function connectedPair(options: { eventBatchSize?: number; flushIntervalMs?: number; encoding?: 'positional' | 'map' } = {}) {
    const sub = new Subscriber({ linger: 0 });
    owned.push(sub);
    sub.subscribe('kv@');
    await sub.bind('tcp://127.0.0.1:*');
    const received = collect(sub);
    const publisher = await ZmqKvEventPublisher.open({ endpoint: sub.lastEndpoint!, topic: 'kv@10.0.0.7:8000@m', flushIntervalMs: 60_000, ...options });
    owned.push(publisher);
    await warmUp(publisher, received);
    return { publisher, received };
  }

  it('sends 3 frames; the i-th batch carries sequence i (8-byte BE) and the events flushed with it', async () => {
    const { received } = await connectedPair();
    for (const frames of received.frames) {
      expect(frames).toHaveLength(3);
      expect(frames[0]!.toString()).toBe('kv@10.0.0.7:8000@m');
      expect(frames[1]).toHaveLength(8);
      const seq = frames[1]!.readBigUInt64BE(0);
      const [, events, rank] = unpack(frames[2]!) as [number, unknown[][], number];
      expect(events).toEqual([['BlockRemoved', [seq], 'GPU']]); // warm-up batch n carried hash n
      expect(rank).toBe(0);
    }
  });

  it('batches by count, keeps sequence numbers consecutive, and flushes a partial batch after the interval', async () => {
    const { publisher, received } = await connectedPair({ eventBatchSize: 3, flushIntervalMs: 60_000 });
    const start = received.frames.length;
    const seqBefore = publisher.lastSequence;
    for (let i = 0; i < 7; i++) publisher.blockStored(stored({ blockHashes: [BigInt(100 + i)] }));
    expect(publisher.pendingEvents).toBe(1); // 3 + 3 went out, 1 waits for the interval
    await waitFor(() => received.frames.length >= start + 2, 'two full batches');
    const batches = received.frames.slice(start).map((frames) => ({ seq: frames[1]!.readBigUInt64BE(0), events: (unpack(frames[2]!) as [number, unknown[]])[1] }));
    expect(batches.map((b) => b.seq)).toEqual([seqBefore + 1n, seqBefore + 2n]);
    expect(batches.map((b) => b.events.length)).toEqual([3, 3]);
    publisher.flush(); // what the interval timer does
    await waitFor(() => received.frames.length >= start + 3, 'the partial batch');
    expect(received.frames.at(-1)![1]!.readBigUInt64BE(0)).toBe(seqBefore + 3n);
  });

  it('flushes on its timer without an explicit flush', async () => {
    const { publisher, received } = await connectedPair({ flushIntervalMs: 25 });
    const start = received.frames.length;
    publisher.allCleared();
    await waitFor(() => received.frames.length > start, 'the timed flush');
    expect((unpack(received.frames.at(-1)![2]!) as [number, unknown[]])[1]).toEqual([['AllBlocksCleared']]);
  });

  it('binds for the per-pod connect mode and uses the map encoding when asked', async () => {
    const publisher = await ZmqKvEventPublisher.open({ endpoint: 'tcp://127.0.0.1:*', bind: true, topic: 'kv@p:1@m', encoding: 'map', flushIntervalMs: 60_000 });
    owned.push(publisher);
    expect(publisher.endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const sub = new Subscriber({ linger: 0 });
    owned.push(sub);
    sub.subscribe('kv@');
    sub.connect(publisher.endpoint);
    const received = collect(sub);
    await warmUp(publisher, received);
    expect((unpack(received.frames[0]![2]!) as [number, unknown[]])[1]).toEqual([{ type: 'BlockRemoved', block_hashes: [expect.any(BigInt)], medium: 'GPU' }]);
  });

  it('close() drops pending events, stops the timer and ignores later events', async () => {
    const publisher = await ZmqKvEventPublisher.open({ endpoint: 'tcp://127.0.0.1:1', topic: 'kv@p:1@m', flushIntervalMs: 60_000 });
    publisher.allCleared();
    expect(publisher.pendingEvents).toBe(1);
    await publisher.close();
    expect(publisher.pendingEvents).toBe(0);
    publisher.allCleared();
    publisher.flush();
    expect(publisher.lastSequence).toBe(0n);
    await publisher.close(); // idempotent
  });

  it('fails to open on an unusable endpoint with the endpoint in the message', async () => {
    await expect(ZmqKvEventPublisher.open({ endpoint: 'bogus://x', topic: 't' })).rejects.toThrow(/cannot connect bogus:\/\/x/);
  });
});
