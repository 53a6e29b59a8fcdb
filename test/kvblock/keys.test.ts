import { describe, expect, it } from 'vitest';
import { blockKeys, EMPTY_BLOCK_KEY, fnv1a64, hashBlock, RootKeys, rootKey, seedHash } from '../../src/kvblock/keys.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A naive reference encoder (BigInt, buffers) to cross-check the streaming one. */
function cborUint(value: bigint, major = 0): number[] {
  const type = major << 5;
  if (value < 24n) return [type | Number(value)];
  const widths: Array<[bigint, number, number]> = [[0x100n, 24, 1], [0x10000n, 25, 2], [0x100000000n, 26, 4], [1n << 64n, 27, 8]];
  for (const [limit, info, bytes] of widths) {
    if (value < limit) {
      const out = [type | info];
      for (let i = bytes - 1; i >= 0; i--) out.push(Number((value >> BigInt(i * 8)) & 0xffn));
      return out;
    }
  }
  throw new Error('too large');
}
function cborText(text: string): number[] {
  const bytes = [...Buffer.from(text, 'utf8')];
  return [...cborUint(BigInt(bytes.length), 3), ...bytes];
}
function referencePayload(parent: bigint, tokens: number[] | null, extra: string | null): Uint8Array {
  const out = [0x83, ...cborUint(parent)];
  if (tokens === null) out.push(0xf6);
  else {
    out.push(...cborUint(BigInt(tokens.length), 4));
    for (const token of tokens) out.push(...cborUint(BigInt(token)));
  }
  if (extra === null) out.push(0xf6);
  else out.push(...cborText(extra));
  return Uint8Array.from(out);
}

describe('cbor-fnv block keys', () => {
  it('seed hash: empty seed is the FNV offset basis; "42" matches the vector', () => {
    expect(seedHash('')).toBe(14695981039346656037n);
    expect(seedHash('42')).toBe(571532774284038691n);
  });

  it('root payload bytes match the documented example', () => {
    const payload = referencePayload(seedHash(''), null, 'test-model');
    expect(Buffer.from(payload).toString('hex')).toBe('831bcbf29ce484222325f66a746573742d6d6f64656c');
    expect(fnv1a64(payload)).toBe(rootKey('', 'test-model'));
  });

  it('roots', () => {
    expect(rootKey('', 'test-model')).toBe(17515353698173365712n);
    expect(rootKey('', 'Qwen/Qwen3-0.6B')).toBe(12449044111902447012n);
    expect(rootKey('42', 'test-model')).toBe(4073757287576237257n);
    expect(rootKey('12345', 'test-model')).toBe(18112995631337318593n);
  });

  it('bs=4, tokens 1..16 → 4 blocks', () => {
    expect(blockKeys(range(1, 16), 4, rootKey('', 'test-model'))).toEqual([
      12915946116324560722n, 16245044729138844785n, 15689212899060012615n, 12465673062241527602n,
    ]);
  });

  it('bs=16, tokens i*1000+7 (i = 0..31) → 2 blocks; multimodal extra on block 0', () => {
    const tokens = Array.from({ length: 32 }, (_, i) => i * 1000 + 7);
    const root = rootKey('', 'test-model');
    expect(blockKeys(tokens, 16, root)).toEqual([9347544578180570517n, 14816506314109650729n]);
    expect(hashBlock(root, tokens, [{ Hash: 'abc' }], 0, 16)).toBe(7541136191716223762n);
    expect(blockKeys(tokens, 16, root, [[{ Hash: 'abc' }]])[0]).toBe(7541136191716223762n);
  });

  it('seeded chains: "42" and "12345" block 0 at bs=4', () => {
    expect(blockKeys(range(1, 4), 4, rootKey('42', 'test-model'))).toEqual([4224417592433400053n]);
    expect(blockKeys(range(1, 4), 4, rootKey('12345', 'test-model'))).toEqual([5949222725886932919n]);
  });

  it('known vectors for model "my-model", empty hash seed', () => {
    const root = rootKey('', 'my-model');
    expect(root).toBe(14348361244533327956n);
    expect(blockKeys(range(1, 32), 16, root)).toEqual([18184389114128294025n, 10537991018676517940n]);
    const seeded = rootKey('42', 'my-model');
    expect(seeded).toBe(16720364374450869073n);
    expect(blockKeys(range(1, 32), 16, seeded)).toEqual([14693490040996468805n, 5095726257272963669n]);
  });

  it('ignores the partial tail and chains from an explicit parent', () => {
    const root = rootKey('', 'test-model');
    const all = blockKeys(range(1, 18), 4, root);
    expect(all).toHaveLength(4);
    expect(blockKeys(range(9, 16), 4, all[1]!)).toEqual(all.slice(2));
    expect(blockKeys([1, 2, 3], 4, root)).toEqual([]);
  });

  it('agrees with the reference encoder for every integer width', () => {
    const tokens = [0, 23, 24, 255, 256, 65535, 65536, 4294967295];
    for (const parent of [0n, 23n, 24n, 255n, 256n, 65536n, 4294967295n, 4294967296n, (1n << 64n) - 1n]) {
      expect(hashBlock(parent, tokens, null)).toBe(fnv1a64(referencePayload(parent, tokens, null)));
    }
    expect(hashBlock(EMPTY_BLOCK_KEY, null, 'é-model')).toBe(fnv1a64(referencePayload(0n, null, 'é-model')));
  });

  it('rejects values outside uint32 tokens / uint64 keys', () => {
    expect(() => hashBlock(0n, [-1])).toThrow(RangeError);
    expect(() => hashBlock(0n, [2 ** 32])).toThrow(RangeError);
    expect(() => hashBlock(-1n, [1])).toThrow(RangeError);
    expect(() => blockKeys([1], 0, 0n)).toThrow(RangeError);
  });

  it('RootKeys caches per model', () => {
    const roots = new RootKeys('42');
    expect(roots.get('test-model')).toBe(4073757287576237257n);
    expect(roots.get('test-model')).toBe(roots.get('test-model'));
  });
});
