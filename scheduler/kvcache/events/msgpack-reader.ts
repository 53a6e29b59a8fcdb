/**
 * A strict msgpack reader for KV-event payloads: a cursor over the bytes that decodes generic
 * values the way `@msgpack/msgpack` does with `useBigInt64` (64-bit integers as BigInt, every
 * other integer and float as a number, bin as bytes, maps as objects), plus one special form:
 * `uint32List()` reads a list of token ids straight into a `Uint32Array`.
 *
 * Why our own: a 200 KB prompt's BlockStored event carries ~65k token ids. A generic decoder makes
 * a JS array of them (one large heap object per event, then validated element by element) through
 * a per-element state machine; that was ~1 µs per 16-token block, more than hashing the block.
 * The typed list is read in one tight loop and feeds the key chain as is.
 *
 * Hostile input: lengths are checked against the bytes left before anything is allocated (an
 * array header claiming 2^32 elements in a 20-byte payload fails at once), nesting is limited to
 * MAX_DEPTH, map keys must be strings or numbers and land on null-prototype objects (`__proto__`
 * is an ordinary key), and every failure is a `MsgpackError` — never a RangeError from a typed
 * array read past the end.
 */

export class MsgpackError extends Error {}

/** An ext value (vLLM's KV events use none; kept opaque so one odd field fails only its event). */
export interface MsgpackExt {
  readonly ext: number;
  readonly data: Uint8Array;
}

/** Outcome of `uint32List` when an element is not an integer in [0, 2^32): the list was consumed, this is where it failed. */
export class NotUint32 {
  constructor(readonly index: number) {}
}

const MAX_DEPTH = 64;
/** A leading U+FEFF is content here, not a byte-order mark: kept, as every msgpack decoder keeps it. */
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

export class MsgpackReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** True once every byte has been read. */
  get done(): boolean {
    return this.pos === this.bytes.length;
  }

  /** The next value's length when it is an array (its header consumed), else undefined (nothing consumed). */
  arrayHeader(): number | undefined {
    return this.header(0x90, 0xdc, 1);
  }

  /** The next value's entry count when it is a map (its header consumed), else undefined (nothing consumed). */
  mapHeader(): number | undefined {
    return this.header(0x80, 0xde, 2);
  }

  /** A container header: fixed forms `fix`..`fix`+15, 16- and 32-bit counts at `wide` and `wide`+1. */
  private header(fix: number, wide: number, minBytesPerEntry: number): number | undefined {
    const b = this.peekByte();
    if (b >= fix && b <= fix + 0x0f) {
      this.pos++;
      return this.checkedCount(b & 0x0f, minBytesPerEntry);
    }
    if (b === wide || b === wide + 1) {
      this.pos++;
      return this.checkedCount(b === wide ? this.u16() : this.u32(), minBytesPerEntry);
    }
    return undefined;
  }

  /**
   * A list of uint32s (token ids) as a typed array. Integers of any width and integral floats in
   * range are accepted (what the generic path took). When an element is not one, the rest of the
   * list is still consumed and `NotUint32` names the first bad index; not a list at all: the
   * generic value, for the caller to reject.
   */
  uint32List(depth = 0): Uint32Array | NotUint32 | unknown {
    const count = this.arrayHeader();
    if (count === undefined) return this.value(depth);
    const out = new Uint32Array(count);
    const bytes = this.bytes;
    const end = bytes.length;
    let bad = -1;
    for (let i = 0; i < count; i++) {
      const b = bytes[this.pos]!;
      if (b < 0x80 && this.pos < end) {
        out[i] = b;
        this.pos++;
      } else if (b === 0xcd && this.pos + 3 <= end) {
        out[i] = (bytes[this.pos + 1]! << 8) | bytes[this.pos + 2]!;
        this.pos += 3;
      } else if (b === 0xce && this.pos + 5 <= end) {
        out[i] = this.view.getUint32(this.pos + 1);
        this.pos += 5;
      } else if (b === 0xcc && this.pos + 2 <= end) {
        out[i] = bytes[this.pos + 1]!;
        this.pos += 2;
      } else {
        const value = this.value(depth + 1);
        const id = typeof value === 'bigint' && value >= 0n && value <= 0xffffffffn ? Number(value) : value;
        if (typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= 0xffffffff) out[i] = id;
        else if (bad < 0) bad = i;
      }
    }
    return bad < 0 ? out : new NotUint32(bad);
  }

  /** Any value, decoded generically. */
  value(depth = 0): unknown {
    if (depth > MAX_DEPTH) throw new MsgpackError(`nesting deeper than ${MAX_DEPTH}`);
    const b = this.byte();
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b <= 0x8f) return this.map(this.checkedCount(b & 0x0f, 2), depth);
    if (b <= 0x9f) return this.array(this.checkedCount(b & 0x0f, 1), depth);
    if (b <= 0xbf) return this.str(b & 0x1f);
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.bin(this.byte());
      case 0xc5:
        return this.bin(this.u16());
      case 0xc6:
        return this.bin(this.u32());
      case 0xc7:
        return this.ext(this.byte());
      case 0xc8:
        return this.ext(this.u16());
      case 0xc9:
        return this.ext(this.u32());
      case 0xca:
        return this.view.getFloat32(this.advance(4));
      case 0xcb:
        return this.view.getFloat64(this.advance(8));
      case 0xcc:
        return this.byte();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf:
        return this.view.getBigUint64(this.advance(8));
      case 0xd0:
        return this.view.getInt8(this.advance(1));
      case 0xd1:
        return this.view.getInt16(this.advance(2));
      case 0xd2:
        return this.view.getInt32(this.advance(4));
      case 0xd3:
        return this.view.getBigInt64(this.advance(8));
      case 0xd4:
        return this.ext(1);
      case 0xd5:
        return this.ext(2);
      case 0xd6:
        return this.ext(4);
      case 0xd7:
        return this.ext(8);
      case 0xd8:
        return this.ext(16);
      case 0xd9:
        return this.str(this.byte());
      case 0xda:
        return this.str(this.u16());
      case 0xdb:
        return this.str(this.u32());
      case 0xdc:
        return this.array(this.checkedCount(this.u16(), 1), depth);
      case 0xdd:
        return this.array(this.checkedCount(this.u32(), 1), depth);
      case 0xde:
        return this.map(this.checkedCount(this.u16(), 2), depth);
      case 0xdf:
        return this.map(this.checkedCount(this.u32(), 2), depth);
      default:
        throw new MsgpackError(`invalid byte 0x${b.toString(16)} at ${this.pos - 1}`);
    }
  }

  /** A map's key: a string, or a number written as its decimal string (as `@msgpack/msgpack` does). */
  key(depth: number): string {
    const key = this.value(depth + 1);
    if (typeof key === 'string') return key;
    if (typeof key === 'number') return String(key);
    throw new MsgpackError('map key is neither a string nor a number');
  }

  /**
   * Grown by push, never sized from the header: nested headers may each claim the whole payload
   * (every one passes `checkedCount` on its own), and sizing each array from its claim would
   * allocate payload × depth slots before the bytes run out.
   */
  private array(count: number, depth: number): unknown[] {
    const out: unknown[] = [];
    for (let i = 0; i < count; i++) out.push(this.value(depth + 1));
    return out;
  }

  private map(count: number, depth: number): Record<string, unknown> {
    const out = Object.create(null) as Record<string, unknown>;
    for (let i = 0; i < count; i++) {
      const key = this.key(depth);
      out[key] = this.value(depth + 1);
    }
    return out;
  }

  private str(length: number): string {
    const start = this.advance(length);
    return utf8.decode(this.bytes.subarray(start, start + length));
  }

  /** A copy: the payload buffer is the transport's, and values may outlive it. */
  private bin(length: number): Uint8Array {
    const start = this.advance(length);
    return this.bytes.slice(start, start + length);
  }

  private ext(length: number): MsgpackExt {
    const type = this.view.getInt8(this.advance(1));
    return { ext: type, data: this.bin(length) };
  }

  /** `count` elements of at least `minBytes` each must fit in what is left. */
  private checkedCount(count: number, minBytes: number): number {
    if (count * minBytes > this.bytes.length - this.pos) throw new MsgpackError(`length ${count} at ${this.pos} exceeds the payload`);
    return count;
  }

  private peekByte(): number {
    if (this.pos >= this.bytes.length) throw new MsgpackError('unexpected end of payload');
    return this.bytes[this.pos]!;
  }

  private byte(): number {
    return this.bytes[this.advance(1)]!;
  }

  private u16(): number {
    return this.view.getUint16(this.advance(2));
  }

  private u32(): number {
    return this.view.getUint32(this.advance(4));
  }

  /** Consumes `n` bytes and returns where they start; throws when fewer are left. */
  private advance(n: number): number {
    const start = this.pos;
    if (n > this.bytes.length - start) throw new MsgpackError('unexpected end of payload');
    this.pos = start + n;
    return start;
  }
}
