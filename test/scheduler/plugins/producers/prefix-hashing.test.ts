import { describe, expect, it } from 'vitest';
import { goMessagesJson } from '../../../../src/openai/input-bytes.js';
import { cacheSaltOf, hashPrefixBlocks, prefixInput, xxh64 } from '../../../../scheduler/plugins/producers/prefix-hashing.js';
import { makeRequest } from '../../helpers.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const u64le = (value: bigint) => {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(value);
  return out;
};

describe('prefix hashing', () => {
  it('is XXH64 with seed 0 (reference vectors)', () => {
    expect(xxh64(bytes(''))).toBe(0xef46db3751d8e999n);
    expect(xxh64(bytes('abc'))).toBe(0x44bc2cf5ad770999n);
  });

  it('chains blocks: prev = xxh64(model‖salt); h = xxh64(block ‖ u64le(prev)); the partial tail counts', () => {
    const input = bytes('a'.repeat(64) + 'b'.repeat(64) + 'tail');
    const hashes = hashPrefixBlocks(input, 'model' + 'salt', 16, Infinity);
    const seed = xxh64(bytes('modelsalt'));
    const h1 = xxh64(Buffer.concat([input.subarray(0, 64), u64le(seed)]));
    const h2 = xxh64(Buffer.concat([input.subarray(64, 128), u64le(h1)]));
    const h3 = xxh64(Buffer.concat([input.subarray(128), u64le(h2)]));
    expect(hashes).toEqual([h1, h2, h3]);
  });

  it('is stable across calls and depends on the model and the salt', () => {
    const input = bytes('x'.repeat(300));
    expect(hashPrefixBlocks(input, 'm', 16, 256)).toEqual(hashPrefixBlocks(input, 'm', 16, 256));
    expect(hashPrefixBlocks(input, 'm2', 16, 256)[0]).not.toBe(hashPrefixBlocks(input, 'm', 16, 256)[0]);
    expect(hashPrefixBlocks(input, 'msalt', 16, 256)[0]).not.toBe(hashPrefixBlocks(input, 'm', 16, 256)[0]);
  });

  it('hashes nothing below one block (blockSize·4 bytes) and one hash for exactly one block', () => {
    expect(hashPrefixBlocks(bytes('x'.repeat(63)), 'm', 16, 256)).toEqual([]);
    expect(hashPrefixBlocks(bytes('x'.repeat(64)), 'm', 16, 256)).toHaveLength(1);
    expect(hashPrefixBlocks(bytes('x'.repeat(65)), 'm', 16, 256)).toHaveLength(2);
    expect(hashPrefixBlocks(bytes('x'.repeat(100)), 'm', 0, 256)).toEqual([]);
  });

  it('truncates to maxBlocks blocks (same leading hashes); 0 blocks hashes nothing', () => {
    const input = bytes('0123456789'.repeat(100));
    const all = hashPrefixBlocks(input, 'm', 16, Infinity);
    expect(all).toHaveLength(Math.ceil(1000 / 64));
    expect(hashPrefixBlocks(input, 'm', 16, 3)).toEqual(all.slice(0, 3));
    expect(hashPrefixBlocks(input, 'm', 16, 0)).toEqual([]);
  });

  it('takes chat input as Go-marshalled messages, completions as text, token ids as u32le', () => {
    const messages = [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi <there>' }];
    const chat = makeRequest({ model: 'm', messages });
    expect(Buffer.from(prefixInput(chat.body)).toString()).toBe(goMessagesJson(chat.body.body.messages as never));
    expect(Buffer.from(prefixInput(makeRequest({ model: 'm', prompt: 'héllo' }).body)).toString()).toBe('héllo');
    expect(Buffer.from(prefixInput(makeRequest({ model: 'm', prompt: ['a', 'b c'] }).body)).toString()).toBe('a b c');
    expect([...prefixInput(makeRequest({ model: 'm', prompt: [1, 258] }).body)]).toEqual([1, 0, 0, 0, 2, 1, 0, 0]);
    expect(Buffer.from(prefixInput(makeRequest({ model: 'm', input: 'question' }).body)).toString()).toBe('question');
  });

  it('reads cache_salt from the body', () => {
    expect(cacheSaltOf(makeRequest({ model: 'm', prompt: 'x', cache_salt: 'tenant-a' }).body)).toBe('tenant-a');
    expect(cacheSaltOf(makeRequest({ model: 'm', prompt: 'x' }).body)).toBe('');
  });
});
