import { describe, expect, it } from 'vitest';
import { blockKeys, rootKey } from '../../../src/kvblock/keys.js';
import { canonicalExtras } from '../../../scheduler/kvcache/events/extra-keys.js';
import { KvEventProcessor } from '../../../scheduler/kvcache/events/processor.js';
import { MemoryKvBlockIndex } from '../../../scheduler/kvcache/index/memory-index.js';
import { MODEL, message, range } from './helpers.js';

describe('multimodal extra keys', () => {
  it('takes bare strings and [hash, offset] pairs as MM hashes and ignores other values', () => {
    expect(canonicalExtras([['img-a', ['img-b', 3], 7, ['x']], null], 2)).toEqual([[{ Hash: 'img-a' }, { Hash: 'img-b' }], null]);
  });

  it('is undefined for text-only events (no per-block work)', () => {
    expect(canonicalExtras(null, 4)).toBeUndefined();
    expect(canonicalExtras([null, [], [5]], 3)).toBeUndefined();
  });

  it('replicates engine keys onto canonical sub-blocks (1:many)', () => {
    expect(canonicalExtras([['a'], null], 4)).toEqual([[{ Hash: 'a' }], [{ Hash: 'a' }], null, null]);
  });

  it('unions the keys of the engine blocks a canonical block covers (many:1)', () => {
    expect(canonicalExtras([['a'], null, ['b'], ['c'], null, null, null, null], 2)).toEqual([[{ Hash: 'a' }, { Hash: 'b' }, { Hash: 'c' }], null]);
  });

  it('tainted events index keys that differ from text-only ones and equal the read path with the same taint', async () => {
    const index = new MemoryKvBlockIndex();
    const processor = new KvEventProcessor({ index, blockSize: 16 });
    const tokens = range(1, 32);
    processor.submit(message('p:1', [['BlockStored', [1n, 2n], null, tokens, 16, null, 'GPU', null, [null, ['img-hash']]]]));
    await processor.drain();
    const tainted = blockKeys(tokens, 16, rootKey('', MODEL), [null, [{ Hash: 'img-hash' }]]);
    const plain = blockKeys(tokens, 16, rootKey('', MODEL));
    expect((await index.lookup(tainted)).length).toBe(2);
    expect(tainted[1]).not.toBe(plain[1]);
    await processor.close();
  });
});
