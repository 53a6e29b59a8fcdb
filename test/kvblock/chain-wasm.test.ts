import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import wabtInit from 'wabt';
import { blockKeys, type BlockExtra } from '../../src/kvblock/keys.js';
import { seededRandom } from '../../src/random.js';

const ROOT = new URL('../../', import.meta.url);

/** The JS chain: an explicit all-null extras array takes the block-by-block path. */
const jsKeys = (tokens: ArrayLike<number>, blockSize: number, parent: bigint): bigint[] =>
  blockKeys(tokens, blockSize, parent, new Array<BlockExtra>(Math.floor(tokens.length / blockSize)).fill(null));

describe('the WebAssembly block-key chain', () => {
  it('is what chain.wat assembles to (the embedded bytes cannot drift from their source)', async () => {
    const wabt = await wabtInit();
    const path = new URL('src/kvblock/chain.wat', ROOT);
    const module = wabt.parseWat('chain.wat', readFileSync(path, 'utf8'));
    module.validate();
    const assembled = Buffer.from(module.toBinary({}).buffer).toString('base64');
    module.destroy();
    const embedded = /const WASM_BASE64 = '([^']+)'/.exec(readFileSync(new URL('src/kvblock/chain-wasm.ts', ROOT), 'utf8'))?.[1];
    expect(embedded).toBe(assembled);
  });

  it('equals the JS chain for every CBOR width of parent and token, block sizes 1 to beyond a chunk', () => {
    const random = seededRandom(7);
    // Parents at each CBOR integer width boundary, up to 2^64-1.
    const parents = [0n, 23n, 24n, 255n, 256n, 65535n, 65536n, 0xffffffffn, 0x1_0000_0000n, (1n << 64n) - 1n, 0xcbf29ce484222325n];
    // Token ids at each width: fixint, uint8, uint16, uint32 (to 2^32-1), plus random.
    const widths = [0, 23, 24, 255, 256, 65535, 65536, 151_642, 0xffffffff];
    const token = () => (random() < 0.3 ? widths[Math.floor(random() * widths.length)]! : Math.floor(random() * 200_000));
    for (const [blockSize, blocks] of [[1, 300], [2, 40], [16, 5000], [64, 1100], [70_000, 2]] as const) {
      const ids = Uint32Array.from({ length: blockSize * blocks + blockSize - 1 }, token); // a partial tail block is ignored
      for (const parent of parents.slice(0, blockSize === 70_000 ? 2 : parents.length)) {
        const expected = jsKeys(ids, blockSize, parent);
        expect(expected).toHaveLength(blocks);
        expect(blockKeys(ids, blockSize, parent)).toEqual(expected);
        expect(blockKeys(Array.from(ids), blockSize, parent)).toEqual(expected);
      }
    }
  });

  it('rejects a token that is not a uint32 in a plain array, naming it; a short input has no keys', () => {
    for (const bad of [-1, 0x1_0000_0000, 1.5, Number.NaN]) {
      const tokens = [1, 2, 3, bad, 5, 6, 7, 8];
      expect(() => blockKeys(tokens, 4, 0n)).toThrow(new RangeError(`token id ${bad} is not a uint32`));
    }
    expect(blockKeys([1, 2, 3], 4, 0n)).toEqual([]);
    expect(blockKeys(new Uint32Array(0), 1 << 30, 0n)).toEqual([]);
  });
});
