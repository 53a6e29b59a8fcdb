/**
 * Block keys (uint64 BigInts) as two uint32 halves, and the bucket hash over them: the primitives
 * of `BlockKeyLru`'s flat tables.
 */
import type { BlockKey } from './types.js';

const splitter = new DataView(new ArrayBuffer(8));

/** [hi, lo] of the last `split` key. */
export const halves = new Uint32Array(2);
const UINT64_MAX = (1n << 64n) - 1n;

/** Splits a uint64 into `halves` without allocating (a DataView, not `>>`/`&`, which make BigInts). */
export function split(key: BlockKey): void {
  // setBigUint64 would wrap -1n to 2^64-1 and 2^64 to 0: two keys for one slot.
  if (key < 0n || key > UINT64_MAX) throw new RangeError(`block key ${key} is not a uint64`);
  splitter.setBigUint64(0, key);
  halves[0] = splitter.getUint32(0);
  halves[1] = splitter.getUint32(4);
}

/** The key of two halves: one BigInt allocation. */
export function join(hi: number, lo: number): BlockKey {
  splitter.setUint32(0, hi);
  splitter.setUint32(4, lo);
  return splitter.getBigUint64(0);
}

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
