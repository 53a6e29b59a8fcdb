/**
 * JSON.parse of a large request body without any string as large as the body.
 *
 * Why: V8 puts every string over 128 KB in its large-object space, a fresh memory mapping per
 * string that is unmapped again after the next GC. Parsing a 200 KB chat body the plain way makes
 * two of them — the body's text (flattened for JSON.parse) and the long message inside it — and on
 * a VM where the first touch of a page costs ~15 µs (docs/benchmarks.md) those two strings cost
 * ~2 ms of page faults per request, more than everything else the EPP does for a request without
 * precise routing.
 *
 * How: one scan over the bytes (in the chunks they arrived in) finds every JSON string literal —
 * outside a string a `"` opens one; inside, the next `"` preceded by an even run of backslashes
 * closes it. A string value of at least `bigString` raw bytes is taken out: the rest of the body
 * (the skeleton, small) is parsed by JSON.parse with a placeholder in its place, and the big value
 * is decoded in pieces of ~`piece` bytes — each its own text when it holds no escape, else parsed
 * as a JSON string of its own — joined with `+` (V8 keeps the join as a rope of small strings;
 * nothing here flattens it).
 *
 * Same result as `JSON.parse(Buffer.concat(chunks).toString('utf8'))`, by construction:
 * - bytes are cut only before a byte that does not continue a UTF-8 sequence, so decoding the
 *   parts one by one replaces invalid bytes with U+FFFD exactly where decoding the whole does;
 * - a piece never ends inside an escape (no backslash in its last 5 bytes), so each piece parses
 *   as the same characters it stands for (a surrogate pair written as two `\u` escapes may be
 *   split: the two halves join back into the pair);
 * - a placeholder is `\u0000` and a number: no client string can equal one, because the body is
 *   parsed this way only when its skeleton contains no `\u0000` escape (a raw NUL in a JSON string
 *   is invalid).
 * Anything unusual — invalid JSON, a big string used as an object key, a `\u0000` in the skeleton,
 * no big string at all — is handed to JSON.parse of the whole text, so errors and edge cases are
 * JSON.parse's own, word for word.
 */
import { StringDecoder } from 'node:string_decoder';

export interface PiecewiseOptions {
  /** Raw bytes from which a string value is decoded in pieces (default 16 KiB). */
  bigString?: number;
  /** Raw bytes per piece (default 32 KiB: at most 64 KB even as two-byte text). */
  piece?: number;
  /**
   * Told why, when the whole text goes to JSON.parse instead: no big string, a big key, a
   * `\u0000` in the skeleton, or `invalid` (JSON.parse then throws — unless this module is wrong).
   */
  onWhole?: (reason: WholeReason) => void;
}

export type WholeReason = 'no big string' | 'big key' | 'nul escape' | 'invalid';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
/** A backslash this many bytes or fewer before a cut may start an escape the cut would split. */
const LONGEST_ESCAPE = 6;

/** Bytes spread over chunks, addressed by absolute offset. */
class ChunkedBytes {
  private readonly starts: number[] = [];
  readonly length: number;

  constructor(private readonly chunks: readonly Buffer[]) {
    let offset = 0;
    for (const chunk of chunks) {
      this.starts.push(offset);
      offset += chunk.length;
    }
    this.length = offset;
  }

  /** Index of the chunk holding absolute offset `at` (< length). */
  private chunkAt(at: number): number {
    let low = 0;
    let high = this.chunks.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.starts[mid]! <= at) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  byteAt(at: number): number {
    const i = this.chunkAt(at);
    return this.chunks[i]![at - this.starts[i]!]!;
  }

  /** Absolute offset of the first `byte` at or after `from`, or -1. */
  indexOf(byte: number, from: number): number {
    if (from >= this.length) return -1;
    for (let i = this.chunkAt(from); i < this.chunks.length; i++) {
      const start = this.starts[i]!;
      const found = this.chunks[i]!.indexOf(byte, Math.max(0, from - start));
      if (found >= 0) return start + found;
    }
    return -1;
  }

  /** UTF-8 text of [from, to): one chunk's slice, or the chunks' parts through one decoder. */
  text(from: number, to: number): string {
    if (from >= to) return '';
    const first = this.chunkAt(from);
    const last = this.chunkAt(to - 1);
    if (first === last) return this.chunks[first]!.toString('utf8', from - this.starts[first]!, to - this.starts[first]!);
    const decoder = new StringDecoder('utf8');
    let text = '';
    for (let i = first; i <= last; i++) {
      const start = this.starts[i]!;
      text += decoder.write(this.chunks[i]!.subarray(Math.max(0, from - start), Math.min(this.chunks[i]!.length, to - start)));
    }
    return text + decoder.end();
  }
}

const isContinuation = (byte: number): boolean => (byte & 0xc0) === 0x80;
const isWhitespace = (byte: number): boolean => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

/**
 * Content ranges [start, end) of the string literals of at least `bigString` bytes; `key` when one
 * of them is an object key, undefined for an unterminated string.
 */
function bigStrings(bytes: ChunkedBytes, bigString: number): Array<[number, number]> | 'key' | undefined {
  const found: Array<[number, number]> = [];
  for (let at = 0; ;) {
    const open = bytes.indexOf(QUOTE, at);
    if (open < 0) return found;
    let close = open;
    for (;;) {
      close = bytes.indexOf(QUOTE, close + 1);
      if (close < 0) return undefined;
      let backslashes = 0;
      while (bytes.byteAt(close - 1 - backslashes) === BACKSLASH) backslashes++;
      if (backslashes % 2 === 0) break;
    }
    if (close - open - 1 >= bigString) {
      let next = close + 1;
      while (next < bytes.length && isWhitespace(bytes.byteAt(next))) next++;
      if (next < bytes.length && bytes.byteAt(next) === COLON) return 'key';
      found.push([open + 1, close]);
    }
    at = close + 1;
  }
}

/** A cut at or after `at` that splits neither a UTF-8 sequence nor an escape; `end` if none. */
function safeCut(bytes: ChunkedBytes, at: number, end: number): number {
  for (let cut = at; cut < end; cut++) {
    if (isContinuation(bytes.byteAt(cut))) continue;
    let escaped = false;
    for (let back = 1; back < LONGEST_ESCAPE && !escaped; back++) escaped = bytes.byteAt(cut - back) === BACKSLASH;
    if (!escaped) return cut;
  }
  return end;
}

/** Text that is not its own JSON string content: an escape, a control character (invalid), a quote. */
const NOT_LITERAL = /[\u0000-\u001f"\\]/;

/** The string whose JSON content is [start, end), as a rope of pieces. Throws on invalid content. */
function decodeBig(bytes: ChunkedBytes, start: number, end: number, piece: number): string {
  let value = '';
  for (let from = start; from < end;) {
    const to = from + piece >= end ? end : safeCut(bytes, from + piece, end);
    const text = bytes.text(from, to);
    value += NOT_LITERAL.test(text) ? (JSON.parse(`"${text}"`) as string) : text;
    from = to;
  }
  return value;
}

const PLACEHOLDER = '\u0000';

/** Replaces every placeholder string in `root` (which JSON.parse made: plain data) by its value. */
function substitute(root: unknown, values: readonly string[]): unknown {
  const resolve = (value: string): string => values[Number(value.slice(1))]!;
  if (typeof root === 'string') return root.startsWith(PLACEHOLDER) ? resolve(root) : root;
  const pending: object[] = root !== null && typeof root === 'object' ? [root] : [];
  while (pending.length > 0) {
    const node = pending.pop() as Record<string, unknown>;
    for (const key of Object.keys(node)) {
      const value = node[key];
      if (typeof value === 'string') {
        // An own "__proto__" member is a data property here: assignment sets it, as JSON.parse did.
        if (value.startsWith(PLACEHOLDER)) node[key] = resolve(value);
      } else if (value !== null && typeof value === 'object') {
        pending.push(value);
      }
    }
  }
  return root;
}

/**
 * The JSON value of `chunks` (UTF-8), as `JSON.parse(Buffer.concat(chunks).toString('utf8'))`
 * gives it — errors included — with long string values kept as ropes of small strings.
 */
export function parseJsonPieces(chunks: readonly Buffer[], options: PiecewiseOptions = {}): unknown {
  const bytes = new ChunkedBytes(chunks);
  const whole = (reason: WholeReason): unknown => {
    options.onWhole?.(reason);
    return JSON.parse(bytes.text(0, bytes.length));
  };
  const big = bigStrings(bytes, options.bigString ?? 16 * 1024);
  if (big === undefined) return whole('invalid');
  if (big === 'key') return whole('big key');
  if (big.length === 0) return whole('no big string');
  let skeleton = '';
  const values: string[] = [];
  let from = 0;
  try {
    for (const [start, end] of big) {
      const between = bytes.text(from, start);
      if (between.includes('\\u0000')) return whole('nul escape');
      skeleton += `${between}\\u0000${values.length}`;
      values.push(decodeBig(bytes, start, end, options.piece ?? 32 * 1024));
      from = end;
    }
    const tail = bytes.text(from, bytes.length);
    if (tail.includes('\\u0000')) return whole('nul escape');
    skeleton += tail;
    return substitute(JSON.parse(skeleton), values);
  } catch {
    // Invalid somewhere: JSON.parse of the whole text says where, in its own words.
    return whole('invalid');
  }
}
