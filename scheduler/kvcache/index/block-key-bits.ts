/**
 * The bucket hash over a block key's two uint32 halves (`src/kvblock/ints.ts` splits and joins
 * them): the primitive of `BlockKeyLru`'s flat tables.
 */

/**
 * Bucket of a key: both halves through a murmur3-style finaliser, keyed by per-process random
 * seeds. Not the raw low bits: FNV's low k bits depend only on the input's low k bits, so prompts
 * whose keys collide there are cheap to search for, and a client could pile them into one probe run.
 */
const [seedHi, seedLo] = crypto.getRandomValues(new Int32Array(2)) as unknown as [number, number];
export function bucketOf(hi: number, lo: number, mask: number): number {
  let h = Math.imul(lo ^ seedLo, 0xcc9e2d51) ^ Math.imul(hi ^ seedHi, 0x1b873593);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) & mask;
}
