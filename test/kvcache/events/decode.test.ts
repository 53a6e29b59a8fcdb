import { describe, expect, it } from 'vitest';
import { encode } from '@msgpack/msgpack';
import { decodeEvent, decodeEventBatch, parseTopic, toBlockHash } from '../../../scheduler/kvcache/events/decode.js';
import { KvEventDecodeError } from '../../../scheduler/kvcache/events/types.js';

const pack = (value: unknown): Uint8Array => encode(value, { useBigInt64: true });
const BIG = (1n << 64n) - 2n; // needs uint64 (0xcf) and BigInt

describe('decodeEventBatch — positional (legacy) encoding', () => {
  it('decodes all three events with BigInt hashes and optional trailing fields', () => {
    const batch = decodeEventBatch(
      pack([
        1700000000.25,
        [
          ['BlockStored', [BIG, 7], 5, [1, 2, 3, 4], 2, null, 'GPU', 'my-lora'],
          ['BlockRemoved', [BIG], 'CPU'],
          ['AllBlocksCleared'],
        ],
        3,
      ]),
    );
    expect(batch.ts).toBe(1700000000.25);
    expect(batch.dataParallelRank).toBe(3);
    expect(batch.skipped).toEqual([]);
    expect(batch.events).toEqual([
      {
        type: 'BlockStored', blockHashes: [BIG, 7n], parentBlockHash: 5n, tokenIds: Uint32Array.from([1, 2, 3, 4]), blockSize: 2,
        loraId: null, medium: 'GPU', loraName: 'my-lora', extraKeys: null, groupIdx: null, kvCacheSpecKind: null, kvCacheSpecSlidingWindow: null,
      },
      { type: 'BlockRemoved', blockHashes: [BIG], medium: 'CPU', groupIdx: null },
      { type: 'AllBlocksCleared' },
    ]);
  });

  it('accepts the minimal form (trailing defaults omitted, no rank) and all fields plus unknown extras', () => {
    const minimal = decodeEventBatch(pack([1, [['BlockStored', [1], null, [9, 9], 2]]]));
    expect(minimal.dataParallelRank).toBeNull();
    expect(minimal.events[0]).toMatchObject({ parentBlockHash: null, medium: null, loraName: null });
    const full = decodeEvent(['BlockStored', [1], 0, [9, 9], 2, 4, 'CPU', 'l', [['mm1'], null], 1, 'full_attention', 128, 'future-field']);
    expect(full).toMatchObject({ parentBlockHash: null, loraId: 4, extraKeys: [['mm1'], null], groupIdx: 1, kvCacheSpecKind: 'full_attention', kvCacheSpecSlidingWindow: 128 });
    expect(decodeEvent(['BlockRemoved', [1]])).toEqual({ type: 'BlockRemoved', blockHashes: [1n], medium: null, groupIdx: null });
  });

  it('rejects a BlockStored missing required positions', () => {
    expect(() => decodeEvent(['BlockStored', [1], null, [1, 2]])).toThrow(/at least 4 required/);
  });
});

describe('decodeEventBatch — map encoding (vLLM #42892)', () => {
  it('reads named fields with the tag under "type"', () => {
    const batch = decodeEventBatch(
      pack([
        2.5,
        [
          { type: 'BlockStored', block_hashes: [BIG], parent_block_hash: null, token_ids: [1, 2], block_size: 2, medium: 'GPU', extra_keys: [null] },
          { type: 'BlockRemoved', block_hashes: [3], medium: 'GPU', group_idx: 0 },
          { type: 'AllBlocksCleared' },
        ],
        0,
      ]),
    );
    expect(batch.events).toEqual([
      {
        type: 'BlockStored', blockHashes: [BIG], parentBlockHash: null, tokenIds: Uint32Array.from([1, 2]), blockSize: 2, loraId: null, medium: 'GPU',
        loraName: null, extraKeys: [null], groupIdx: null, kvCacheSpecKind: null, kvCacheSpecSlidingWindow: null,
      },
      { type: 'BlockRemoved', blockHashes: [3n], medium: 'GPU', groupIdx: 0 },
      { type: 'AllBlocksCleared' },
    ]);
  });

  it('requires block_hashes, token_ids and block_size', () => {
    expect(() => decodeEvent({ type: 'BlockStored', block_hashes: [1], token_ids: [1] })).toThrow(/required/);
    expect(() => decodeEvent({ type: 'BlockRemoved' })).toThrow(/required/);
  });
});

describe('hash forms', () => {
  it('bytes → last 8 bytes big-endian, shorter ones left-padded', () => {
    const digest = Uint8Array.from({ length: 32 }, (_, i) => i);
    expect(toBlockHash(digest, 'h')).toBe(0x18191a1b1c1d1e1fn);
    expect(toBlockHash(Uint8Array.from([1, 2]), 'h')).toBe(0x0102n);
    expect(() => toBlockHash(new Uint8Array(0), 'h')).toThrow(/empty/);
    const batch = decodeEventBatch(pack([0, [['BlockRemoved', [digest]]]]));
    expect(batch.events[0]).toMatchObject({ blockHashes: [0x18191a1b1c1d1e1fn] });
  });

  it('any integer width; negative int64 reinterpreted as uint64', () => {
    expect(toBlockHash(5, 'h')).toBe(5n);
    expect(toBlockHash(-1n, 'h')).toBe((1n << 64n) - 1n);
    expect(toBlockHash(-2, 'h')).toBe((1n << 64n) - 2n);
    expect(() => toBlockHash(1.5, 'h')).toThrow(KvEventDecodeError);
    expect(() => toBlockHash('x', 'h')).toThrow(/integer or bytes/);
  });
});

describe('bad events and payloads', () => {
  it('sets aside an unknown tag or malformed event and keeps the rest of the batch', () => {
    const batch = decodeEventBatch(pack([0, [['BlockSwapped', [1]], ['BlockRemoved', 'nope'], ['AllBlocksCleared'], 42, [7]]]));
    expect(batch.events).toEqual([{ type: 'AllBlocksCleared' }]);
    expect(batch.skipped.map((err) => err.kind)).toEqual(['unknown_event', 'malformed_event', 'malformed_event', 'malformed_event']);
    expect(batch.skipped[0]!.message).toMatch(/unknown event tag "BlockSwapped"/);
  });

  it('rejects mistyped fields inside an event', () => {
    expect(() => decodeEvent(['BlockStored', [1], null, [1, -2], 2])).toThrow(/token_ids\[1\]/);
    expect(() => decodeEvent(['BlockStored', [1], null, [1, 2], 0])).toThrow(/block_size/);
    expect(() => decodeEvent(['BlockStored', [1], null, [1, 2], 2, null, 7])).toThrow(/medium/);
    expect(() => decodeEvent({ type: 7 })).toThrow(/"type"/);
  });

  it.each([
    ['not msgpack', Uint8Array.from([0xc1])],
    ['truncated', pack([1, [['AllBlocksCleared']]]).subarray(0, 5)],
    ['not an array', pack({ ts: 1 })],
    ['too short', pack([1])],
    ['events not a list', pack([1, 'x'])],
    ['ts not a number', pack(['x', []])],
    ['rank not an integer', pack([1, [], 'r'])],
  ])('throws KvEventDecodeError(bad_payload) for %s', (_name, payload) => {
    let caught: unknown;
    try {
      decodeEventBatch(payload);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(KvEventDecodeError);
    expect((caught as KvEventDecodeError).kind).toBe('bad_payload');
  });
});

describe('parseTopic', () => {
  it('splits kv@<ip:port>@<model>; the model may contain @', () => {
    expect(parseTopic('kv@10.0.0.7:8000@Qwen/Qwen2.5-0.5B-Instruct')).toEqual({ pod: '10.0.0.7:8000', model: 'Qwen/Qwen2.5-0.5B-Instruct' });
    expect(parseTopic('kv@[fd00::1]:8000@org/m@v2')).toEqual({ pod: '[fd00::1]:8000', model: 'org/m@v2' });
  });

  it('rejects topics without a pod or a model', () => {
    for (const topic of ['kv', 'kv@10.0.0.7:8000', 'kv@@m', 'kv@p@']) expect(parseTopic(topic)).toBeUndefined();
  });
});
