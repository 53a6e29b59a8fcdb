/**
 * The integers of the key chain: a block key (uint64 BigInt) as two uint32 halves and back,
 * without BigInt arithmetic (the chain carries its state as halves, the index's flat tables store
 * them), and the one check of a token id.
 */
const view = new DataView(new ArrayBuffer(8));
const UINT64_MAX = (1n << 64n) - 1n;

/** [hi, lo] of the last `splitKey` key (reused: read before the next call). */
export const halves = new Uint32Array(2);

/**
 * Splits a uint64 into `halves` without allocating (a DataView, not `>>`/`&`, which make BigInts).
 * Throws RangeError outside 0..2^64-1 (the DataView would wrap -1n to 2^64-1 and 2^64 to 0).
 */
export function splitKey(key: bigint): void {
  if (key < 0n || key > UINT64_MAX) throw new RangeError(`block key ${key} is not a uint64`);
  view.setBigUint64(0, key);
  halves[0] = view.getUint32(0);
  halves[1] = view.getUint32(4);
}

/** The key of two halves: one BigInt allocation. */
export function joinKey(hi: number, lo: number): bigint {
  view.setUint32(0, hi);
  view.setUint32(4, lo);
  return view.getBigUint64(0);
}

const TWO_POW_32 = 4294967296;

/** `token` when it is a uint32 token id; RangeError otherwise (fractions, negatives, NaN, 2^32 and up). */
export function checkedTokenId(token: number): number {
  if (!(token >= 0 && token < TWO_POW_32 && Number.isInteger(token))) throw new RangeError(`token id ${token} is not a uint32`);
  return token;
}
