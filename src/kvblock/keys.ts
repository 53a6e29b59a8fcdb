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
 * Why no CBOR library: the hash runs per request, so the encoder streams bytes straight into the
 * FNV state (no intermediate buffer, no BigInt arithmetic in the loop: the 64-bit state is kept as
 * two uint32 halves). Generic CBOR libraries may also pick non-shortest integer forms.
 */

/** A block key: an unsigned 64-bit integer. */
export type BlockKey = bigint;

/** The "no key" sentinel (no parent). */
export const EMPTY_BLOCK_KEY: BlockKey = 0n;

/** Per-block multimodal taint: `[{"Hash": h}, …]` in CBOR, or a plain text value (the model name of a root). */
export type BlockExtra = null | string | ReadonlyArray<{ readonly Hash: string }>;

const OFFSET_HI = 0xcbf29ce4;
const OFFSET_LO = 0x84222325;
const TWO_POW_32 = 4294967296;
const MASK_64 = (1n << 64n) - 1n;

const utf8 = new TextEncoder();

/**
 * Streaming FNV-1a-64. prime = 2^40 + 0x1b3, so `h * prime` = `h * 0x1b3 + (h << 40)`; with
 * h = hi·2^32 + lo that is lo·0x1b3 (exact in a double: < 2^41) plus hi·0x1b3 + lo<<8 in the high word.
 */
class Fnv64 {
  hi = OFFSET_HI;
  lo = OFFSET_LO;

  reset(): void {
    this.hi = OFFSET_HI;
    this.lo = OFFSET_LO;
  }

  byte(value: number): void {
    const lo = (this.lo ^ value) >>> 0;
    const loProduct = lo * 0x1b3;
    const carry = Math.floor(loProduct / TWO_POW_32);
    this.hi = (Math.imul(this.hi, 0x1b3) + carry + (lo << 8)) >>> 0;
    this.lo = loProduct >>> 0;
  }

  bytes(data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) this.byte(data[i]!);
  }

  /** CBOR head: major type (0–7) and an unsigned argument below 2^32, shortest form. */
  head(major: number, value: number): void {
    const type = major << 5;
    if (value < 24) {
      this.byte(type | value);
    } else if (value < 0x100) {
      this.byte(type | 24);
      this.byte(value);
    } else if (value < 0x10000) {
      this.byte(type | 25);
      this.byte(value >>> 8);
      this.byte(value & 0xff);
    } else if (value < TWO_POW_32) {
      this.byte(type | 26);
      this.byte(value >>> 24);
      this.byte((value >>> 16) & 0xff);
      this.byte((value >>> 8) & 0xff);
      this.byte(value & 0xff);
    } else {
      throw new RangeError(`CBOR argument ${value} is outside the supported range`);
    }
  }

  /** CBOR unsigned integer from a 64-bit value given as two uint32 halves, shortest form. */
  uint64(hi: number, lo: number): void {
    if (hi === 0) {
      this.head(0, lo);
      return;
    }
    this.byte(0x1b);
    this.byte(hi >>> 24);
    this.byte((hi >>> 16) & 0xff);
    this.byte((hi >>> 8) & 0xff);
    this.byte(hi & 0xff);
    this.byte(lo >>> 24);
    this.byte((lo >>> 16) & 0xff);
    this.byte((lo >>> 8) & 0xff);
    this.byte(lo & 0xff);
  }

  text(value: string): void {
    const encoded = utf8.encode(value);
    this.head(3, encoded.length);
    this.bytes(encoded);
  }

  extra(extra: BlockExtra): void {
    if (extra === null) {
      this.byte(0xf6);
    } else if (typeof extra === 'string') {
      this.text(extra);
    } else {
      this.head(4, extra.length);
      for (const item of extra) {
        // A one-entry map {"Hash": h}; with a single key, canonical ordering is trivial.
        this.head(5, 1);
        this.text('Hash');
        this.text(item.Hash);
      }
    }
  }

  tokens(tokens: ArrayLike<number>, start: number, end: number): void {
    this.head(4, end - start);
    for (let i = start; i < end; i++) {
      const token = tokens[i]!;
      if (!Number.isInteger(token) || token < 0 || token >= TWO_POW_32) {
        throw new RangeError(`token id ${token} is not a uint32`);
      }
      this.head(0, token);
    }
  }

  digest(): BlockKey {
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }
}

const shared = new Fnv64();

function splitKey(key: BlockKey): [number, number] {
  if (key < 0n || key > MASK_64) throw new RangeError(`block key ${key} is not a uint64`);
  return [Number(key >> 32n), Number(key & 0xffffffffn)];
}

/** FNV-1a-64 of arbitrary bytes. */
export function fnv1a64(data: Uint8Array): BlockKey {
  shared.reset();
  shared.bytes(data);
  return shared.digest();
}

/** FNV-1a-64 of the UTF-8 bytes of the hash seed; "" gives the offset basis. */
export function seedHash(hashSeed: string): BlockKey {
  return fnv1a64(utf8.encode(hashSeed));
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
  const [hi, lo] = splitKey(parent);
  shared.reset();
  shared.byte(0x83); // array of 3
  shared.uint64(hi, lo);
  if (tokens === null) shared.byte(0xf6);
  else shared.tokens(tokens, start, end);
  shared.extra(extra);
  return shared.digest();
}

/** The chain's root for a model: H(seedHash(hashSeed), null, modelName). */
export function rootKey(hashSeed: string, modelName: string): BlockKey {
  return hashBlock(seedHash(hashSeed), null, modelName);
}

/**
 * Keys of the full `blockSize` chunks of `tokens`, chained from `parent` (a root or a previous
 * key). `extras[i]` is block i's multimodal taint (default: none).
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
  let previous = parent;
  for (let i = 0; i < count; i++) {
    previous = hashBlock(previous, tokens, extras?.[i] ?? null, i * blockSize, (i + 1) * blockSize);
    keys[i] = previous;
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
