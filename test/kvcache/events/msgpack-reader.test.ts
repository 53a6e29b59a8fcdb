import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '@msgpack/msgpack';
import { seededRandom } from '../../../src/random.js';
import { MsgpackError, MsgpackReader, NotUint32 } from '../../../scheduler/kvcache/events/msgpack-reader.js';
import { decodeEventBatch } from '../../../scheduler/kvcache/events/decode.js';
import { KvEventDecodeError } from '../../../scheduler/kvcache/events/types.js';

const pack = (value: unknown): Uint8Array => encode(value, { useBigInt64: true });

/** Null-prototype maps as plain objects, so results compare with the reference decoder's. */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, plain(inner)]));
  }
  return value;
}

/** Random msgpack-able values crossing every format boundary (fix/8/16/32, negative ints, uint64, floats, utf-8). */
function randomValue(random: () => number, depth: number): unknown {
  const pick = Math.floor(random() * (depth > 3 ? 8 : 10));
  const int = (limit: number) => Math.floor(random() * limit);
  switch (pick) {
    case 0:
      return [null, true, false][int(3)];
    case 1:
      return [0, 127, 128, 255, 256, 65535, 65536, 0xffffffff, int(200), int(70000), int(0x1_0000_0000)][int(11)];
    case 2:
      return -[1, 32, 33, 128, 129, 32768, 32769, 0x8000_0000][int(8)]!;
    case 3:
      return [0x1_0000_0000n * BigInt(int(1000)) + 5n, (1n << 64n) - 1n, -(1n << 63n), 1n << 63n][int(4)];
    case 4:
      return [0.5, -1.25e300, random()][int(3)];
    case 5: {
      const alphabet = ['a', 'é', '中', '😀', ' '];
      const length = [0, 5, 31, 32, 255, 256, 70000][int(7)]!;
      return alphabet[int(alphabet.length)]!.repeat(length);
    }
    case 6:
      return Uint8Array.from({ length: [0, 3, 300][int(3)]! }, () => int(256));
    case 7:
      return Math.floor(random() * 1e6);
    case 8:
      return Array.from({ length: [0, 1, 15, 16, 40][int(5)]! }, () => randomValue(random, depth + 1));
    default: {
      const map: Record<string, unknown> = {};
      for (let i = int(20); i > 0; i--) map[`k${int(50)}`] = randomValue(random, depth + 1);
      return map;
    }
  }
}

describe('MsgpackReader', () => {
  it('decodes what @msgpack/msgpack decodes, format by format (random values, every width)', () => {
    const random = seededRandom(42);
    for (let i = 0; i < 200; i++) {
      const bytes = pack(randomValue(random, 0));
      const reader = new MsgpackReader(bytes);
      const ours = reader.value();
      expect(reader.done).toBe(true);
      expect(plain(ours)).toEqual(decode(bytes, { useBigInt64: true }));
    }
  });

  it('reads token-id lists of mixed widths into a Uint32Array; a bad element is named after the whole list is consumed', () => {
    const ids = [0, 127, 128, 255, 256, 65535, 65536, 151_000, 0xffffffff];
    const reader = new MsgpackReader(pack([ids, 'after']));
    expect(reader.arrayHeader()).toBe(2);
    expect(reader.uint32List()).toEqual(Uint32Array.from(ids));
    expect(reader.value()).toBe('after');
    // uint64-encoded small ids and integral floats were accepted before: still are.
    const wide = new MsgpackReader(Uint8Array.from([0x93, 0xcf, 0, 0, 0, 0, 0, 0, 0, 9, 0xcb, ...new Uint8Array(new Float64Array([7]).buffer).reverse(), 0x05]));
    expect(wide.uint32List()).toEqual(Uint32Array.from([9, 7, 5]));
    for (const bad of [[1, -2, 3], [1, 2.5], [1, 'x', 3], [0x1_0000_0000, 1]]) {
      const list = new MsgpackReader(pack([bad, 'after']));
      list.arrayHeader();
      const read = list.uint32List();
      expect(read).toBeInstanceOf(NotUint32);
      expect((read as NotUint32).index).toBe(bad.findIndex((v) => typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff));
      expect(list.value()).toBe('after');
    }
    expect(new MsgpackReader(pack('not a list')).uint32List()).toBe('not a list');
  });

  it('map keys become own properties of null-prototype objects: __proto__ is just a key', () => {
    const value = new MsgpackReader(pack({ constructor: 2 })).value() as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBeNull();
    expect(value.constructor).toBe(2);
    const raw = Uint8Array.from([0x81, 0xa9, ...Buffer.from('__proto__'), 0x81, 0xa1, 0x61, 0x01]);
    const polluted = new MsgpackReader(raw).value() as Record<string, unknown>;
    expect(Object.keys(polluted)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).a).toBeUndefined();
  });

  it.each([
    ['an array header claiming 2^32-1 elements in a few bytes', Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01])],
    ['a map header claiming 65535 entries', Uint8Array.from([0xde, 0xff, 0xff, 0x01, 0x02])],
    ['a str32 longer than the payload', Uint8Array.from([0xdb, 0x7f, 0xff, 0xff, 0xff, 0x61])],
    ['a bin32 longer than the payload', Uint8Array.from([0xc6, 0x00, 0x10, 0x00, 0x00])],
    ['nesting 10 000 deep', new Uint8Array(10_000).fill(0x91)],
    ['the never-used byte 0xc1', Uint8Array.from([0xc1])],
    ['a map with an array key', Uint8Array.from([0x81, 0x90, 0x01])],
    ['an empty payload', new Uint8Array(0)],
  ])('fails with MsgpackError on %s (no allocation, no RangeError, no stack overflow)', (_name, bytes) => {
    expect(() => {
      const reader = new MsgpackReader(bytes);
      if (reader.arrayHeader() === undefined) reader.value();
      else reader.uint32List();
    }).toThrow(MsgpackError);
  });

  it('a string that starts with U+FEFF keeps it (content, not a byte-order mark)', () => {
    expect(new MsgpackReader(pack('\uFEFFab')).value()).toBe('\uFEFFab');
    const map = new MsgpackReader(pack({ '\uFEFFtoken_ids': 1, token_ids: 2 })).value() as Record<string, unknown>;
    expect(map.token_ids).toBe(2);
    expect(map['\uFEFFtoken_ids']).toBe(1);
  });

  it('nested array headers that each claim the whole payload cost memory for the bytes, not for the claims', () => {
    // 60 array32 headers, each claiming every byte after it, then 1 MB of nils: each header passes
    // the length check on its own; sizing arrays from the claims would take 60 M slots (~480 MB).
    const size = 1_000_000;
    const bytes = new Uint8Array(size).fill(0xc0);
    const view = new DataView(bytes.buffer);
    let at = 0;
    bytes[at++] = 0x92;
    bytes[at++] = 0x00;
    for (let level = 0; level < 60; level++) {
      bytes[at++] = 0xdd;
      view.setUint32(at, size - at - 4);
      at += 4;
    }
    const heapBefore = getHeapStatistics().total_heap_size;
    expect(() => decodeEventBatch(bytes)).toThrow(KvEventDecodeError);
    expect(getHeapStatistics().total_heap_size - heapBefore).toBeLessThan(150 * 1024 * 1024);
  });

  it('a real event batch cut at every byte is a bad_payload, never another error', () => {
    const batch = pack([
      1700000000.5,
      [
        ['BlockStored', [(1n << 64n) - 1n, 7n], 5n, Array.from({ length: 64 }, (_, i) => i * 4099), 16, null, 'GPU', 'lora', [['mm'], null]],
        { type: 'BlockStored', block_hashes: [1n], parent_block_hash: null, token_ids: [1, 70000, 3], block_size: 2 },
        ['BlockRemoved', [7n], 'GPU'],
      ],
      0,
    ]);
    expect(decodeEventBatch(batch).events).toHaveLength(3);
    for (let cut = 0; cut < batch.length; cut++) {
      let caught: unknown;
      try {
        decodeEventBatch(batch.subarray(0, cut));
      } catch (err) {
        caught = err;
      }
      expect(caught, `cut at ${cut}`).toBeInstanceOf(KvEventDecodeError);
      expect((caught as KvEventDecodeError).kind).toBe('bad_payload');
    }
    const trailing = new Uint8Array(batch.length + 1);
    trailing.set(batch);
    expect(() => decodeEventBatch(trailing)).toThrow(/trailing/);
  });
});
