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
 * - bytes are cut only where no UTF-8 character can be split — before a byte that does not
 *   continue one, or after three continuation bytes in a row — so decoding the parts one by one
 *   replaces invalid bytes with U+FFFD exactly where decoding the whole does;
 * - a piece never ends inside an escape (`\X` or `\uXXXX`, told by the parity of the backslash run
 *   before it), so each piece parses as the same characters it stands for (a surrogate pair written
 *   as two `\u` escapes may be split: the two halves join back into the pair);
 * - a placeholder is `\u0000` and a number: no client string can equal one, because the body is
 *   parsed this way only when its skeleton contains no `\u0000` escape (a raw NUL in a JSON string
 *   is invalid).
 * Anything unusual — invalid JSON, a big string used as an object key, a `\u0000` in the skeleton,
 * no big string at all, a body dense with quotes — is handed to JSON.parse of the whole text, so
 * errors and edge cases are JSON.parse's own, word for word.
 *
 * Cost on hostile input stays linear and within a small factor of JSON.parse's: the scan stops at
 * every quote, so a body with more than one quote per 16 bytes on average (`\"\"\"…`), or a run of
 * more than 512 backslashes, is given up early (`dense`); the skeleton is checked and parsed before
 * any long value is decoded; a piece is cut at the first safe place after `piece` bytes, and a cut
 * is safe at least every few bytes whatever the content (a run of backslashes alternates; a run of
 * UTF-8 continuation bytes longer than three cannot continue a character).
 */
import { ByteWindows } from '../http/byte-windows.js';
import { isWhitespace } from './raw-json.js';
import type { Rope } from './ropes.js';

export interface PiecewiseOptions {
  /** Raw bytes from which a string value is decoded in pieces (default 16 KiB). */
  bigString?: number;
  /** Raw bytes per piece (default 32 KiB: at most 64 KB even as two-byte text). */
  piece?: number;
  /**
   * Told why, when the whole text goes to JSON.parse instead: no big string, a big key, a
   * `\u0000` in the skeleton, a body too dense with quotes, or `invalid` (JSON.parse then throws —
   * unless this module is wrong).
   */
  onWhole?: (reason: WholeReason) => void;
  /** Filled with each long value decoded in pieces, and its pieces (ropes.ts). */
  ropes?: Rope[];
}

export type WholeReason = 'no big string' | 'big key' | 'nul escape' | 'dense' | 'invalid';

const BACKSLASH = 0x5c;
const COLON = 0x3a;
const LETTER_U = 0x75;
/** Quotes the scan may stop at: this many, plus one per this many bytes of body. */
const QUOTE_BUDGET = { base: 1024, bytesPerQuote: 16 };

const isContinuation = (byte: number): boolean => (byte & 0xc0) === 0x80;

/** Thrown on a backslash run longer than LONGEST_RUN: the body goes to JSON.parse whole. */
const TOO_DENSE = new Error('backslash run too long for a piecewise parse');
/**
 * Backslashes in a row that the scan follows (JSON nested in JSON doubles them per level; eight
 * levels make 255). A longer run would make every parity check walk it again.
 */
const LONGEST_RUN = 512;

/** Consecutive backslashes just before `at`, counted back to `floor` at most; TOO_DENSE past LONGEST_RUN. */
function backslashesBefore(bytes: ByteWindows, at: number, floor: number): number {
  let count = 0;
  while (at - 1 - count >= floor && bytes.byteAt(at - 1 - count) === BACKSLASH) {
    if (++count > LONGEST_RUN) throw TOO_DENSE;
  }
  return count;
}

/**
 * Content ranges [start, end) of the string literals of at least `bigString` bytes; `key` when one
 * of them is an object key, `dense` past the quote budget, undefined for an unterminated string.
 */
function bigStrings(bytes: ByteWindows, bigString: number): Array<[number, number]> | 'key' | 'dense' | undefined {
  const found: Array<[number, number]> = [];
  let budget = QUOTE_BUDGET.base + bytes.length / QUOTE_BUDGET.bytesPerQuote;
  for (let at = 0; ;) {
    const open = bytes.indexOf('"', at);
    if (open < 0) return found;
    let close = open;
    for (;;) {
      if (--budget < 0) return 'dense';
      close = bytes.indexOf('"', close + 1);
      if (close < 0) return undefined;
      if (backslashesBefore(bytes, close, open + 1) % 2 === 0) break;
    }
    if (close - open - 1 >= bigString) {
      let next = close + 1;
      while (next < bytes.length && isWhitespace(bytes.byteAt(next))) next++;
      if (bytes.byteAt(next) === COLON) return 'key';
      found.push([open + 1, close]);
    }
    at = close + 1;
  }
}

/**
 * Whether a cut before `at` would split a UTF-8 character: `at` continues one begun within the
 * three bytes before it (a fourth continuation byte in a row continues nothing).
 */
function splitsCharacter(bytes: ByteWindows, at: number): boolean {
  if (!isContinuation(bytes.byteAt(at))) return false;
  return !(isContinuation(bytes.byteAt(at - 1)) && isContinuation(bytes.byteAt(at - 2)) && isContinuation(bytes.byteAt(at - 3)));
}

/**
 * Whether a cut before `at` would split an escape, `floor` being a position outside any escape:
 * `at` is the character a backslash escapes (an odd backslash run before it), or one of the four
 * hex digits after an escaping backslash and `u`.
 */
function splitsEscape(bytes: ByteWindows, at: number, floor: number): boolean {
  if (backslashesBefore(bytes, at, floor) % 2 === 1) return true;
  for (let back = 1; back <= 4 && at - back - 1 >= floor; back++) {
    if (bytes.byteAt(at - back) === LETTER_U && backslashesBefore(bytes, at - back, floor) % 2 === 1) return true;
  }
  return false;
}

/** The first safe cut in [at, end) of a string content piece starting at `floor`; `end` if none. */
function safeCut(bytes: ByteWindows, at: number, end: number, floor: number): number {
  for (let cut = at; cut < end; cut++) {
    if (!splitsCharacter(bytes, cut) && !splitsEscape(bytes, cut, floor)) return cut;
  }
  return end;
}

/** Text that is not its own JSON string content: an escape, a control character (invalid), a quote. */
const NOT_LITERAL = /[\u0000-\u001f"\\]/;

/** The string whose JSON content is [start, end), as a rope of pieces. Throws on invalid content. */
function decodeBig(bytes: ByteWindows, start: number, end: number, piece: number): Rope {
  let value = '';
  const pieces: string[] = [];
  for (let from = start; from < end;) {
    const to = from + piece >= end ? end : safeCut(bytes, from + piece, end, from);
    const text = bytes.text(from, to);
    const decoded = NOT_LITERAL.test(text) ? (JSON.parse(`"${text}"`) as string) : text;
    if (decoded.length > 0) pieces.push(decoded);
    value += decoded;
    from = to;
  }
  return { text: value, pieces };
}

const PLACEHOLDER = '\u0000';

/** Replaces every placeholder string in `root` (which JSON.parse made: plain data) by its value. */
function substitute(root: unknown, values: readonly string[]): unknown {
  let left = values.length;
  const resolve = (value: string): string => {
    left--;
    return values[Number(value.slice(1))]!;
  };
  if (typeof root === 'string') return root.startsWith(PLACEHOLDER) ? resolve(root) : root;
  const pending: object[] = root !== null && typeof root === 'object' ? [root] : [];
  // Stops once every placeholder is replaced (one dropped by a duplicate key means a full walk).
  while (pending.length > 0 && left > 0) {
    const node = pending.pop()!;
    if (Array.isArray(node)) {
      // By index: Object.keys on an array of millions would make a string per index.
      for (let i = 0; i < node.length && left > 0; i++) {
        const value: unknown = node[i];
        if (typeof value === 'string') {
          if (value.startsWith(PLACEHOLDER)) node[i] = resolve(value);
        } else if (value !== null && typeof value === 'object') {
          pending.push(value);
        }
      }
      continue;
    }
    const record = node as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (left === 0) break;
      const value = record[key];
      if (typeof value === 'string') {
        // An own "__proto__" member is a data property here: assignment sets it, as JSON.parse did.
        if (value.startsWith(PLACEHOLDER)) record[key] = resolve(value);
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
  const bigString = options.bigString ?? 16 * 1024;
  const piece = options.piece ?? 32 * 1024;
  for (const [name, value] of [['bigString', bigString], ['piece', piece]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  const bytes = new ByteWindows(chunks);
  const whole = (reason: WholeReason): unknown => {
    options.onWhole?.(reason);
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  };
  try {
    const big = bigStrings(bytes, bigString);
    if (big === undefined) return whole('invalid');
    if (big === 'key') return whole('big key');
    if (big === 'dense') return whole('dense');
    if (big.length === 0) return whole('no big string');
    // The skeleton first: its checks and its parse are cheap, decoding the values is not.
    let skeleton = '';
    let from = 0;
    for (const [index, [start, end]] of big.entries()) {
      skeleton += `${bytes.text(from, start)}\\u0000${index}`;
      from = end;
    }
    skeleton += bytes.text(from, bytes.length);
    if (skeleton.split('\\u0000').length !== big.length + 1) return whole('nul escape');
    const root = JSON.parse(skeleton) as unknown;
    const ropes = big.map(([start, end]) => decodeBig(bytes, start, end, piece));
    options.ropes?.push(...ropes);
    return substitute(root, ropes.map((rope) => rope.text));
  } catch (err) {
    if (err === TOO_DENSE) return whole('dense');
    // Invalid somewhere: JSON.parse of the whole text says where, in its own words.
    return whole('invalid');
  }
}
