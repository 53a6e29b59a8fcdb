/**
 * llm-d's `cbor-fnv` block keys: a chain of FNV-1a-64 hashes over the
 * canonical CBOR encoding of `[parent, tokens | null, extra]`.
 *
 *   seedHash = FNV-1a-64(utf8(hashSeed))            ("" → the offset basis)
 *   root     = H(seedHash, null, modelName)           (model as a CBOR text string in `extra`)
 *   key_i    = H(key_{i-1}, chunk_i, extra_i)         (key_{-1} = root, or a parent from an event)
 *
 * Only full chunks of `blockSize` tokens get a key; the tail is ignored. 0 is the "no key" value.
 *
 * Why no CBOR library: the hash runs per request and per KV event, so a block is encoded into one
 * reused scratch buffer and hashed with no BigInt arithmetic in the loop (the 64-bit state and
 * the chain are kept as two uint32 halves; a BigInt is made once per key). Generic CBOR libraries
 * may also pick non-shortest integer forms.
 */

import { chainKeys } from './chain-wasm.js';
import { checkedTokenId, halves, joinKey, splitKey } from './ints.js';

/** A block key: an unsigned 64-bit integer. */
export type BlockKey = bigint;

/** The "no key" sentinel (no parent). */
export const EMPTY_BLOCK_KEY: BlockKey = 0n;

/** Per-block multimodal taint: `[{"Hash": h}, …]` in CBOR, or a plain text value (the model name of a root). */
export type BlockExtra = null | string | ReadonlyArray<{ readonly Hash: string }>;

const OFFSET_HI = 0xcbf29ce4;
const OFFSET_LO = 0x84222325;
const TWO_POW_32 = 4294967296;

const utf8 = new TextEncoder();

/**
 * A block's canonical CBOR is written into a scratch buffer, then hashed in one tight loop over
 * local variables (1.5–2× faster than hashing byte by byte through method calls: the key chain
 * is on every request's path and on every KV event's). FNV-1a-64 with prime = 2^40 + 0x1b3:
 * `h * prime` = `h * 0x1b3 + (h << 40)`; with h = hi·2^32 + lo that is lo·0x1b3 (exact in a
 * double: < 2^41) plus hi·0x1b3 + lo<<8 in the high word.
 */
let scratch = new Uint8Array(1024);
let length = 0;
/** The last digest, as two uint32 halves. */
let digestHi = 0;
let digestLo = 0;

function reserve(bytes: number): void {
  if (length + bytes <= scratch.length) return;
  const grown = new Uint8Array(Math.max(scratch.length * 2, length + bytes));
  grown.set(scratch.subarray(0, length));
  scratch = grown;
}

/** CBOR head: major type (0–7) and an unsigned argument below 2^32, shortest form (space reserved by the caller). */
function head(major: number, value: number): void {
  const type = major << 5;
  if (value < 24) {
    scratch[length++] = type | value;
  } else if (value < 0x100) {
    scratch[length++] = type | 24;
    scratch[length++] = value;
  } else if (value < 0x10000) {
    scratch[length++] = type | 25;
    scratch[length++] = value >>> 8;
    scratch[length++] = value & 0xff;
  } else if (value < TWO_POW_32) {
    scratch[length++] = type | 26;
    scratch[length++] = value >>> 24;
    scratch[length++] = (value >>> 16) & 0xff;
    scratch[length++] = (value >>> 8) & 0xff;
    scratch[length++] = value & 0xff;
  } else {
    throw new RangeError(`CBOR argument ${value} is outside the supported range`);
  }
}

/** CBOR unsigned integer from a 64-bit value given as two uint32 halves, shortest form. */
function uint64(hi: number, lo: number): void {
  reserve(9);
  if (hi === 0) {
    head(0, lo);
    return;
  }
  scratch[length++] = 0x1b;
  scratch[length++] = hi >>> 24;
  scratch[length++] = (hi >>> 16) & 0xff;
  scratch[length++] = (hi >>> 8) & 0xff;
  scratch[length++] = hi & 0xff;
  scratch[length++] = lo >>> 24;
  scratch[length++] = (lo >>> 16) & 0xff;
  scratch[length++] = (lo >>> 8) & 0xff;
  scratch[length++] = lo & 0xff;
}

function text(value: string): void {
  const encoded = utf8.encode(value);
  reserve(5 + encoded.length);
  head(3, encoded.length);
  scratch.set(encoded, length);
  length += encoded.length;
}

function extraOf(extra: BlockExtra): void {
  if (extra === null) {
    reserve(1);
    scratch[length++] = 0xf6;
  } else if (typeof extra === 'string') {
    text(extra);
  } else {
    reserve(5);
    head(4, extra.length);
    for (const item of extra) {
      // A one-entry map {"Hash": h}; with a single key, canonical ordering is trivial.
      reserve(1);
      head(5, 1);
      text('Hash');
      text(item.Hash);
    }
  }
}

function tokensOf(tokens: ArrayLike<number>, start: number, end: number): void {
  reserve(5 + 5 * (end - start));
  head(4, end - start);
  for (let i = start; i < end; i++) {
    head(0, checkedTokenId(tokens[i]!));
  }
}

/** FNV-1a-64 of bytes [0, n) of `data` into digestHi/digestLo. */
function fnv(data: Uint8Array, n: number): void {
  let hi = OFFSET_HI;
  let lo = OFFSET_LO;
  for (let i = 0; i < n; i++) {
    const x = (lo ^ data[i]!) >>> 0;
    const product = x * 0x1b3;
    hi = (Math.imul(hi, 0x1b3) + Math.floor(product / TWO_POW_32) + (x << 8)) >>> 0;
    lo = product >>> 0;
  }
  digestHi = hi;
  digestLo = lo;
}

/** The two halves as one BigInt: a single allocation (shift-and-or would make four). */
function digest(): BlockKey {
  return joinKey(digestHi, digestLo);
}

/** FNV-1a-64 of arbitrary bytes. */
export function fnv1a64(data: Uint8Array): BlockKey {
  fnv(data, data.length);
  return digest();
}

/** FNV-1a-64 of the UTF-8 bytes of the hash seed; "" gives the offset basis. */
export function seedHash(hashSeed: string): BlockKey {
  return fnv1a64(utf8.encode(hashSeed));
}

/** Hashes `[parent, tokens[start..end) | null, extra]` (parent as uint32 halves) into digestHi/digestLo. */
function hashInto(hi: number, lo: number, tokens: ArrayLike<number> | null, extra: BlockExtra, start: number, end: number): void {
  length = 0;
  reserve(1);
  scratch[length++] = 0x83; // array of 3
  uint64(hi, lo);
  if (tokens === null) {
    reserve(1);
    scratch[length++] = 0xf6;
  } else {
    tokensOf(tokens, start, end);
  }
  extraOf(extra);
  fnv(scratch, length);
}

/**
 * H(parent, tokens[start..end) | null, extra). `tokens = null` encodes CBOR null (the root form).
 */
export function hashBlock(
  parent: BlockKey,
  tokens: ArrayLike<number> | null,
  extra: BlockExtra = null,
  start = 0,
  end = tokens?.length ?? 0,
): BlockKey {
  splitKey(parent);
  hashInto(halves[0]!, halves[1]!, tokens, extra, start, end);
  return digest();
}

/** The chain's root for a model: H(seedHash(hashSeed), null, modelName). */
export function rootKey(hashSeed: string, modelName: string): BlockKey {
  return hashBlock(seedHash(hashSeed), null, modelName);
}

/**
 * Keys of the full `blockSize` chunks of `tokens`, chained from `parent` (a root or a previous
 * key). `extras[i]` is block i's multimodal taint (default: none). Without extras (nearly every
 * call) the chain runs in WebAssembly (`chain-wasm.ts`); with them, here, block by block.
 */
export function blockKeys(
  tokens: ArrayLike<number>,
  blockSize: number,
  parent: BlockKey,
  extras?: ReadonlyArray<BlockExtra | undefined>,
): BlockKey[] {
  if (!Number.isInteger(blockSize) || blockSize <= 0) throw new RangeError(`block size ${blockSize} must be a positive integer`);
  const count = Math.floor(tokens.length / blockSize);
  const keys = new Array<BlockKey>(count);
  // The chain is carried as uint32 halves: no BigInt split per block.
  splitKey(parent);
  let hi = halves[0]!;
  let lo = halves[1]!;
  if (extras === undefined) {
    chainKeys(tokens, blockSize, count, hi, lo, keys);
    return keys;
  }
  for (let i = 0; i < count; i++) {
    hashInto(hi, lo, tokens, extras[i] ?? null, i * blockSize, (i + 1) * blockSize);
    hi = digestHi;
    lo = digestLo;
    keys[i] = digest();
  }
  return keys;
}

/**
 * Caches `rootKey` per (seed, model): roots are needed on every request, and models are few.
 */
export class RootKeys {
  private readonly cache = new Map<string, BlockKey>();

  constructor(private readonly hashSeed: string) {}

  get(modelName: string): BlockKey {
    let key = this.cache.get(modelName);
    if (key === undefined) {
      key = rootKey(this.hashSeed, modelName);
      this.cache.set(modelName, key);
    }
    return key;
  }
}
